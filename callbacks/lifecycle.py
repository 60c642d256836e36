"""The life of a callback request after the box sent it: routing, claiming, call attempts, notes,
completion, cancellation, deadlines, the staff queue and its figures, privacy.

States: submitted → assigned → in_progress → completed | unreachable | cancelled. Every change is
one write transaction that checks the state inside it (so two staff claiming at once cannot both
win) and records a timestamped event with who and why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from accounts import audit
from callbacks import deadlines, phones, routing, webhooks
from callbacks import requests as box_requests
from callbacks.requests import OPEN_STATES, Placement, record_event
from storage import Conflict, Database, Invalid, NotFound, clock

LANGUAGES = ("zh", "mn")  # the TV languages a household may ask in

CLOSED_STATES = ("completed", "unreachable", "cancelled")
OUTCOMES = ("answered", "no_answer", "busy", "wrong_number", "call_again")
FAILED_OUTCOMES = ("no_answer", "busy")
NOTE_MAX = 500
REASON_MAX = 200


@dataclass(frozen=True)
class Policy:
    """The configurable rules: routing per service, the calendar, deadlines, attempts."""

    rules: dict[str, str] = field(default_factory=lambda: dict(routing.DEFAULT_RULES))
    calendar: deadlines.Calendar = field(default_factory=deadlines.Calendar)
    first_call_working_days: float = 1.0
    max_attempts: int = 3


@dataclass(frozen=True)
class Ticket:
    """A request as staff see it (the full number is never part of it)."""

    id: int
    ref: str
    device_id: int
    serial: str
    household_label: str
    service: str
    office_code: str | None
    region_code: str | None
    status: str
    assignee_id: int | None
    assignee: str
    phone_masked: str
    time_window: str
    due_at: float | None
    first_call_at: float | None
    closed_at: float | None
    attempts: int
    call_again_at: float | None
    household_note: str
    origin: str
    created_at: float
    updated_at: float
    phone_erased: bool
    topic: str = ""
    language: str = "zh"  # the household's TV language when it asked

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATES

    def overdue(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return deadlines.is_overdue(self.due_at, self.first_call_at, self.open, now)


@dataclass(frozen=True)
class Event:
    id: int
    at: float
    actor: str
    user_id: int | None
    username: str
    kind: str
    from_status: str | None
    to_status: str | None
    outcome: str | None
    reason: str
    for_household: bool
    call_again_at: float | None


_SELECT = (
    "SELECT r.id, r.ref, r.device_id, d.serial, d.household_label, r.service, r.office_code,"
    " r.region_code, r.status, r.assignee_id, COALESCE(u.display_name, ''), r.phone_masked,"
    " r.time_window, r.due_at, r.first_call_at, r.closed_at, r.attempts, r.call_again_at,"
    " r.household_note, r.origin, r.created_at, r.updated_at, r.phone_erased_at IS NOT NULL,"
    " r.topic, r.language"
    " FROM callback_requests r JOIN devices d ON d.id = r.device_id"
    " LEFT JOIN users u ON u.id = r.assignee_id"
)


def _ticket(row) -> Ticket:
    values = [row[i] for i in range(25)]
    values[22] = bool(values[22])
    return Ticket(*values)


# --- submitting (box and hotline) ----------------------------------------------------------------


async def place(
    db: Database,
    policy: Policy,
    service: str,
    chosen_point: str | None,
    region_chain: Sequence[str],
    time_window: str,
    *,
    origin: str = "tv",
    actor: str = "household",
    now: float,
    language: str = "zh",
) -> Placement:
    """Decide the office and the due time of a new request (before it is written); a household
    asking in Mongolian is routed to an office serving in Mongolian where one fits."""
    office = await routing.route(
        db, service, chosen_point, region_chain, policy.rules, language=language
    )
    due = deadlines.due_at(policy.calendar, now, time_window, policy.first_call_working_days)
    region = region_chain[0] if region_chain else None
    return Placement(office, region, due, origin, actor)


async def submit(
    db: Database,
    policy: Policy,
    device_id: int,
    draft: box_requests.Draft,
    region_chain: Sequence[str],
    *,
    max_open: int,
    max_per_day: int | None = None,
    origin: str = "tv",
    actor: str = "household",
    now: float | None = None,
    language: str = "zh",
) -> tuple[box_requests.CallbackRequest, bool]:
    """Route, set the deadline and write the request in one transaction (idempotent per key).
    `language` is the household's TV language, recorded for staff; `max_per_day` the box's
    daily cap over callbacks and bookings (`callbacks.daily`, None for the hotline)."""
    now = time.time() if now is None else now
    if language not in LANGUAGES:
        raise Invalid("language_invalid", language)
    placement = await place(
        db,
        policy,
        draft.service,
        draft.service_point_code,
        region_chain,
        draft.time_window,
        origin=origin,
        actor=actor,
        now=now,
        language=language,
    )
    placement = dataclasses.replace(placement, language=language)
    return await box_requests.submit(
        db,
        device_id,
        draft,
        max_open=max_open,
        max_per_day=max_per_day,
        now=now,
        placement=placement,
    )


# --- reading ------------------------------------------------------------------------------------


async def get(db: Database, request_id: int) -> Ticket:
    row = await db.fetchone(f"{_SELECT} WHERE r.id = ?", (request_id,))
    if row is None:
        raise NotFound("request_not_found", str(request_id))
    return _ticket(row)


async def get_by_ref(db: Database, ref: str) -> Ticket:
    row = await db.fetchone(f"{_SELECT} WHERE r.ref = ?", (ref,))
    if row is None:
        raise NotFound("request_not_found", ref)
    return _ticket(row)


async def events(db: Database, request_id: int) -> list[Event]:
    rows = await db.fetchall(
        "SELECT e.id, e.at, e.actor, e.user_id, COALESCE(u.display_name, ''), e.kind,"
        " e.from_status, e.to_status, e.outcome, e.reason, e.for_household, e.call_again_at"
        " FROM callback_events e LEFT JOIN users u ON u.id = e.user_id"
        " WHERE e.request_id = ? ORDER BY e.at, e.id",
        (request_id,),
    )
    return [Event(*[r[i] for i in range(10)], bool(r[10]), r[11]) for r in rows]


@dataclass(frozen=True)
class QueueFilter:
    regions: Collection[str] | None = None  # None: every region
    office: str = ""
    status: str = "open"  # 'open', 'closed', '' (all) or one state
    service: str = ""
    due: str = ""  # '', 'overdue', 'today' (due, or a call-again time, before the end of today)
    assignee_id: int | None = None


def _where(f: QueueFilter, now: float) -> tuple[str, list]:
    where: list[str] = []
    params: list = []
    if f.regions is not None:
        regions = list(f.regions)
        if not regions:
            return " WHERE 0", []
        where.append(f"r.region_code IN ({','.join('?' * len(regions))})")
        params.extend(regions)
    if f.office:
        where.append("r.office_code = ?")
        params.append(f.office)
    if f.status == "open":
        where.append(f"r.status IN ({','.join('?' * len(OPEN_STATES))})")
        params.extend(OPEN_STATES)
    elif f.status == "closed":
        where.append(f"r.status IN ({','.join('?' * len(CLOSED_STATES))})")
        params.extend(CLOSED_STATES)
    elif f.status:
        where.append("r.status = ?")
        params.append(f.status)
    if f.service:
        where.append("r.service = ?")
        params.append(f.service)
    if f.assignee_id is not None:
        where.append("r.assignee_id = ?")
        params.append(f.assignee_id)
    if f.due in ("overdue", "today"):
        limit = now
        if f.due == "today":
            limit = clock.at(clock.today(now) + dt.timedelta(days=1))
        # Waiting for its first call past (or, for 'today', before the end of) the due time;
        # or a call-again time the household agreed that falls by then.
        where.append(
            "(r.due_at IS NOT NULL AND r.due_at < ? AND r.first_call_at IS NULL"
            " OR r.call_again_at IS NOT NULL AND r.call_again_at < ?)"
            f" AND r.status IN ({','.join('?' * len(OPEN_STATES))})"
        )
        params.extend([limit, limit, *OPEN_STATES])
    return (" WHERE " + " AND ".join(where)) if where else "", params


async def queue(
    db: Database, f: QueueFilter, *, limit: int = 50, offset: int = 0, now: float | None = None
) -> tuple[list[Ticket], int]:
    """A page of the queue, most urgent first (earliest due), and the total."""
    now = time.time() if now is None else now
    clause, params = _where(f, now)
    total = await db.fetchval(f"SELECT COUNT(*) FROM callback_requests r{clause}", params)
    rows = await db.fetchall(
        f"{_SELECT}{clause} ORDER BY r.due_at IS NULL, r.due_at, r.id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [_ticket(r) for r in rows], int(total)


@dataclass(frozen=True)
class Call:
    """A call to make today: the request, the window it falls in, and the agreed time when the
    household chose one (约定再打), else None (call within its chosen window)."""

    ticket: Ticket
    window: str
    agreed_at: float | None


def window_of(ts: float) -> str:
    """The household time window a moment falls in (or, between windows, the one before)."""
    moment = clock.local(ts).time()
    if moment >= deadlines.WINDOWS["evening"][0]:
        return "evening"
    if moment >= deadlines.WINDOWS["afternoon"][0]:
        return "afternoon"
    return "morning"


async def todays_calls(
    db: Database, regions: Collection[str] | None, *, now: float | None = None, limit: int = 500
) -> list[Call]:
    """Open requests to call today, in the office's day: those waiting for their first call or
    whose last call found nobody (in the window the household chose), and those with a
    call-again time before the end of today (in the window of that time). By window; in each,
    agreed times first, by time, then by due time."""
    now = time.time() if now is None else now
    end = clock.at(clock.today(now) + dt.timedelta(days=1))
    clause, params = _where(QueueFilter(regions=regions, status="open"), now)
    clause += (" AND " if clause else " WHERE ") + (
        "(r.call_again_at IS NOT NULL AND r.call_again_at < ?"
        " OR r.call_again_at IS NULL AND (r.first_call_at IS NULL OR (SELECT e.outcome"
        " FROM callback_events e WHERE e.request_id = r.id AND e.kind = 'attempt'"
        " ORDER BY e.at DESC, e.id DESC LIMIT 1) IN ('no_answer', 'busy')))"
    )
    rows = await db.fetchall(
        f"{_SELECT}{clause} ORDER BY r.call_again_at IS NULL, r.call_again_at,"
        " r.due_at IS NULL, r.due_at, r.id LIMIT ?",
        [*params, end, limit],
    )
    calls = []
    for row in rows:
        t = _ticket(row)
        agreed = t.call_again_at
        calls.append(Call(t, window_of(agreed) if agreed else t.time_window, agreed))
    order = list(deadlines.WINDOWS)
    calls.sort(key=lambda c: (order.index(c.window), c.agreed_at is None, c.agreed_at or 0))
    return calls


async def find(
    db: Database,
    *,
    refs: Sequence[str] | None = None,
    service: str = "",
    statuses: Collection[str] | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 1000,
) -> list[Ticket]:
    """Requests by reference and/or service, states and creation time (newest first)."""
    where: list[str] = []
    params: list = []
    if refs is not None:
        if not refs:
            return []
        where.append(f"r.ref IN ({','.join('?' * len(refs))})")
        params.extend(refs)
    if service:
        where.append("r.service = ?")
        params.append(service)
    if statuses is not None:
        if not statuses:
            return []
        where.append(f"r.status IN ({','.join('?' * len(statuses))})")
        params.extend(statuses)
    if since is not None:
        where.append("r.created_at >= ?")
        params.append(since)
    if until is not None:
        where.append("r.created_at <= ?")
        params.append(until)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows = await db.fetchall(
        f"{_SELECT}{clause} ORDER BY r.created_at DESC, r.id DESC LIMIT ?", [*params, limit]
    )
    return [_ticket(r) for r in rows]


async def overdue_count(
    db: Database, regions: Collection[str] | None, now: float | None = None
) -> int:
    now = time.time() if now is None else now
    clause, params = _where(QueueFilter(regions=regions, status="open", due="overdue"), now)
    return int(await db.fetchval(f"SELECT COUNT(*) FROM callback_requests r{clause}", params))


# --- staff actions ------------------------------------------------------------------------------


async def _locked(tx, request_id: int) -> tuple[str, int | None, int]:
    row = await tx.fetchone(
        "SELECT status, assignee_id, device_id FROM callback_requests WHERE id = ?", (request_id,)
    )
    if row is None:
        raise NotFound("request_not_found", str(request_id))
    return row[0], row[1], row[2]


async def claim(db: Database, request_id: int, user_id: int, now: float | None = None) -> None:
    """Take a submitted request. Of two staff claiming at once, one wins; the other gets
    Conflict('already_claimed')."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        cur = await tx.execute(
            "UPDATE callback_requests SET status = 'assigned', assignee_id = ?, updated_at = ?"
            " WHERE id = ? AND status = 'submitted'",
            (user_id, now, request_id),
        )
        if cur.rowcount != 1:
            status, assignee, _device = await _locked(tx, request_id)
            raise Conflict("already_claimed", status, assignee=assignee or "")
        await record_event(
            tx,
            request_id,
            "claimed",
            actor="staff",
            user_id=user_id,
            now=now,
            from_status="submitted",
            to_status="assigned",
        )


async def assign(
    db: Database,
    request_ids: Sequence[int],
    *,
    by_user_id: int,
    assignee_id: int | None = None,
    office_code: str | None = None,
    reason: str = "",
    now: float | None = None,
) -> int:
    """(Re)assign open requests to a person and/or another office; all or nothing.

    A new office without a person puts the request back to 'submitted' for that office's queue.
    """
    now = time.time() if now is None else now
    if assignee_id is None and not office_code:
        raise Invalid("assign_target_required", "")
    if not request_ids:
        raise Invalid("nothing_selected", "")
    reason = reason.strip()[:REASON_MAX]
    async with db.transaction() as tx:
        if office_code and not await tx.fetchone(
            "SELECT 1 FROM service_points WHERE code = ?", (office_code,)
        ):
            raise Invalid("service_point_invalid", office_code)
        if assignee_id is not None and not await tx.fetchone(
            "SELECT 1 FROM users WHERE id = ? AND disabled = 0", (assignee_id,)
        ):
            raise Invalid("assignee_invalid", str(assignee_id))
        for request_id in request_ids:
            status, _assignee, _device = await _locked(tx, request_id)
            if status not in OPEN_STATES:
                raise Conflict("request_closed", status, ref=request_id)
            if assignee_id is not None:
                new_status = "assigned" if status == "submitted" else status
            else:
                new_status = "submitted"
            await tx.execute(
                "UPDATE callback_requests SET status = ?, assignee_id = ?,"
                " office_code = COALESCE(?, office_code), updated_at = ? WHERE id = ?",
                (new_status, assignee_id, office_code or None, now, request_id),
            )
            await record_event(
                tx,
                request_id,
                "assigned",
                actor="staff",
                user_id=by_user_id,
                now=now,
                from_status=status,
                to_status=new_status,
                reason=reason,
                detail={"assignee": assignee_id, "office": office_code},
            )
    return len(request_ids)


def _require_text(text: str, code: str, limit: int) -> str:
    text = text.strip()
    if not text:
        raise Invalid(code, "")
    if len(text) > limit:
        raise Invalid("text_too_long", str(limit))
    return text


async def record_attempt(
    db: Database,
    policy: Policy,
    request_id: int,
    user_id: int,
    outcome: str,
    *,
    note: str = "",
    call_again_at: float | None = None,
    now: float | None = None,
) -> str:
    """Record a call by the assignee; return the new status.

    answered / call_again → in_progress; no_answer / busy → in_progress, or unreachable once
    `max_attempts` such failures are recorded; wrong_number → unreachable.
    """
    now = time.time() if now is None else now
    if outcome not in OUTCOMES:
        raise Invalid("outcome_invalid", outcome)
    if outcome == "call_again" and (call_again_at is None or call_again_at <= now):
        raise Invalid("call_again_time_invalid", "")
    if len(note) > NOTE_MAX:
        raise Invalid("text_too_long", str(NOTE_MAX))
    async with db.transaction() as tx:
        status, assignee, _device = await _locked(tx, request_id)
        if status not in ("assigned", "in_progress"):
            raise Conflict("request_not_in_hand", status)
        if assignee != user_id:
            raise Conflict("not_assignee", str(assignee))
        failures = (
            await tx.fetchone(
                "SELECT COUNT(*) FROM callback_events WHERE request_id = ? AND kind = 'attempt'"
                " AND outcome IN (?, ?)",
                (request_id, *FAILED_OUTCOMES),
            )
        )[0] + (1 if outcome in FAILED_OUTCOMES else 0)
        if outcome == "wrong_number" or (
            outcome in FAILED_OUTCOMES and failures >= policy.max_attempts
        ):
            new_status = "unreachable"
        else:
            new_status = "in_progress"
        closed = now if new_status in CLOSED_STATES else None
        await tx.execute(
            "UPDATE callback_requests SET status = ?, attempts = attempts + 1,"
            " first_call_at = COALESCE(first_call_at, ?), call_again_at = ?, closed_at = ?,"
            " updated_at = ? WHERE id = ?",
            (
                new_status,
                now,
                call_again_at if outcome == "call_again" else None,
                closed,
                now,
                request_id,
            ),
        )
        await record_event(
            tx,
            request_id,
            "attempt",
            actor="staff",
            user_id=user_id,
            now=now,
            from_status=status,
            to_status=new_status,
            outcome=outcome,
            reason=note.strip(),
            call_again_at=call_again_at,
        )
    return new_status


async def add_note(
    db: Database,
    request_id: int,
    user_id: int,
    text: str,
    *,
    for_household: bool = False,
    now: float | None = None,
) -> None:
    """A staff note; one marked for the household shows on the box in 我的申请."""
    now = time.time() if now is None else now
    text = _require_text(text, "note_required", NOTE_MAX)
    async with db.transaction() as tx:
        status, _assignee, _device = await _locked(tx, request_id)
        if for_household:
            await tx.execute(
                "UPDATE callback_requests SET household_note = ?, updated_at = ? WHERE id = ?",
                (text, now, request_id),
            )
        await record_event(
            tx,
            request_id,
            "note",
            actor="staff",
            user_id=user_id,
            now=now,
            reason=text,
            for_household=for_household,
            from_status=status,
            to_status=status,
        )


async def complete(
    db: Database, request_id: int, user_id: int, note: str = "", now: float | None = None
) -> None:
    """Close a request in hand with a short result (what was done), which must be given."""
    now = time.time() if now is None else now
    if len(note) > NOTE_MAX:
        raise Invalid("text_too_long", str(NOTE_MAX))
    if not note.strip():
        raise Invalid("result_required", "")
    async with db.transaction() as tx:
        status, assignee, _device = await _locked(tx, request_id)
        if status not in ("assigned", "in_progress"):
            raise Conflict("request_not_in_hand", status)
        if assignee != user_id:
            raise Conflict("not_assignee", str(assignee))
        await tx.execute(
            "UPDATE callback_requests SET status = 'completed', closed_at = ?, updated_at = ?,"
            " call_again_at = NULL WHERE id = ?",
            (now, now, request_id),
        )
        await record_event(
            tx,
            request_id,
            "completed",
            actor="staff",
            user_id=user_id,
            now=now,
            from_status=status,
            to_status="completed",
            reason=note.strip(),
        )


async def cancel_by_staff(
    db: Database, request_id: int, user_id: int, reason: str, now: float | None = None
) -> None:
    now = time.time() if now is None else now
    reason = _require_text(reason, "reason_required", REASON_MAX)
    async with db.transaction() as tx:
        status, _assignee, _device = await _locked(tx, request_id)
        if status not in OPEN_STATES:
            raise Conflict("request_closed", status)
        await tx.execute(
            "UPDATE callback_requests SET status = 'cancelled', closed_at = ?, updated_at = ?"
            " WHERE id = ?",
            (now, now, request_id),
        )
        await record_event(
            tx,
            request_id,
            "cancelled",
            actor="staff",
            user_id=user_id,
            now=now,
            from_status=status,
            to_status="cancelled",
            reason=reason,
        )


async def cancel_by_household(
    db: Database, device_id: int, ref: str, now: float | None = None
) -> bool:
    """The household withdraws its own request from the TV. Idempotent: cancelling an already
    cancelled request is fine (returns False); a completed or unreachable one is a Conflict."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT id, status FROM callback_requests WHERE device_id = ? AND ref = ?",
            (device_id, ref),
        )
        if row is None:
            raise NotFound("request_not_found", ref)
        if row[1] == "cancelled":
            return False
        if row[1] not in OPEN_STATES:
            raise Conflict("request_closed", row[1])
        await tx.execute(
            "UPDATE callback_requests SET status = 'cancelled', closed_at = ?, updated_at = ?"
            " WHERE id = ?",
            (now, now, row[0]),
        )
        await record_event(
            tx,
            row[0],
            "cancelled",
            actor="household",
            now=now,
            from_status=row[1],
            to_status="cancelled",
            reason="household",
        )
    return True


async def reveal_phone(db: Database, request_id: int, user_id: int) -> str:
    """The full number, for the assignee only (the caller audits every reveal)."""
    row = await db.fetchone(
        "SELECT assignee_id, phone_e164, phone_erased_at FROM callback_requests WHERE id = ?",
        (request_id,),
    )
    if row is None:
        raise NotFound("request_not_found", str(request_id))
    if row[0] != user_id:
        raise Conflict("not_assignee", str(row[0]))
    if row[2] is not None:
        raise Conflict("phone_erased", "")
    return phones.national(row[1])


# --- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    total: int
    by_region: dict[str, int]
    by_service: dict[str, int]
    by_status: dict[str, int]
    by_period: dict[str, int]
    median_first_call_seconds: float | None
    within_deadline_share: float | None  # of requests whose deadline passed or that were called
    overdue_open: int


async def figures(
    db: Database,
    regions: Collection[str] | None,
    *,
    since: float | None = None,
    until: float | None = None,
    region_level_of: dict[str, str] | None = None,
    now: float | None = None,
) -> Figures:
    """Counts per region (mapped through `region_level_of`, e.g. village → township), service,
    status and day; the median time to the first call; the share called within the deadline."""
    now = time.time() if now is None else now
    clause, params = _where(QueueFilter(regions=regions, status=""), now)
    extra = []
    if since is not None:
        extra.append("r.created_at >= ?")
        params.append(since)
    if until is not None:
        extra.append("r.created_at < ?")
        params.append(until)
    if extra:
        clause = (clause + " AND " if clause else " WHERE ") + " AND ".join(extra)
    rows = await db.fetchall(
        "SELECT r.region_code, r.service, r.status, r.created_at, r.first_call_at, r.due_at"
        f" FROM callback_requests r{clause}",
        params,
    )
    by_region: dict[str, int] = {}
    by_service: dict[str, int] = {}
    by_status: dict[str, int] = {}
    by_period: dict[str, int] = {}
    waits = []
    judged = within = overdue_open = 0
    for region, service, status, created, first_call, due in rows:
        key = (region_level_of or {}).get(region or "", region or "")
        by_region[key] = by_region.get(key, 0) + 1
        by_service[service] = by_service.get(service, 0) + 1
        by_status[status] = by_status.get(status, 0) + 1
        day = clock.date(created)
        by_period[day] = by_period.get(day, 0) + 1
        if first_call is not None:
            waits.append(first_call - created)
        if first_call is not None:
            judged += 1
            within += int(due is None or first_call <= due)
        elif due is not None and due < now and status != "cancelled":
            judged += 1  # the deadline passed without a call
            overdue_open += int(status in OPEN_STATES)
    return Figures(
        total=len(rows),
        by_region=dict(sorted(by_region.items())),
        by_service=dict(sorted(by_service.items(), key=lambda kv: -kv[1])),
        by_status=by_status,
        by_period=dict(sorted(by_period.items())),
        median_first_call_seconds=statistics.median(waits) if waits else None,
        within_deadline_share=(within / judged) if judged else None,
        overdue_open=overdue_open,
    )


# --- privacy ------------------------------------------------------------------------------------

ERASED_PHONE = "+860000000000"  # what phone_e164 holds after erasure (the masked form stays)
FREE_TEXT_AUDIT_FIELDS = ("note", "reason")  # what the admin logs of a callback action's texts


async def erase_expired_phones(
    db: Database, retention_days: float, now: float | None = None
) -> int:
    """Irreversibly drop the personal data of requests closed more than `retention_days` ago:
    the number (only the masked form stays), and every free text that may repeat it — the
    reasons and notes of its events, the note for the household, the note excerpts of the
    audit log and its queued webhook bodies — plus every draft older than a day (a submitted
    draft is deleted at once). Returns how many requests were erased.

    The database zeroes what it deletes (`secure_delete`); `apply_retention` then checkpoints
    the write-ahead log, so no old page image keeps a copy on disk."""
    now = time.time() if now is None else now
    cutoff = now - retention_days * 86400
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            "SELECT id, status, ref FROM callback_requests"
            " WHERE phone_erased_at IS NULL"
            f" AND status IN ({','.join('?' * len(CLOSED_STATES))})"
            " AND COALESCE(closed_at, updated_at) < ?",
            (*CLOSED_STATES, cutoff),
        )
        for request_id, status, ref in rows:
            await tx.execute(
                "UPDATE callback_requests SET phone_e164 = ?, phone_erased_at = ?,"
                " household_note = '' WHERE id = ?",
                (ERASED_PHONE, now, request_id),
            )
            event_ids = [
                r[0]
                for r in await tx.fetchall(
                    "SELECT id FROM callback_events WHERE request_id = ?", (request_id,)
                )
            ]
            await tx.execute(
                "UPDATE callback_events SET reason = '' WHERE request_id = ?", (request_id,)
            )
            await webhooks.forget_events(tx, event_ids)
            await audit.drop_detail_fields(
                tx, object_type="callback", object_id=ref, fields=FREE_TEXT_AUDIT_FIELDS
            )
            await record_event(
                tx,
                request_id,
                "phone_erased",
                actor="system",
                now=now,
                from_status=status,
                to_status=status,
                reason=f"retention {retention_days:g} days",
            )
        # Drafts never submitted expire after a day; drop the stale ones here too.
        await tx.execute(
            "DELETE FROM callback_drafts WHERE created_at < ?",
            (now - box_requests.DRAFT_TTL_SECONDS,),
        )
    return len(rows)


async def apply_retention(
    db: Database, retention_days: float, webhook_retention_days: float, now: float | None = None
) -> tuple[int, int]:
    """One retention round: erase expired requests, purge old webhook bodies, then checkpoint
    the write-ahead log when anything went. Returns (requests erased, webhook rows deleted)."""
    erased = await erase_expired_phones(db, retention_days, now)
    purged = await webhooks.purge(db, webhook_retention_days, now)
    if erased or purged:
        await db.checkpoint()
    return erased, purged


async def household_export(db: Database, serial: str) -> dict:
    """Everything held about one household's callback requests (for a subject-access request)."""
    device = await db.fetchone(
        "SELECT id, serial, village_code, household_label FROM devices WHERE serial = ?",
        (serial,),
    )
    if device is None:
        raise NotFound("device_not_found", serial)
    rows = await db.fetchall(
        "SELECT id, ref, service, service_point_code, office_code, region_code, phone_e164,"
        " phone_masked, phone_erased_at, time_window, status, household_note, due_at,"
        " first_call_at, closed_at, attempts, origin, created_at, updated_at"
        " FROM callback_requests WHERE device_id = ? ORDER BY created_at, id",
        (device[0],),
    )
    out = []
    for r in rows:
        item = {k: r[k] for k in r.keys() if k != "id"}
        item["phone"] = None if r["phone_erased_at"] else phones.national(r["phone_e164"])
        del item["phone_e164"]
        item["events"] = [
            {
                "at": e.at,
                "actor": e.actor,
                "kind": e.kind,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "outcome": e.outcome,
                "note": e.reason if (e.for_household or e.actor == "household") else "",
            }
            for e in await events(db, r["id"])
        ]
        rating = await db.fetchone(  # the household's own rating of it (feedback.ratings)
            "SELECT score, reason, asks, answered_at FROM ratings"
            " WHERE kind = 'callback' AND subject_id = ?",
            (r["id"],),
        )
        item["rating"] = None if rating is None else {k: rating[k] for k in rating.keys()}
        out.append(item)
    return {
        "serial": device["serial"],
        "village_code": device["village_code"],
        "household_label": device["household_label"],
        "exported_at": time.time(),
        "callback_requests": out,
    }
