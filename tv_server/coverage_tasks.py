"""Coverage in the background: at start the figures kept by the last run are loaded, so the
first request answers from memory (on a very first start, with none kept, the server listens at
once and the leading node computes them in the background: the TV is never held back by them,
and a coverage request meanwhile waits up to `coverage_first_wait_seconds` for that one
computation, then is told to come back — 503 `figures_computing` with Retry-After); then (after
`coverage_first_refresh_seconds`, 0 by default) every minute — and at once after a staff change
(`coverage.forget`) — the figures of the default period (last 30 days) are recomputed into the
shared cache and kept in `coverage_latest` for the next start; once a day (at the first check of
the day) every region's figures are stored as a snapshot for the trend line."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from device_registry import coverage
from tv_server import keys

log = logging.getLogger(__name__)
REFRESH_SECONDS = 60.0
# A refresh reuses figures whose computation began this recently (at start, or on a staff request).
REUSE_SECONDS = 10.0
FOLLOW_SECONDS = 5.0  # how often every node looks for figures the leader kept


async def warm_up(app: web.Application) -> None:
    """Before the server listens: serve the figures kept by the last run (marked stale, with their
    time, until the first refresh replaces them a few seconds later). With none kept, nothing is
    computed here: the leader's first refresh (`run_forever`) does it while the server listens."""
    db, tree = app[keys.DB], app[keys.REGIONS]
    try:
        if await coverage.load_latest(db, tree) is None:
            log.info("no coverage figures kept: computed in the background")
    except Exception:  # the server still starts; the first refresh computes them
        log.exception("the kept coverage figures could not be read at start")


async def snapshot_if_due(app: web.Application, now: float | None = None) -> bool:
    """Take today's snapshot unless one exists; return True when one was taken."""
    now = time.time() if now is None else now
    db = app[keys.DB]
    if await coverage.has_snapshot(db, app[keys.REGIONS], coverage.day_of(now)):
        return False
    await coverage.take_snapshot(db, app[keys.REGIONS], now, max_age=REUSE_SECONDS)
    return True


async def refresh(app: web.Application) -> None:
    """Recompute the default period's figures into the cache, keep them for the next start, and
    take today's snapshot from them when due."""
    db, tree = app[keys.DB], app[keys.REGIONS]
    started = time.perf_counter()
    done = await coverage.all_figures(db, tree, cache_seconds=REUSE_SECONDS, store=True)
    if await coverage.keep_latest(db, tree, done):
        log.debug("coverage figures computed and kept in %.1f s", time.perf_counter() - started)
    await snapshot_if_due(app)


async def run_forever(app: web.Application, interval: float = REFRESH_SECONDS) -> None:
    first = app[keys.SETTINGS].coverage_first_refresh_seconds
    if first > 0:  # held back (settings): the kept figures are served meanwhile
        await coverage.wait_for_change(app[keys.DB], first)
    while True:
        try:
            await refresh(app)
        except Exception:
            log.exception("coverage refresh failed; retried at the next check")
        await coverage.wait_for_change(app[keys.DB], interval)


async def follow_forever(app: web.Application, interval: float = FOLLOW_SECONDS) -> None:
    """On every node: serve the figures the leading node computed and kept (`run_forever` runs
    on the leader only), so no node but the leader computes them every minute."""
    while True:
        await asyncio.sleep(interval)
        try:
            await coverage.follow_latest(app[keys.DB], app[keys.REGIONS])
        except Exception:
            log.exception("reading the leader's coverage figures failed")
