"""A box's full record for staff and the operator's API, and its free key-value attributes."""

from __future__ import annotations

from device_registry.activity import effective_state
from device_registry.corrections import record_version
from device_registry.validation import check_attribute
from storage import Database, NotFound

DETAIL_COLUMNS = (
    "d.id, d.serial, d.mac, d.model, d.firmware, d.portal_version, d.uptime, d.village_code,"
    " d.household_id, d.household_label, d.state, d.installed_at, d.activated_at, d.first_seen,"
    " d.last_seen, d.retired_at, d.replaced_by, d.launches, d.created_at,"
    " COALESCE(d.keymap_family, m.keymap_family, 'browser') AS keymap_family,"
    " COALESCE(d.screen_profile, m.screen_profile, '1080p') AS screen_profile,"
    " d.keymap_family AS keymap_family_override, d.screen_profile AS screen_profile_override"
)


async def device_details(db: Database, serial: str, now: float | None = None) -> dict:
    """Every registry field of a box, its attributes and effective state; NotFound if unknown."""
    row = await db.fetchone(
        f"SELECT {DETAIL_COLUMNS} FROM devices d"
        " LEFT JOIN device_models m ON m.model = d.model WHERE d.serial = ?",
        (serial,),
    )
    if row is None:
        raise NotFound("device_unknown", serial)
    out = dict(row)
    out["effective_state"] = effective_state(row["state"], row["last_seen"], now)
    out["attributes"] = await get_attributes(db, row["id"])
    own = {
        "screen_profile": row["screen_profile_override"],
        "keymap_family": row["keymap_family_override"],
    }
    out["version"] = record_version({**out, **own}, out["attributes"])
    return out


async def get_attributes(db: Database, device_id: int) -> dict[str, str]:
    rows = await db.fetchall(
        "SELECT key, value FROM device_attributes WHERE device_id = ? ORDER BY key", (device_id,)
    )
    return {r[0]: r[1] for r in rows}


async def set_attributes(db: Database, serial: str, attributes: dict[str, str | None]) -> None:
    """Set free inventory attributes of a box (a None or empty value removes the key)."""
    for key, value in attributes.items():
        check_attribute(key, value)
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT id FROM devices WHERE serial = ?", (serial,))
        if row is None:
            raise NotFound("device_unknown", serial)
        await tx.executemany(
            "DELETE FROM device_attributes WHERE device_id = ? AND key = ?",
            [(row[0], k) for k, v in attributes.items() if not v],
        )
        await tx.executemany(
            "INSERT INTO device_attributes (device_id, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (device_id, key) DO UPDATE SET value = excluded.value",
            [(row[0], k, v) for k, v in attributes.items() if v],
        )


async def list_models(db: Database) -> list[dict]:
    """Known box models with their key-map family and screen profile, by name."""
    rows = await db.fetchall(
        "SELECT model, vendor, keymap_family, screen_profile FROM device_models ORDER BY model"
    )
    return [dict(r) for r in rows]
