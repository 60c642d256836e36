"""Launch bench: boxes launched from the operator's portal, each box once, then its home screen —
the evening shape, where no box's screen is in any cache — against an aiohttp hello-world in the
same run.

Every request is either a box's signed launch URL (`/tv/launch?stb=…&ts=…&sig=…`, answered 303 to
the box's home) or the home screen that launch redirected to: a wrk Lua script takes the next box
for a launch and asks for each home it was sent to before the next launch. Both kinds count as
requests; the ratio is their req/s ÷ hello-world's, median of per-repeat ratios (target ≥ 0.3×).

The boxes are the demo's (real programs, announcements and advisers) plus copies of its live boxes
written straight into the database (same villages and models, a household each), so every box is
entitled and its home is the real one. Each wrk run starts at its own offset: no box is launched
twice in a run.

    .venv/bin/python -m bench.launch_bench [--quick] [--write]
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench import common, fleet_bench, peak_bench, registry_bench, server_bench
from bench.common import fmt, median, verdict

START = "<!-- launch:start -->"
END = "<!-- launch:end -->"
TARGET = 0.3  # launch + home req/s ÷ hello-world req/s


def add_boxes(data_dir: Path, count: int) -> float:
    """Copies of the demo's live boxes (village, model), `count` of them, in one transaction."""
    started = time.perf_counter()
    db = sqlite3.connect(data_dir / registry_bench.DB_FILE, isolation_level=None)
    try:
        live = db.execute(
            "SELECT village_code, model FROM devices WHERE state = 'active' ORDER BY id"
        ).fetchall()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO devices (serial, model, village_code, household_label, state,"
            " created_at) VALUES (?, ?, ?, ?, 'active', ?)",
            [
                (
                    f"BENCH-{n:07d}",
                    live[n % len(live)][1],
                    live[n % len(live)][0],
                    f"第{n}户",
                    now,
                )  # fmt: skip
                for n in range(count)
            ],
        )
        db.execute("COMMIT")
    finally:
        db.close()
    return time.perf_counter() - started


def launch_urls(data_dir: Path, count: int) -> list[str]:
    """Signed launch paths for BENCH boxes 1..count (box 0 is kept for the sample check)."""
    from tv_server.boxauth import launch_signature
    from tv_server.settings import ensure_secrets, load_settings

    settings = ensure_secrets(load_settings(env={}, data_dir=str(data_dir)))
    ts = int(time.time())
    urls = []
    for n in range(count + 1):
        serial = f"BENCH-{n:07d}"
        sig = launch_signature(settings.launch_secret, serial, ts)
        urls.append("/tv/launch?" + urllib.parse.urlencode({"stb": serial, "ts": ts, "sig": sig}))
    return urls


def lua_script(urls: list[str], folder: Path) -> Path:
    """Every request: a home a launch was redirected to, if one waits, else the next launch."""
    data = folder / "launch.urls"
    data.write_text("".join(u + "\n" for u in urls))
    path = folder / "launch.lua"
    path.write_text(
        "local threads = 0\n"
        "setup = function(thread)\n"
        "  thread:set('offset', threads)\n"
        "  threads = threads + 1\n"
        "end\n"
        "local reqs = {}\n"
        "local homes = {}\n"
        "local i = 0\n"
        'local gzip = {["Accept-Encoding"] = "gzip"}\n'
        "init = function(args)\n"
        f"  for line in io.lines('{data}') do\n"
        '    reqs[#reqs + 1] = wrk.format("GET", line, gzip)\n'
        "  end\n"
        "  i = tonumber(args[1] or '0') + math.floor((offset or 0) * #reqs / 8)\n"
        "end\n"
        "request = function()\n"
        "  local home = table.remove(homes)\n"
        "  if home then return wrk.format('GET', home, gzip) end\n"
        "  i = i + 1\n"
        "  return reqs[(i % #reqs) + 1]\n"
        "end\n"
        "response = function(status, headers, body)\n"
        "  local location = headers['Location']\n"
        "  if location then homes[#homes + 1] = location end\n"
        "end\n"
    )
    return path


def load(base: str, script: Path, duration: float, connections: int, start: int) -> dict:
    wrk = shutil.which("wrk")
    if not wrk:
        raise RuntimeError("the launch bench needs wrk (apt-get install wrk)")
    argv = [wrk, "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency"]
    argv += ["--timeout", "5s", "-s", str(script), base + "/", "--", str(start)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60).stdout
    return server_bench.parse_wrk(out)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sample(base: str, url: str) -> dict:
    """One launch and its home, checked: a 303 to the home, and the home a real one."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(base + url, timeout=10)
        return {"ok": False, "why": "launch did not redirect"}
    except urllib.error.HTTPError as e:
        location = e.headers.get("Location", "")
        if e.code != 303 or not location.endswith("/home"):
            return {"ok": False, "why": f"launch answered {e.code} {location!r}"}
    with urllib.request.urlopen(base + location, timeout=10) as r:  # noqa: S310 - loopback
        html = r.read().decode()
    ok = 'id="t-mine"' in html and "第0户" in html
    return {"ok": ok, "why": "" if ok else "home is not the box's home", "bytes": len(html)}


def run(quick: bool = False) -> dict:
    started = time.perf_counter()
    boxes = 30_000 if quick else 90_000
    duration, repeats, connections = (2.0 if quick else 4.0), 3, 64
    data_dir = common.prepare_demo_dir()
    fill_s = add_boxes(data_dir, boxes + 1)
    urls = launch_urls(data_dir, boxes)
    script = lua_script(urls[1:], data_dir)
    runs: dict[str, list[dict]] = {"hello": [], "launch": []}
    before = fleet_bench.neighbours()
    hello = legaltv = None
    try:
        legaltv = registry_bench.start_server(data_dir)
        hello = common.start_hello_server(data_dir)
        checked = sample(legaltv.base, urls[0])
        for rep in range(repeats):
            for label in runs:
                server = hello if label == "hello" else legaltv
                ticks = peak_bench.cpu_ticks(server.pid)
                if label == "hello":
                    r = server_bench.load(hello.base + "/", duration, connections)
                else:
                    r = load(legaltv.base, script, duration, connections, rep * boxes // repeats)
                    r["repeats"] = max(0, (r["requests"] or 0) // 2 - boxes)
                # The server's own CPU per request: steadier than req/s on a busy machine.
                spent = (peak_bench.cpu_ticks(server.pid) - ticks) / os.sysconf("SC_CLK_TCK")
                r["cpu_us"] = spent / r["requests"] * 1e6 if r["requests"] else None
                runs[label].append(r)
                print(
                    f"  [launch] rep {rep + 1}/{repeats} {label:6s} {fmt(r['rps'], 0)} req/s "
                    f"p50 {fmt(r['p50_ms'], 2)} ms p99 {fmt(r['p99_ms'], 2)} ms "
                    f"errors {r['errors']} server CPU {fmt(r['cpu_us'], 0)} µs/request",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(0.5)
        rss = {"legaltv": legaltv.rss_kb(), "hello": hello.rss_kb()}
    finally:
        for proc in (legaltv, hello):
            if proc:
                proc.stop()
    after = fleet_bench.neighbours()
    shutil.rmtree(data_dir, ignore_errors=True)
    ratios = [
        x["rps"] / h["rps"]
        for x, h in zip(runs["launch"], runs["hello"], strict=True)
        if x["rps"] and h["rps"]
    ]
    errors = sum(x["errors"] or 0 for x in runs["launch"])
    ratio = median(ratios)
    return {
        "quick": quick,
        "boxes": boxes,
        "fill_s": fill_s,
        "duration_s": duration,
        "repeats": repeats,
        "connections": connections,
        "runs": runs,
        "ratios": ratios,
        "ratio": ratio,
        "errors": errors,
        "sample": checked,
        "pass": ratio is not None and ratio >= TARGET and errors == 0 and checked["ok"],
        "rss_kb": rss,
        "neighbours": {"before": before, "after": after},
        "elapsed_s": time.perf_counter() - started,
    }


NOTE = (
    "Where the time goes (py-spy on the server under this load): a launch and its home cost "
    "one read together — the launch reads the box's record and the facts its home shows "
    "(`Database.fetch_after`), which the home right after uses while nothing was committed in "
    "this process since (at most 2 s). On SQLite that read runs on the event loop's own thread "
    "(`Database._read_here`): for a few indexed look-ups the trip to a reader's thread (waking "
    "it, the GIL handed over and back, the loop woken) cost several times the reads — about "
    "100 µs of CPU per launch and home, 40 % of the server's CPU in this bench. "
    "The home is the shared body with the box's parts spliced in, its stylesheet link chosen "
    "from the shell's names (reduced to the stylesheet's key once per shell) and the parts' "
    "(each shared part kept scanned and compressed), its gzip body joined from pieces compressed "
    "once, and its ETag hashed from the shell's digest and the parts; a coming-soon box's home "
    "is a notice rendered once per rendering, key-map family and kind; the launch returns its "
    "303 with headers joined around the token, which the home then reads without its HMAC. "
    "Measured the same way, base and branch back to back (`/proc` CPU of the server per "
    "request, 90,000 boxes, 64 connections, load average 4–6): 199–251 µs → 99–127 µs per "
    "request (medians 230 and 214 → 103 and 108), hello-world 19 µs; 0.11–0.14× → 0.21–0.23×. "
    "The profile after: the launch handler ~16 % of the server's samples (its read ~10 %), the "
    "home handler ~15 %, the usage records' flush in the writer's thread ~13 % (each launched "
    "box's usage rows and its `devices` row, written inside SQLite outside the GIL: dropping "
    "the two indexes that hold `last_seen` changed nothing measurable), and aiohttp's request and "
    "response handling, the middleware and the event loop the rest, about half — which is what "
    "keeps this under 0.3×: that target needs ~70 µs per request, and hello-world spends 19 µs "
    "on a request with none of this. Keeping the fleet's box records in memory would save the "
    "record's look-up only (~5 µs: the facts are read anyway), not worth tens of MB at 300,000 "
    "boxes."
)


def markdown(r: dict) -> str:
    lines = [
        "| budget | measured | target | result |",
        "| --- | --- | --- | --- |",
        f"| Launch + home for distinct boxes (each box once) vs hello-world (req/s, median of "
        f"per-repeat ratios), no errors | {fmt(r['ratio'], 2)}×, {r['errors']} errors | "
        f"≥ {TARGET}× | {verdict(r['pass'])} |",
        "",
        f"`wrk` 1 thread, {r['connections']} connections, {r['duration_s']:.0f} s per run, "
        f"{r['repeats']} interleaved repeats (hello, launch, …). {fmt(r['boxes'])} boxes (the "
        f"demo's live boxes copied, {fmt(r['fill_s'], 2)} s); every launch is a signed "
        "`/tv/launch` URL of the next box, every 303 it answers is followed by that box's "
        "`home` (both with `Accept-Encoding: gzip`, both counted). Sample launch checked "
        f"before the load: {'the box’s own home' if r['sample']['ok'] else r['sample']['why']}.",
        "",
        "| target | req/s (median) | p50 ms | p99 ms | runs req/s | errors | launches past the "
        "box count | server CPU µs per request (median) |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    titles = {"hello": "aiohttp hello-world `GET /`", "launch": "launch (303) + home, per box"}
    for label, title in titles.items():
        rs = r["runs"][label]
        past = "—" if label == "hello" else fmt(max(x.get("repeats", 0) for x in rs))
        lines.append(
            f"| {title} | {fmt(median([x['rps'] for x in rs]), 0)} | "
            f"{fmt(median([x['p50_ms'] for x in rs]), 2)} | "
            f"{fmt(median([x['p99_ms'] for x in rs]), 2)} | "
            f"{', '.join(fmt(x['rps'], 0) for x in rs)} | {sum(x['errors'] or 0 for x in rs)} "
            f"| {past} | {fmt(median([x.get('cpu_us') for x in rs if x.get('cpu_us')]), 0)} |"
        )
    rss = r["rss_kb"]
    cpu = [median([x.get("cpu_us") for x in r["runs"][k] if x.get("cpu_us")]) for k in titles]
    lines += [
        "",
        f"CPU-bound ratio (hello-world's server CPU per request ÷ legaltv's, which a busy machine "
        f"disturbs less than req/s): {fmt(cpu[0] / cpu[1] if all(cpu) else None, 2)}×.",
        "",
        f"Per repeat ÷ hello: {', '.join(fmt(x, 2) for x in r['ratios'])}. **Median "
        f"{fmt(r['ratio'], 2)}× (target ≥ {TARGET}×): {verdict(r['pass'])}**. RSS after the "
        f"load: legaltv {fmt(rss['legaltv'].get('VmRSS', 0) / 1024, 1)} MiB, hello-world "
        f"{fmt(rss['hello'].get('VmRSS', 0) / 1024, 1)} MiB.",
        "",
        NOTE,
        "",
        "The machine is shared: absolute req/s are noisy, the ratios are taken within one run. "
        f"Before: {r['neighbours']['before']}. After: {r['neighbours']['after']}.",
        "",
        f"Whole launch bench: {fmt(r['elapsed_s'], 0)} s.",
    ]
    return "\n".join(lines)


def add_section(text: str, result: dict, machine: dict) -> str:
    """`text` (bench/RESULTS.md) with this bench's section put in or replaced."""
    intro = common.run_intro("launch_bench.py", result["quick"], machine)
    return common.put_section(
        text, START, END, "Launch and home: every box once", intro, markdown(result)
    )


def main() -> None:
    common.bench_main(__doc__, run, markdown, add_section, "30,000 boxes, 2 s load runs")


if __name__ == "__main__":
    main()
