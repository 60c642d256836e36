"""Retention of the appointments' personal data: the phone number of a booking that is over
(cancelled, attended, no-show, or whose slot is long past) is erased `retention_days` later, as
callback numbers are (setting `callback_retention_days`); only the masked form stays."""

from __future__ import annotations

import time

from appointments.bookings import ACTIVE, add_event
from callbacks.lifecycle import ERASED_PHONE
from callbacks.requests import DRAFT_TTL_SECONDS
from storage import Database


async def erase_expired_phones(
    db: Database, retention_days: float, now: float | None = None
) -> int:
    """Erase the numbers of bookings over for more than `retention_days` (the last change of a
    closed booking, or the slot's start for one never marked), with their queued reminder
    bodies, and drop drafts older than a day. Returns how many bookings were erased."""
    now = time.time() if now is None else now
    cutoff = now - retention_days * 86400
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            "SELECT id, status FROM appointments WHERE phone_e164 != ?"
            f" AND ((status NOT IN ({','.join('?' * len(ACTIVE))}) AND updated_at < ?)"
            " OR starts_at < ?)",
            (ERASED_PHONE, *ACTIVE, cutoff, cutoff),
        )
        for appointment_id, status in rows:
            await tx.execute(
                "UPDATE appointments SET phone_e164 = ? WHERE id = ?",
                (ERASED_PHONE, appointment_id),
            )
            # Reminder bodies may carry the number (appointment_reminder_phone): their
            # delivery ids are 'appt-{id}-{day}-{start}-ep-{endpoint}'.
            prefix = f"appt-{appointment_id}-"
            await tx.execute(
                "DELETE FROM webhook_outbox WHERE delivery_id >= ? AND delivery_id < ?",
                (prefix, prefix[:-1] + "."),
            )
            await add_event(
                tx,
                appointment_id,
                "phone_erased",
                actor="system",
                now=now,
                from_status=status,
                to_status=status,
                detail={"retention_days": retention_days},
            )
        await tx.execute(
            "DELETE FROM appointment_drafts WHERE created_at < ?", (now - DRAFT_TTL_SECONDS,)
        )
    return len(rows)
