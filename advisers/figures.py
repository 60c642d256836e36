"""Figures for staff: villages without an adviser per banner, and callbacks per adviser."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from callbacks.requests import OPEN_STATES
from storage import Database


@dataclass(frozen=True)
class Banner:
    code: str
    name: str
    villages: int
    with_adviser: int

    @property
    def without_adviser(self) -> int:
        return self.villages - self.with_adviser


async def villages_without_adviser(
    db: Database, tree, regions: Collection[str] | None = None
) -> list[Banner]:
    """Per banner (county level): its villages (within `regions`), how many have an adviser."""
    served = {r[0] for r in await db.fetchall("SELECT village_code FROM adviser_villages")}
    tally: dict[str, list[int]] = {}
    for code, region in tree.by_code.items():
        if region.level != "village" or (regions is not None and code not in regions):
            continue
        county = next((r for r in tree.chain(code) if r.level == "county"), None)
        if county is None:
            continue
        counts = tally.setdefault(county.code, [0, 0])
        counts[0] += 1
        counts[1] += code in served
    return [
        Banner(code, tree.get(code).name, n, served_n)
        for code, (n, served_n) in sorted(tally.items())
    ]


@dataclass(frozen=True)
class AdviserCount:
    id: int
    code: str
    name: str
    total: int
    completed: int
    open: int


async def callbacks_per_adviser(
    db: Database,
    regions: Collection[str] | None = None,
    *,
    since: float | None = None,
    until: float | None = None,
) -> list[AdviserCount]:
    """Callback requests asked of each adviser (filed in the period, from villages in
    `regions`): all of them, the completed ones and those still open."""
    where, params = ["r.adviser_id IS NOT NULL"], []
    if since is not None:
        where.append("r.created_at >= ?")
        params.append(since)
    if until is not None:
        where.append("r.created_at < ?")
        params.append(until)
    rows = await db.fetchall(
        "SELECT r.adviser_id, a.code, a.name, r.status, r.region_code FROM callback_requests r"
        " JOIN advisers a ON a.id = r.adviser_id WHERE " + " AND ".join(where),
        params,
    )
    tally: dict[int, list] = {}
    for adviser_id, code, name, status, region in rows:
        if regions is not None and region not in regions:
            continue
        t = tally.setdefault(adviser_id, [code, name, 0, 0, 0])
        t[2] += 1
        t[3] += status == "completed"
        t[4] += status in OPEN_STATES
    return sorted((AdviserCount(i, *v) for i, v in tally.items()), key=lambda a: (-a.total, a.code))
