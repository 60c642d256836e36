"""Bookings: drafts on the box, the booking itself (capacity checked and the row inserted in one
write transaction, idempotent per draft id), the household's cancel before the cutoff, and
staff's attended / no-show / reschedule. Every change is an event row (who, from, to)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from appointments import slots
from callbacks import daily, drafts, phones, requests
from callbacks.deadlines import Calendar
from callbacks.drafts import valid_draft_id
from callbacks.lifecycle import ERASED_PHONE
from storage import Conflict, Database, Invalid, LimitReached, NotFound, OutOfScope
from storage.database import Transaction

STATES = ("booked", "rescheduled", "cancelled", "attended", "no_show")
ACTIVE = ("booked", "rescheduled")  # still to come: cancellable, reminded
# Short, read out over the phone or shown at the desk: no 0/O, 1/I/L, 2/Z, 5/S, 8/B.
CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
CODE_LENGTH = 6


@dataclass(frozen=True)
class Appointment:
    id: int
    code: str
    point_code: str
    region_code: str | None
    service: str
    day: str
    start: str
    end: str
    starts_at: float
    phone_masked: str
    status: str
    moved_from: str
    created_at: float
    updated_at: float
    reminded_at: float | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def date(self) -> dt.date:
        return dt.date.fromisoformat(self.day)

    def cancellable(self, now: float, cutoff_hours: float) -> bool:
        return self.active and now < self.starts_at - cutoff_hours * 3600

    @property
    def completed(self) -> bool:
        """Attended: the household got the service (what a rating asks about)."""
        return self.status == "attended"


_COLUMNS = (
    "id, code, point_code, region_code, service, day, start, ends, starts_at, phone_masked,"
    " status, moved_from, created_at, updated_at, reminded_at"
)


def _appointment(row) -> Appointment:
    return Appointment(*[row[i] for i in range(15)])


@dataclass(frozen=True)
class AppointmentDraft:
    id: str
    service: str
    point_code: str
    phone_e164: str
    phone_masked: str


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_param(text: str) -> str:
    text = text.upper()
    if len(text) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in text):
        raise NotFound("appointment_not_found", text[:20])
    return text


# -- drafts ------------------------------------------------------------------------------------

_DRAFTS = "appointment_drafts"


async def save_draft(
    db: Database,
    device_id: int,
    service: str,
    point_code: str,
    phone_digits: str,
    draft_id: str | None = None,
    now: float | None = None,
) -> AppointmentDraft:
    """Validate and keep the typed number server-side (never in a URL); a box keeps at most
    DRAFTS_PER_BOX drafts, each for a point the directory holds."""
    slots.service_param(service)
    e164 = drafts.phone_e164(phone_digits)
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        if (
            not point_code
            or len(point_code) > 64
            or await tx.fetchone("SELECT 1 FROM service_points WHERE code = ?", (point_code,))
            is None
        ):
            raise Invalid("service_point_invalid", point_code[:64])
        draft_id = await drafts.write(
            tx, _DRAFTS, device_id, draft_id, (service, point_code, e164), now
        )
    return AppointmentDraft(draft_id, service, point_code, e164, phones.mask(e164))


async def get_draft(db: Database, device_id: int, draft_id: str) -> AppointmentDraft | None:
    row = await drafts.read(db, _DRAFTS, device_id, draft_id)
    if row is None:
        return None
    return AppointmentDraft(row[0], row[1], row[2], row[3], phones.mask(row[3]))


# -- booking -----------------------------------------------------------------------------------


async def add_event(
    tx: Transaction,
    appointment_id: int,
    kind: str,
    *,
    actor: str,
    now: float,
    user_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: dict | None = None,
) -> None:
    await tx.insert(
        "INSERT INTO appointment_events (appointment_id, at, actor, user_id, kind, from_status,"
        " to_status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            appointment_id,
            now,
            actor,
            user_id,
            kind,
            from_status,
            to_status,
            json.dumps(detail or {}, sort_keys=True),
        ),
    )


async def _slot_in_tx(
    tx: Transaction,
    cal: Calendar,
    point_code: str,
    service: str,
    day: dt.date,
    start: str,
    now: float,
    horizon_days: int,
) -> slots.Slot:
    """The slot as it is inside the writer's transaction: Invalid when not offered."""
    found = await slots.offered(tx, cal, point_code, service, now, horizon_days, only_day=day)
    for slot in found:
        if slot.start == start:
            return slot
    raise Invalid("slot_unavailable", f"{day} {start}")


async def book(
    db: Database,
    cal: Calendar,
    device_id: int,
    draft: AppointmentDraft,
    day: dt.date,
    start: str,
    *,
    horizon_days: int,
    max_active: int,
    max_per_day: int | None = None,
    region_code: str | None = None,
    now: float | None = None,
) -> tuple[Appointment, bool]:
    """Book the draft's service at its point for (day, start); return (appointment, created).

    The seats taken are counted and the row inserted under the one writer's BEGIN IMMEDIATE, so
    no two boxes can both take a slot's last seat: the loser gets Conflict('slot_full'). A
    repeated submission with the same draft id returns the booking already made. `max_per_day`
    caps the box's new callbacks and bookings per day (`callbacks.daily`, checked in the same
    transaction; a cancelled booking still counts)."""
    now = time.time() if now is None else now
    start = slots.clock(start)
    async with db.transaction() as tx:
        appt, created = await _take_seat(
            tx, cal, device_id, draft.id, draft.point_code, draft.service, day, start,
            draft.phone_e164, region_code, horizon_days=horizon_days, max_active=max_active,
            max_per_day=max_per_day, now=now, actor="household",
        )  # fmt: skip
        await tx.execute("DELETE FROM appointment_drafts WHERE id = ?", (draft.id,))
    return appt, created


async def _take_seat(
    tx: Transaction,
    cal: Calendar,
    device_id: int,
    key: str,
    point_code: str,
    service: str,
    day: dt.date,
    start: str,
    phone_e164: str,
    region_code: str | None,
    *,
    horizon_days: int,
    max_active: int,
    now: float,
    actor: str,
    user_id: int | None = None,
    max_per_day: int | None = None,
) -> tuple[Appointment, bool]:
    """Inside the writer's transaction: the booking already made with this key, or a seat of
    the slot (Conflict('slot_full') when none is left) within the box's limits (staff pass no
    `max_per_day`: their bookings do not count against the household's day)."""
    row = await tx.fetchone(
        f"SELECT {_COLUMNS} FROM appointments WHERE device_id = ? AND idempotency_key = ?",
        (device_id, key),
    )
    if row is not None:
        return _appointment(row), False
    await daily.check(tx, device_id, max_per_day, now)
    slot = await _slot_in_tx(tx, cal, point_code, service, day, start, now, horizon_days)
    if slot.free <= 0:
        raise Conflict("slot_full", f"{day} {start}")
    active = (
        await tx.fetchone(
            "SELECT COUNT(*) FROM appointments WHERE device_id = ? AND status IN (?, ?)",
            (device_id, *ACTIVE),
        )
    )[0]
    if active >= max_active:
        raise LimitReached("appointment_limit", str(max_active), limit=max_active)
    for _attempt in range(8):
        code = new_code()
        if await tx.fetchone("SELECT 1 FROM appointments WHERE code = ?", (code,)) is None:
            break
    appointment_id = await tx.insert(
        "INSERT INTO appointments (code, device_id, idempotency_key, point_code, region_code,"
        " service, day, start, ends, starts_at, phone_e164, phone_masked, status,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'booked', ?, ?)",
        (
            code,
            device_id,
            key,
            point_code,
            region_code,
            service,
            day.isoformat(),
            slot.start,
            slot.end,
            slot.starts_at,
            phone_e164,
            phones.mask(phone_e164),
            now,
            now,
        ),
    )
    await add_event(
        tx, appointment_id, "booked", actor=actor, user_id=user_id, now=now, to_status="booked"
    )
    row = await tx.fetchone(f"SELECT {_COLUMNS} FROM appointments WHERE id = ?", (appointment_id,))
    return _appointment(row), True


async def next_free(
    db: Database,
    cal: Calendar,
    point_code: str,
    service: str,
    now: float,
    horizon_days: int,
    limit: int = 4,
) -> list[slots.Slot]:
    """The next slots with a free seat (what a household that lost the last seat is offered)."""
    found = await slots.offered(db, cal, point_code, service, now, horizon_days)
    return [s for s in found if s.free > 0][:limit]


async def get_by_key(db: Database, device_id: int, key: str) -> Appointment | None:
    if not valid_draft_id(key):
        return None
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM appointments WHERE device_id = ? AND idempotency_key = ?",
        (device_id, key),
    )
    return None if row is None else _appointment(row)


async def get_for_device(db: Database, device_id: int, code: str) -> Appointment:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM appointments WHERE device_id = ? AND code = ?",
        (device_id, code_param(code)),
    )
    if row is None:
        raise NotFound("appointment_not_found", code[:20])
    return _appointment(row)


def _list_query(device_id: int, limit: int = 10) -> tuple[str, tuple[int, int]]:
    return (
        f"SELECT {_COLUMNS} FROM appointments WHERE device_id = ?"
        " ORDER BY starts_at DESC, id DESC LIMIT ?",
        (device_id, limit),
    )


async def list_for_device(db: Database, device_id: int, limit: int = 10) -> list[Appointment]:
    return [_appointment(r) for r in await db.fetchall(*_list_query(device_id, limit))]


async def household_lists(
    db: Database, device_id: int
) -> tuple[list[requests.CallbackRequest], list[Appointment]]:
    """我的申请's two lists — the box's callback requests and its appointments, newest first —
    from one snapshot in ONE read (`Database.fetch_together`: on SQLite on the event loop's own
    thread; two trips to a reader's thread cost several times these two indexed reads)."""
    asked, booked = await db.fetch_together(
        requests.list_for_device_query(device_id), _list_query(device_id)
    )
    return requests.requests_from(asked), [_appointment(r) for r in booked]


async def count_active(db: Database, device_id: int) -> int:
    return int(
        await db.fetchval(
            "SELECT COUNT(*) FROM appointments WHERE device_id = ? AND status IN (?, ?)",
            (device_id, *ACTIVE),
        )
    )


async def cancel_by_household(
    db: Database, device_id: int, code: str, *, cutoff_hours: float, now: float | None = None
) -> Appointment:
    """Withdraw a booking up to `cutoff_hours` before it starts (idempotent: cancelling a
    cancelled booking changes nothing). Conflict('appointment_cutoff') after the cutoff,
    Conflict('appointment_closed') once staff marked it."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        row = await tx.fetchone(
            f"SELECT {_COLUMNS} FROM appointments WHERE device_id = ? AND code = ?",
            (device_id, code_param(code)),
        )
        if row is None:
            raise NotFound("appointment_not_found", code[:20])
        appt = _appointment(row)
        if appt.status == "cancelled":
            return appt
        if not appt.active:
            raise Conflict("appointment_closed", appt.status)
        if not appt.cancellable(now, cutoff_hours):
            raise Conflict("appointment_cutoff", str(cutoff_hours))
        return await _cancel(tx, appt, now, actor="household")


async def _cancel(
    tx: Transaction, appt: Appointment, now: float, *, actor: str, user_id: int | None = None
) -> Appointment:
    """Cancel `appt` (its checks done by the caller) and record who did; returns it cancelled."""
    await tx.execute(
        "UPDATE appointments SET status = 'cancelled', updated_at = ? WHERE id = ?",
        (now, appt.id),
    )
    await add_event(
        tx,
        appt.id,
        "cancelled",
        actor=actor,
        user_id=user_id,
        now=now,
        from_status=appt.status,
        to_status="cancelled",
    )
    return _appointment_replace(appt, status="cancelled", updated_at=now)


def _appointment_replace(appt: Appointment, **changes) -> Appointment:
    from dataclasses import replace

    return replace(appt, **changes)


# -- staff -------------------------------------------------------------------------------------


async def get(db: Database | Transaction, appointment_id: int) -> Appointment:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM appointments WHERE id = ?", (appointment_id,))
    if row is None:
        raise NotFound("appointment_not_found", str(appointment_id))
    return _appointment(row)


async def _staff_target(
    tx: Transaction, appointment_id: int, allowed: Callable[[str], bool] | None
) -> Appointment:
    appt = await get(tx, appointment_id)
    region = await slots.point_region(tx, appt.point_code)
    if allowed is not None and not allowed(region):
        raise OutOfScope("out_of_scope", appt.code)
    return appt


async def mark(
    db: Database,
    appointment_id: int,
    status: str,
    *,
    user_id: int,
    allowed: Callable[[str], bool] | None = None,
    now: float | None = None,
) -> tuple[Appointment, Appointment]:
    """Attended or no-show, from the slot's day on; returns (before, after). Marking again to
    the other of the two corrects a slip."""
    if status not in ("attended", "no_show"):
        raise Invalid("status_invalid", status[:20])
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        appt = await _staff_target(tx, appointment_id, allowed)
        if appt.status not in (*ACTIVE, "attended", "no_show"):
            raise Conflict("appointment_closed", appt.status)
        if slots.today(now) < appt.date:
            raise Conflict("appointment_not_today", appt.day)
        await tx.execute(
            "UPDATE appointments SET status = ?, updated_at = ? WHERE id = ?",
            (status, now, appt.id),
        )
        await add_event(
            tx,
            appt.id,
            status,
            actor="staff",
            user_id=user_id,
            now=now,
            from_status=appt.status,
            to_status=status,
        )
    return appt, _appointment_replace(appt, status=status, updated_at=now)


async def reschedule(
    db: Database,
    cal: Calendar,
    appointment_id: int,
    day: dt.date,
    start: str,
    *,
    user_id: int,
    horizon_days: int,
    allowed: Callable[[str], bool] | None = None,
    now: float | None = None,
) -> tuple[Appointment, Appointment]:
    """Move a booking to another offered slot of its point and service that has a free seat
    (checked in the same transaction as the move). The household sees the new time and the
    old one on the TV; the reminder is sent again for the new day."""
    now = time.time() if now is None else now
    start = slots.clock(start)
    async with db.transaction() as tx:
        appt = await _staff_target(tx, appointment_id, allowed)
        if not appt.active:
            raise Conflict("appointment_closed", appt.status)
        if (appt.day, appt.start) == (day.isoformat(), start):
            raise Invalid("slot_same", f"{day} {start}")
        slot = await _slot_in_tx(
            tx, cal, appt.point_code, appt.service, day, start, now, horizon_days
        )
        if slot.free <= 0:
            raise Conflict("slot_full", f"{day} {start}")
        moved_from = f"{appt.day} {appt.start}"
        await tx.execute(
            "UPDATE appointments SET day = ?, start = ?, ends = ?, starts_at = ?,"
            " status = 'rescheduled', moved_from = ?, reminded_at = NULL, updated_at = ?"
            " WHERE id = ?",
            (day.isoformat(), slot.start, slot.end, slot.starts_at, moved_from, now, appt.id),
        )
        await add_event(
            tx,
            appt.id,
            "rescheduled",
            actor="staff",
            user_id=user_id,
            now=now,
            from_status=appt.status,
            to_status="rescheduled",
            detail={"from": moved_from, "to": f"{day.isoformat()} {slot.start}"},
        )
        after = await get(tx, appt.id)
    return appt, after


async def upcoming_counts(db: Database, from_day: dt.date) -> dict[str, int]:
    """{point code: active bookings on `from_day` or later}."""
    rows = await db.fetchall(
        "SELECT point_code, COUNT(*) FROM appointments WHERE day >= ? AND status IN (?, ?)"
        " GROUP BY point_code",
        (from_day.isoformat(), *ACTIVE),
    )
    return {r[0]: r[1] for r in rows}


async def device_of(db: Database, appointment_id: int) -> int | None:
    """The box an appointment was booked from."""
    return await db.fetchval("SELECT device_id FROM appointments WHERE id = ?", (appointment_id,))


async def day_list(db: Database, point_code: str, day: dt.date) -> list[tuple[Appointment, str]]:
    """A point's bookings of one day in time order, each with the household's box label."""
    rows = await db.fetchall(
        f"SELECT {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))},"
        " COALESCE(d.household_label, '') FROM appointments a JOIN devices d ON d.id = a.device_id"
        " WHERE a.point_code = ? AND a.day = ? ORDER BY a.start, a.service, a.id",
        (point_code, day.isoformat()),
    )
    return [(_appointment(r), r[15]) for r in rows]


async def search(
    db: Database,
    *,
    point_code: str | None = None,
    day: dt.date | None = None,
    code: str | None = None,
    limit: int = 200,
) -> list[Appointment]:
    """For the hotline's read-only API: by point and/or day, or one booking code."""
    clauses, params = [], []
    if point_code:
        clauses.append("point_code = ?")
        params.append(point_code)
    if day:
        clauses.append("day = ?")
        params.append(day.isoformat())
    if code:
        clauses.append("code = ?")
        params.append(code)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM appointments{where} ORDER BY day, start, id LIMIT ?",
        (*params, limit),
    )
    return [_appointment(r) for r in rows]


# -- staff on a household's behalf (the household phoned 12348 or the point) ------------------


@dataclass(frozen=True)
class Box:
    id: int
    serial: str
    village_code: str | None


async def boxes_for_phone(
    db: Database, phone_e164: str, allowed: Callable[[str], bool] | None = None
) -> list[Box]:
    """The boxes whose household used this number for a callback or an appointment (numbers
    erased by retention no longer match), limited to villages `allowed` accepts."""
    rows = await db.fetchall(
        "SELECT id, serial, village_code FROM devices WHERE id IN"
        " (SELECT device_id FROM callback_requests WHERE phone_e164 = ?"
        " UNION SELECT device_id FROM appointments WHERE phone_e164 = ?) ORDER BY serial",
        (phone_e164, phone_e164),
    )
    boxes = [Box(r[0], r[1], r[2]) for r in rows]
    return [b for b in boxes if allowed is None or allowed(b.village_code or "")]


async def box_by_serial(db: Database, serial: str) -> Box:
    row = await db.fetchone(
        "SELECT id, serial, village_code FROM devices WHERE serial = ?", (serial.strip()[:64],)
    )
    if row is None:
        raise NotFound("box_not_found", serial[:64])
    return Box(row[0], row[1], row[2])


async def book_by_staff(
    db: Database,
    cal: Calendar,
    point_code: str,
    service: str,
    day: dt.date,
    start: str,
    box: Box,
    phone_digits: str,
    key: str,
    *,
    user_id: int,
    horizon_days: int,
    max_active: int,
    allowed: Callable[[str], bool] | None = None,
    now: float | None = None,
) -> tuple[Appointment, bool]:
    """Book a seat for a household that asked staff (by phone or at the desk): the same slot
    check, capacity count and per-box limit as on the box, in one write transaction with the
    point's region checked against `allowed`; idempotent per form `key`. The booking belongs to
    the household's box, so it shows in its 我的申请 and can be cancelled there."""
    slots.service_param(service)
    e164 = drafts.phone_e164(phone_digits)
    if not valid_draft_id(key):
        raise Invalid("key_invalid", key[:40])
    now = time.time() if now is None else now
    start = slots.clock(start)
    async with db.transaction() as tx:
        region = await slots.point_region(tx, point_code)
        if allowed is not None and not allowed(region):
            raise OutOfScope("out_of_scope", point_code)
        return await _take_seat(
            tx, cal, box.id, "staff" + key, point_code, service, day, start, e164,
            box.village_code, horizon_days=horizon_days, max_active=max_active, now=now,
            actor="staff", user_id=user_id,
        )  # fmt: skip


async def cancel_by_staff(
    db: Database,
    appointment_id: int,
    *,
    user_id: int,
    allowed: Callable[[str], bool] | None = None,
    now: float | None = None,
) -> tuple[Appointment, Appointment]:
    """Withdraw a booking still to come for the household (no cutoff: the household asked staff;
    once its slot has started it is 到场 or 未到 instead). Cancelling a cancelled booking
    changes nothing. Returns (before, after)."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        appt = await _staff_target(tx, appointment_id, allowed)
        if appt.status == "cancelled":
            return appt, appt
        if not appt.active:
            raise Conflict("appointment_closed", appt.status)
        if appt.starts_at <= now:
            raise Conflict("appointment_started", appt.day)
        return appt, await _cancel(tx, appt, now, actor="staff", user_id=user_id)


async def upcoming_at(db: Database, point_code: str, now: float, limit: int = 200):
    """A point's bookings still to come, in time order, with the box's serial."""
    rows = await db.fetchall(
        f"SELECT {', '.join('a.' + c.strip() for c in _COLUMNS.split(','))}, d.serial"
        " FROM appointments a JOIN devices d ON d.id = a.device_id"
        " WHERE a.point_code = ? AND a.status IN (?, ?) AND a.starts_at > ?"
        " ORDER BY a.starts_at, a.id LIMIT ?",
        (point_code, *ACTIVE, now, limit),
    )
    return [(_appointment(r), r[15]) for r in rows]


async def household_export(db: Database, serial: str) -> list[dict]:
    """Everything held about one household's appointments (for a subject-access request, beside
    its callback requests): each booking with its events and the household's rating of it."""
    rows = await db.fetchall(
        "SELECT a.id, a.code, a.point_code, a.region_code, a.service, a.day, a.start, a.ends,"
        " a.phone_e164, a.phone_masked, a.status, a.moved_from, a.reminded_at, a.created_at,"
        " a.updated_at FROM appointments a JOIN devices d ON d.id = a.device_id"
        " WHERE d.serial = ? ORDER BY a.created_at, a.id",
        (serial,),
    )
    out = []
    for r in rows:
        item = {k: r[k] for k in r.keys() if k not in ("id", "phone_e164")}
        item["phone"] = (
            None if r["phone_e164"] == ERASED_PHONE else phones.national(r["phone_e164"])
        )
        item["events"] = [
            {k: e[k] for k in e.keys()}
            for e in await db.fetchall(
                "SELECT at, actor, kind, detail FROM appointment_events"
                " WHERE appointment_id = ? ORDER BY at, id",
                (r["id"],),
            )
        ]
        rating = await db.fetchone(
            "SELECT score, reason, asks, answered_at FROM ratings"
            " WHERE kind = 'appointment' AND subject_id = ?",
            (r["id"],),
        )
        item["rating"] = None if rating is None else {k: rating[k] for k in rating.keys()}
        out.append(item)
    return out
