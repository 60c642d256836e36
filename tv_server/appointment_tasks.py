"""Background work of the appointment domain: queueing the day-before reminders into the webhook
outbox (delivered by the callback domain's sender). Logs counts only, never a number."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from appointments import reminders
from tv_server import keys

log = logging.getLogger(__name__)
EVERY = 60.0


async def run_forever(app: web.Application) -> None:
    settings = app[keys.SETTINGS]
    db = app[keys.DB]
    while True:
        try:
            n = await reminders.queue_due(db, with_phone=settings.appointment_reminder_phone)
            if n:
                log.info("queued day-before reminders for %d appointments", n)
        except Exception:  # the loop must survive anything
            log.exception("appointment reminder round failed")
        await asyncio.sleep(EVERY)
