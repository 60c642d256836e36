"""The office's clock: one time zone (the `timezone` setting, default Asia/Shanghai) for every
page, export, CLI line and domain date (deadlines, coverage days, reference numbers), so the
same moment reads the same everywhere whatever zone the server itself is set to.

Times are epoch seconds; the zone is set once at start-up (`set_zone`).
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"

_zone: dt.tzinfo = ZoneInfo(DEFAULT_ZONE)

MINUTE = "%Y-%m-%d %H:%M"
SECOND = "%Y-%m-%d %H:%M:%S"
DATE = "%Y-%m-%d"
SHORT = "%m-%d %H:%M"  # this year's moments in a busy list


def load_zone(name: str) -> dt.tzinfo:
    """The IANA zone called `name`; ValueError when there is none."""
    try:
        return ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name like Asia/Shanghai)") from None


def set_zone(name: str) -> None:
    global _zone
    _zone = load_zone(name)


def zone() -> dt.tzinfo:
    return _zone


def local(ts: float) -> dt.datetime:
    """The moment `ts` on the office's clock."""
    return dt.datetime.fromtimestamp(ts, _zone)


def at(day: dt.date, when: dt.time = dt.time(0)) -> float:
    """The epoch seconds of `day` at `when` on the office's clock."""
    return dt.datetime.combine(day, when, _zone).timestamp()


def parse(moment: dt.datetime) -> float:
    """A naive datetime typed by staff (office time) as epoch seconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone)
    return moment.timestamp()


def today(now: float | None = None) -> dt.date:
    return local(time.time() if now is None else now).date()


def fmt(ts: float | None, form: str = MINUTE, empty: str = "") -> str:
    return empty if ts is None else local(ts).strftime(form)


def minute(ts: float | None, empty: str = "") -> str:
    """'2026-12-06 06:00'."""
    return fmt(ts, MINUTE, empty)


def second(ts: float | None, empty: str = "") -> str:
    """'2026-12-06 06:00:05'."""
    return fmt(ts, SECOND, empty)


def date(ts: float | None, empty: str = "") -> str:
    """'2026-12-06'."""
    return fmt(ts, DATE, empty)


def iso(ts: float | None, empty: str = "") -> str:
    """'2026-12-06T06:00:05+08:00' (machine-readable, with the offset)."""
    return empty if ts is None else local(ts).isoformat(timespec="seconds")


def stamp(now: float | None = None) -> str:
    """Today as '20261206', for file names."""
    return today(now).strftime("%Y%m%d")
