"""Evening-peak simulation: one server over a registry of 300,000 boxes under the evening's mix at
once — heartbeats from distinct boxes, signed launches, screen views, callback requests, staff on
the coverage page — with p50/p99 per request kind, the server process's CPU share (from /proc)
and its RSS.

Targets (issue 10): every p99 ≤ 100 ms with the server at ≤ 60 % of one core; RSS ≤ 300 MB.

The data dir is the demo (programs, directory, staff) plus `legaltv registry synth`. Heartbeats,
launches and screen views are driven by three `wrk` processes whose Lua scripts pace each
connection (`delay`) to the wanted rate and take the next box per request (no box beats or
launches twice); callbacks (phone step, then submit) and the staff's coverage page come from this
process, paced too. The rates reached are reported next to the wanted ones.

    .venv/bin/python -m bench.peak_bench [--quick] [--write] [--json]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp

from bench import common, fleet_bench, server_bench
from bench.common import fmt, percentile, verdict
from tv_server.boxauth import launch_signature

START, END = "<!-- peak:start -->", "<!-- peak:end -->"
SECRET = "bench-launch-secret-0123456789"
RATES = {"heartbeat": 1000, "launch": 300, "screen": 600, "callback": 5}
COVERAGE_EVERY_S = 2.0  # a staff member reloading the coverage page
P99_TARGET_MS = 100.0
CPU_TARGET = 60.0  # % of one core
RSS_TARGET_MB = 300.0
# Screens a launched box views: its own home (per-box), shared lists and a program page.
SCREENS = ("home", "programs", "p-14-1", "c-xianfa", "dir", "home")
STAFF, PASSWORD = "admin", "ordos-demo-2026"
WARMUP_S = 3.0


def synth(data_dir: Path, boxes: int) -> float:
    started = time.perf_counter()
    argv = [common.LEGALTV, "registry", "synth", "--boxes", str(boxes), "--data-dir", str(data_dir)]
    subprocess.run(argv, check=True, cwd=common.ROOT, stdout=subprocess.DEVNULL, timeout=1200)
    return time.perf_counter() - started


def whole_city_live(data_dir: Path) -> None:
    """The evening of a city-wide service: a started wave over the whole city, so every admitted
    box's section is on (the demo's waves cover a few villages only)."""
    db = sqlite3.connect(data_dir / "legaltv.sqlite3", isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        city = db.execute("SELECT code FROM regions WHERE level = 'city' ORDER BY code").fetchone()
        position = db.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM rollout_waves").fetchone()
        wave = db.execute(
            "INSERT INTO rollout_waves (name, position, kind, status, created_at)"
            " VALUES ('bench: whole city', ?, 'expansion', 'started', ?)",
            (position[0], time.time()),
        ).lastrowid
        db.execute("INSERT INTO wave_regions (wave_id, region_code) VALUES (?, ?)", (wave, city[0]))
        db.execute("COMMIT")
    finally:
        db.close()


def entitled_serials(data_dir: Path, count: int, skip: set[str]) -> list[str]:
    """Admitted synthetic boxes in villages of a started rollout wave (their section is on)."""
    db = sqlite3.connect(data_dir / "legaltv.sqlite3")
    try:
        regions = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT wr.region_code FROM wave_regions wr"
                " JOIN rollout_waves w ON w.id = wr.wave_id WHERE w.status = 'started'"
            )
        ]
        likes = " OR ".join("village_code LIKE ?" for _ in regions) or "0"
        rows = db.execute(
            f"SELECT serial FROM devices WHERE serial LIKE 'SYN%' AND state IN"  # noqa: S608
            f" ('installed','activated','active','inactive') AND ({likes}) ORDER BY id",
            [f"{code}%" for code in regions],
        ).fetchall()
    finally:
        db.close()
    out = [r[0] for r in rows if r[0] not in skip]
    if len(out) < count:
        raise RuntimeError(f"only {len(out)} entitled synthetic boxes; {count} wanted")
    return out[:count]


def paced_script(folder: Path, name: str, lines: list[str], request_lua: str, delay_ms: float):
    """A wrk script: each connection waits `delay_ms` between its requests and every request
    formats the next line of a data file (fields split on spaces into `f`)."""
    data = folder / f"{name}.lines"
    data.write_text("".join(line + "\n" for line in lines))
    path = folder / f"{name}.lua"
    path.write_text(
        "local threads = 0\n"
        "setup = function(thread)\n"
        "  thread:set('offset', threads)\n"
        "  threads = threads + 1\n"
        "end\n"
        "local rows = {}\n"
        "local i = 0\n"
        "init = function(args)\n"
        f"  for line in io.lines('{data}') do\n"
        "    local f = {}\n"
        '    for w in line:gmatch("%S+") do f[#f + 1] = w end\n'
        "    rows[#rows + 1] = f\n"
        "  end\n"
        "  i = math.floor((offset or 0) * #rows / 4)\n"
        "end\n"
        f"delay = function() return {delay_ms:.1f} end\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  local f = rows[(i % #rows) + 1]\n"
        f"  {request_lua}\n"
        "end\n"
    )
    return path


def heartbeat_lua() -> str:
    body = fleet_bench.BODY
    return (
        'return wrk.format("POST", "/api/v1/devices/" .. f[1] .. "/heartbeat",'
        ' {["Host"] = wrk.host .. ":" .. wrk.port, ["Content-Type"] = "application/json",'
        ' ["Authorization"] = "Bearer " .. f[2]},'
        f" '{body}' .. i .. '}}')"
    )


LAUNCH_LUA = (
    'return wrk.format("GET", "/tv/launch?stb=" .. f[1] .. "&ts=" .. f[2] .. "&sig=" .. f[3])'
)
SCREEN_LUA = 'return wrk.format("GET", f[1], {["Accept-Encoding"] = "gzip"})'


def start_wrk(base: str, script: Path, connections: int, duration: float) -> subprocess.Popen:
    wrk = shutil.which("wrk")
    if not wrk:
        raise RuntimeError("the peak bench needs wrk (apt-get install wrk)")
    argv = [wrk, "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency", "--timeout", "5s"]
    return subprocess.Popen(
        [*argv, "-s", str(script), base + "/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def run_queue_ns(pid: int) -> int:
    """Nanoseconds the process's threads spent runnable but waiting for a CPU
    (/proc/PID/task/*/schedstat, second field): the share of the machine others took from it."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[1])
    return total


async def launch_boxes(base: str, serials: list[str]) -> list[str]:
    """Launch boxes the real way (signed URL); return each box's screen base `/tv/b/TOKEN/`."""
    out: list[str] = []
    sem = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as session:

        async def one(serial: str) -> None:
            ts = int(time.time())
            params = {"stb": serial, "ts": str(ts), "sig": launch_signature(SECRET, serial, ts)}
            async with (
                sem,
                session.get(base + "/tv/launch", params=params, allow_redirects=False) as r,
            ):
                if r.status == 303:
                    out.append(r.headers["Location"][: -len("home")])

        await asyncio.gather(*(one(s) for s in serials))
    return out


class Side:
    """The kinds driven from this process: callbacks and the staff's coverage page."""

    def __init__(self) -> None:
        self.lat: dict[str, list[float]] = {
            "callback phone": [],
            "callback submit": [],
            "coverage": [],
        }
        self.errors: dict[str, int] = {k: 0 for k in self.lat}
        self.receipts = 0

    async def timed(self, kind: str, session, method: str, url: str, ok: int, **kw):
        t0 = time.perf_counter()
        try:
            async with session.request(method, url, allow_redirects=False, **kw) as r:
                text = await r.text()
                status, location = r.status, r.headers.get("Location", "")
        except (aiohttp.ClientError, TimeoutError):
            self.errors[kind] += 1
            return None, ""
        self.lat[kind].append((time.perf_counter() - t0) * 1000)
        if status != ok:
            self.errors[kind] += 1
            return None, text
        return location, text

    async def callbacks(self, base: str, boxes: list[str], stop: float) -> None:
        """RATES['callback'] households a second: the phone step, then submit."""
        async with aiohttp.ClientSession() as session:
            tasks = []
            n = 0
            interval = 1.0 / RATES["callback"]
            next_at = time.monotonic()
            while time.monotonic() < stop and n < len(boxes):
                tasks.append(asyncio.create_task(self._one_callback(session, base + boxes[n], n)))
                n += 1
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await asyncio.gather(*tasks)

    async def _one_callback(self, session, box: str, n: int) -> None:
        data = {"svc": "consultation", "sp": "", "d": "", "phone": f"139{n:08d}"}
        location, _ = await self.timed(
            "callback phone", session, "POST", box + "cb-phone", 303, data=data
        )
        m = re.search(r"d=([0-9a-f]+)", location or "")
        if not m:
            return
        data = {"d": m.group(1), "w": "evening"}
        location, _ = await self.timed(
            "callback submit", session, "POST", box + "cb-submit", 303, data=data
        )
        if location and "r-" in location:
            self.receipts += 1

    async def coverage(self, base: str, stop: float) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.get(base + "/admin/login") as r:
                token = re.search(r'name="csrf_token" value="([^"]+)"', await r.text()).group(1)
            form = {"csrf_token": token, "username": STAFF, "password": PASSWORD}
            async with session.post(base + "/admin/login", data=form, allow_redirects=False) as r:
                if r.status != 303:
                    self.errors["coverage"] += 1
                    return
            while time.monotonic() < stop:
                await self.timed("coverage", session, "GET", base + "/admin/coverage", 200)
                await asyncio.sleep(COVERAGE_EVERY_S)


def run(quick: bool = False) -> dict:
    started = time.perf_counter()
    registered = 30_000 if quick else 300_000
    duration = 8.0 if quick else 30.0
    span = duration + WARMUP_S + 2  # what a wrk run lasts
    data_dir = common.prepare_demo_dir()
    try:
        synth_s = synth(data_dir, registered)
        whole_city_live(data_dir)
        total_boxes = (
            sqlite3.connect(data_dir / "legaltv.sqlite3")
            .execute("SELECT COUNT(*) FROM devices")
            .fetchone()[0]
        )
        beats = int(RATES["heartbeat"] * span * 1.2)
        tokens = fleet_bench.fill_tokens(data_dir, beats, 0)
        hb_serials = {s for s, _t in tokens["fleet"]}
        launches = int(RATES["launch"] * span * 1.2)
        viewers, callers = 2_000, int(RATES["callback"] * span) + 10
        pool = entitled_serials(data_dir, launches + viewers + callers, hb_serials)
        server = common.start_demo_server(data_dir, env={"LEGALTV_LAUNCH_SECRET": SECRET})
        try:
            bases = asyncio.run(launch_boxes(server.base, pool[launches:]))
            viewer_bases, caller_bases = bases[:viewers], bases[viewers:]
            ts = int(time.time())
            launch_lines = [f"{s} {ts} {launch_signature(SECRET, s, ts)}" for s in pool[:launches]]
            screen_lines = [
                f"{b}{SCREENS[i % len(SCREENS)]}" for i, b in enumerate(viewer_bases * 2)
            ]
            plan = {  # kind: (lines, lua, connections)
                "heartbeat": ([f"{s} {t}" for s, t in tokens["fleet"]], heartbeat_lua(), 40),
                "launch": (launch_lines, LAUNCH_LUA, 16),
                "screen": (screen_lines, SCREEN_LUA, 24),
            }
            scripts = {
                kind: paced_script(
                    data_dir, kind, lines, lua, connections * 1000.0 / RATES[kind] * 0.97
                )
                for kind, (lines, lua, connections) in plan.items()
            }
            rss_before = server.rss_kb()
            wrks = {
                kind: start_wrk(server.base, scripts[kind], plan[kind][2], span) for kind in plan
            }
            side = Side()
            window: dict[str, float] = {}

            async def drive() -> None:
                await asyncio.sleep(WARMUP_S)
                window["t0"], window["c0"] = time.monotonic(), cpu_ticks(server.pid)
                window["w0"] = run_queue_ns(server.pid)
                stop = window["t0"] + duration
                await asyncio.gather(
                    side.callbacks(server.base, caller_bases, stop),
                    side.coverage(server.base, stop),
                )
                window["t1"], window["c1"] = time.monotonic(), cpu_ticks(server.pid)
                window["w1"] = run_queue_ns(server.pid)

            thread = threading.Thread(target=lambda: asyncio.run(drive()))
            thread.start()
            thread.join()
            outputs = {kind: p.communicate(timeout=span + 60)[0] for kind, p in wrks.items()}
            rss_after = server.rss_kb()
            time.sleep(2.5)  # one heartbeat flush
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = window["t1"] - window["t0"]
    cpu = (window["c1"] - window["c0"]) / ticks / seconds * 100
    waited = (window["w1"] - window["w0"]) / 1e9 / seconds * 100
    kinds: dict[str, dict] = {}
    for kind, out in outputs.items():
        w = server_bench.parse_wrk(out)
        kinds[kind] = {
            "wanted": RATES[kind],
            "rate": w["rps"],
            "n": w["requests"],
            "p50": w["p50_ms"],
            "p99": w["p99_ms"],
            "errors": w["errors"],
        }
    for kind, lat in side.lat.items():
        wanted = RATES["callback"] if kind.startswith("callback") else 1 / COVERAGE_EVERY_S
        kinds[kind] = {
            "wanted": wanted,
            "rate": len(lat) / duration,
            "n": len(lat),
            "p50": percentile(lat, 50),
            "p99": percentile(lat, 99),
            "errors": side.errors[kind],
        }
    worst = max((k["p99"] or 1e9) for k in kinds.values())
    reached = sum(k["rate"] or 0 for k in kinds.values())
    wanted = sum(k["wanted"] for k in kinds.values())
    errors = sum(k["errors"] for k in kinds.values())
    rss_mb = rss_after.get("VmRSS", 0) / 1024
    return {
        "quick": quick,
        "registered": total_boxes,
        "duration_s": duration,
        "synth_s": synth_s,
        "kinds": kinds,
        "cpu_percent": cpu,
        "run_queue_percent": waited,
        "cpu_at_wanted": cpu * wanted / reached if reached else None,
        "worst_p99": worst,
        "errors": errors,
        "receipts": side.receipts,
        "rss_mb": rss_mb,
        "rss_peak_mb": rss_after.get("VmHWM", 0) / 1024,
        "rss_before_mb": rss_before.get("VmRSS", 0) / 1024,
        "pass_latency": worst <= P99_TARGET_MS and errors == 0,
        # judged at the wanted rates: the share measured, scaled by wanted ÷ reached requests
        "pass_cpu": cpu * wanted / reached <= CPU_TARGET if reached else False,
        "pass_rss": rss_mb <= RSS_TARGET_MB,
        "neighbours": fleet_bench.neighbours(),
        "elapsed_s": time.perf_counter() - started,
    }


def markdown(r: dict) -> str:
    lines = [
        "| budget | measured | target | result |",
        "| --- | --- | --- | --- |",
        f"| Evening peak: worst p99 of any request kind, no errors | {fmt(r['worst_p99'], 1)} ms,"
        f" {r['errors']} errors | ≤ {P99_TARGET_MS:.0f} ms | {verdict(r['pass_latency'])} |",
        f"| Evening peak: server process CPU (of one core), at the rates reached → scaled to the"
        f" wanted rates | {fmt(r['cpu_percent'], 0)} % → {fmt(r['cpu_at_wanted'], 0)} % |"
        f" ≤ {CPU_TARGET:.0f} % | {verdict(r['pass_cpu'])} |",
        f"| Server RSS with {fmt(r['registered'])} boxes registered, after the peak |"
        f" {fmt(r['rss_mb'], 0)} MB (peak {fmt(r['rss_peak_mb'], 0)} MB) |"
        f" ≤ {RSS_TARGET_MB:.0f} MB | {verdict(r['pass_rss'])} |",
        "",
        f"{fmt(r['registered'])} boxes registered (demo + `registry synth` in"
        f" {fmt(r['synth_s'], 0)} s); {fmt(r['duration_s'], 0)} s measured after"
        f" {WARMUP_S:.0f} s of warm-up. Heartbeats from distinct boxes with signed tokens;"
        " launches of distinct boxes by signed URL (the 303 to the box's home); screen views of"
        f" 2,000 launched boxes ({', '.join(SCREENS[:-1])}); callbacks: the phone step then"
        f" submit; staff: `/admin/coverage` every {COVERAGE_EVERY_S:.0f} s.",
        "",
        "| kind | wanted /s | reached /s | requests | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, k in r["kinds"].items():
        lines.append(
            f"| {kind} | {fmt(k['wanted'], 1)} | {fmt(k['rate'], 1)} | {fmt(k['n'])} |"
            f" {fmt(k['p50'], 2)} | {fmt(k['p99'], 2)} | {k['errors']} |"
        )
    lines += [
        "",
        f"Server threads runnable but waiting for a CPU (`/proc/PID/task/*/schedstat`):"
        f" {fmt(r['run_queue_percent'], 0)} % of the window (time the machine's other processes"
        " took from the server; on an idle node it is near 0). The CPU share is measured at the"
        " rates reached; at the wanted rates it scales to about"
        f" {fmt(r['cpu_at_wanted'], 0)} %.",
        "",
        f"Callback receipts: {r['receipts']}. Server RSS before the load"
        f" {fmt(r['rss_before_mb'], 0)} MB. After the run: {r['neighbours']}.",
        "",
        f"Whole peak bench: {fmt(r['elapsed_s'], 0)} s.",
    ]
    return "\n".join(lines)


def add_section(text: str, result: dict, machine: dict) -> str:
    intro = common.run_intro("peak_bench.py", result["quick"], machine)
    return common.put_section(
        text, START, END, "Evening peak: the whole mix on one node", intro, markdown(result)
    )


def main() -> None:
    common.bench_main(__doc__, run, markdown, add_section, "30,000 boxes, 8 s measured")


if __name__ == "__main__":
    sys.exit(main())
