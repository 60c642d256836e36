"""Demo appointment slots: weekly patterns for the demo's city centre, banner centres and
township stations, so the TV's 预约办理 flow works out of the box. Village rooms (open a few
half-days a week, see their hours) and the hotline take no appointments."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from storage import Database

WEEKDAYS = (1, 2, 3, 4, 5)
# (service, weekdays, start, end, capacity) per kind of point; every service a point of that
# kind offers in the demo directory, at times inside its office hours (8:30—12:00, 14:30—18:00).
_CENTRE = (
    ("notarisation", WEEKDAYS, "09:00", "09:30", 4),
    ("notarisation", WEEKDAYS, "10:00", "10:30", 4),
    ("notarisation", WEEKDAYS, "15:00", "15:30", 4),
    ("legal_aid", WEEKDAYS, "09:30", "10:00", 3),
    ("legal_aid", WEEKDAYS, "14:30", "15:00", 3),
    ("mediation", (2, 4), "10:00", "11:00", 2),
    ("mediation", (2, 4), "15:30", "16:30", 2),
    ("consultation", WEEKDAYS, "09:00", "09:30", 6),
    ("consultation", WEEKDAYS, "16:00", "16:30", 6),
    ("consultation", (6,), "09:00", "10:00", 4),  # a Saturday morning at the centres
)
_TOWNSHIP = (
    ("legal_aid", (2, 4), "09:30", "10:00", 2),
    ("mediation", (3,), "10:00", "11:00", 2),
    ("consultation", WEEKDAYS, "15:00", "15:30", 3),
)
PATTERNS: dict[str, tuple] = {
    "city_centre": _CENTRE,
    "banner_centre": _CENTRE,
    "township_station": _TOWNSHIP,
}


def demo_patterns(points: Iterable[Mapping]) -> list[tuple[str, str, int, str, str, int]]:
    """(point, service, weekday, start, end, capacity) for each demo point that takes
    appointments, limited to the services the point offers."""
    out = []
    for point in points:
        offered = set(point.get("services") or ())
        for service, weekdays, start, end, capacity in PATTERNS.get(point["kind"], ()):
            if service in offered:
                out += [(point["code"], service, w, start, end, capacity) for w in weekdays]
    return out


async def load(db: Database, points: Iterable[Mapping]) -> int:
    """Insert the demo patterns in one transaction; a slot staff already set stays as it is."""
    rows = demo_patterns(points)
    now = time.time()
    async with db.transaction() as tx:
        for row in rows:
            await tx.execute(
                "INSERT INTO appointment_patterns (point_code, service, weekday, start, ends,"
                " capacity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (point_code, service, weekday, start) DO NOTHING",
                (*row, now),
            )
        tx.emit("appointment")
    return len(rows)
