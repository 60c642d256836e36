"""Bench: requests/s of cached TV screens in steady state vs right after a publish invalidates
them (the cache refill), for a program page and its category list.

A demo server runs in its own process; an admin session publishes the program again through
the admin (版本与记录 → 立即恢复上线 of its live revision: a real publish, rewriting the live rows
and invalidating `program:ID` and `programs`), then the load tool (wrk, else bench/loadgen.py)
starts at once for a short window. Medians of 3 repeats; also the latency of the first request
after a publish (the one that re-renders) against a cache hit.

    .venv/bin/python -m bench.publish_bench [--quick]   # appends its section to RESULTS.md
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import shutil
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench import common, server_bench
from bench.common import fmt

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- publish:start -->", "<!-- publish:end -->"
CONNECTIONS = 32
ADMIN, PASSWORD = "admin", "ordos-demo-2026"


class Admin:
    """A logged-in admin session over urllib (cookies kept, CSRF token read from pages)."""

    def __init__(self, base: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = self.get("/admin/login")
        self.post("/admin/login", {"csrf_token": _csrf(page), "username": ADMIN,
                                   "password": PASSWORD})  # fmt: skip

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as r:
            return r.read().decode("utf-8")

    def post(self, path: str, data: dict) -> int:
        body = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(self.base + path, data=body, headers={"Origin": self.base})
        with self.opener.open(req, timeout=30) as r:
            r.read()
            return r.status

    def publish(self, pid: int) -> float:
        """Publish the program's live revision again; seconds the admin request took."""
        page = self.get(f"/admin/programs/{pid}")
        revision = re.search(r'name="revision" value="(\d+)"', page).group(1)
        t0 = time.perf_counter()
        form = {"csrf_token": _csrf(page), "action": "revert", "revision": revision}
        self.post(f"/admin/programs/{pid}/history", form)
        return time.perf_counter() - t0


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _timed_get(url: str) -> float:
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback
        r.read()
    return (time.perf_counter() - t0) * 1000


def run(
    data_dir: Path | None = None, steady: float = 5.0, window: float = 2.0, repeats: int = 3
) -> dict:
    own = data_dir is None
    data_dir = data_dir or common.prepare_demo_dir()
    server = common.start_demo_server(data_dir)
    try:
        screens = common.discover(server.base)
        page_url = screens.url("p")
        pid = int(re.match(r"p-(\d+)", screens.paths["p"]).group(1))
        html = urllib.request.urlopen(page_url, timeout=10).read().decode()  # noqa: S310
        category = re.search(rf"(c-[a-z0-9-]+)#prog-{pid}", html).group(1)  # Back's target
        urls = {"program page": page_url, "category list": screens.token_base + category}
        admin = Admin(server.base)
        runs: dict[str, dict[str, list]] = {
            name: {"steady": [], "after": [], "miss_ms": [], "hit_ms": [], "publish_s": []}
            for name in urls
        }
        for _ in range(repeats):
            for name, url in urls.items():
                r = runs[name]
                _timed_get(url)  # warm
                r["steady"].append(server_bench.load(url, steady, CONNECTIONS))
                r["publish_s"].append(admin.publish(pid))
                r["after"].append(server_bench.load(url, window, CONNECTIONS))
                admin.publish(pid)
                r["miss_ms"].append(_timed_get(url))
                r["hit_ms"].append(_timed_get(url))
        out = {"pid": pid, "category": category, "steady_s": steady, "window_s": window,
               "repeats": repeats, "screens": {}}  # fmt: skip
        for name, r in runs.items():
            steady_rps = common.median([x["rps"] for x in r["steady"]])
            after_rps = common.median([x["rps"] for x in r["after"]])
            out["screens"][name] = {
                "steady_rps": steady_rps,
                "after_rps": after_rps,
                "ratio": after_rps / steady_rps if steady_rps and after_rps else None,
                "steady_p99_ms": common.median([x["p99_ms"] for x in r["steady"]]),
                "after_p99_ms": common.median([x["p99_ms"] for x in r["after"]]),
                "errors": sum(x["errors"] or 0 for x in r["steady"] + r["after"]),
                "miss_ms": common.median(r["miss_ms"]),
                "hit_ms": common.median(r["hit_ms"]),
                "publish_ms": common.median(r["publish_s"]) * 1000,
                "tool": r["steady"][0]["tool"],
            }
        return out
    finally:
        server.stop()
        if own:
            shutil.rmtree(data_dir, ignore_errors=True)


def markdown(result: dict) -> str:
    lines = [
        f"{CONNECTIONS} connections, {result['screens']['program page']['tool']}; steady state "
        f"{result['steady_s']:.0f} s vs the first {result['window_s']:.0f} s after a publish "
        f"(program {result['pid']}, `{result['category']}`); medians of {result['repeats']}.",
        "",
        "| screen | steady req/s | after publish req/s | after/steady | p99 ms steady / after "
        "| first request after publish ms | cache hit ms | publish request ms | errors |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, s in result["screens"].items():
        lines.append(
            f"| {name} | {fmt(s['steady_rps'], 0)} | {fmt(s['after_rps'], 0)} | "
            f"{fmt(s['ratio'], 2)} | {fmt(s['steady_p99_ms'])} / {fmt(s['after_p99_ms'])} | "
            f"{fmt(s['miss_ms'])} | {fmt(s['hit_ms'])} | {fmt(s['publish_ms'])} | {s['errors']} |"
        )
    return "\n".join(lines)


def add_section(text: str, result: dict, machine: dict) -> str:
    """`text` (bench/RESULTS.md) with this bench's section put in or replaced."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    section = "\n".join([
        START,
        "## Publishing: cached TV screens right after a publish vs steady state",
        "",
        f"Run {when} on `{machine['uname']}`, {machine['nproc']} × {machine['cpu']}.",
        "",
        markdown(result),
        END,
    ])  # fmt: skip
    if START in text and END in text:
        pattern = re.escape(START) + r".*?" + re.escape(END)
        return re.sub(pattern, lambda _m: section, text, flags=re.S)
    at = text.find("\n## History")
    if at < 0:
        return text + "\n" + section + "\n"
    return text[:at] + "\n" + section + "\n" + text[at:]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 s steady runs, 1 s windows")
    a = p.parse_args()
    steady, window = (2.0, 1.0) if a.quick else (5.0, 2.0)
    result = run(steady=steady, window=window)
    text = RESULTS.read_text() if RESULTS.exists() else "# LegalTV bench results\n"
    RESULTS.write_text(add_section(text, result, common.machine_info()))
    print(markdown(result))
    print(f"(written to {RESULTS.relative_to(common.ROOT)})", file=sys.stderr)


if __name__ == "__main__":
    main()
