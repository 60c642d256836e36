"""Boxes and their entitlement: which box is known, where it sits, whether the section is on.

The legal section is on for a box exactly when it is admitted and its village (or an ancestor
region) is in a started rollout wave.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from device_registry.regions import RegionTree
from storage import Database

ADMITTED_STATES = ("planned", "installed", "activated", "active", "inactive")
DEFAULT_FAMILY = "browser"
DEFAULT_PROFILE = "1080p"


@dataclass(frozen=True)
class Box:
    id: int
    serial: str
    state: str
    village_code: str | None
    household_label: str
    keymap_family: str
    screen_profile: str
    webp: bool = False  # the model's browser decodes WebP images

    @property
    def admitted(self) -> bool:
        return self.state in ADMITTED_STATES


async def get_box(db: Database, serial: str) -> Box | None:
    row = await db.fetchone(
        "SELECT d.id, d.serial, d.state, d.village_code, d.household_label,"
        " COALESCE(m.keymap_family, ?) AS family, COALESCE(m.screen_profile, ?) AS profile,"
        " COALESCE(m.webp, 0) AS webp"
        " FROM devices d LEFT JOIN device_models m ON m.model = d.model WHERE d.serial = ?",
        (DEFAULT_FAMILY, DEFAULT_PROFILE, serial),
    )
    if row is None:
        return None
    return Box(
        row["id"],
        row["serial"],
        row["state"],
        row["village_code"],
        row["household_label"],
        row["family"],
        row["profile"],
        bool(row["webp"]),
    )


async def record_unknown_visit(db: Database, serial: str, now: float | None = None) -> Box:
    """An unknown box that launches becomes a pending device for staff to enrol (idempotent)."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO devices (serial, state, first_seen, last_seen, launches, created_at)"
            " VALUES (?, 'pending', ?, ?, 1, ?)"
            " ON CONFLICT (serial) DO UPDATE SET last_seen = excluded.last_seen,"
            " launches = devices.launches + 1",
            (serial, now, now, now),
        )
    box = await get_box(db, serial)
    assert box is not None
    return box


async def started_wave_regions(db: Database) -> set[str]:
    rows = await db.fetchall(
        "SELECT DISTINCT wr.region_code FROM wave_regions wr"
        " JOIN rollout_waves w ON w.id = wr.wave_id WHERE w.status = 'started'"
    )
    return {r[0] for r in rows}


def is_entitled(box: Box, tree: RegionTree, live_regions: set[str]) -> bool:
    if not box.admitted or not box.village_code:
        return False
    return any(region.code in live_regions for region in tree.chain(box.village_code))


async def upsert_models(db: Database, models: list[dict]) -> None:
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO device_models (model, vendor, keymap_family, screen_profile)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET vendor = excluded.vendor,"
            " keymap_family = excluded.keymap_family, screen_profile = excluded.screen_profile",
            [(m["model"], m["vendor"], m["family"], m["profile"]) for m in models],
        )


async def insert_boxes(db: Database, boxes: list[dict], now: float | None = None) -> int:
    """Insert boxes that are not registered yet (by serial); return how many were new."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        before = (await tx.fetchone("SELECT COUNT(*) FROM devices"))[0]
        await tx.executemany(
            "INSERT INTO devices (serial, mac, model, village_code, household_label, state,"
            " installed_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (serial) DO NOTHING",
            [
                (
                    b["serial"],
                    b.get("mac"),
                    b.get("model"),
                    b.get("village_code"),
                    b.get("household_label", ""),
                    b.get("state", "installed"),
                    b.get("installed_at"),
                    now,
                )
                for b in boxes
            ],
        )
        after = (await tx.fetchone("SELECT COUNT(*) FROM devices"))[0]
    return after - before


async def ensure_wave(
    db: Database, name: str, kind: str, region_codes: list[str], status: str = "planned"
) -> int:
    """Create a wave with its regions unless one of that name exists; return its id."""
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT id FROM rollout_waves WHERE name = ?", (name,))
        if row is not None:
            return int(row[0])
        position = (await tx.fetchone("SELECT COALESCE(MAX(position), 0) + 1 FROM rollout_waves"))[
            0
        ]
        wave_id = await tx.insert(
            "INSERT INTO rollout_waves (name, position, kind, status, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, position, kind, status, time.time()),
        )
        await tx.executemany(
            "INSERT INTO wave_regions (wave_id, region_code) VALUES (?, ?)",
            [(wave_id, code) for code in region_codes],
        )
    return wave_id
