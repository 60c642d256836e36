"""Day-before reminders through the webhook outbox (for the SMS gateway an operator connects).

Each booking still to come the next day gets one `appointment.reminder` delivery per active
endpoint, queued in the same transaction that notes `reminded_at`, so a crash never sends two
and never skips one. The body carries the booking code, service, point, day and time and the
masked number; the full number only when the operator turned `appointment_reminder_phone` on
(an SMS gateway cannot send without it). Nothing of it is ever logged: callers log counts.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from appointments import bookings
from storage import Database, clock

# Reminders for tomorrow go out from this hour today (the offices' clock): not at midnight.
SEND_FROM = dt.time(9, 0)
BATCH = 200


async def queue_due(db: Database, *, with_phone: bool, now: float | None = None) -> int:
    """Queue the reminders due now; return how many bookings were reminded."""
    now = time.time() if now is None else now
    local = clock.local(now)
    if local.time() < SEND_FROM:
        return 0
    tomorrow = (local.date() + dt.timedelta(days=1)).isoformat()
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            "SELECT id, code, service, point_code, day, start, ends, status, phone_masked,"
            " phone_e164 FROM appointments WHERE day = ? AND reminded_at IS NULL"
            f" AND status IN ({','.join('?' * len(bookings.ACTIVE))}) ORDER BY id LIMIT ?",
            (tomorrow, *bookings.ACTIVE, BATCH),
        )
        if not rows:
            return 0
        endpoints = [
            r[0] for r in await tx.fetchall("SELECT id FROM webhook_endpoints WHERE active = 1")
        ]
        out = []
        for r in rows:
            body = {
                "event": "appointment.reminder",
                "at": now,
                "appointment": {
                    "code": r["code"],
                    "service": r["service"],
                    "point": r["point_code"],
                    "day": r["day"],
                    "start": r["start"],
                    "end": r["ends"],
                    "status": r["status"],
                    "phone_masked": r["phone_masked"],
                },
            }
            if with_phone:
                body["appointment"]["phone"] = r["phone_e164"]
            for endpoint in endpoints:
                delivery_id = f"appt-{r['id']}-{r['day']}-{r['start']}-ep-{endpoint}"
                payload = json.dumps(
                    {**body, "delivery_id": delivery_id}, ensure_ascii=False, sort_keys=True
                )
                out.append((endpoint, delivery_id, "appointment.reminder", payload, now, now))
        if out:
            await tx.executemany(
                "INSERT OR IGNORE INTO webhook_outbox (endpoint_id, delivery_id, event_type,"
                " payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                out,
            )
        await tx.executemany(
            "UPDATE appointments SET reminded_at = ? WHERE id = ?", [(now, r[0]) for r in rows]
        )
    return len(rows)
