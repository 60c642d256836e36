"""Registry bench: heartbeat ingest over HTTP against an aiohttp hello-world (same run), the batched
heartbeat flush against a raw SQLite `executemany`, the coverage dashboard and `/api/v1/coverage`
at 1,000,000 boxes (cold and warm, with the server's RSS), and the CSV import of 100,000 boxes.

    .venv/bin/python -m bench.registry_bench [--quick] [--write]
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench import common, coverage_bench, server_bench
from bench.common import fmt, median, verdict
from device_registry.heartbeats import HEARTBEAT_UPDATE
from device_registry.states import REFUSED_STATES, sql_list

START = "<!-- registry:start -->"
END = "<!-- registry:end -->"
HEARTBEAT_TARGET = 0.6  # heartbeat req/s ÷ hello-world req/s
COVERAGE_TARGET_MS = 200.0
DB_FILE = "legaltv.sqlite3"
JSON = {"Content-Type": "application/json"}
BODY = '{"firmware":"V1.0.9","portal_version":"2.0.5","uptime":'


def _run(argv: list[str], timeout: float) -> tuple[float, str]:
    """Run a CLI command; return its wall time and stdout (raise with its stderr on failure)."""
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=common.ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed: {done.stderr[-1500:]}")
    return elapsed, done.stdout


def synth_dir(boxes: int, seed: int = 1) -> tuple[Path, float]:
    """A fresh temp data dir filled by `legaltv registry synth`; return it and the wall time."""
    data_dir = Path(tempfile.mkdtemp(prefix="legaltv-registry-bench-"))
    argv = [common.LEGALTV, "registry", "synth", "--boxes", str(boxes), "--seed", str(seed)]
    elapsed, _ = _run([*argv, "--data-dir", str(data_dir)], timeout=600)
    return data_dir, elapsed


def start_server(data_dir: Path) -> common.Proc:
    """`legaltv serve` (not demo) on the data dir, on a free loopback port."""
    port = common.free_port()
    argv = [common.LEGALTV, "serve", "--data-dir", str(data_dir), "--host", common.HOST]
    return common.start_server([*argv, "--port", str(port)], port, "legaltv", data_dir, "/healthz")


async def _open_db(data_dir: Path):
    from storage import Database

    db = Database(data_dir / DB_FILE, synchronous="NORMAL")  # set-up only
    await db.open()
    return db


# ---- 1. heartbeats ---------------------------------------------------------------------------


async def issue_tokens(data_dir: Path, count: int) -> list[tuple[str, str]]:
    """(serial, token) for `count` admitted boxes, through the domain function, signed with the
    key the server will read from the data dir."""
    from device_registry import enrolment, states, tokens
    from tv_server.settings import ensure_secrets, load_settings

    settings = ensure_secrets(load_settings(env={}, data_dir=str(data_dir)))
    key = tokens.key_of(settings.device_token_secret)
    db = await _open_db(data_dir)
    try:
        marks = ",".join("?" * len(states.ADMITTED_STATES))
        rows = await db.fetchall(
            f"SELECT serial FROM devices WHERE state IN ({marks}) ORDER BY id LIMIT ?",  # noqa: S608
            (*states.ADMITTED_STATES, count),
        )
        return [(r[0], await enrolment.issue_token(db, r[0], key=key)) for r in rows]
    finally:
        await db.close()


def lua_script(pairs: list[tuple[str, str]], folder: Path) -> Path:
    """A wrk script POSTing heartbeats, rotating over the serial/token pairs. The requests are
    formatted once at start (each box with its own uptime), so wrk's per-request work is a table
    lookup: the load generator shares the 2 cores and should spend them on sending."""
    entries = ",\n".join(f'  {{"{serial}", "{token}"}}' for serial, token in pairs)
    path = folder / "heartbeat.lua"
    path.write_text(
        "local boxes = {\n" + entries + "\n}\n"
        "local reqs = {}\n"
        "init = function(args)\n"
        "  for n, b in ipairs(boxes) do\n"
        '    reqs[n] = wrk.format("POST", "/api/v1/devices/" .. b[1] .. "/heartbeat",\n'
        '      {["Host"] = wrk.host .. ":" .. wrk.port, ["Content-Type"] = "application/json",\n'
        '       ["Authorization"] = "Bearer " .. b[2]},\n'
        f"      '{BODY}' .. n .. '}}')\n"
        "  end\n"
        "end\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  return reqs[(i % #reqs) + 1]\n"
        "end\n"
    )
    return path


async def _post_loop(base: str, pairs, connections: int, duration: float) -> dict:
    """Fallback when wrk is missing: keep-alive aiohttp POSTs for `duration` seconds."""
    lat, counts = [], {"ok": 0, "bad": 0}
    deadline = time.monotonic() + duration

    async def worker(session, offset):
        i = offset
        while time.monotonic() < deadline:
            serial, token = pairs[i % len(pairs)]
            i += connections
            t0 = time.perf_counter()
            try:
                async with session.post(
                    f"{base}/api/v1/devices/{serial}/heartbeat",
                    data=BODY + str(i) + "}",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                ) as r:
                    await r.read()
                    counts["ok" if r.status < 400 else "bad"] += 1
            except (TimeoutError, aiohttp.ClientError):
                counts["bad"] += 1
                await asyncio.sleep(0.01)
                continue
            lat.append(time.perf_counter() - t0)

    started = time.monotonic()
    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        connector=conn, timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        await asyncio.gather(*(worker(session, k) for k in range(connections)))
    lat.sort()
    elapsed = time.monotonic() - started
    return {
        "rps": len(lat) / elapsed,
        "p50_ms": lat[len(lat) // 2] * 1000 if lat else None,
        "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000 if lat else None,
        "requests": len(lat),
        "errors": counts["bad"],
        "tool": "aiohttp-loop",
    }


def heartbeat_load(base: str, script: Path, pairs, duration: float, connections: int) -> dict:
    wrk = shutil.which("wrk")
    if not wrk:
        return asyncio.run(_post_loop(base, pairs, connections, duration))
    argv = [wrk, "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency"]
    argv += ["--timeout", "5s", "-s", str(script), base + "/"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60).stdout
    return server_bench.parse_wrk(out)


async def stored_beats(data_dir: Path, serials: list[str], since: float) -> int:
    db = await _open_db(data_dir)
    try:
        marks = ",".join("?" * len(serials))
        return int(
            await db.fetchval(
                f"SELECT COUNT(*) FROM devices WHERE serial IN ({marks}) AND last_seen >= ?",  # noqa: S608
                (*serials, since),
            )
        )
    finally:
        await db.close()


async def flush_vs_raw(data_dir: Path, sizes: tuple[int, ...], repeats: int) -> list[dict]:
    """HeartbeatWriter.flush() of N beats vs a raw sqlite3 executemany of the same updates (same
    SQL, same rows, one transaction each, synchronous FULL like the server), interleaved."""
    from device_registry.heartbeats import Beat, HeartbeatWriter
    from storage import Database

    db = Database(data_dir / DB_FILE)  # the server's default: synchronous FULL
    await db.open()
    raw = sqlite3.connect(data_dir / DB_FILE, isolation_level=None)
    raw.execute("PRAGMA busy_timeout = 5000")
    raw.execute("PRAGMA synchronous = FULL")
    results = []
    try:
        ids = [
            r[0]
            for r in await db.fetchall(
                f"SELECT id FROM devices WHERE state NOT IN ({sql_list(REFUSED_STATES)})"
                " ORDER BY id"
            )
        ]
        for size in sizes:
            chosen = random.Random(size).sample(ids, min(size, len(ids)))
            times = {"writer": [], "raw": []}
            for rep in range(repeats):
                now = time.time()
                beats = [
                    Beat(i, now - k * 0.001, "V1.0.9", "2.0.5", 3600 + rep)
                    for k, i in enumerate(chosen)
                ]
                writer = HeartbeatWriter(db)
                started = time.perf_counter()
                for beat in beats:
                    writer.record(beat)
                await writer.flush()
                times["writer"].append(time.perf_counter() - started)
                rows = [
                    (b.firmware, b.firmware, b.portal_version, b.portal_version, b.uptime)
                    + (b.at, b.at, b.at, b.device_id)
                    for b in beats
                ]
                started = time.perf_counter()
                raw.execute("BEGIN IMMEDIATE")
                raw.executemany(HEARTBEAT_UPDATE, rows)
                raw.execute("COMMIT")
                times["raw"].append(time.perf_counter() - started)
            w, r = statistics.median(times["writer"]), statistics.median(times["raw"])
            results.append(
                {"beats": len(chosen), "writer_s": w, "raw_s": r, "ratio": w / r, "runs": times}
            )
    finally:
        raw.close()
        await db.close()
    return results


def _per_rep(runs: dict[str, list[dict]], label: str) -> list[float]:
    """req/s of `label` ÷ hello-world, per interleaved repeat."""
    return [
        x["rps"] / h["rps"]
        for x, h in zip(runs[label], runs["hello"], strict=True)
        if x["rps"] and h["rps"]
    ]


def run_heartbeats(
    boxes: int, tokens: int, duration: float, repeats: int, connections: int
) -> tuple[dict, Path]:
    data_dir, synth_s = synth_dir(boxes)
    t0 = time.perf_counter()
    pairs = asyncio.run(issue_tokens(data_dir, tokens))
    tokens_s = time.perf_counter() - t0
    script = lua_script(pairs, data_dir)
    began = time.time() - 1
    hello = legaltv = None
    runs: dict[str, list[dict]] = {"hello": [], "bare": [], "heartbeat": []}
    try:
        legaltv = start_server(data_dir)
        hello = common.start_hello_server(data_dir)
        probe = asyncio.run(_post_loop(legaltv.base, pairs[:4], 2, 0.5))  # also warms up
        if not probe["requests"] or probe["errors"]:
            raise RuntimeError(f"heartbeat probe failed: {probe}; log {legaltv.log_path}")
        for rep in range(repeats):
            for label in ("hello", "bare", "heartbeat"):
                if label == "hello":
                    r = server_bench.load(hello.base + "/", duration, connections)
                elif label == "bare":  # the same Lua load against aiohttp's bare POST
                    r = heartbeat_load(hello.base, script, pairs, duration, connections)
                else:
                    r = heartbeat_load(legaltv.base, script, pairs, duration, connections)
                runs[label].append(r)
                print(
                    f"  [registry] rep {rep + 1}/{repeats} {label:9s} {fmt(r['rps'], 0)} req/s "
                    f"p50 {fmt(r['p50_ms'], 2)} ms p99 {fmt(r['p99_ms'], 2)} ms "
                    f"errors {r['errors']}",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(0.5)
        rss = {"legaltv": legaltv.rss_kb(), "hello": hello.rss_kb()}
        time.sleep(3)  # one flush interval (usage_flush_seconds = 2) before stopping
    finally:
        for proc in (legaltv, hello):
            if proc:
                proc.stop()
    stored = asyncio.run(stored_beats(data_dir, [s for s, _ in pairs], began))
    flush = asyncio.run(flush_vs_raw(data_dir, (1000, boxes), 3))
    per_rep, bare_per_rep = _per_rep(runs, "heartbeat"), _per_rep(runs, "bare")
    ratio = median(per_rep)
    result = {
        "boxes": boxes,
        "tokens": len(pairs),
        "synth_s": synth_s,
        "tokens_s": tokens_s,
        "tool": runs["hello"][0]["tool"],
        "duration_s": duration,
        "repeats": repeats,
        "connections": connections,
        "runs": runs,
        "per_rep": per_rep,
        "bare_per_rep": bare_per_rep,
        "bare_ratio": median(bare_per_rep),
        "ratio": ratio,
        "pass": ratio is not None and ratio >= HEARTBEAT_TARGET,
        "stored": stored,
        "rss_kb": rss,
        "flush": flush,
    }
    return result, data_dir


# ---- 2. coverage -----------------------------------------------------------------------------


async def api_key(data_dir: Path) -> str:
    """A `coverage:read` API key for the bench."""
    from accounts import apikeys

    db = await _open_db(data_dir)
    try:
        _, key = await apikeys.create(db, "registry-bench", ["coverage:read"])
        return key
    finally:
        await db.close()


async def _timed_get(session, url: str, **kw) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    async with session.get(url, **kw) as response:
        body = await response.read()
    return (time.perf_counter() - started) * 1000, response.status, body


def _stale(target: str, body: bytes) -> bool:
    """Whether the answer holds the figures kept by the last run (served while recomputing)."""
    if target == "api":
        return bool(json.loads(body).get("stale"))
    return b'data-stale="1"' in body


async def _measure(base: str, target: str, path: str, key: str, warm: int) -> dict:
    jar = aiohttp.CookieJar(unsafe=True)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as session:
        kw = {}
        if target == "admin":
            async with session.get(base + "/admin/login") as r:
                html = await r.text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
            form = {"csrf_token": token, "username": "bench", "password": coverage_bench.PASSWORD}
            async with session.post(base + "/admin/login", data=form) as r:
                await r.read()
        else:
            kw = {"headers": {"Authorization": f"Bearer {key}"}}
        cold, status, body = await _timed_get(session, base + path, **kw)
        cold_status, stale = status, status == 200 and _stale(target, body)
        times = []
        for _ in range(warm):
            ms, status, body = await _timed_get(session, base + path, **kw)
            times.append(ms)
        if target == "admin" and 'id="cv-totals"' not in body.decode():
            raise RuntimeError("the dashboard did not render (not logged in?)")
    return {
        "cold_ms": cold,
        "cold_status": cold_status,
        "stale": stale,
        "warm_median_ms": statistics.median(times),
        "warm_max_ms": max(times),
        "status": status,
        "bytes": len(body),
    }


async def _drop_kept_figures(data_dir: Path) -> None:
    """A first start: no figures kept by an earlier run (they are computed before listening)."""
    db = await _open_db(data_dir)
    try:
        await db.execute("DELETE FROM coverage_latest")
    finally:
        await db.close()


def run_coverage(boxes: int, warm: int) -> dict:
    """Fill with `coverage_bench.fill` (synth + uncached aggregation timings + an admin "bench"),
    measure over HTTP against `legaltv serve` started afresh for each target, first with no
    figures kept (a first start) then with those the previous server kept (a restart), then run
    `coverage_bench.serve` (in-process)."""
    data_dir = Path(tempfile.mkdtemp(prefix="legaltv-coverage-bench-"))
    log = io.StringIO()
    try:
        started = time.perf_counter()
        with contextlib.redirect_stdout(log):
            asyncio.run(coverage_bench.fill(data_dir, boxes, 1))
        synth_s = time.perf_counter() - started
        key = asyncio.run(api_key(data_dir))
        db_mib = (data_dir / DB_FILE).stat().st_size / 1024 / 1024
        targets = {}
        for kept in (False, True):
            for label, target, path in (
                ("dashboard", "admin", "/admin/coverage?region=1506"),
                ("api", "api", "/api/v1/coverage?region=1506"),
            ):
                if not kept:
                    asyncio.run(_drop_kept_figures(data_dir))
                began = time.perf_counter()
                proc = start_server(data_dir)  # a fresh process each: the first request is cold
                ready_s = time.perf_counter() - began
                try:
                    m = asyncio.run(_measure(proc.base, target, path, key, warm))
                    m["rss_kb"] = proc.rss_kb()
                finally:
                    proc.stop()
                m.update(path=path, kept=kept, ready_s=ready_s)
                m["pass"] = (
                    m["cold_ms"] <= COVERAGE_TARGET_MS
                    and m["warm_median_ms"] <= COVERAGE_TARGET_MS
                    and m["cold_status"] == m["status"] == 200
                )
                targets[f"{label}, {'restart' if kept else 'first start'}"] = m
                rss_mib = m["rss_kb"].get("VmRSS", 0) / 1024
                print(
                    f"  [registry] {label} ({'restart' if kept else 'first start'}): ready "
                    f"{ready_s:.1f} s, HTTP {m['status']} first request {m['cold_ms']:.0f} ms"
                    f"{' (kept figures)' if m['stale'] else ''}, warm median "
                    f"{m['warm_median_ms']:.1f} ms, RSS {rss_mib:.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
        with contextlib.redirect_stdout(log):
            asyncio.run(coverage_bench.serve(data_dir))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "coverage_bench": log.getvalue().strip().splitlines(),
        "boxes": boxes,
        "synth_s": synth_s,
        "db_mib": db_mib,
        "warm": warm,
        "targets": targets,
    }


# ---- 3. CSV import ---------------------------------------------------------------------------


def write_csv(data_dir: Path, rows: int, path: Path) -> None:
    """`rows` boxes over the real village codes of the data dir, with unique serials and MACs."""
    from device_registry.demo_boxes import MODELS

    with sqlite3.connect(data_dir / DB_FILE) as conn:
        villages = [r[0] for r in conn.execute("SELECT code FROM regions WHERE level = 'village'")]
    models = [m["model"] for m in MODELS if "(test)" not in m["model"]]
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(
            ["serial", "mac", "model", "firmware", "village_code", "household_label"]
            + ["installed_at", "state"]
        )
        for i in range(1, rows + 1):
            village = rng.choice(villages)
            out.writerow(
                [
                    f"CSV-{i:07d}",
                    f"02:C5:00:{(i >> 16) & 255:02X}:{(i >> 8) & 255:02X}:{i & 255:02X}",
                    rng.choice(models),
                    "V1.0.3",
                    village,
                    f"{village[-6:]}-C{i:06d}",
                    "2026-10-01",
                    rng.choice(("planned", "installed", "activated")),
                ]
            )


def run_import(data_dir: Path, rows: int) -> dict:
    path = data_dir / "boxes.csv"
    write_csv(data_dir, rows, path)
    base = [common.LEGALTV, "devices", "import", str(path), "--data-dir", str(data_dir)]
    dry_s, dry_out = _run([*base, "--dry-run"], timeout=600)
    real_s, real_out = _run(base, timeout=600)
    with sqlite3.connect(data_dir / DB_FILE) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM devices WHERE serial LIKE 'CSV-%'").fetchone()[
            0
        ]
    return {
        "rows": rows,
        "bytes": path.stat().st_size,
        "dry_s": dry_s,
        "real_s": real_s,
        "dry_out": dry_out.strip(),
        "real_out": real_out.strip(),
        "stored": stored,
    }


# ---- the run and its report ------------------------------------------------------------------


def run(quick: bool = False) -> dict:
    started = time.perf_counter()
    duration = 3.0 if quick else 8.0
    hb, hb_dir = run_heartbeats(20_000, 1000, duration, 3, 32)
    try:
        imp = run_import(hb_dir, 10_000 if quick else 100_000)
    finally:
        shutil.rmtree(hb_dir, ignore_errors=True)
    cov = run_coverage(100_000 if quick else 1_000_000, 20)
    return {
        "heartbeats": hb,
        "coverage": cov,
        "import": imp,
        "quick": quick,
        "elapsed_s": time.perf_counter() - started,
    }


def _mib(kb: dict, key: str = "VmRSS") -> str:
    return fmt(kb.get(key, 0) / 1024, 1)


def markdown(r: dict) -> str:
    hb, cov, imp = r["heartbeats"], r["coverage"], r["import"]
    cov_ok = all(t["pass"] for t in cov["targets"].values())
    worst_cold = max(t["cold_ms"] for t in cov["targets"].values())
    worst_warm = max(t["warm_median_ms"] for t in cov["targets"].values())
    lines = [
        "| budget | measured | target | result |",
        "| --- | --- | --- | --- |",
        f"| Heartbeat POST vs hello-world (req/s, median of per-repeat ratios) | "
        f"{fmt(hb['ratio'], 2)}× | ≥ {HEARTBEAT_TARGET}× | {verdict(hb['pass'])} |",
        f"| For scale: aiohttp's bare POST (reads and parses the JSON body with orjson, answers "
        f"202; no auth, validation or storage) vs "
        f"hello-world, same load | {fmt(hb['bare_ratio'], 2)}× | — | — |",
    ]
    for t in cov["targets"].values():
        lines.append(
            f"| `{t['path']}`, {fmt(cov['boxes'])} boxes, first request after "
            f"{'a restart' if t['kept'] else 'the first start'} (warm median "
            f"{fmt(t['warm_median_ms'])} ms) | "
            f"{fmt(t['cold_ms'], 1)} ms | ≤ {COVERAGE_TARGET_MS:.0f} ms | {verdict(t['pass'])} |"
        )
    lines += [
        "",
        f"### Heartbeat ingest ({fmt(hb['boxes'])} synthetic boxes, {hb['tokens']} with tokens)",
        "",
        f"`{hb['tool']}` 1 thread, {hb['connections']} connections, {hb['duration_s']:.0f} s per "
        f"run, {hb['repeats']} interleaved repeats (hello, bare POST, heartbeat, …). "
        "Heartbeat requests are "
        "`POST /api/v1/devices/{serial}/heartbeat` with the box's bearer token and a JSON body "
        "(firmware, portal_version, uptime), rotating over the boxes (a wrk Lua script); "
        "answered 202 and buffered, written by the flush task every 2 s. Set-up: "
        f"`registry synth` {fmt(hb['synth_s'])} s, {hb['tokens']} tokens via "
        f"`enrolment.issue_token` {fmt(hb['tokens_s'])} s.",
        "",
        "| target | req/s (median) | p50 ms | p99 ms | runs req/s | errors |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for label, title in (
        ("hello", "aiohttp hello-world `GET /`"),
        ("bare", "aiohttp bare POST (same Lua load; reads and parses the body, answers 202)"),
        ("heartbeat", "heartbeat POST"),
    ):
        rs = hb["runs"][label]
        lines.append(
            f"| {title} | {fmt(median([x['rps'] for x in rs]), 0)} | "
            f"{fmt(median([x['p50_ms'] for x in rs]), 2)} | "
            f"{fmt(median([x['p99_ms'] for x in rs]), 2)} | "
            f"{', '.join(fmt(x['rps'], 0) for x in rs)} | {sum(x['errors'] or 0 for x in rs)} |"
        )
    lines += [
        "",
        f"Heartbeat ÷ hello per repeat: {', '.join(fmt(x, 2) for x in hb['per_rep'])}; "
        f"**median {fmt(hb['ratio'], 2)}× (target ≥ {HEARTBEAT_TARGET}×): "
        f"{verdict(hb['pass'])}**. Bare POST ÷ hello per repeat: "
        f"{', '.join(fmt(x, 2) for x in hb['bare_per_rep'])}; heartbeat ÷ bare POST "
        f"{fmt(hb['ratio'] / hb['bare_ratio'] if hb['bare_ratio'] else None, 2)}×: a request "
        "body costs aiohttp itself a good part of the budget (a StreamReader per request; every "
        "read re-enters the parser), and the rest is the heartbeat's own work (token, "
        "validation, buffering, the answer). Boxes whose `last_seen` the run moved: "
        f"{hb['stored']} of {hb['tokens']}. RSS after the load: legaltv "
        f"{_mib(hb['rss_kb']['legaltv'])} MiB (peak {_mib(hb['rss_kb']['legaltv'], 'VmHWM')} "
        f"MiB), hello-world {_mib(hb['rss_kb']['hello'])} MiB.",
        "",
        "Flush: `HeartbeatWriter.record()` + `flush()` (aiosqlite, one transaction) vs a raw "
        "`sqlite3` `executemany` of the same UPDATE and rows in one transaction; both "
        "synchronous=FULL on the same file, interleaved, median of 3.",
        "",
        "| beats | writer s | raw executemany s | writer ÷ raw | beats/s (writer) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in hb["flush"]:
        lines.append(
            f"| {fmt(f['beats'])} | {f['writer_s']:.3f} | {f['raw_s']:.3f} | "
            f"{fmt(f['ratio'], 2)}× | {fmt(f['beats'] / f['writer_s'], 0)} |"
        )
    lines += [
        "",
        f"### Coverage at {fmt(cov['boxes'])} boxes over the 1,011 villages",
        "",
        f"Filled by `coverage_bench.fill` (`synth.synthesize` of {fmt(cov['boxes'])} boxes plus "
        f"3 uncached aggregations) in {fmt(cov['synth_s'])} s, database "
        f"{fmt(cov['db_mib'], 0)} MiB. A fresh `legaltv serve` per target and start, first with "
        "no figures kept (a first start: they are computed before the server listens, so "
        "'ready' is longer), then with those the previous server kept in `coverage_latest` (a "
        "restart: they are served, marked stale, while new ones are computed); cold = the first "
        "coverage request after the start (the server answered only `/healthz` before), which is "
        "what the target is about. The dashboard logged in as an admin (login form + CSRF "
        f"token), the API with a `coverage:read` key; warm = median of {cov['warm']} sequential "
        "requests.",
        "",
        "| target | start | ready s | status / bytes | first request ms | warm median ms "
        "| warm max ms | server RSS MiB (peak) | ≤ 200 ms |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for label, t in cov["targets"].items():
        start = "restart (kept, stale)" if t["stale"] else label.split(", ")[1]
        lines.append(
            f"| `{t['path']}` | {start} | {fmt(t['ready_s'], 1)} | {t['status']} / "
            f"{fmt(t['bytes'])} B | {fmt(t['cold_ms'], 1)} | {fmt(t['warm_median_ms'])} | "
            f"{fmt(t['warm_max_ms'])} | {_mib(t['rss_kb'])} ({_mib(t['rss_kb'], 'VmHWM')}) | "
            f"{verdict(t['pass'])} |"
        )
    lines += [
        "",
        f"**Coverage, first request after a start ≤ {COVERAGE_TARGET_MS:.0f} ms (and warm): "
        f"{verdict(cov_ok)}** — slowest first request {fmt(worst_cold, 1)} ms, slowest warm "
        f"median {fmt(worst_warm, 1)} ms.",
        "",
        "`bench/coverage_bench.py` on the same data dir (aggregation in-process, uncached; then "
        "its own in-process test server started afresh for each line, 30 warm requests each):",
        "",
        "```",
        *cov["coverage_bench"],
        "```",
        "",
        f"### CSV import of {fmt(imp['rows'])} boxes",
        "",
        f"`legaltv devices import FILE` (CLI subprocess, process start included) on the "
        f"{fmt(hb['boxes'])}-box data dir; {fmt(imp['bytes'])} B UTF-8, every column, real "
        f"village codes; {fmt(imp['stored'])} boxes stored after the real import.",
        "",
        "| run | seconds | rows/s |",
        "| --- | ---: | ---: |",
        f"| `--dry-run` | {imp['dry_s']:.2f} | {fmt(imp['rows'] / imp['dry_s'], 0)} |",
        f"| import | {imp['real_s']:.2f} | {fmt(imp['rows'] / imp['real_s'], 0)} |",
        "",
        f"Whole registry bench: {fmt(r['elapsed_s'], 0)} s.",
    ]
    return "\n".join(lines)


def add_section(text: str, result: dict, machine: dict) -> str:
    """`text` (bench/RESULTS.md) with this bench's section put in or replaced."""
    intro = common.run_intro("registry_bench.py", result["quick"], machine)
    return common.put_section(
        text,
        START,
        END,
        "Registry: heartbeats, coverage at 1,000,000 boxes, CSV import",
        intro,
        markdown(result),
    )


def main() -> None:
    common.bench_main(__doc__, run, markdown, add_section, "smaller sizes, 3 s load runs")


if __name__ == "__main__":
    main()
