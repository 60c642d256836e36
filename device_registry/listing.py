"""The box registry as the admin lists and counts it, within a staff member's villages.

`villages` is the list of village codes a staff member sees (None: every region); `unplaced`
adds the pending boxes that sit in no village yet (the city's staff place them)."""

from __future__ import annotations

import json

from storage import Database


def _scope_clause(villages: list[str] | None, unplaced: bool) -> tuple[str, list]:
    """SQL (and parameters) limiting devices to those in `villages`; '' for every box."""
    if villages is None:
        return "", []
    extra = " OR (village_code IS NULL AND state = 'pending')" if unplaced else ""
    return f"(village_code IN (SELECT value FROM json_each(?)){extra})", [json.dumps(villages)]


async def list_boxes(
    db: Database,
    villages: list[str] | None,
    *,
    unplaced: bool,
    state: str = "",
    query: str = "",
    limit: int,
    offset: int,
) -> tuple[list[dict], int]:
    """A page of boxes, newest first (by state, and text in serial, MAC or household), and the
    total."""
    clause, params = _scope_clause(villages, unplaced)
    where = [clause] if clause else []
    if state:
        where.append("state = ?")
        params.append(state)
    if query:
        where.append("(serial LIKE ? OR mac LIKE ? OR household_label LIKE ?)")
        params.extend([f"%{query}%"] * 3)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = await db.fetchval(f"SELECT COUNT(*) FROM devices{clause}", params)
    rows = await db.fetchall(
        "SELECT serial, mac, model, village_code, household_label, state, last_seen"
        f" FROM devices{clause} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [dict(r) for r in rows], total


async def count_pending(db: Database, villages: list[str] | None, *, unplaced: bool) -> int:
    """Pending boxes in these villages (and the unplaced ones)."""
    clause, params = _scope_clause(villages, unplaced)
    sql = "SELECT COUNT(*) FROM devices WHERE state = 'pending'"
    return await db.fetchval(sql + (f" AND {clause}" if clause else ""), params)


async def count_registered(db: Database, villages: list[str] | None, *, unplaced: bool) -> int:
    """Registered boxes (not pending, rejected or retired) in these villages."""
    clause, params = _scope_clause(villages, unplaced)
    sql = "SELECT COUNT(*) FROM devices WHERE state NOT IN ('pending','rejected','retired')"
    return await db.fetchval(sql + (f" AND {clause}" if clause else ""), params)


async def village_boxes(db: Database, village_code: str, limit: int = 500) -> list:
    """The boxes of one village (serial, state, household, last seen), by household."""
    return await db.fetchall(
        "SELECT serial, state, household_label, last_seen FROM devices WHERE village_code = ?"
        " ORDER BY household_label, serial LIMIT ?",
        (village_code, limit),
    )
