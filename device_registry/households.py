"""Households: totals per village (importable as CSV `village_code,households`) and optional
individual household records (an address label and a masked contact) that keep the history of
their boxes (`household_boxes`: since / until / reason)."""

from __future__ import annotations

import csv
import io
import re
import time

from storage import Database, Invalid, NotFound

TOTALS_HEADER = ("village_code", "households")
MAX_HOUSEHOLDS = 100_000  # per village; more is a typo


MESSAGES = {
    "header_invalid": "the header must be: village_code,households",
    "column_count": "expected %(expected)s columns, found %(found)s",
    "village_unknown": "unknown village code '%(value)s'",
    "households_invalid": "households must be a whole number up to %(max)s",
    "village_repeated": "village %(value)s already on line %(other)s",
}


class HouseholdImportError(Invalid):
    """A totals file with problems: `issues` lists (line, code, params), `problems` the same as
    (line, English message) pairs."""

    def __init__(self, issues: list[tuple[int, str, dict]]) -> None:
        self.issues = issues
        self.problems = [(line, MESSAGES[code] % params) for line, code, params in issues]
        text = "; ".join(f"line {line}: {msg}" for line, msg in self.problems[:20])
        super().__init__("households_invalid", text)


def mask_contact(raw: str) -> str:
    """Keep only a masked contact: `138****8000` for a phone, first character for a name."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    digits = re.sub(r"\D", "", raw)
    if len(digits) >= 7:
        return digits[:3] + "****" + digits[-4:]
    return raw[0] + "**"


def parse_totals(text: str, villages: set[str]) -> list[tuple[str, int]]:
    """Parse `village_code,households`; raise HouseholdImportError listing every bad line."""
    reader = csv.reader(io.StringIO(text))
    problems: list[tuple[int, str, dict]] = []
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != TOTALS_HEADER:
        raise HouseholdImportError([(1, "header_invalid", {})])
    out: dict[str, tuple[int, int]] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            problems.append((line, "column_count", {"expected": 2, "found": len(row)}))
            continue
        code, count = row[0].strip(), row[1].strip()
        if code not in villages:
            problems.append((line, "village_unknown", {"value": code}))
        elif not count.isdigit() or int(count) > MAX_HOUSEHOLDS:
            problems.append((line, "households_invalid", {"max": MAX_HOUSEHOLDS}))
        elif code in out:
            problems.append((line, "village_repeated", {"value": code, "other": out[code][1]}))
        else:
            out[code] = (int(count), line)
    if problems:
        raise HouseholdImportError(problems)
    return [(code, count) for code, (count, _line) in out.items()]


async def village_codes(db: Database) -> set[str]:
    return {r[0] for r in await db.fetchall("SELECT code FROM regions WHERE level = 'village'")}


async def import_totals(db: Database, text: str, now: float | None = None) -> int:
    """Set the household totals of the villages listed (all or nothing); return how many."""
    totals = parse_totals(text, await village_codes(db))
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO village_households (village_code, households, updated_at)"
            " VALUES (?, ?, ?) ON CONFLICT (village_code) DO UPDATE SET"
            " households = excluded.households, updated_at = excluded.updated_at",
            [(code, count, now) for code, count in totals],
        )
        tx.emit("box")  # as the admin's import always did: every box view is read again
        tx.emit("coverage")
    return len(totals)


async def totals(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT village_code, households FROM village_households")
    return {r[0]: r[1] for r in rows}


async def ensure_household(tx, village_code: str, label: str, now: float) -> int:
    """The id of the household `label` in the village, created when missing (inside `tx`)."""
    await tx.execute(
        "INSERT INTO households (village_code, label, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (village_code, label) DO NOTHING",
        (village_code, label, now),
    )
    row = await tx.fetchone(
        "SELECT id FROM households WHERE village_code = ? AND label = ?", (village_code, label)
    )
    return int(row[0])


async def link_box(tx, household_id: int, device_id: int, now: float, reason: str) -> None:
    """Record that a box serves the household from `now` (kept when already linked)."""
    await tx.execute(
        "INSERT INTO household_boxes (household_id, device_id, since, reason) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (household_id, device_id) DO NOTHING",
        (household_id, device_id, now, reason),
    )
    await tx.execute("UPDATE devices SET household_id = ? WHERE id = ?", (household_id, device_id))


async def add_household(
    db: Database, village_code: str, label: str, address: str = "", contact: str = ""
) -> int:
    """Create (or update) an individual household record; the contact is stored masked only."""
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise Invalid("household_label_invalid", label)
    if len(address) > 200:
        raise Invalid("household_address_invalid", "at most 200 characters")
    now = time.time()
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT level FROM regions WHERE code = ?", (village_code,))
        if row is None or row[0] != "village":
            raise Invalid("village_unknown", village_code)
        household_id = await ensure_household(tx, village_code, label, now)
        await tx.execute(
            "UPDATE households SET address = ?, contact_masked = ? WHERE id = ?",
            (address.strip(), mask_contact(contact), household_id),
        )
    return household_id


async def get_household(db: Database, household_id: int) -> dict:
    row = await db.fetchone(
        "SELECT id, village_code, label, address, contact_masked, created_at FROM households"
        " WHERE id = ?",
        (household_id,),
    )
    if row is None:
        raise NotFound("household_unknown", str(household_id))
    return dict(row)


async def box_history(db: Database, household_id: int) -> list[dict]:
    """The household's boxes, oldest first: serial, state, since, until, reason."""
    rows = await db.fetchall(
        "SELECT d.id AS device_id, d.serial, d.state, hb.since, hb.until, hb.reason"
        " FROM household_boxes hb JOIN devices d ON d.id = hb.device_id"
        " WHERE hb.household_id = ? ORDER BY hb.since, d.id",
        (household_id,),
    )
    return [dict(r) for r in rows]


async def household_device_ids(db: Database, device_id: int) -> list[int]:
    """Every box that ever served the household of `device_id` (for views and callbacks)."""
    rows = await db.fetchall(
        "SELECT DISTINCT hb2.device_id FROM household_boxes hb"
        " JOIN household_boxes hb2 ON hb2.household_id = hb.household_id"
        " WHERE hb.device_id = ? ORDER BY hb2.device_id",
        (device_id,),
    )
    return [r[0] for r in rows] or [device_id]


async def assign_household(
    db: Database, serial: str, label: str, address: str = "", contact: str = ""
) -> int:
    """Record the household a box serves (created in the box's village when missing; address
    and masked contact updated) and link the box to it; return the household's id."""
    label = (label or "").strip()
    address = (address or "").strip()
    if not label or len(label) > 100:
        raise Invalid("household_label_invalid", label)
    if len(address) > 200:
        raise Invalid("household_address_invalid", "at most 200 characters")
    now = time.time()
    async with db.transaction() as tx:
        box = await tx.fetchone(
            "SELECT id, village_code, household_id FROM devices WHERE serial = ?", (serial,)
        )
        if box is None:
            raise NotFound("device_unknown", serial)
        if not box["village_code"]:
            raise Invalid("village_unknown", serial)
        household_id = await ensure_household(tx, box["village_code"], label, now)
        await tx.execute(
            "UPDATE households SET address = ?, contact_masked = ? WHERE id = ?",
            (address, mask_contact(contact), household_id),
        )
        if box["household_id"] is not None and box["household_id"] != household_id:
            await tx.execute(
                "UPDATE household_boxes SET until = ?, reason = 'moved'"
                " WHERE household_id = ? AND device_id = ? AND until IS NULL",
                (now, box["household_id"], box["id"]),
            )
        await link_box(tx, household_id, box["id"], now, "assigned")
        await tx.execute("UPDATE devices SET household_label = ? WHERE id = ?", (label, box["id"]))
        tx.emit("box", [serial])  # its household's name on the TV
        tx.emit("coverage")
    return household_id
