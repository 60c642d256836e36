"""The per-box cap on new requests per day (`requests_per_box_per_day`), counted over both
kinds a household makes from its box: callback requests submitted and appointments booked.

Only the active ones are limited elsewhere (`max_open_callbacks`, `appointment_max_per_box`), so
a box that books and cancels (or submits and cancels) in a loop would otherwise grow the tables
without bound. Here every row made today counts whatever its state now: a cancelled one still
counts. "Today" is the office's day (`storage.clock`, China time by default).

What is not counted: bookings staff made on the household's behalf (their 'booked' event's actor
is `staff`), and a repeated submission of the same draft, which returns the row already made
before this check runs. The check runs inside the write transaction that inserts the row, so
concurrent submissions from one box cannot exceed the cap (write transactions are serialised).
"""

from __future__ import annotations

import datetime as dt
import time

from storage import Database, LimitReached, clock
from storage.database import Transaction

CODE = "daily_request_limit"


def day_bounds(now: float) -> tuple[float, float]:
    """The office's day holding `now`, as [start, end) epoch seconds."""
    day = clock.today(now)
    return clock.at(day), clock.at(day + dt.timedelta(days=1))


async def count_today(db: Database | Transaction, device_id: int, now: float | None = None) -> int:
    """Callback requests and household bookings this box made on the office's day of `now`."""
    start, end = day_bounds(time.time() if now is None else now)
    row = await db.fetchone(  # one statement: inside a transaction each is a trip
        "SELECT (SELECT COUNT(*) FROM callback_requests"
        " WHERE device_id = ? AND created_at >= ? AND created_at < ?)"
        " + (SELECT COUNT(*) FROM appointments a"
        " WHERE a.device_id = ? AND a.created_at >= ? AND a.created_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM appointment_events e WHERE e.appointment_id = a.id"
        " AND e.kind = 'booked' AND e.actor = 'staff'))",
        (device_id, start, end, device_id, start, end),
    )
    return int(row[0])


async def check(tx: Transaction, device_id: int, cap: int | None, now: float) -> None:
    """Inside the writer's transaction, before inserting a new request or booking:
    LimitReached('daily_request_limit') when the box made `cap` of them today (None: no cap)."""
    if cap is None:
        return
    if await count_today(tx, device_id, now) >= cap:
        raise LimitReached(CODE, str(cap), limit=cap)


async def reached(db: Database, device_id: int, cap: int | None, now: float | None = None) -> bool:
    """Whether the box has used up today's requests (for showing the message before the flow)."""
    return cap is not None and await count_today(db, device_id, now) >= cap
