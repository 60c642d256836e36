"""One retention round over every domain holding a household's personal data: callback numbers
and texts, old webhook bodies (callbacks.lifecycle.apply_retention), appointment numbers
(appointments.retention) and the follow-up notes on low ratings (feedback.ratings), all after
`callback_retention_days`; the write-ahead log is checkpointed when anything went."""

from __future__ import annotations

from dataclasses import dataclass

from appointments import retention as appointment_retention
from callbacks import lifecycle
from feedback import ratings
from storage import Database


@dataclass(frozen=True)
class Erased:
    callbacks: int
    webhook_rows: int
    appointments: int
    notes: int


async def apply(db: Database, settings, now: float | None = None) -> Erased:
    days = settings.callback_retention_days
    erased, purged = await lifecycle.apply_retention(db, days, settings.webhook_retention_days, now)
    appointments = await appointment_retention.erase_expired_phones(db, days, now)
    notes = await ratings.erase_expired_notes(db, days, now)
    if appointments or notes:
        await db.checkpoint()
    return Erased(erased, purged, appointments, notes)
