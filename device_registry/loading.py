"""Bulk loading of the registry for the demo, synthetic fleets and tests: models, boxes, waves."""

from __future__ import annotations

import time

from device_registry.states import DeviceState
from storage import Database


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
                    b.get("state", DeviceState.INSTALLED),
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
