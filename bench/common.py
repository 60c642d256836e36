"""Shared bench helpers: a demo data dir, a demo server in a subprocess, screen discovery,
machine facts. Every wait here is bounded in count and time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LEGALTV = str(VENV_BIN / "legaltv")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
HOST = "127.0.0.1"
SERIAL = "DEMO-0001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(values, q: float):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def prepare_demo_dir(parent: str | None = None) -> Path:
    """A fresh temp data dir with the demo loaded (`legaltv demo load`, ~6 s)."""
    data_dir = Path(tempfile.mkdtemp(prefix="legaltv-bench-", dir=parent))
    subprocess.run(
        [LEGALTV, "demo", "load", "--data-dir", str(data_dir)],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )
    return data_dir


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    for _ in range(int(timeout / 0.1) + 1):
        if time.monotonic() > deadline:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback only
                if r.status < 500:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer within {timeout:.0f}s: {last}")


@dataclass
class Proc:
    """A server subprocess with its log file; stop() is bounded and idempotent."""

    popen: subprocess.Popen
    base: str
    log_path: Path
    name: str

    @property
    def pid(self) -> int:
        return self.popen.pid

    def rss_kb(self) -> dict[str, int]:
        return read_rss(self.pid)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


def read_rss(pid: int) -> dict[str, int]:
    out = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def start_server(
    argv: list[str],
    port: int,
    name: str,
    log_dir: Path,
    ready_path: str,
    env: dict[str, str] | None = None,
    ready_timeout: float = 60.0,
) -> Proc:
    log_path = log_dir / f"{name}-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    popen = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    base = f"http://{HOST}:{port}"
    proc = Proc(popen, base, log_path, name)
    try:
        wait_http(base + ready_path, ready_timeout)
    except Exception:
        proc.stop()
        raise RuntimeError(
            f"{name} failed to start; log:\n{log_path.read_text()[-2000:]}"
        ) from None
    return proc


def start_demo_server(
    data_dir: Path,
    log_dir: Path | None = None,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> Proc:
    """`legaltv serve --demo --allow-unsigned`; `env` adds LEGALTV_* settings (e.g. for an
    A/B experiment)."""
    port = port or free_port()
    argv = [
        LEGALTV,
        "serve",
        "--demo",
        "--allow-unsigned",
        "--data-dir",
        str(data_dir),
        "--host",
        HOST,
        "--port",
        str(port),
    ]
    return start_server(argv, port, "legaltv", log_dir or data_dir, "/healthz", env)


def start_hello_server(log_dir: Path, port: int | None = None, replay: str | None = None) -> Proc:
    port = port or free_port()
    argv = [sys.executable, "-m", "bench.hello_server", "--host", HOST, "--port", str(port)]
    if replay:
        argv += ["--replay", replay]
    return start_server(argv, port, "hello", log_dir, "/")


# ---- screen discovery: follow the 303 and the links, bounded ----

_HREF = re.compile(r'href="([^"#]*)"')


@dataclass
class Screens:
    base: str  # http://host:port
    token_base: str  # http://host:port/tv/b/TOKEN/
    paths: dict[str, str] = field(default_factory=dict)  # label -> relative screen path

    def url(self, label: str) -> str:
        return self.token_base + self.paths[label]


def _get(url: str) -> tuple[int, dict, str]:
    req = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _links(html: str) -> list[str]:
    return [h for h in _HREF.findall(html) if h and not h.startswith(("/", "data:", "http"))]


def discover(base: str, serial: str = SERIAL, lang: str = "") -> Screens:
    """Enter as a box and find one real screen of every kind by following links (≤ ~40 GETs).
    With `lang` (mn), the box is switched to that language first (and stays in it)."""
    status, headers, _ = _get(f"{base}/tv/?stb={serial}" + (f"&lang={lang}" if lang else ""))
    location = headers.get("Location") or headers.get("location")
    if status != 303 or not location or not location.endswith("/home"):
        raise RuntimeError(f"/tv/?stb={serial} answered {status} {location!r}, expected 303 → home")
    token_base = base + location[: -len("home")]
    s = Screens(
        base,
        token_base,
        {"home": "home", "programs": "programs", "dir": "dir", "cb": "cb", "mine": "mine"},
    )
    _, _, html = _get(token_base + "programs")
    cats = [h for h in _links(html) if h.startswith("c-")]
    if not cats:
        raise RuntimeError("no category links on programs")
    s.paths["c"] = cats[0]
    pids: list[str] = []
    for cat in cats[:12]:
        _, _, html = _get(token_base + cat)
        for h in _links(html):
            m = re.fullmatch(r"p-(\d+)", h)
            if m and m.group(1) not in pids:
                pids.append(m.group(1))
    if not pids:
        raise RuntimeError("no program links in categories")
    s.paths["p"] = f"p-{pids[0]}-1"
    for pid in pids[:30]:
        status, _, html = _get(token_base + f"p-{pid}-1")
        if status == 200 and f'href="v-{pid}"' in html:
            s.paths["v"] = f"v-{pid}"
            break
    if "v" not in s.paths:  # p-ID redirects to the video when the program has one
        for pid in pids[:30]:
            status, headers, _ = _get(token_base + f"p-{pid}")
            loc = headers.get("Location") or headers.get("location") or ""
            if loc.endswith(f"v-{pid}"):
                s.paths["v"] = f"v-{pid}"
                break
    _, _, html = _get(token_base + "dir")
    offices = [h for h in _links(html) if re.fullmatch(r"o-\d+", h)]
    if offices:
        s.paths["o"] = offices[0]
    _, _, html = _get(token_base + "cb")
    phones = [h.replace("&amp;", "&") for h in _links(html) if h.startswith("cb-phone")]
    s.paths["cb-phone"] = phones[0] if phones else "cb-phone?svc=consultation"
    return s


# ---- machine facts ----


def _cmd(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_info() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    try:
        import aiohttp

        aiohttp_version = aiohttp.__version__
    except ImportError:
        aiohttp_version = "?"
    try:
        from importlib.metadata import version

        playwright_version = version("playwright")
    except Exception:
        playwright_version = "?"
    chromium = _cmd([CHROMIUM, "--version"]) if os.path.exists(CHROMIUM) else "missing"
    wrk = shutil.which("wrk")
    return {
        "uname": _cmd(["uname", "-a"]),
        "nproc": _cmd(["nproc"]),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "aiohttp": aiohttp_version,
        "playwright": playwright_version,
        "chromium": chromium.splitlines()[-1] if chromium else "?",
        "wrk": _cmd([wrk, "--version"]).splitlines()[0] if wrk else "missing",
    }


def fmt(value, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("PASS" if ok else "FAIL")


def run_async(coro):
    return asyncio.run(coro)


def put_section(text: str, start: str, end: str, title: str, intro: str, body: str) -> str:
    """`text` (bench/RESULTS.md) with one bench's delimited section put in or replaced; a new
    section goes before the History table."""
    section = "\n".join([start, f"## {title}", "", intro, "", body, end])
    if start in text and end in text:
        pattern = re.escape(start) + r".*?" + re.escape(end)
        return re.sub(pattern, lambda _m: section, text, flags=re.S)
    at = text.find("\n## History")
    if at < 0:
        return text + "\n" + section + "\n"
    return text[:at] + "\n" + section + "\n" + text[at:]


def run_intro(script: str, quick: bool, machine: dict) -> str:
    """The line under a section's title: when, which bench, on what machine and load tool."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (
        f"Run {when} (`bench/{script}`{', --quick' if quick else ''}) on "
        f"`{machine['uname']}`, {machine['nproc']} × {machine['cpu']}, memory "
        f"{machine['memory']}; Python {machine['python']}, aiohttp {machine['aiohttp']}; "
        f"{machine['wrk']}."
    )


def bench_main(doc: str, run, markdown, add_section, quick_help: str) -> None:
    """The command line of a bench with `--quick`, `--write` (into RESULTS.md) and `--json`."""
    import argparse
    import json

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--write", action="store_true", help="put the section into bench/RESULTS.md")
    p.add_argument("--json", action="store_true", help="print the raw result as JSON too")
    a = p.parse_args()
    result = run(a.quick)
    print(markdown(result))
    if a.json:
        print(json.dumps(result, indent=2, default=str))
    if a.write:
        results = Path(__file__).resolve().parent / "RESULTS.md"
        results.write_text(add_section(results.read_text(), result, machine_info()))
