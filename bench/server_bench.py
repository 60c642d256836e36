"""Server bench: a cached TV screen against an aiohttp hello-world, in the same run.

Starts (a) a plain aiohttp hello-world and (b) `legaltv serve --demo` on a fresh demo data dir,
each in its own process, and drives them with `wrk` (or a fallback aiohttp loop) in another
process. Targets run interleaved (hello, page, home, css, hello, …) REPEATS times; the report
gives medians and the page/hello ratio (budget: a cached screen costs close to hello-world,
taken here as ≥ 0.8×). Server RSS is read from /proc after the run.

    .venv/bin/python -m bench.server_bench [--duration 10] [--repeats 3] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench import common
from bench.common import fmt, median, verdict

TARGET_RATIO = 0.8
TARGETS = [  # label, which server, screen label (None: a fixed path)
    ("hello", "hello-world `/`"),
    ("page", "cached program page `p-ID-1`"),
    ("replay", "hello-world app replaying the page's bytes + headers (no app code)"),
    ("home", "home screen (per-box render)"),
    ("css", "`/static` CSS"),
]


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict:
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    sock = re.search(r"Socket errors:.*", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if sock:
        errors += sum(int(n) for n in re.findall(r"\d+", sock.group(0)))
    return {
        "rps": float(rps.group(1)) if rps else None,
        "p50_ms": _ms(p50.group(1)) if p50 else None,
        "p99_ms": _ms(p99.group(1)) if p99 else None,
        "requests": int(total.group(1)) if total else None,
        "errors": errors,
        "tool": "wrk",
    }


def load(url: str, duration: float, connections: int) -> dict:
    """One load run in a separate process; bounded by duration + a margin."""
    header = "Accept-Encoding: gzip"
    wrk = shutil.which("wrk")
    if wrk:
        argv = [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{int(duration)}s",
            "--latency",
            "--timeout",
            "5s",
            "-H",
            header,
            url,
        ]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60).stdout
        return parse_wrk(out)
    argv = [
        sys.executable,
        "-m",
        "bench.loadgen",
        url,
        "-c",
        str(connections),
        "-d",
        str(duration),
        "-H",
        header,
    ]
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration + 60, cwd=common.ROOT
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def check(url: str) -> tuple[int, int, str]:
    """Status, gzip body length and Content-Encoding of one request, as the load tool sees it."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback
        return r.status, len(r.read()), r.headers.get("Content-Encoding", "")


def run(
    data_dir: Path | None = None, duration: float = 10.0, repeats: int = 3, connections: int = 32
) -> dict:
    own_dir = data_dir is None
    data_dir = data_dir or common.prepare_demo_dir()
    hello = demo = None
    try:
        demo = common.start_demo_server(data_dir)
        screens = common.discover(demo.base)
        hello = common.start_hello_server(data_dir, replay=screens.url("p"))
        css_path = re.search(
            r'href="(/static/[^"]+\.css)"',
            urllib.request.urlopen(screens.url("home"), timeout=10)  # noqa: S310
            .read()
            .decode(),
        )
        urls = {
            "hello": hello.base + "/",
            "page": screens.url("p"),
            "replay": hello.base + "/replay",
            "home": screens.url("home"),
            "css": demo.base + (css_path.group(1) if css_path else "/static/tv.css"),
        }
        checks = {}
        for label, url in urls.items():  # warm the cache and check each answers 200
            for _ in range(3):
                checks[label] = check(url)
        runs: dict[str, list[dict]] = {label: [] for label in urls}
        started = time.time()
        for rep in range(repeats):
            for label, _ in TARGETS:
                result = load(urls[label], duration, connections)
                result["rep"] = rep
                runs[label].append(result)
                print(
                    f"  [server] rep {rep + 1}/{repeats} {label:5s} "
                    f"{fmt(result['rps'], 0)} req/s p50 {fmt(result['p50_ms'], 2)} ms "
                    f"p99 {fmt(result['p99_ms'], 2)} ms errors {result['errors']}",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(0.5)
        rss = {"legaltv": demo.rss_kb(), "hello": hello.rss_kb()}
        elapsed = time.time() - started
    finally:
        for proc in (demo, hello):
            if proc:
                proc.stop()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)

    summary = {}
    for label, results in runs.items():
        summary[label] = {
            "rps": median([r["rps"] for r in results]),
            "p50_ms": median([r["p50_ms"] for r in results]),
            "p99_ms": median([r["p99_ms"] for r in results]),
            "errors": sum(r["errors"] or 0 for r in results),
            "all_rps": [r["rps"] for r in results],
        }
    ratios = {}
    for label in ("page", "replay", "home", "css"):
        per_rep = [
            p["rps"] / h["rps"]
            for p, h in zip(runs[label], runs["hello"], strict=True)
            if p["rps"] and h["rps"]
        ]
        ratios[label] = {"median_of_ratios": median(per_rep), "per_rep": per_rep}
    page_ratio = ratios["page"]["median_of_ratios"]
    return {
        "tool": runs["hello"][0]["tool"],
        "duration_s": duration,
        "repeats": repeats,
        "connections": connections,
        "urls": {k: v.replace(screens.token_base, "/tv/b/TOKEN/") for k, v in urls.items()},
        "checks": checks,
        "summary": summary,
        "ratios": ratios,
        "rss_kb": rss,
        "elapsed_s": elapsed,
        "pass": page_ratio is not None and page_ratio >= TARGET_RATIO,
        "page_ratio": page_ratio,
    }


def _ratio(r: dict, a: str, b: str):
    x, y = r["summary"][a]["rps"], r["summary"][b]["rps"]
    return x / y if x and y else None


def markdown(r: dict) -> str:
    lines = [
        f"Load: `{r['tool']}` 1 thread, {r['connections']} connections, {r['duration_s']:.0f} s "
        f"per run, `Accept-Encoding: gzip`, {r['repeats']} interleaved repeats; medians.",
        "",
        "| target | URL | status / gzip body | req/s (median) | p50 ms | p99 ms | runs req/s "
        "| ×hello (median of per-repeat ratios) | errors |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for label, title in TARGETS:
        s = r["summary"][label]
        status, size, enc = r["checks"][label]
        ratio = r["ratios"].get(label, {}).get("median_of_ratios") if label != "hello" else 1.0
        lines.append(
            f"| {title} | `{r['urls'][label]}` | {status} / {size} B {enc} | {fmt(s['rps'], 0)} | "
            f"{fmt(s['p50_ms'], 2)} | {fmt(s['p99_ms'], 2)} | "
            f"{', '.join(fmt(x, 0) for x in s['all_rps'])} | {fmt(ratio, 2)} | {s['errors']} |"
        )
    rss = r["rss_kb"]
    lines += [
        "",
        f"Server RSS after the run: legaltv {fmt(rss['legaltv'].get('VmRSS', 0) / 1024, 1)} MiB "
        f"(peak {fmt(rss['legaltv'].get('VmHWM', 0) / 1024, 1)} MiB); hello-world "
        f"{fmt(rss['hello'].get('VmRSS', 0) / 1024, 1)} MiB.",
        "",
        f"**Cached page / hello-world = {fmt(r['page_ratio'], 2)}× "
        f"(target ≥ {TARGET_RATIO}×): {verdict(r['pass'])}**",
        "",
        "The replay row is the same hello-world process answering with the cached page's exact "
        "body and headers: page ÷ replay isolates the app's own per-request Python (routing, "
        "middlewares, box token, cache key, usage record) from the cost of the bytes on the wire.",
        f"Page / replay = {fmt(_ratio(r, 'page', 'replay'), 2)}×.",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--json", action="store_true", help="print the raw result as JSON too")
    a = p.parse_args()
    result = run(
        duration=min(a.duration, 60), repeats=min(a.repeats, 10), connections=a.connections
    )
    print(markdown(result))
    if a.json:
        print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
