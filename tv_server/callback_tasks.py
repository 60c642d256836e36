"""Background work of the callback domain: delivering the webhook outbox (aiohttp client) and
erasing the personal data of requests closed longer than the retention period and purging old
webhook bodies.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
from aiohttp import web

from callbacks import webhooks
from storage import Database
from tv_server import keys, retention

log = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
ERASE_EVERY = 3600.0


async def _post(session: aiohttp.ClientSession, db: Database, item: webhooks.Delivery) -> bool:
    body = item.payload.encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        webhooks.SIGNATURE_HEADER: webhooks.sign(item.secret, body, int(time.time())),
        webhooks.DELIVERY_HEADER: item.delivery_id,
        webhooks.EVENT_HEADER: item.event_type,
    }
    try:
        async with session.post(item.url, data=body, headers=headers) as response:
            if 200 <= response.status < 300:
                await webhooks.delivered(db, item.id, time.time())
                return True
            error = f"HTTP {response.status}"
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    await webhooks.failed(db, item.id, error, time.time())
    return False


async def deliver_due(db: Database, session: aiohttp.ClientSession) -> int:
    """One round: post every due row concurrently (a slow endpoint delays only its own rows).
    Returns how many were delivered."""
    due = await webhooks.due(db, time.time())
    if not due:
        return 0
    results = await asyncio.gather(*(_post(session, db, item) for item in due))
    return sum(results)


async def run_forever(app: web.Application) -> None:
    settings = app[keys.SETTINGS]
    db = app[keys.DB]
    next_erase = 0.0
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        while True:
            try:
                await deliver_due(db, session)
            except Exception:  # the loop must survive anything
                log.exception("webhook delivery round failed")
            if time.time() >= next_erase:
                next_erase = time.time() + ERASE_EVERY
                try:
                    done = await retention.apply(db, settings)
                    if done.callbacks or done.webhook_rows or done.appointments or done.notes:
                        log.info(
                            "erased the personal data of %d closed requests, deleted %d old"
                            " webhook deliveries, erased %d appointment numbers and %d"
                            " follow-up notes",
                            done.callbacks,
                            done.webhook_rows,
                            done.appointments,
                            done.notes,
                        )
                except Exception:
                    log.exception("phone retention round failed")
            await asyncio.sleep(settings.webhook_poll_seconds)
