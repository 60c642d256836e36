"""Coverage for the province on PostgreSQL: the real Inner Mongolia division tree (12 leagues and
cities, 108 counties, 1,225 townships, 14,592 villages) loaded with `legaltv regions import`,
5 million boxes by `legaltv registry synth --database …` (COPY), a month of video watching (one
box in ten started a program's video: `video_positions` rows written with COPY), then the
coverage API (`GET /api/v1/coverage?region=…`) of the province, a city and a county timed on a
real `legaltv serve` process: the first request after a first start (no figures kept: they are
computed before the server listens), the first request after a restart (figures kept in
`coverage_latest`) for each region, and warm requests.

Opt-in (`make bench-province`, not part of `make bench`: the synth alone takes about 15 minutes on
a 2-core machine):

    .venv/bin/python -m bench.province_bench [--boxes 5000000] [--write]
    .venv/bin/python -m bench.province_bench --database postgresql://… [--write]

Without `--database` a throwaway cluster is started (`tests.pgcluster`, with a larger
shared_buffers) and removed at the end; with it, that database is used and filled only where it
lacks the tree, the boxes or the viewing (a re-run measures without waiting for the synth again,
and says so). Skips when the PostgreSQL server binaries are missing (an error under CI=true).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import common, fleet_bench
from bench.common import fmt, verdict

START = "<!-- province:start -->"
END = "<!-- province:end -->"
TARGET_MS = 200.0
DIVISIONS = common.ROOT.parent.parent / "shared" / "data" / "inner_mongolia_divisions.csv"
REGIONS = {"province": "15", "city": "1506", "county": "150602"}  # Inner Mongolia, Ordos, Dongsheng
WATCH_SHARE = 0.1  # boxes that started one program's video in the last 30 days
WARM = 20
DAY = 86400.0


def divisions_file() -> Path:
    """/work/shared/data/… relative to the repository's parent, else beside the main checkout."""
    for candidate in (
        common.ROOT.parent / "shared" / "data" / "inner_mongolia_divisions.csv",
        DIVISIONS,
        Path("/work/shared/data/inner_mongolia_divisions.csv"),
    ):
        if candidate.exists():
            return candidate
    raise RuntimeError("inner_mongolia_divisions.csv not found (../shared/data/)")


async def _q(url: str, sql: str, *args):
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def q(url: str, sql: str, *args) -> list:
    return asyncio.run(_q(url, sql, *args))


def _cli(*argv: str, timeout: float = 3600) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [common.LEGALTV, *argv], cwd=common.ROOT, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"legaltv {' '.join(argv[:2])} failed: {done.stderr[-1500:]}")
    return time.perf_counter() - started


async def _watching(url: str, share: float, seed: int = 1) -> int:
    """One `video_positions` row for `share` of the admitted boxes: a program started in the
    last 30 days, watched to a random point (a third of them to the end)."""
    from storage import database_for

    db = database_for(url, None)
    await db.open()
    try:
        rng = random.Random(seed)
        ids = [
            r[0] for r in await db.fetchall("SELECT id FROM devices WHERE last_seen IS NOT NULL")
        ]
        chosen = rng.sample(ids, int(len(ids) * share))
        now = time.time()
        rows = []
        for device_id in chosen:
            duration = rng.randint(300, 1800)
            furthest = duration if rng.random() < 0.33 else rng.randint(0, duration)
            at = now - rng.uniform(0, 29) * DAY
            rows.append((device_id, rng.randint(1, 40), furthest, furthest, duration, at, at))
        async with db.transaction() as tx:
            await tx.copy_rows(
                "video_positions",
                ("device_id", "program_id", "seconds", "furthest", "duration", "started_at",
                 "updated_at"),
                rows,
            )  # fmt: skip
        return len(rows)
    finally:
        await db.close()


async def _api_key(url: str) -> str:
    from accounts import apikeys
    from storage import database_for

    db = database_for(url, None)
    await db.open()
    try:
        return (await apikeys.create(db, f"province-{time.time_ns()}", ["coverage:read"]))[1]
    finally:
        await db.close()


async def _aggregation_ms(url: str) -> list[float]:
    """`coverage.all_figures` uncached, twice: what the background refresh costs."""
    from device_registry import coverage
    from device_registry.regions import RegionTree
    from storage import database_for

    db = database_for(url, None)
    await db.open()
    try:
        tree = await RegionTree.load(db)
        out = []
        for _ in range(2):
            started = time.perf_counter()
            await coverage.all_figures(db, tree)
            out.append((time.perf_counter() - started) * 1000)
        return out
    finally:
        await db.close()


def _get(base: str, path: str, key: str) -> tuple[float, int, dict]:
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:  # noqa: S310 - loopback only
        body = r.read()
        status = r.status
    return (time.perf_counter() - started) * 1000, status, json.loads(body)


def serve_and_time(url: str, data_dir: Path, key: str, code: str, keep: bool) -> dict:
    """Start `legaltv serve` (with the kept figures, or none: a first start); time how long it
    took to listen, its first request for the region, then WARM more."""
    if not keep:
        q(url, "DELETE FROM coverage_latest")
    env = {"LEGALTV_API_KEY_REQUESTS_PER_MINUTE": "100000"}
    port = common.free_port()
    argv = [common.LEGALTV, "serve", "--database", url, "--data-dir", str(data_dir)]
    argv += ["--host", common.HOST, "--port", str(port)]
    started = time.perf_counter()
    proc = common.start_server(argv, port, "legaltv", data_dir, "/healthz", env, 1800)
    try:
        listening = time.perf_counter() - started
        path = f"/api/v1/coverage?region={code}"
        cold, status, body = _get(proc.base, path, key)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        warm = [_get(proc.base, path, key)[0] for _ in range(WARM)]
        rss = proc.rss_kb()
    finally:
        proc.stop(timeout=60)
    return {
        "code": code,
        "kept": keep,
        "listening_s": listening,
        "cold_ms": cold,
        "stale": body.get("stale"),
        "boxes": body["totals"]["installed"],
        "children": len(body["children"]),
        "warm_median_ms": statistics.median(warm),
        "warm_max_ms": max(warm),
        "rss_mib": rss.get("VmRSS", 0) / 1024,
        "pass": cold <= TARGET_MS and statistics.median(warm) <= TARGET_MS,
    }


def run(boxes: int = 5_000_000, database: str | None = None) -> dict:
    from tests.pgcluster import Cluster, server_bin

    if database is None and server_bin() is None:
        reason = "the PostgreSQL server binaries are missing (Debian package postgresql)"
        if os.environ.get("CI") == "true":
            raise RuntimeError(reason)
        return {"skipped": reason}
    started = time.perf_counter()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    folder = Path(tempfile.mkdtemp(prefix="legaltv-province-"))
    cluster = None
    try:
        if database is None:
            cluster = Cluster()
            cluster.start()
            cluster.psql("CREATE DATABASE legaltv")
            database = cluster.url("legaltv")
        url = database
        data_dir = folder / "data"
        data_dir.mkdir()
        common_args = ["--database", url, "--data-dir", str(data_dir)]
        timings: dict[str, float | None] = {"regions_s": None, "synth_s": None, "watch_s": None}
        tables = {r[0] for r in q(url, "SELECT tablename FROM pg_tables")}
        villages = 0
        if "regions" in tables:
            villages = q(url, "SELECT COUNT(*) FROM regions WHERE level = 'village'")[0][0]
        if villages < 14_000:
            timings["regions_s"] = _cli("regions", "import", *common_args, str(divisions_file()))
        have = q(url, "SELECT COUNT(*) FROM devices WHERE serial LIKE 'SYN1-%'")[0][0]
        if have == 0:
            timings["synth_s"] = _cli("registry", "synth", "--boxes", str(boxes), *common_args)
        elif have != boxes:
            raise RuntimeError(f"the database holds {have:,} synthetic boxes, not {boxes:,}")
        if q(url, "SELECT COUNT(*) FROM video_positions")[0][0] == 0:
            t0 = time.perf_counter()
            asyncio.run(_watching(url, WATCH_SHARE))
            timings["watch_s"] = time.perf_counter() - t0
        q(url, "ANALYZE")
        sizes = {
            r[0]: int(r[1])
            for r in q(
                url,
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname = ANY($1)",
                ["devices", "households", "household_boxes", "usage_events", "video_positions"],
            )
        }
        counts = {
            "regions": q(url, "SELECT level, COUNT(*) FROM regions GROUP BY level"),
            "devices": q(url, "SELECT COUNT(*) FROM devices")[0][0],
            "video_positions": q(url, "SELECT COUNT(*) FROM video_positions")[0][0],
        }
        db_bytes = int(q(url, "SELECT pg_database_size(current_database())")[0][0])
        pg_version = q(url, "SHOW server_version")[0][0]
        aggregation = asyncio.run(_aggregation_ms(url))
        key = asyncio.run(_api_key(url))
        print(f"aggregation: {aggregation} ms", file=sys.stderr, flush=True)
        # a first start (nothing kept: the figures are computed before the server listens)
        measured = [serve_and_time(url, data_dir, key, REGIONS["province"], keep=False)]
        print(describe(measured[-1]), file=sys.stderr, flush=True)
        for code in REGIONS.values():  # a restart (the figures kept by the run before)
            measured.append(serve_and_time(url, data_dir, key, code, keep=True))
            print(describe(measured[-1]), file=sys.stderr, flush=True)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "boxes": boxes,
        "timings": timings,
        "sizes": sizes,
        "counts": {
            "regions": {r[0]: r[1] for r in counts["regions"]},
            "devices": counts["devices"],
            "video_positions": counts["video_positions"],
        },
        "db_bytes": db_bytes,
        "pg_version": pg_version,
        "throwaway": cluster is not None,
        "aggregation_ms": aggregation,
        "measured": measured,
        "pass": all(m["pass"] for m in measured),
        "load": {"before": load_before, "after": fleet_bench.neighbours()},
        "elapsed_s": time.perf_counter() - started,
    }


def describe(m: dict) -> str:
    start = "restart (figures kept)" if m["kept"] else "first start (none kept)"
    return (
        f"{start}, region {m['code']}: listening after {m['listening_s']:.1f} s; first request "
        f"{m['cold_ms']:.1f} ms ({'stale' if m['stale'] else 'fresh'}); warm median "
        f"{m['warm_median_ms']:.1f} ms, max {m['warm_max_ms']:.1f} ms"
    )


def markdown(r: dict) -> str:
    if r.get("skipped"):
        return f"**Skipped**: {r['skipped']}."
    names = {v: k for k, v in REGIONS.items()}
    t = r["timings"]

    def took(value: float | None, what: str) -> str:
        return f"{fmt(value, 0)} s" if value is not None else f"done earlier ({what})"

    lines = [
        "| budget | measured | target | result |",
        "| --- | --- | --- | --- |",
    ]
    for m in r["measured"]:
        start = "first request after a restart" if m["kept"] else "first request, first start"
        lines.append(
            f"| Coverage API, {names[m['code']]} ({m['code']}, {m['children']} children), "
            f"{start} / warm median | {fmt(m['cold_ms'])} / {fmt(m['warm_median_ms'])} ms | "
            f"≤ {TARGET_MS:.0f} ms | {verdict(m['pass'])} |"
        )
    levels = r["counts"]["regions"]
    lines += [
        "",
        f"PostgreSQL {r['pg_version']} "
        + (
            "(a throwaway cluster: Unix socket, `fsync=off`, shared_buffers 64 MB)"
            if r["throwaway"]
            else "(the database given with `--database`)"
        )
        + f". Region tree: {', '.join(f'{fmt(n)} {lv}' for lv, n in levels.items())} "
        f"(`legaltv regions import`: {took(t['regions_s'], 'same command')}). "
        f"{fmt(r['counts']['devices'])} boxes (`legaltv registry synth --boxes "
        f"{r['boxes']:,}`, COPY: {took(t['synth_s'], 'same command')}); "
        f"{fmt(r['counts']['video_positions'])} video starts in the last 30 days "
        f"({int(WATCH_SHARE * 100)} % of the boxes that beat; COPY "
        f"{took(t['watch_s'], 'same bench')}). Database {fmt(r['db_bytes'] / 2**30, 2)} GiB: "
        + ", ".join(f"{k} {fmt(v / 2**20, 0)} MiB" for k, v in sorted(r["sizes"].items()))
        + " (tables with their indexes).",
        "",
        "The coverage figures over the whole registry (one aggregation, `coverage.all_figures`, "
        "what the server's background task runs every minute and at a first start before it "
        f"listens): {', '.join(fmt(x / 1000, 1) + ' s' for x in r['aggregation_ms'])}.",
        "",
        "| start | region | listening after | first request | warm median | warm max | RSS |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in r["measured"]:
        lines.append(
            f"| {'restart, figures kept' if m['kept'] else 'first start, none kept'} | "
            f"{names[m['code']]} {m['code']} | {fmt(m['listening_s'])} s | "
            f"{fmt(m['cold_ms'])} ms{' (stale)' if m['stale'] else ''} | "
            f"{fmt(m['warm_median_ms'])} ms | {fmt(m['warm_max_ms'])} ms | "
            f"{fmt(m['rss_mib'], 0)} MiB |"
        )
    lines += [
        "",
        "Each row is a `legaltv serve` process started afresh on the database; the first request "
        f"is its first for that region, then {WARM} more (urllib, one at a time). The machine "
        "is shared by 8 engineers working at once (2 cores): load average before "
        f"{' '.join(r['load']['before'])}; after: {r['load']['after']}.",
        "",
        f"Whole bench: {fmt(r['elapsed_s'] / 60, 1)} min.",
    ]
    return "\n".join(lines)


def add_section(text: str, result: dict, machine: dict) -> str:
    intro = common.run_intro("province_bench.py", False, machine)
    return common.put_section(
        text,
        START,
        END,
        "Coverage for the province: 5 million boxes on PostgreSQL (opt-in)",
        intro,
        markdown(result),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boxes", type=int, default=5_000_000)
    p.add_argument("--database", help="an existing PostgreSQL database (filled where it lacks)")
    p.add_argument("--write", action="store_true", help="put the section into bench/RESULTS.md")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    result = run(a.boxes, a.database)
    print(markdown(result))
    if a.json:
        print(json.dumps(result, indent=2, default=str))
    if a.write:
        results = Path(__file__).resolve().parent / "RESULTS.md"
        results.write_text(add_section(results.read_text(), result, common.machine_info()))
    if not result.get("skipped") and not result["pass"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
