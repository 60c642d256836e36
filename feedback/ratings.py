"""One rating per completed request, asked on the household's next visit.

A request is asked about at most MAX_ASKS times: showing the rating screen counts as an ask
(at most one per `pause` seconds, however often the screen is opened), so a household that
skips it — with 跳过 or with Back — is asked once more on a later visit and never again. An
answer is final. Requests are found per kind: 'callback' (completed callback requests, keyed by
their numeric ref) and 'appointment' (appointments staff marked attended, keyed by their booking
code); the oldest one completed comes first, whatever its kind.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from accounts import audit
from storage import Conflict, Database, Invalid, NotFound, OutOfScope

KINDS = ("callback", "appointment")
REASONS = ("fast", "clear", "polite", "slow", "unresolved")
MAX_ASKS = 2
LOW = 2  # scores up to this one go to the follow-up list
NOTE_MAX = 500
GROUPINGS = ("office", "adviser", "service", "region")


@dataclass(frozen=True)
class Subject:
    """A completed request a household may rate, with who served it."""

    kind: str
    id: int
    ref: str
    device_id: int
    service: str
    office_code: str | None
    adviser_id: int | None
    region_code: str | None


_CALLBACK_COLUMNS = (
    "SELECT c.id, c.ref, c.device_id, c.service, c.office_code, c.adviser_id, c.region_code"
)
_CALLBACK = f"{_CALLBACK_COLUMNS} FROM callback_requests c"


_APPOINTMENT_COLUMNS = (
    "SELECT a.id, a.code, a.device_id, a.service, a.point_code, NULL, a.region_code"
)
_APPOINTMENT = f"{_APPOINTMENT_COLUMNS} FROM appointments a"
# Not yet asked, or skipped fewer than MAX_ASKS times and not asked within the pause.
_OPEN = (
    " AND (r.subject_id IS NULL OR (r.score IS NULL AND r.asks < ? AND"
    " (r.asked_at IS NULL OR r.asked_at < ?)))"
)


def _callback(row) -> Subject:
    return Subject("callback", *[row[i] for i in range(7)])


def _appointment(row) -> Subject:
    return Subject("appointment", *[row[i] for i in range(7)])


def due_queries(
    device_id: int, *, now: float, window: float, pause: float
) -> list[tuple[str, tuple]]:
    """The two reads (callbacks, appointments) `due` makes, for a screen that runs them with its
    other facts in one trip (`Database.fetch_together`); `due_from` reads their rows."""
    since, asked_before = now - window, now - pause
    return [
        (
            f"{_CALLBACK_COLUMNS}, c.closed_at FROM callback_requests c"
            " LEFT JOIN ratings r ON r.kind = 'callback' AND r.subject_id = c.id"
            " WHERE c.device_id = ? AND c.status = 'completed' AND c.closed_at >= ?"
            f"{_OPEN} ORDER BY c.closed_at, c.id LIMIT 1",
            (device_id, since, MAX_ASKS, asked_before),
        ),
        # An attended appointment's updated_at is when staff marked it (nothing changes it after).
        (
            f"{_APPOINTMENT_COLUMNS}, a.updated_at FROM appointments a"
            " LEFT JOIN ratings r ON r.kind = 'appointment' AND r.subject_id = a.id"
            " WHERE a.device_id = ? AND a.status = 'attended' AND a.updated_at >= ?"
            f"{_OPEN} ORDER BY a.updated_at, a.id LIMIT 1",
            (device_id, since, MAX_ASKS, asked_before),
        ),
    ]


def due_from(callback_rows, appointment_rows) -> Subject | None:
    """The oldest of what `due_queries` found (a callback before an appointment on a tie)."""
    found = [(r[7], 0, _callback(r)) for r in callback_rows[:1]]
    found += [(r[7], 1, _appointment(r)) for r in appointment_rows[:1]]
    return min(found, key=lambda f: f[:2])[2] if found else None


async def due(
    db: Database, device_id: int, *, now: float, window: float, pause: float
) -> Subject | None:
    """The oldest request of this box to ask about now (a callback completed or an appointment
    marked attended within `window`), or None."""
    queries = due_queries(device_id, now=now, window=window, pause=pause)
    return due_from(*[await db.fetchall(sql, params) for sql, params in queries])


async def subject(db: Database, device_id: int, kind: str, ref: str) -> Subject:
    """This box's own completed request (NotFound for anything else)."""
    if kind == "callback":
        row = await db.fetchone(
            f"{_CALLBACK} WHERE c.device_id = ? AND c.ref = ? AND c.status = 'completed'",
            (device_id, ref),
        )
        if row is not None:
            return _callback(row)
    elif kind == "appointment":
        row = await db.fetchone(
            f"{_APPOINTMENT} WHERE a.device_id = ? AND a.code = ? AND a.status = 'attended'",
            (device_id, ref),
        )
        if row is not None:
            return _appointment(row)
    raise NotFound("request_not_found", ref[:40])


async def state(db: Database, s: Subject) -> tuple[int | None, str, int]:
    """(score, reason, asks) of a subject's rating ((None, '', 0) when never asked)."""
    row = await db.fetchone(
        "SELECT score, reason, asks FROM ratings WHERE kind = ? AND subject_id = ?", (s.kind, s.id)
    )
    return (None, "", 0) if row is None else (row[0], row[1], row[2])


_INSERT = (
    "INSERT INTO ratings (kind, subject_id, ref, device_id, service, office_code, adviser_id,"
    " region_code, asks, asked_at, score, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _values(s: Subject, asks: int, now: float, score: int | None) -> tuple:
    answered = now if score is not None else None
    return (
        s.kind, s.id, s.ref, s.device_id, s.service, s.office_code, s.adviser_id, s.region_code,
        asks, now, score, answered,
    )  # fmt: skip


async def mark_asked(db: Database, s: Subject, *, now: float, pause: float) -> None:
    """The rating screen was shown: one ask per `pause`, none after an answer."""
    async with db.transaction() as tx:
        await tx.execute(
            _INSERT + " ON CONFLICT (kind, subject_id) DO UPDATE SET asks = ratings.asks + 1,"
            " asked_at = excluded.asked_at WHERE ratings.score IS NULL"
            " AND ratings.asks < ? AND (ratings.asked_at IS NULL OR ratings.asked_at < ?)",
            (*_values(s, 1, now, None), MAX_ASKS, now - pause),
        )


async def skip(db: Database, s: Subject, *, now: float) -> None:
    """跳过: the ask counted when the screen was shown; a skip posted without it counts one."""
    async with db.transaction() as tx:
        await tx.execute(
            _INSERT + " ON CONFLICT (kind, subject_id) DO UPDATE SET asked_at = excluded.asked_at"
            " WHERE ratings.score IS NULL",
            _values(s, 1, now, None),
        )


async def answer(db: Database, s: Subject, score: int, *, now: float) -> bool:
    """Record the score (1–5); False when this request was rated before (the first stays)."""
    if score not in (1, 2, 3, 4, 5):
        raise Invalid("score_invalid", str(score)[:8])
    async with db.transaction() as tx:
        before = await tx.fetchone(
            "SELECT score FROM ratings WHERE kind = ? AND subject_id = ?", (s.kind, s.id)
        )
        if before is not None and before[0] is not None:
            return False
        await tx.execute(
            _INSERT + " ON CONFLICT (kind, subject_id) DO UPDATE SET score = excluded.score,"
            " answered_at = excluded.answered_at WHERE ratings.score IS NULL",
            _values(s, 1, now, score),
        )
    return True


async def give_reason(db: Database, s: Subject, reason: str) -> bool:
    """The optional reason after a score, once."""
    if reason not in REASONS:
        raise Invalid("reason_invalid", reason[:20])
    async with db.transaction() as tx:
        cur = await tx.execute(
            "UPDATE ratings SET reason = ? WHERE kind = ? AND subject_id = ?"
            " AND score IS NOT NULL AND reason = ''",
            (reason, s.kind, s.id),
        )
    return cur.rowcount > 0


# -- staff: figures and the follow-up list ---------------------------------------------------


@dataclass(frozen=True)
class Group:
    key: str
    count: int
    mean: float
    satisfied: int  # scores 4 and 5
    low: int  # scores 1 and 2

    @property
    def satisfied_share(self) -> float:
        return self.satisfied / self.count if self.count else 0.0


def _period(regions, since, until) -> tuple[str, list]:
    where, params = ["score IS NOT NULL"], []
    if regions is not None:
        codes = sorted(regions)
        where.append(f"region_code IN ({','.join('?' * len(codes))})" if codes else "0")
        params += codes
    if since is not None:
        where.append("answered_at >= ?")
        params.append(since)
    if until is not None:
        where.append("answered_at < ?")
        params.append(until)
    return " WHERE " + " AND ".join(where), params


async def satisfaction(
    db: Database,
    regions: Collection[str] | None,
    by: str,
    *,
    since: float | None = None,
    until: float | None = None,
    region_level_of: Mapping[str, str] | None = None,
) -> tuple[Group, list[Group]]:
    """(all, per group) of the answered ratings in the period; `by` one of GROUPINGS (for
    'region' the village is mapped through `region_level_of`, e.g. to its township)."""
    if by not in GROUPINGS:
        raise Invalid("grouping_invalid", by[:20])
    column = {"office": "office_code", "adviser": "adviser_id", "service": "service"}.get(
        by, "region_code"
    )
    clause, params = _period(regions, since, until)
    rows = await db.fetchall(f"SELECT {column}, score FROM ratings{clause}", params)
    tally: dict[str, list[int]] = {}
    for key, score in rows:
        key = "" if key is None else str(key)
        if by == "region":
            key = (region_level_of or {}).get(key, key)
        tally.setdefault(key, []).append(score)

    def group(key: str, scores: list[int]) -> Group:
        n = len(scores)
        return Group(
            key,
            n,
            sum(scores) / n if n else 0.0,
            sum(1 for x in scores if x >= 4),
            sum(1 for x in scores if x <= LOW),
        )

    groups = sorted((group(k, v) for k, v in tally.items()), key=lambda g: (-g.count, g.key))
    return group("", [s for _k, s in rows]), groups


@dataclass(frozen=True)
class LowRating:
    kind: str
    subject_id: int
    ref: str
    score: int
    reason: str
    service: str
    office_code: str | None
    adviser_id: int | None
    region_code: str | None
    answered_at: float
    followed_up_at: float | None
    follow_up_note: str


_LOW = (
    "SELECT kind, subject_id, ref, score, reason, service, office_code, adviser_id, region_code,"
    " answered_at, followed_up_at, follow_up_note FROM ratings"
)


async def low_ratings(
    db: Database,
    regions: Collection[str] | None,
    *,
    since: float | None = None,
    until: float | None = None,
    open_only: bool = False,
    limit: int = 500,
) -> list[LowRating]:
    """Scores of 1–2 in the period, those not yet followed up first."""
    clause, params = _period(regions, since, until)
    clause += " AND score <= ?" + (" AND followed_up_at IS NULL" if open_only else "")
    rows = await db.fetchall(
        f"{_LOW}{clause} ORDER BY followed_up_at IS NOT NULL, answered_at DESC LIMIT ?",
        (*params, LOW, limit),
    )
    return [LowRating(*[r[i] for i in range(12)]) for r in rows]


async def follow_up(
    db: Database,
    kind: str,
    subject_id: int,
    user_id: int,
    note: str,
    *,
    allowed=None,
    now: float | None = None,
    then=None,
) -> LowRating:
    """A supervisor records what was done about a low rating (once; checked in scope inside the
    transaction)."""
    now = time.time() if now is None else now
    note = note.strip()
    if not note:
        raise Invalid("note_required", "")
    if len(note) > NOTE_MAX:
        raise Invalid("text_too_long", str(NOTE_MAX))
    async with db.transaction() as tx:
        row = await tx.fetchone(
            f"{_LOW} WHERE kind = ? AND subject_id = ? AND score <= ?", (kind, subject_id, LOW)
        )
        if row is None:
            raise NotFound("rating_not_found", f"{kind}:{subject_id}")
        before = LowRating(*[row[i] for i in range(12)])
        if allowed is not None and not allowed(before.region_code or ""):
            raise OutOfScope("region_out_of_scope", before.region_code or "")
        if before.followed_up_at is not None:
            raise Conflict("already_followed_up", before.ref)
        await tx.execute(
            "UPDATE ratings SET followed_up_at = ?, followed_up_by = ?, follow_up_note = ?"
            " WHERE kind = ? AND subject_id = ?",
            (now, user_id, note, kind, subject_id),
        )
        if then is not None:
            await then(tx, before)
    return before


# -- retention ---------------------------------------------------------------------------------

NOTE_AUDIT_FIELDS = ("note",)  # what the admin logs of a follow-up's note


async def erase_expired_notes(db: Database, retention_days: float, now: float | None = None) -> int:
    """Drop the follow-up notes (free text a supervisor wrote after calling the household back,
    which may name them or repeat their number) recorded more than `retention_days` ago, and
    their excerpts in the audit log; who followed up and when stay. Returns how many notes."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            "SELECT kind, subject_id FROM ratings"
            " WHERE followed_up_at < ? AND follow_up_note != ''",
            (now - retention_days * 86400,),
        )
        for kind, subject_id in rows:
            await tx.execute(
                "UPDATE ratings SET follow_up_note = '' WHERE kind = ? AND subject_id = ?",
                (kind, subject_id),
            )
            await audit.drop_detail_fields(
                tx, object_type="rating", object_id=f"{kind}:{subject_id}", fields=NOTE_AUDIT_FIELDS
            )
    return len(rows)
