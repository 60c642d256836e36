"""Rollout waves: which regions get the legal section, in which order, and how fast.

A wave targets villages, townships or banners; the section is on for a box exactly when a region
of its chain is in a started wave and the box's sticky bucket (hash of serial and wave id, 0-99)
is below the wave's ramp percentage, so raising the percentage keeps every box already in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field

from device_registry.regions import RegionTree
from device_registry.states import ADMITTED_STATES
from storage import Conflict, Database, Invalid, NotFound

KINDS = ("pilot", "expansion")
STATUSES = ("planned", "started", "paused", "completed")
TARGET_LEVELS = ("county", "township", "village")
# Allowed status changes: action -> (from statuses, to status).
TRANSITIONS = {
    "start": (("planned", "paused"), "started"),
    "pause": (("started",), "paused"),
    "complete": (("started", "paused"), "completed"),
}
NAME_MAX = 60
NOTES_MAX = 2000


@dataclass(frozen=True)
class Wave:
    id: int
    name: str
    position: int
    kind: str
    status: str
    planned_start: str
    planned_end: str
    target_boxes: int
    ramp_percent: int
    notes: str
    regions: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class WaveInput:
    """What staff type in a wave's form, validated by `validate`."""

    name: str
    kind: str
    regions: tuple[str, ...]
    position: int | None = None
    planned_start: str = ""
    planned_end: str = ""
    target_boxes: int = 0
    ramp_percent: int = 100
    notes: str = ""


def bucket(serial: str, wave_id: int) -> int:
    """The box's sticky bucket 0-99 for this wave (stable across processes and restarts)."""
    digest = hashlib.sha256(f"{serial}\x00{wave_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def in_ramp(serial: str, wave_id: int, percent: int) -> bool:
    return bucket(serial, wave_id) < percent


_COLUMNS = (
    "id, name, position, kind, status, planned_start, planned_end, target_boxes, ramp_percent,"
    " notes"
)


def _wave(row, regions: tuple[str, ...]) -> Wave:
    return Wave(*tuple(row), regions=regions)


async def list_waves(db: Database) -> list[Wave]:
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM rollout_waves ORDER BY position, id")
    regions: dict[int, list[str]] = {}
    for wave_id, code in await db.fetchall(
        "SELECT wave_id, region_code FROM wave_regions ORDER BY region_code"
    ):
        regions.setdefault(wave_id, []).append(code)
    return [_wave(r, tuple(regions.get(r[0], ()))) for r in rows]


async def get_wave(db: Database, wave_id: int) -> Wave:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM rollout_waves WHERE id = ?", (wave_id,))
    if row is None:
        raise NotFound("wave_not_found", str(wave_id))
    codes = await db.fetchall(
        "SELECT region_code FROM wave_regions WHERE wave_id = ? ORDER BY region_code", (wave_id,)
    )
    return _wave(row, tuple(c[0] for c in codes))


def _date(value: str, code: str) -> str:
    if not value:
        return ""
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise Invalid(code, value) from None


def validate(data: WaveInput, tree: RegionTree) -> WaveInput:
    """Check a wave's fields; return them normalised or raise Invalid with a stable code."""
    name = data.name.strip()
    if not name:
        raise Invalid("wave_name_required", "")
    if len(name) > NAME_MAX:
        raise Invalid("wave_name_too_long", name)
    if data.kind not in KINDS:
        raise Invalid("wave_kind_invalid", data.kind)
    codes = tuple(sorted({c.strip() for c in data.regions if c.strip()}))
    if not codes:
        raise Invalid("wave_regions_required", "")
    for code in codes:
        region = tree.get(code)
        if region is None or region.level not in TARGET_LEVELS:
            raise Invalid("wave_region_invalid", code)
    start = _date(data.planned_start, "wave_start_invalid")
    end = _date(data.planned_end, "wave_end_invalid")
    if start and end and end < start:
        raise Invalid("wave_end_before_start", f"{start} > {end}")
    if not 0 <= data.target_boxes <= 10_000_000:
        raise Invalid("wave_target_invalid", str(data.target_boxes))
    if not 0 <= data.ramp_percent <= 100:
        raise Invalid("wave_ramp_invalid", str(data.ramp_percent))
    if len(data.notes) > NOTES_MAX:
        raise Invalid("wave_notes_too_long", "")
    if data.position is not None and data.position < 1:
        raise Invalid("wave_position_invalid", str(data.position))
    return WaveInput(
        name,
        data.kind,
        codes,
        data.position,
        start,
        end,
        data.target_boxes,
        data.ramp_percent,
        data.notes.strip(),
    )


async def _check_order(tx, wave_id: int | None, position: int, kind: str) -> None:
    """The first wave (lowest order) must be a pilot."""
    row = await tx.fetchone(
        "SELECT kind, position FROM rollout_waves WHERE id IS NOT ? ORDER BY position, id LIMIT 1",
        (wave_id,),
    )
    first_kind = kind if row is None or position <= row[1] else row[0]
    if first_kind != "pilot":
        raise Invalid("wave_first_must_be_pilot", "")


async def create_wave(
    db: Database, data: WaveInput, tree: RegionTree, now: float | None = None
) -> Wave:
    data = validate(data, tree)
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        if await tx.fetchone("SELECT 1 FROM rollout_waves WHERE name = ?", (data.name,)):
            raise Conflict("wave_name_taken", data.name)
        position = data.position
        if position is None:
            position = (
                await tx.fetchone("SELECT COALESCE(MAX(position), 0) + 1 FROM rollout_waves")
            )[0]
        await _check_order(tx, None, position, data.kind)
        wave_id = await tx.insert(
            "INSERT INTO rollout_waves (name, position, kind, status, planned_start,"
            " planned_end, target_boxes, ramp_percent, notes, created_at, updated_at)"
            " VALUES (?, ?, ?, 'planned', ?, ?, ?, ?, ?, ?, ?)",
            (
                data.name,
                position,
                data.kind,
                data.planned_start,
                data.planned_end,
                data.target_boxes,
                data.ramp_percent,
                data.notes,
                now,
                now,
            ),
        )
        await tx.executemany(
            "INSERT INTO wave_regions (wave_id, region_code) VALUES (?, ?)",
            [(wave_id, code) for code in data.regions],
        )
        tx.emit("wave", [wave_id])  # the boxes' entitlement follows once committed
    return await get_wave(db, wave_id)


async def update_wave(
    db: Database, wave_id: int, data: WaveInput, tree: RegionTree, now: float | None = None
) -> Wave:
    """Change a wave's fields (a completed wave is closed to edits)."""
    data = validate(data, tree)
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT status, position FROM rollout_waves WHERE id = ?", (wave_id,)
        )
        if row is None:
            raise NotFound("wave_not_found", str(wave_id))
        if row[0] == "completed":
            raise Conflict("wave_completed", str(wave_id))
        if await tx.fetchone(
            "SELECT 1 FROM rollout_waves WHERE name = ? AND id != ?", (data.name, wave_id)
        ):
            raise Conflict("wave_name_taken", data.name)
        position = row[1] if data.position is None else data.position
        await _check_order(tx, wave_id, position, data.kind)
        await tx.execute(
            "UPDATE rollout_waves SET name = ?, position = ?, kind = ?, planned_start = ?,"
            " planned_end = ?, target_boxes = ?, ramp_percent = ?, notes = ?, updated_at = ?"
            " WHERE id = ?",
            (
                data.name,
                position,
                data.kind,
                data.planned_start,
                data.planned_end,
                data.target_boxes,
                data.ramp_percent,
                data.notes,
                now,
                wave_id,
            ),
        )
        await tx.execute("DELETE FROM wave_regions WHERE wave_id = ?", (wave_id,))
        await tx.executemany(
            "INSERT INTO wave_regions (wave_id, region_code) VALUES (?, ?)",
            [(wave_id, code) for code in data.regions],
        )
        tx.emit("wave", [wave_id])  # the boxes' entitlement follows once committed
    return await get_wave(db, wave_id)


async def change_status(db: Database, wave_id: int, action: str, now: float | None = None) -> Wave:
    """start / pause / complete a wave; refuse transitions the lifecycle does not allow."""
    if action not in TRANSITIONS:
        raise Invalid("wave_action_invalid", action)
    allowed, target = TRANSITIONS[action]
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT status FROM rollout_waves WHERE id = ?", (wave_id,))
        if row is None:
            raise NotFound("wave_not_found", str(wave_id))
        if row[0] not in allowed:
            raise Conflict("wave_transition_invalid", f"{row[0]} -> {target}")
        await tx.execute(
            "UPDATE rollout_waves SET status = ?, updated_at = ? WHERE id = ?",
            (target, now, wave_id),
        )
        tx.emit("wave", [wave_id])
    return await get_wave(db, wave_id)


# -- entitlement -----------------------------------------------------------------------------

LiveMap = dict[str, list[tuple[int, int]]]  # region code -> [(wave id, ramp percent)]


async def live_map(db: Database) -> LiveMap:
    """Every region of a started wave, with the waves (and their ramps) that target it."""
    rows = await db.fetchall(
        "SELECT wr.region_code, w.id, w.ramp_percent FROM wave_regions wr"
        " JOIN rollout_waves w ON w.id = wr.wave_id WHERE w.status = 'started'"
        " ORDER BY w.position, w.id"
    )
    out: LiveMap = {}
    for code, wave_id, percent in rows:
        out.setdefault(code, []).append((wave_id, percent))
    return out


def entitling_wave(
    serial: str, state: str, village_code: str | None, tree: RegionTree, live: LiveMap
) -> int | None:
    """The id of the started wave that switches the section on for this box, or None."""
    if state not in ADMITTED_STATES or not village_code:
        return None
    for region in tree.chain(village_code):
        for wave_id, percent in live.get(region.code, ()):
            if in_ramp(serial, wave_id, percent):
                return wave_id
    return None


def wave_villages(wave: Wave, tree: RegionTree) -> set[str]:
    """The village codes a wave reaches (its targets and everything under them)."""
    out: set[str] = set()
    stack = list(wave.regions)
    while stack:
        code = stack.pop()
        region = tree.get(code)
        if region is None:
            continue
        if region.level == "village":
            out.add(code)
        stack.extend(r.code for r in tree.kids(code))
    return out
