"""When a service point takes appointments: weekly patterns (weekday, start, end, capacity per
service), closed days (public holidays of the working-day calendar and the point's own
exceptions) and the booking horizon. Times are on the offices' clock (the `timezone` setting,
default China Standard Time; storage.clock); a day is an ISO date."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from callbacks.deadlines import Calendar
from storage import Database, Invalid, NotFound, OutOfScope
from storage import clock as office_clock
from storage.database import Transaction

# The services a point can take appointments for (codes shared with the callback flow).
SERVICES = ("notarisation", "legal_aid", "mediation", "consultation")
# States holding a seat of their slot (a cancelled booking frees it).
SEATED = ("booked", "rescheduled", "attended", "no_show")
CAPACITY_MAX = 500
REASON_MAX = 60
PATTERNS_PER_POINT = 200
EXCEPTIONS_PER_POINT = 200


@dataclass(frozen=True)
class Pattern:
    id: int
    point_code: str
    service: str
    weekday: int
    start: str
    end: str
    capacity: int


@dataclass(frozen=True)
class Closed:
    id: int
    point_code: str
    day: str
    reason: str


@dataclass(frozen=True)
class Slot:
    day: dt.date
    start: str
    end: str
    capacity: int
    taken: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.taken)

    @property
    def starts_at(self) -> float:
        return starts_at(self.day, self.start)


def starts_at(day: dt.date, start: str) -> float:
    return office_clock.at(day, dt.time.fromisoformat(start))


def today(now: float | None = None) -> dt.date:
    return office_clock.today(now)


def clock(text: str) -> str:
    """'9:00' or '09:00' → '09:00'; Invalid('slot_time_invalid') otherwise."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return dt.time(hours, minutes).strftime("%H:%M")
    except ValueError:
        raise Invalid("slot_time_invalid", text[:20]) from None


def day_param(text: str) -> dt.date:
    """An ISO date (2026-12-08); Invalid('day_invalid') otherwise."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid("day_invalid", text[:20]) from None


def service_param(value: str) -> str:
    if value not in SERVICES:
        raise Invalid("service_invalid", value[:40])
    return value


async def point_region(tx: Transaction | Database, point_code: str) -> str:
    row = await tx.fetchone("SELECT region_code FROM service_points WHERE code = ?", (point_code,))
    if row is None:
        raise NotFound("service_point_not_found", point_code[:64])
    return row[0]


async def _check_scope(tx, point_code: str, allowed: Callable[[str], bool] | None) -> None:
    region = await point_region(tx, point_code)
    if allowed is not None and not allowed(region):
        raise OutOfScope("out_of_scope", point_code)


# -- staff: patterns and closed days ------------------------------------------------------------


async def add_patterns(
    db: Database,
    point_code: str,
    service: str,
    weekdays: list[int],
    start: str,
    end: str,
    capacity: int,
    *,
    allowed: Callable[[str], bool] | None = None,
) -> int:
    """Add one slot per weekday (an existing slot at the same start gets the new end and
    capacity). Returns how many were written."""
    service = service_param(service)
    start, end = clock(start), clock(end)
    if start >= end:
        raise Invalid("slot_time_invalid", f"{start}-{end}")
    if not weekdays or any(w not in range(1, 8) for w in weekdays):
        raise Invalid("weekday_invalid", ",".join(map(str, weekdays))[:20])
    if not 1 <= capacity <= CAPACITY_MAX:
        raise Invalid("capacity_invalid", str(capacity))
    async with db.transaction() as tx:
        await _check_scope(tx, point_code, allowed)
        tx.emit("appointment", [point_code])  # the point's TV pages follow once committed
        count = (
            await tx.fetchone(
                "SELECT COUNT(*) FROM appointment_patterns WHERE point_code = ?", (point_code,)
            )
        )[0]
        if count + len(weekdays) > PATTERNS_PER_POINT:
            raise Invalid("too_many_patterns", str(count))
        for weekday in sorted(set(weekdays)):
            await tx.execute(
                "INSERT INTO appointment_patterns (point_code, service, weekday, start, ends,"
                " capacity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (point_code, service, weekday, start)"
                " DO UPDATE SET ends = excluded.ends, capacity = excluded.capacity",
                (point_code, service, weekday, start, end, capacity, time.time()),
            )
    return len(set(weekdays))


async def delete_pattern(
    db: Database, point_code: str, pattern_id: int, *, allowed: Callable[[str], bool] | None = None
) -> Pattern:
    """Remove a weekly slot; bookings already made for it stay (staff see them in the day list)."""
    async with db.transaction() as tx:
        await _check_scope(tx, point_code, allowed)
        tx.emit("appointment", [point_code])  # the point's TV pages follow once committed
        row = await tx.fetchone(
            f"SELECT {_PATTERN} FROM appointment_patterns WHERE id = ? AND point_code = ?",
            (pattern_id, point_code),
        )
        if row is None:
            raise NotFound("pattern_not_found", str(pattern_id))
        await tx.execute("DELETE FROM appointment_patterns WHERE id = ?", (pattern_id,))
    return Pattern(*row)


_PATTERN = "id, point_code, service, weekday, start, ends, capacity"


async def pattern_counts(db: Database) -> dict[str, int]:
    """{point code: number of weekly slot patterns} for the points that publish slots."""
    rows = await db.fetchall(
        "SELECT point_code, COUNT(*) FROM appointment_patterns GROUP BY point_code"
    )
    return {r[0]: r[1] for r in rows}


async def patterns(db: Database, point_code: str, service: str | None = None) -> list[Pattern]:
    sql = f"SELECT {_PATTERN} FROM appointment_patterns WHERE point_code = ?"
    params: list = [point_code]
    if service:
        sql += " AND service = ?"
        params.append(service)
    rows = await db.fetchall(sql + " ORDER BY service, weekday, start", params)
    return [Pattern(*r) for r in rows]


async def add_closed(
    db: Database,
    point_code: str,
    day: dt.date,
    reason: str,
    *,
    allowed: Callable[[str], bool] | None = None,
) -> None:
    """Close a day at a point (besides public holidays): no slot is offered that day."""
    reason = reason.strip()[:REASON_MAX]
    async with db.transaction() as tx:
        await _check_scope(tx, point_code, allowed)
        tx.emit("appointment", [point_code])  # the point's TV pages follow once committed
        count = (
            await tx.fetchone(
                "SELECT COUNT(*) FROM appointment_exceptions WHERE point_code = ?", (point_code,)
            )
        )[0]
        if count >= EXCEPTIONS_PER_POINT:
            raise Invalid("too_many_exceptions", str(count))
        await tx.execute(
            "INSERT INTO appointment_exceptions (point_code, day, reason, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (point_code, day) DO UPDATE SET reason ="
            " excluded.reason",
            (point_code, day.isoformat(), reason, time.time()),
        )


async def delete_closed(
    db: Database, point_code: str, closed_id: int, *, allowed: Callable[[str], bool] | None = None
) -> Closed:
    async with db.transaction() as tx:
        await _check_scope(tx, point_code, allowed)
        tx.emit("appointment", [point_code])  # the point's TV pages follow once committed
        row = await tx.fetchone(
            "SELECT id, point_code, day, reason FROM appointment_exceptions"
            " WHERE id = ? AND point_code = ?",
            (closed_id, point_code),
        )
        if row is None:
            raise NotFound("exception_not_found", str(closed_id))
        await tx.execute("DELETE FROM appointment_exceptions WHERE id = ?", (closed_id,))
    return Closed(*row)


async def closed_days(db: Database, point_code: str) -> list[Closed]:
    rows = await db.fetchall(
        "SELECT id, point_code, day, reason FROM appointment_exceptions WHERE point_code = ?"
        " ORDER BY day",
        (point_code,),
    )
    return [Closed(*r) for r in rows]


# -- what a household can book ------------------------------------------------------------------


def is_closed(cal: Calendar, day: dt.date, closed: set[str]) -> bool:
    """Public holidays (the deadline calendar's) and the point's own closed days. Weekends are
    not closed as such: a point opens on the weekdays its patterns name."""
    return day in cal.holidays or day.isoformat() in closed


def horizon(now: float, days: int) -> list[dt.date]:
    """Today and the next `days` days."""
    first = today(now)
    return [first + dt.timedelta(days=n) for n in range(days + 1)]


async def offered(
    db: Database | Transaction,
    cal: Calendar,
    point_code: str,
    service: str,
    now: float,
    days: int,
    *,
    only_day: dt.date | None = None,
) -> list[Slot]:
    """Every slot still bookable (starting after `now`, inside the horizon, not closed) with its
    seats taken, in time order. Full slots are included (free == 0)."""
    pats = [
        Pattern(*r)
        for r in await db.fetchall(
            f"SELECT {_PATTERN} FROM appointment_patterns WHERE point_code = ? AND service = ?",
            (point_code, service),
        )
    ]
    if not pats:
        return []
    window = horizon(now, days)
    if only_day is not None:
        window = [d for d in window if d == only_day]
        if not window:
            return []
    closed = {
        r[0]
        for r in await db.fetchall(
            "SELECT day FROM appointment_exceptions WHERE point_code = ? AND day BETWEEN ? AND ?",
            (point_code, window[0].isoformat(), window[-1].isoformat()),
        )
    }
    taken = {
        (r[0], r[1]): r[2]
        for r in await db.fetchall(
            "SELECT day, start, COUNT(*) FROM appointments WHERE point_code = ? AND service = ?"
            f" AND day BETWEEN ? AND ? AND status IN ({','.join('?' * len(SEATED))})"
            " GROUP BY day, start",
            (point_code, service, window[0].isoformat(), window[-1].isoformat(), *SEATED),
        )
    }
    out = []
    for day in window:
        if is_closed(cal, day, closed):
            continue
        for p in sorted((p for p in pats if p.weekday == day.isoweekday()), key=lambda p: p.start):
            if starts_at(day, p.start) <= now:
                continue
            out.append(
                Slot(day, p.start, p.end, p.capacity, taken.get((day.isoformat(), p.start), 0))
            )
    return out


async def points_taking(db: Database, service: str) -> set[str]:
    """Codes of the points publishing at least one slot for this service."""
    rows = await db.fetchall(
        "SELECT DISTINCT point_code FROM appointment_patterns WHERE service = ?", (service,)
    )
    return {r[0] for r in rows}


async def services_at(db: Database, point_code: str) -> list[str]:
    rows = await db.fetchall(
        "SELECT DISTINCT service FROM appointment_patterns WHERE point_code = ?", (point_code,)
    )
    have = {r[0] for r in rows}
    return [s for s in SERVICES if s in have]
