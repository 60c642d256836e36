"""Coverage at scale: `python -m bench.coverage_bench --boxes 1000000` fills a temporary data dir
with a synthetic registry over the real 1,011 villages, then times the coverage aggregation
(uncached) and the dashboard and `/api/v1/coverage` over HTTP (served from the figures the
background task keeps fresh), and reports the server's memory."""

from __future__ import annotations

import argparse
import asyncio
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
from tv_server import keys
from tv_server.app import create_app
from tv_server.demo import ensure_regions
from tv_server.migrations import MIGRATIONS
from tv_server.settings import load_settings

PASSWORD = "ordos-coverage-2026"


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


async def timed(client, path: str, n: int = 30, **kw) -> tuple[float, float, int]:
    times, status = [], 0
    for _ in range(n):
        started = time.perf_counter()
        response = await client.get(path, **kw)
        await response.read()
        times.append((time.perf_counter() - started) * 1000)
        status = response.status
    return statistics.median(times), max(times), status


async def serve(folder: Path) -> None:
    settings = load_settings(env={}, data_dir=str(folder), demo=False, launch_secret="b" * 32)
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        db = app[keys.DB]
        _, key = await apikeys.create(db, "bench", ["coverage:read"])
        html = await (await client.get("/admin/login")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        await client.post(
            "/admin/login", data={"csrf_token": token, "username": "bench", "password": PASSWORD}
        )
        page = await (await client.get("/admin/coverage")).text()
        assert 'id="cv-totals"' in page, "not logged in to the admin"
        started = time.perf_counter()
        await client.get("/api/v1/coverage", headers={"Authorization": f"Bearer {key}"})
        print(f"first request after start: {(time.perf_counter() - started) * 1000:.0f} ms")
        auth = {"headers": {"Authorization": f"Bearer {key}"}}
        for label, path, kw in [
            ("API, city", "/api/v1/coverage", auth),
            ("API, banner", "/api/v1/coverage?region=150602", auth),
            ("dashboard, city", "/admin/coverage", {}),
            ("dashboard, banner sorted", "/admin/coverage?region=150602&sort=coverage", {}),
        ]:
            median, worst, status = await timed(client, path, **kw)
            print(f"{label}: HTTP {status}, median {median:.1f} ms, max {worst:.1f} ms")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"max RSS of the process (server and client): {rss:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boxes", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coverage-bench-") as folder:
        asyncio.run(fill(Path(folder), args.boxes, args.seed))
        asyncio.run(serve(Path(folder)))


if __name__ == "__main__":
    main()
