"""Deadlines of callback requests (限时办结): a working-time calendar and the due time per request.

Pure functions over a `Calendar` (working weekdays and hours, public holidays, make-up working
days); times are epoch seconds, dates and hours are on the office's clock (`storage.clock`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from storage import clock

# The household's time windows (must match what the box shows): start and end, local time.
WINDOWS: dict[str, tuple[dt.time, dt.time]] = {
    "morning": (dt.time(8, 30), dt.time(12, 0)),
    "afternoon": (dt.time(14, 30), dt.time(18, 0)),
    "evening": (dt.time(19, 0), dt.time(21, 0)),
}


def parse_hours(text: str) -> tuple[dt.time, dt.time]:
    """'08:30-18:00' → (08:30, 18:00); raise ValueError on anything else."""
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"working hours must look like 08:30-18:00, not {text!r}") from None
    if start >= end:
        raise ValueError(f"working hours must end after they start: {text!r}")
    return start, end


@dataclass(frozen=True)
class Calendar:
    """When the offices work. Weekdays are ISO numbers (1 = Monday … 7 = Sunday)."""

    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    start: dt.time = dt.time(8, 30)
    end: dt.time = dt.time(18, 0)
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    makeup_days: frozenset[dt.date] = field(default_factory=frozenset)  # 调休: weekend workdays

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.makeup_days:
            return True
        return day.isoweekday() in self.weekdays and day not in self.holidays

    @property
    def day_seconds(self) -> float:
        day = dt.date.min
        return (dt.datetime.combine(day, self.end) - dt.datetime.combine(day, self.start)).seconds


_local = clock.local
_at = clock.at


def add_working_time(cal: Calendar, start: float, seconds: float) -> float:
    """The moment when `seconds` of working time have passed after `start`."""
    moment = _local(start)
    day = moment.date()
    remaining = seconds
    # Clip the start into working time.
    if not cal.is_working_day(day) or moment.time() >= cal.end:
        day = _next_working_day(cal, day)
        clock = cal.start
    else:
        clock = max(moment.time(), cal.start)
    for _ in range(3700):  # ten years of days: a calendar with no working day ends here
        left_today = _at(day, cal.end) - _at(day, clock)
        if remaining <= left_today:
            return _at(day, clock) + remaining
        remaining -= left_today
        day = _next_working_day(cal, day)
        clock = cal.start
    raise ValueError("the calendar has no working days")


def _next_working_day(cal: Calendar, day: dt.date) -> dt.date:
    for _ in range(3700):
        day += dt.timedelta(days=1)
        if cal.is_working_day(day):
            return day
    raise ValueError("the calendar has no working days")


def due_at(cal: Calendar, submitted_at: float, window: str, working_days: float) -> float:
    """First call due: `working_days` of working time after submission, then the first end of the
    household's chosen window on a working day at or after that moment."""
    limit = add_working_time(cal, submitted_at, working_days * cal.day_seconds)
    _start, window_end = WINDOWS[window]
    day = _local(limit).date()
    if not cal.is_working_day(day):
        day = _next_working_day(cal, day)
    due = _at(day, window_end)
    if due < limit:
        due = _at(_next_working_day(cal, day), window_end)
    return due


def is_overdue(due: float | None, first_call_at: float | None, open_: bool, now: float) -> bool:
    """Overdue: still waiting for its first call (and open) after the due time."""
    return bool(due is not None and open_ and first_call_at is None and now > due)
