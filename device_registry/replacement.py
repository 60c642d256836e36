"""Replacement of a household's box: the new box takes over the household, the old one retires."""

from __future__ import annotations

import time

from device_registry.admission import VillageAllowed
from device_registry.states import ADMITTED_STATES, DeviceState
from device_registry.validation import valid_serial
from storage import Conflict, Database, Invalid, NotFound, OutOfScope, clock


async def replace_box(
    db: Database,
    old_serial: str,
    new_serial: str,
    now: float | None = None,
    *,
    allowed: VillageAllowed | None = None,
) -> int:
    """Swap a household's old box for a new one: the new box takes the old one's village and
    household (created from the label when missing), inherits its reading progress, and the old
    box is retired (`replaced_by`). The household's box history links both, so its views and
    callbacks stay reachable. Return the new box's id.

    With `allowed` (a region-scoped account), the old box's village must pass it, and so must
    the new box's when it is already placed in a village (a fresh box placed nowhere yet may be
    taken), else OutOfScope and nothing is written."""
    from device_registry import households

    if old_serial == new_serial:
        raise Invalid("replacement_same_box", old_serial)
    if not valid_serial(new_serial):
        raise Invalid("serial_invalid", new_serial)
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        old = await tx.fetchone(
            "SELECT id, state, village_code, household_id, household_label FROM devices"
            " WHERE serial = ?",
            (old_serial,),
        )
        if old is None:
            raise NotFound("device_unknown", old_serial)
        if old["state"] not in ADMITTED_STATES:
            raise Conflict(f"device_{old['state']}", old_serial)
        if not old["village_code"]:
            raise Invalid("village_unknown", old_serial)
        if allowed is not None and not allowed(old["village_code"]):
            raise OutOfScope("device_out_of_scope", old_serial, serials=[old_serial])
        new = await tx.fetchone(
            "SELECT id, state, village_code FROM devices WHERE serial = ?", (new_serial,)
        )
        if new is not None and allowed is not None and new["village_code"] is not None:
            if not allowed(new["village_code"]):
                raise OutOfScope("device_out_of_scope", new_serial, serials=[new_serial])
        if new is not None and new["state"] not in (
            DeviceState.PENDING,
            DeviceState.PLANNED,
            DeviceState.INSTALLED,
        ):
            raise Conflict("replacement_box_in_use", new_serial)
        household_id = old["household_id"]
        if household_id is None:
            label = old["household_label"] or old_serial
            household_id = await households.ensure_household(tx, old["village_code"], label, now)
        if new is None:
            new_id = await tx.insert(
                "INSERT INTO devices (serial, village_code, household_id, household_label,"
                " state, installed_at, created_at)"
                f" VALUES (?, ?, ?, ?, '{DeviceState.INSTALLED}', ?, ?)",
                (
                    new_serial,
                    old["village_code"],
                    household_id,
                    old["household_label"],
                    clock.date(now),
                    now,
                ),
            )
        else:
            new_id = new["id"]
            await tx.execute(
                "UPDATE devices SET village_code = ?, household_id = ?, household_label = ?,"
                f" state = '{DeviceState.INSTALLED}',"
                " installed_at = COALESCE(installed_at, ?) WHERE id = ?",
                (
                    old["village_code"],
                    household_id,
                    old["household_label"],
                    clock.date(now),
                    new_id,
                ),
            )
        await tx.execute(
            f"UPDATE devices SET state = '{DeviceState.RETIRED}', retired_at = ?, replaced_by = ?,"
            " household_id = ? WHERE id = ?",
            (now, new_id, household_id, old["id"]),
        )
        await tx.execute("DELETE FROM device_tokens WHERE device_id = ?", (old["id"],))
        await households.link_box(tx, household_id, old["id"], now, DeviceState.INSTALLED)
        await tx.execute(
            "UPDATE household_boxes SET until = ?, reason = 'replaced'"
            " WHERE household_id = ? AND device_id = ?",
            (now, household_id, old["id"]),
        )
        await households.link_box(tx, household_id, new_id, now, "replacement")
        await tx.execute(
            "INSERT INTO device_progress (device_id, program_id, page, updated_at)"
            " SELECT ?, program_id, page, updated_at FROM device_progress WHERE device_id = ?"
            " ON CONFLICT (device_id, program_id) DO NOTHING",
            (new_id, old["id"]),
        )
        tx.emit("box", [old_serial, new_serial])  # both boxes' views and tokens; the counts
        tx.emit("coverage")
    return new_id
