"""Profile the server under load: `legaltv serve` under cProfile while wrk (or the fallback
loop) hammers one screen; prints the top functions by own and cumulative time.

    .venv/bin/python -m bench.profile_server [--screen p] [--duration 10]

`--screen` is a label of bench.common.discover (home, programs, c, p, v, dir, o, cb, …) or
`hello` for the hello-world baseline. cProfile slows the server ~2×: read shares, not rates.
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import common, server_bench


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--screen", default="p")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--top", type=int, default=35)
    a = p.parse_args()
    data_dir = common.prepare_demo_dir()
    out = Path(tempfile.mkdtemp(prefix="legaltv-prof-")) / "server.prof"
    port = common.free_port()
    if a.screen == "hello":
        target = ["-m", "bench.hello_server", "--port", str(port)]
    else:
        target = [
            common.LEGALTV,
            "serve",
            "--demo",
            "--allow-unsigned",
            "--data-dir",
            str(data_dir),
            "--host",
            common.HOST,
            "--port",
            str(port),
        ]
    argv = [sys.executable, "-m", "cProfile", "-o", str(out), *target]
    log = open(data_dir / "prof.log", "wb")  # noqa: SIM115
    popen = subprocess.Popen(argv, cwd=common.ROOT, stdout=log, stderr=subprocess.STDOUT)
    proc = common.Proc(popen, f"http://{common.HOST}:{port}", data_dir / "prof.log", "prof")
    try:
        common.wait_http(proc.base + ("/" if a.screen == "hello" else "/healthz"))
        url = proc.base + "/"
        if a.screen != "hello":
            url = common.discover(proc.base).url(a.screen)
        result = server_bench.load(url, min(a.duration, 60), 32)
        print(f"under cProfile: {result['rps']:.0f} req/s on {url}")
    finally:
        proc.stop(timeout=20)
    if out.exists():
        stats = pstats.Stats(str(out))
        stats.sort_stats("tottime").print_stats(a.top)
        stats.sort_stats("cumulative").print_stats(a.top)
    else:
        print("no profile written; server log:\n" + proc.log_path.read_text()[-2000:])
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
