"""Coverage in the background: every minute the figures of the default period (last 30 days) are
recomputed into the shared cache, so the dashboard and /api/v1/coverage answer from memory; once a
day (at the first check of the day) every region's figures are stored as a snapshot for the
trend line."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from device_registry import coverage
from tv_server import keys

log = logging.getLogger(__name__)
REFRESH_SECONDS = 60.0


async def snapshot_if_due(app: web.Application, now: float | None = None) -> bool:
    """Take today's snapshot unless one exists; return True when one was taken."""
    now = time.time() if now is None else now
    db = app[keys.DB]
    if await coverage.has_snapshot(db, app[keys.REGIONS], coverage.day_of(now)):
        return False
    await coverage.take_snapshot(db, app[keys.REGIONS], now)
    return True


async def refresh(app: web.Application) -> None:
    """Recompute the default period's figures into the cache (and snapshot when due)."""
    if not await snapshot_if_due(app):  # a snapshot refreshes the cache itself
        await coverage.all_figures(app[keys.DB], app[keys.REGIONS], store=True)


async def run_forever(app: web.Application, interval: float = REFRESH_SECONDS) -> None:
    while True:
        try:
            await refresh(app)
        except Exception:
            log.exception("coverage refresh failed; retried at the next check")
        await asyncio.sleep(interval)
