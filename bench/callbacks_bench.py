"""Callbacks load bench: N simulated boxes (default 2,000) ask for a callback — each once, one in
ten retrying the same draft — and poll 我的申请, while two staff members claim and complete
requests through the admin. Counts rows against acknowledged references: zero lost, zero
duplicated; p50/p99 latencies. Loopback only, bounded in count and time.

    .venv/bin/python -m bench.callbacks_bench [--boxes 2000] [--concurrency 64] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sqlite3
import time
from pathlib import Path

import aiohttp

from bench import common
from bench.common import fmt, percentile

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- callbacks:start -->", "<!-- callbacks:end -->"
SECRET = "bench-launch-secret-0123456789"
PREFIX = "CBBENCH-"
TIME_LIMIT = 600.0  # seconds for the whole run
STAFF = ("staff", "admin")
PASSWORD = "ordos-demo-2026"


def add_boxes(data_dir: Path, boxes: int) -> str:
    """Insert synthetic active boxes in DEMO-0001's village (whose section is live) directly into
    the data dir's database (before the server starts). Returns the village code."""
    with sqlite3.connect(data_dir / "legaltv.sqlite3") as conn:
        village, model = conn.execute(
            "SELECT village_code, model FROM devices WHERE serial = 'DEMO-0001'"
        ).fetchone()
        now = time.time()
        conn.executemany(
            "INSERT OR IGNORE INTO devices (serial, model, village_code, household_label, state,"
            " created_at) VALUES (?, ?, ?, ?, 'active', ?)",
            [(f"{PREFIX}{i:05d}", model, village, f"bench {i}", now) for i in range(boxes)],
        )
    return village


class Stats:
    def __init__(self) -> None:
        self.lat: dict[str, list[float]] = {"enter": [], "phone": [], "submit": [], "mine": []}
        self.acked: dict[str, str] = {}  # serial -> ref
        self.errors: list[str] = []
        self.retry_mismatch = 0
        self.mine_missing = 0
        self.claimed = self.completed = self.conflicts = 0

    async def timed(self, name: str, coro):
        t0 = time.perf_counter()
        try:
            return await coro
        finally:
            self.lat[name].append((time.perf_counter() - t0) * 1000)


async def _fetch(session, method, url, **kw):
    async with session.request(method, url, allow_redirects=False, **kw) as r:
        return r.status, r.headers.get("Location", ""), await r.text()


async def one_box(session, base: str, serial: str, i: int, stats: Stats) -> None:
    status, loc, _ = await stats.timed(
        "enter", _fetch(session, "GET", base + "/tv/", params={"stb": serial})
    )
    if status != 303:
        stats.errors.append(f"{serial} enter {status}")
        return
    box = base + loc[: -len("home")]
    phone = f"138{i:08d}"
    status, loc, _ = await stats.timed(
        "phone",
        _fetch(
            session,
            "POST",
            box + "cb-phone",
            data={"svc": "consultation", "sp": "", "d": "", "phone": phone},
        ),
    )
    m = re.search(r"d=([0-9a-f]+)", loc)
    if status != 303 or not m:
        stats.errors.append(f"{serial} phone {status}")
        return
    draft = m.group(1)
    tries = 2 if i % 10 == 0 else 1  # one box in ten retries the same draft (a double OK)
    refs = set()
    for _ in range(tries):
        status, loc, _ = await stats.timed(
            "submit", _fetch(session, "POST", box + "cb-submit", data={"d": draft, "w": "morning"})
        )
        if status != 303 or "r-" not in loc:
            stats.errors.append(f"{serial} submit {status}")
            continue
        refs.add(loc.rsplit("r-", 1)[1])
    if not refs:
        return
    if len(refs) > 1:
        stats.retry_mismatch += 1
    stats.acked[serial] = sorted(refs)[0]
    for _ in range(2):  # poll 我的申请
        status, _loc, html = await stats.timed("mine", _fetch(session, "GET", box + "mine"))
        if status != 200 or stats.acked[serial] not in html:
            stats.mine_missing += 1


async def staff_loop(base: str, username: str, stop: asyncio.Event, stats: Stats) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        _s, _l, html = await _fetch(session, "GET", base + "/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        status, _l, _t = await _fetch(
            session,
            "POST",
            base + "/admin/login",
            data={"csrf_token": token, "username": username, "password": PASSWORD},
        )
        if status != 303:
            stats.errors.append(f"{username} login {status}")
            return
        while not stop.is_set():
            _s, _l, html = await _fetch(
                session, "GET", base + "/admin/callbacks", params={"status": "submitted"}
            )
            ids = list(dict.fromkeys(re.findall(r'/admin/callbacks/(\d+)"', html)))[:10]
            token = re.search(r'name="csrf_token" value="([^"]+)"', html)
            if not ids or not token:
                await asyncio.sleep(0.2)
                continue
            for cid in ids:
                url = f"{base}/admin/callbacks/{cid}"
                data = {"csrf_token": token.group(1)}
                status, _l, _t = await _fetch(
                    session, "POST", url, data={**data, "action": "claim"}
                )
                if status == 409:
                    stats.conflicts += 1
                    continue
                if status != 303:
                    stats.errors.append(f"{username} claim {status}")
                    continue
                stats.claimed += 1
                status, _l, _t = await _fetch(
                    session, "POST", url, data={**data, "action": "complete", "note": "bench"}
                )
                if status == 303:
                    stats.completed += 1
                else:
                    stats.errors.append(f"{username} complete {status}")


async def drive(base: str, boxes: int, concurrency: int) -> tuple[Stats, float]:
    stats = Stats()
    stop = asyncio.Event()
    staff = [asyncio.create_task(staff_loop(base, name, stop, stats)) for name in STAFF]
    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:

        async def guarded(i: int) -> None:
            async with sem:
                try:
                    await one_box(session, base, f"{PREFIX}{i:05d}", i, stats)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    stats.errors.append(f"box {i}: {type(exc).__name__}")

        await asyncio.gather(*(guarded(i) for i in range(boxes)))
    elapsed = time.perf_counter() - t0
    await asyncio.sleep(1.0)  # let the staff finish a last round
    stop.set()
    await asyncio.gather(*staff, return_exceptions=True)
    return stats, elapsed


def count_rows(data_dir: Path) -> tuple[dict[str, list[str]], dict[str, int]]:
    with sqlite3.connect(data_dir / "legaltv.sqlite3") as conn:
        rows = conn.execute(
            "SELECT d.serial, r.ref FROM callback_requests r JOIN devices d ON d.id = r.device_id"
            " WHERE d.serial LIKE ?",
            (PREFIX + "%",),
        ).fetchall()
        states = dict(
            conn.execute(
                "SELECT r.status, COUNT(*) FROM callback_requests r JOIN devices d"
                " ON d.id = r.device_id WHERE d.serial LIKE ? GROUP BY r.status",
                (PREFIX + "%",),
            ).fetchall()
        )
    by_serial: dict[str, list[str]] = {}
    for serial, ref in rows:
        by_serial.setdefault(serial, []).append(ref)
    return by_serial, states


def run(boxes: int = 2000, concurrency: int = 64) -> dict:
    data_dir = common.prepare_demo_dir()
    try:
        add_boxes(data_dir, boxes)
        server = common.start_demo_server(data_dir, env={"LEGALTV_LAUNCH_SECRET": SECRET})
        try:
            stats, elapsed = asyncio.run(
                asyncio.wait_for(drive(server.base, boxes, concurrency), TIME_LIMIT)
            )
        finally:
            server.stop()
        by_serial, states = count_rows(data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    lost = [s for s, ref in stats.acked.items() if ref not in by_serial.get(s, [])]
    duplicated = sum(len(refs) - 1 for refs in by_serial.values() if len(refs) > 1)
    unacknowledged = sum(1 for s in by_serial if s not in stats.acked)
    result = {
        "boxes": boxes,
        "concurrency": concurrency,
        "elapsed_s": elapsed,
        "acked": len(stats.acked),
        "rows": sum(len(r) for r in by_serial.values()),
        "lost": len(lost),
        "duplicated": duplicated,
        "unacknowledged_rows": unacknowledged,
        "retry_mismatch": stats.retry_mismatch,
        "mine_missing": stats.mine_missing,
        "errors": len(stats.errors),
        "error_samples": stats.errors[:5],
        "claimed": stats.claimed,
        "completed": stats.completed,
        "claim_conflicts": stats.conflicts,
        "states": states,
        "latency": {
            name: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99)}
            for name, v in stats.lat.items()
        },
    }
    result["pass"] = (
        result["lost"] == 0
        and result["duplicated"] == 0
        and result["retry_mismatch"] == 0
        and result["acked"] == boxes
    )
    return result


def markdown(r: dict) -> str:
    lines = [
        f"{r['boxes']:,} boxes ({r['concurrency']} at a time), each: enter, phone, submit (one in"
        f" ten submits the same draft twice), 我的申请 ×2; staff ({', '.join(STAFF)}) claim and"
        f" complete through /admin meanwhile. Wall time {fmt(r['elapsed_s'])} s.",
        "",
        "| acknowledged | rows | lost | duplicated | rows never acknowledged | retry → other ref |"
        " 我的申请 missing the ref | HTTP errors | claimed / completed / claim conflicts |"
        " result |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        f"| {r['acked']:,} | {r['rows']:,} | {r['lost']} | {r['duplicated']} |"
        f" {r['unacknowledged_rows']} | {r['retry_mismatch']} | {r['mine_missing']} |"
        f" {r['errors']} | {r['claimed']} / {r['completed']} / {r['claim_conflicts']} |"
        f" {common.verdict(r['pass'])} |",
        "",
        "| step | requests | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, s in r["latency"].items():
        lines.append(f"| {name} | {s['n']:,} | {fmt(s['p50'])} | {fmt(s['p99'])} |")
    if r["error_samples"]:
        lines += ["", "Error samples: " + "; ".join(r["error_samples"])]
    return "\n".join(lines)


def add_section(text: str, result: dict, machine: dict) -> str:
    """`text` (bench/RESULTS.md) with this bench's section put in or replaced."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    intro = f"Run {when} on `{machine['uname']}`, {machine['nproc']} × {machine['cpu']}."
    return common.put_section(
        text,
        START,
        END,
        "Callbacks: boxes submitting and polling while staff work the queue",
        intro,
        markdown(result),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boxes", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--write", action="store_true", help="put the section into bench/RESULTS.md")
    a = p.parse_args()
    result = run(a.boxes, a.concurrency)
    print(markdown(result))
    if a.write:
        text = RESULTS.read_text() if RESULTS.exists() else "# LegalTV bench results\n"
        RESULTS.write_text(add_section(text, result, common.machine_info()))
    raise SystemExit(0 if result["pass"] else 1)


if __name__ == "__main__":
    main()
