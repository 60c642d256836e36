"""Creating and listing callback requests from the box.

A submission is idempotent per (device, idempotency key): a double OK or a retry after a timeout
returns the request already made. The open-request limit is checked inside the same write
transaction, so two concurrent submissions cannot both slip under it.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from callbacks import daily, drafts, phones, webhooks
from callbacks.drafts import (  # noqa: F401 - re-exported: the draft limits callers import here
    DRAFT_ID_MAX,
    DRAFT_TTL_SECONDS,
    DRAFTS_PER_BOX,
    PHONE_INPUT_MAX,
    valid_draft_id,
)
from storage import Database, Invalid, LimitReached, clock
from storage.database import Transaction

SERVICES = (
    "consultation",
    "legal_aid",
    "mediation",
    "lawyer_mediation",
    "notarisation",
    "appraisal",
)
TIME_WINDOWS = ("morning", "afternoon", "evening")
# What the matter is about, optional ("" when the household skipped the question); staff see it.
TOPICS = ("land", "family", "wages", "debt", "other")
OPEN_STATES = ("submitted", "assigned", "in_progress")
STATES = (*OPEN_STATES, "completed", "unreachable", "cancelled")


@dataclass(frozen=True)
class CallbackRequest:
    id: int
    ref: str
    service: str
    service_point_code: str | None
    phone_masked: str
    time_window: str
    status: str
    household_note: str
    created_at: float
    updated_at: float
    topic: str = ""
    due_at: float | None = None  # when the first call is due: the day the household is told
    office_code: str | None = None
    adviser_id: int | None = None  # asked of the village's legal adviser (the TV card)

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATES


@dataclass(frozen=True)
class Draft:
    """A validated submission, ready to be written."""

    service: str
    service_point_code: str | None
    phone_e164: str
    time_window: str
    idempotency_key: str
    topic: str = ""
    adviser_id: int | None = None


def topic_param(value: str) -> str:
    """A topic code or "" (skipped); anything else is refused."""
    if value and value not in TOPICS:
        raise Invalid("topic_invalid", value[:40])
    return value


def validate(
    service: str,
    phone_digits: str,
    time_window: str,
    idempotency_key: str,
    service_point_code: str | None = None,
    topic: str = "",
    adviser_id: int | None = None,
) -> Draft:
    if service not in SERVICES:
        raise Invalid("service_invalid", service)
    topic = topic_param(topic)
    if time_window not in TIME_WINDOWS:
        raise Invalid("window_invalid", time_window)
    if not (8 <= len(idempotency_key) <= 64) or not idempotency_key.isalnum():
        raise Invalid("idempotency_key_invalid", idempotency_key)
    e164 = phones.normalise(phone_digits)
    return Draft(
        service, service_point_code or None, e164, time_window, idempotency_key, topic, adviser_id
    )


def new_idempotency_key() -> str:
    return drafts.new_draft_id()


def _new_ref(now: float) -> str:
    # Digits only, so it can be read out over the phone: date + 6 random digits.
    return clock.fmt(now, "%y%m%d") + f"{secrets.randbelow(10**6):06d}"


_COLUMNS = (
    "id, ref, service, service_point_code, phone_masked, time_window, status, household_note,"
    " created_at, updated_at, topic, due_at, office_code, adviser_id"
)


def _request(row) -> CallbackRequest:
    return CallbackRequest(*[row[i] for i in range(14)])


@dataclass(frozen=True)
class Placement:
    """Where a new request goes and when its first call is due (decided before writing)."""

    office_code: str | None = None
    region_code: str | None = None
    due_at: float | None = None
    origin: str = "tv"
    actor: str = "household"
    language: str = "zh"  # the household's TV language (zh, mn)


async def submit(
    db: Database,
    device_id: int,
    draft: Draft,
    *,
    max_open: int,
    max_per_day: int | None = None,
    now: float | None = None,
    placement: Placement | None = None,
) -> tuple[CallbackRequest, bool]:
    """Write the request and its 'submitted' event; return (request, created). Committed before
    this returns. `max_per_day`: the box's cap on new requests per day over callbacks and
    bookings (`callbacks.daily`; None: none, as for the hotline)."""
    now = time.time() if now is None else now
    placement = placement or Placement()
    return await db.grouped(_write_request, device_id, draft, max_open, max_per_day, now, placement)


async def _write_request(
    tx: Transaction,
    device_id: int,
    draft: Draft,
    max_open: int,
    max_per_day: int | None,
    now: float,
    placement: Placement,
) -> tuple[CallbackRequest, bool]:
    """The block of `submit`, run in a group commit (it awaits only `tx`)."""
    row = await tx.fetchone(
        f"SELECT {_COLUMNS} FROM callback_requests WHERE device_id = ? AND idempotency_key = ?",
        (device_id, draft.idempotency_key),
    )
    if row is not None:
        await _drop_submitted_draft(tx, device_id, draft.idempotency_key)
        return _request(row), False
    await daily.check(tx, device_id, max_per_day, now)
    open_count = (
        await tx.fetchone(
            "SELECT COUNT(*) FROM callback_requests WHERE device_id = ? AND status IN"
            f" ({','.join('?' * len(OPEN_STATES))})",
            (device_id, *OPEN_STATES),
        )
    )[0]
    if open_count >= max_open:
        raise LimitReached("callback_limit", str(max_open), limit=max_open)
    for _attempt in range(5):
        ref = _new_ref(now)
        if await tx.fetchone("SELECT 1 FROM callback_requests WHERE ref = ?", (ref,)) is None:
            break
    request_id = await tx.insert(
        "INSERT INTO callback_requests (ref, device_id, idempotency_key, service,"
        " service_point_code, phone_e164, phone_masked, time_window, status, created_at,"
        " updated_at, office_code, region_code, due_at, origin, topic, adviser_id, language)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'submitted', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ref,
            device_id,
            draft.idempotency_key,
            draft.service,
            draft.service_point_code,
            draft.phone_e164,
            phones.mask(draft.phone_e164),
            draft.time_window,
            now,
            now,
            placement.office_code,
            placement.region_code,
            placement.due_at,
            placement.origin,
            draft.topic,
            draft.adviser_id,
            placement.language,
        ),
    )
    await record_event(
        tx,
        request_id,
        "submitted",
        actor=placement.actor,
        to_status="submitted",
        now=now,
        detail={"office": placement.office_code, "origin": placement.origin},
    )
    await _drop_submitted_draft(tx, device_id, draft.idempotency_key)
    row = await tx.fetchone(f"SELECT {_COLUMNS} FROM callback_requests WHERE id = ?", (request_id,))
    return _request(row), True


async def record_event(
    tx: Transaction,
    request_id: int,
    kind: str,
    *,
    actor: str,
    now: float,
    user_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    outcome: str | None = None,
    reason: str = "",
    for_household: bool = False,
    call_again_at: float | None = None,
    detail: dict | None = None,
) -> int:
    """Timestamp one change of a request (who: 'household', 'staff' with a user id, 'system',
    'open311') inside the caller's transaction, and queue it for the webhooks."""
    payload = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
    event_id = await tx.insert(
        "INSERT INTO callback_events (request_id, at, actor, user_id, kind, from_status,"
        " to_status, outcome, reason, for_household, call_again_at, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            request_id,
            now,
            actor,
            user_id,
            kind,
            from_status,
            to_status,
            outcome,
            reason,
            int(for_household),
            call_again_at,
            payload,
        ),
    )
    await webhooks.enqueue(tx, event_id, now)
    return event_id


def list_for_device_query(device_id: int, limit: int = 20) -> tuple[str, tuple[int, int]]:
    """The read of a box's requests, newest first (for `Database.fetch_together`)."""
    return (
        f"SELECT {_COLUMNS} FROM callback_requests WHERE device_id = ?"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (device_id, limit),
    )


def requests_from(rows) -> list[CallbackRequest]:
    """The requests of rows read by `list_for_device_query`."""
    return [_request(r) for r in rows]


async def list_for_device(db: Database, device_id: int, limit: int = 20) -> list[CallbackRequest]:
    return requests_from(await db.fetchall(*list_for_device_query(device_id, limit)))


async def get_by_key(db: Database, device_id: int, key: str) -> CallbackRequest | None:
    """The request this box already made with this idempotency key (a submitted draft's id)."""
    if not valid_draft_id(key):
        return None
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM callback_requests WHERE device_id = ? AND idempotency_key = ?",
        (device_id, key),
    )
    return None if row is None else _request(row)


async def get_for_device(db: Database, device_id: int, ref: str) -> CallbackRequest | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM callback_requests WHERE device_id = ? AND ref = ?",
        (device_id, ref),
    )
    return None if row is None else _request(row)


def count_open_query(device_id: int) -> tuple[str, tuple]:
    """The query counting a box's open requests (one row, one column), for a screen that reads
    it with its other facts in one trip (`Database.fetch_together`)."""
    return (
        "SELECT COUNT(*) FROM callback_requests WHERE device_id = ? AND status IN"
        f" ({','.join('?' * len(OPEN_STATES))})",
        (device_id, *OPEN_STATES),
    )


async def count_open(db: Database, device_id: int) -> int:
    return int(await db.fetchval(*count_open_query(device_id)))


# -- drafts: the steps on the box before the household confirms -------------------------------
#
# The phone number is kept server-side in a draft, never in a URL. The draft's id is the
# submission's idempotency key, so a double OK or a retried POST makes one request. Anyone
# holding a box's page token can make drafts, so everything a draft stores is bounded: the
# service is one of SERVICES, the number is validated, the service point must be in the
# directory, and a box keeps at most DRAFTS_PER_BOX (its oldest is replaced). A submitted draft
# is deleted in the submission's transaction; its id lives on as the request's idempotency key,
# so a repeated submit still finds the request (`get_by_key`).

SERVICE_POINT_CODE_MAX = 64
_DRAFTS = "callback_drafts"


@dataclass(frozen=True)
class CallbackDraft:
    id: str
    service: str
    service_point_code: str | None
    phone_e164: str
    phone_masked: str
    topic: str = ""
    adviser_id: int | None = None


async def _drop_submitted_draft(tx: Transaction, device_id: int, key: str) -> None:
    await tx.execute("DELETE FROM callback_drafts WHERE id = ? AND device_id = ?", (key, device_id))


async def save_draft(
    db: Database,
    device_id: int,
    service: str,
    phone_digits: str,
    service_point_code: str | None = None,
    draft_id: str | None = None,
    now: float | None = None,
    topic: str = "",
    adviser_id: int | None = None,
) -> CallbackDraft:
    """Validate service, service point and phone, then create (or update this box's) draft.
    Invalid('service_point_invalid') for a code the directory does not hold."""
    if service not in SERVICES:
        raise Invalid("service_invalid", service)
    e164 = drafts.phone_e164(phone_digits)
    topic = topic_param(topic)
    service_point_code = service_point_code or None
    if service_point_code is not None and len(service_point_code) > SERVICE_POINT_CODE_MAX:
        raise Invalid("service_point_invalid", service_point_code[:SERVICE_POINT_CODE_MAX])
    if not valid_draft_id(draft_id):
        draft_id = None
    now = time.time() if now is None else now
    draft_id = await db.grouped(
        _write_draft, device_id, service, service_point_code, draft_id, e164, now, topic, adviser_id
    )
    return CallbackDraft(
        draft_id, service, service_point_code, e164, phones.mask(e164), topic, adviser_id
    )


async def _write_draft(
    tx: Transaction,
    device_id: int,
    service: str,
    service_point_code: str | None,
    draft_id: str | None,
    e164: str,
    now: float,
    topic: str,
    adviser_id: int | None,
) -> str:
    """The block of `save_draft`, run in a group commit (it awaits only `tx`); returns the
    draft's id."""
    if service_point_code is not None and (
        await tx.fetchone("SELECT 1 FROM service_points WHERE code = ?", (service_point_code,))
        is None
    ):
        raise Invalid("service_point_invalid", service_point_code)
    if adviser_id is not None and (
        await tx.fetchone("SELECT 1 FROM advisers WHERE id = ?", (adviser_id,)) is None
    ):
        raise Invalid("adviser_invalid", str(adviser_id))
    return await drafts.write(
        tx,
        _DRAFTS,
        device_id,
        draft_id,
        (service, service_point_code, e164, topic, adviser_id),
        now,
    )


async def get_draft(db: Database, device_id: int, draft_id: str) -> CallbackDraft | None:
    row = await drafts.read(db, _DRAFTS, device_id, draft_id)
    if row is None:
        return None
    return CallbackDraft(row[0], row[1], row[2], row[3], phones.mask(row[3]), row[4], row[5])


async def submit_draft(
    db: Database, device_id: int, draft: CallbackDraft, time_window: str, *, max_open: int
) -> tuple[CallbackRequest, bool]:
    """Submit a draft; its id is the idempotency key."""
    checked = validate(
        draft.service,
        phones.national(draft.phone_e164),
        time_window,
        draft.id,
        draft.service_point_code,
        draft.topic,
    )
    return await submit(db, device_id, checked, max_open=max_open)
