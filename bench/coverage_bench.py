"""Coverage at scale: `python -m bench.coverage_bench --boxes 1000000` fills a temporary data dir
with a synthetic registry over the real 1,011 villages, times the coverage aggregation (uncached),
then starts the server afresh for each measurement and times the first request after the start
(cold: what the 200 ms target is about) and the warm median, for `/api/v1/coverage` and the
dashboard, with the figures kept by an earlier run (a restart) and without (a first start, where
they are computed before the server listens), and reports the process's memory."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import statistics
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from accounts import apikeys, users
from device_registry import coverage, synth
from device_registry.regions import RegionTree
from storage import Database
from tv_server.app import create_app
from tv_server.demo import ensure_regions
from tv_server.migrations import MIGRATIONS
from tv_server.settings import load_settings

PASSWORD = "ordos-coverage-2026"
TARGET_MS = 200.0
API = "/api/v1/coverage?region=1506"
DASHBOARD = "/admin/coverage?region=1506"


async def fill(folder: Path, boxes: int, seed: int) -> None:
    db = Database(folder / "legaltv.sqlite3")
    await db.open()
    try:
        await db.migrate(MIGRATIONS)
        await ensure_regions(db)
        started = time.perf_counter()
        await synth.synthesize(db, boxes, seed)
        print(f"synthesized {boxes:,} boxes in {time.perf_counter() - started:.1f} s")
        tree = await RegionTree.load(db)
        for _ in range(3):
            started = time.perf_counter()
            await coverage.all_figures(db, tree)
            print(f"aggregation, uncached: {(time.perf_counter() - started) * 1000:.0f} ms")
        await users.create_user(db, "bench", PASSWORD, "admin")
    finally:
        await db.close()


async def _prepare(folder: Path, key_name: str | None, keep: bool = True) -> str | None:
    """A `coverage:read` key when named; without `keep`, the figures kept by earlier runs are
    dropped (as at a first start)."""
    db = Database(folder / "legaltv.sqlite3")
    await db.open()
    try:
        await db.migrate(MIGRATIONS)
        if not keep:
            await db.execute("DELETE FROM coverage_latest")
        return (await apikeys.create(db, key_name, ["coverage:read"]))[1] if key_name else None
    finally:
        await db.close()


async def _get(client, path: str, **kw) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    response = await client.get(path, **kw)
    body = await response.read()
    return (time.perf_counter() - started) * 1000, response.status, body


def _stale(body: bytes, path: str) -> bool:
    if path.startswith("/api/"):
        return bool(json.loads(body).get("stale"))
    return b'data-stale="1"' in body


async def cold_and_warm(folder: Path, path: str, key: str, keep: bool, n: int = 30) -> dict:
    """Start the server; time its first request for `path`, then `n` warm ones; and, when the
    first answer was the kept figures, how long after the start the fresh ones came."""
    await _prepare(folder, None, keep)
    settings = load_settings(env={}, data_dir=str(folder), demo=False, launch_secret="b" * 32)
    app = create_app(settings)
    started = time.perf_counter()
    async with TestClient(TestServer(app)) as client:  # the app's start-up runs in here
        listening = time.perf_counter() - started
        kw = {}
        if path.startswith("/api/"):
            kw = {"headers": {"Authorization": f"Bearer {key}"}}
        else:
            html = await (await client.get("/admin/login")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
            form = {"csrf_token": token, "username": "bench", "password": PASSWORD}
            await client.post("/admin/login", data=form)
        cold, status, body = await _get(client, path, **kw)
        assert status == 200 and (path.startswith("/api/") or b'id="cv-totals"' in body), status
        stale = _stale(body, path)
        fresh_after = None
        while stale and time.perf_counter() - started < 120:
            await asyncio.sleep(0.05)
            if not _stale((await _get(client, path, **kw))[2], path):
                fresh_after = time.perf_counter() - started
                break
        times = [(await _get(client, path, **kw))[0] for _ in range(n)]
    return {
        "path": path,
        "kept": keep,
        "listening_s": listening,
        "cold_ms": cold,
        "stale": stale,
        "fresh_after_s": fresh_after,
        "warm_median_ms": statistics.median(times),
        "warm_max_ms": max(times),
        "pass": cold <= TARGET_MS and statistics.median(times) <= TARGET_MS,
    }


def describe(m: dict) -> str:
    start = "restart (kept figures)" if m["kept"] else "first start (none kept)"
    fresh = f", fresh figures {m['fresh_after_s']:.1f} s after start" if m["fresh_after_s"] else ""
    return (
        f"{start}, {m['path']}: listening after {m['listening_s']:.2f} s; first request "
        f"{m['cold_ms']:.1f} ms ({'stale' if m['stale'] else 'fresh'} figures{fresh}); warm "
        f"median {m['warm_median_ms']:.1f} ms, max {m['warm_max_ms']:.1f} ms; "
        f"first request ≤ {TARGET_MS:.0f} ms: {'PASS' if m['cold_ms'] <= TARGET_MS else 'FAIL'}"
    )


async def serve(folder: Path) -> list[dict]:
    """Each measurement on a server started afresh (in this process)."""
    results = []
    key = await _prepare(folder, f"coverage-bench-{time.time_ns()}")
    for path, keep in ((API, False), (DASHBOARD, False), (API, True), (DASHBOARD, True)):
        m = await cold_and_warm(folder, path, key, keep)
        print(describe(m))
        results.append(m)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS of the process (server and client): {rss:.0f} MB")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boxes", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coverage-bench-") as folder:
        asyncio.run(fill(Path(folder), args.boxes, args.seed))
        results = asyncio.run(serve(Path(folder)))
    if not all(m["pass"] for m in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
