"""Admin slice: programs — written, previewed, reviewed, scheduled, published and reversible.

Routes and labels live here, the handlers in `views_programs`; `scheduler` is the background
task that publishes approved programs at their go-live time and takes expired ones off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from accounts import audit
from content.programs import workflow
from tv_server import keys
from tv_server.admin import labels
from tv_server.admin.program_labels import ERRORS, NOTICES

log = logging.getLogger(__name__)
SCHEDULER_SECONDS = 15.0


# This slice's messages, found by code by the admin's templates and error pages.
labels.ERRORS.update(ERRORS)
labels.NOTICES.update(NOTICES)


async def _system_audit(tx, action: str, program_id: int, detail: dict) -> None:
    await audit.record(tx, user=None, action=action, object_type="program",
                       object_id=program_id, detail=detail)  # fmt: skip


async def tick(app: web.Application) -> list[int]:
    """One round of the scheduler: publish what is due, expire what has ended (on the leading
    node only, tv_server.node), refresh the TV cache; returns the ids of programs whose TV
    content changed."""
    # Each publication and expiry emits its "program" change in its own transaction.
    changed = []
    if app[keys.NODE].leads:
        changed = await workflow.publish_due(app[keys.DB], time.time(), audit=_system_audit)
    # Programs changed by another process (a `legaltv content import`) need no watching: their
    # writes emit too, and reach this server through NOTIFY or change_log (storage.changelog).
    return changed


async def _run(app: web.Application) -> None:
    while True:
        try:
            await tick(app)
        except Exception:  # a failed round must not stop publishing for good
            log.exception("program scheduler round failed")
        await asyncio.sleep(SCHEDULER_SECONDS)


async def scheduler(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx of the main application (it needs the database and the TV caches)."""
    task = asyncio.create_task(_run(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
