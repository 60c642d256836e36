"""Admission: pending boxes accepted or rejected by staff, the auto-accept rule by village, and
an unknown box announcing itself."""

from __future__ import annotations

import time
from collections.abc import Callable

from device_registry.states import DeviceState
from device_registry.validation import valid_serial
from storage import Database, Invalid, OutOfScope

VillageAllowed = Callable[[str | None], bool]


async def decide_pending(
    db: Database,
    serials: list[str],
    accept: bool,
    village_code: str | None = None,
    *,
    allowed: VillageAllowed | None = None,
) -> list[str]:
    """Accept (state installed) or reject pending boxes; return the serials that changed.

    Boxes that are not pending are left alone. Accepting may place the boxes in a village.
    With `allowed` (a region-scoped account), the target village and the current village of
    every selected box must pass it (a box in no village does not), else OutOfScope and
    nothing is written.
    """
    serials = sorted({s for s in serials if s})
    if not serials:
        raise Invalid("device_selection_empty", "")
    async with db.transaction() as tx:
        if village_code is not None:
            row = await tx.fetchone("SELECT level FROM regions WHERE code = ?", (village_code,))
            if row is None or row[0] != "village":
                raise Invalid("village_unknown", village_code)
            if allowed is not None and not allowed(village_code):
                raise OutOfScope("village_out_of_scope", village_code, village=village_code)
        changed = []
        for chunk in _chunks(serials, 500):
            marks = ",".join("?" * len(chunk))
            if allowed is not None:
                rows = await tx.fetchall(
                    f"SELECT serial, village_code FROM devices WHERE serial IN ({marks})", chunk
                )
                outside = sorted(r[0] for r in rows if not allowed(r[1]))
                if outside:
                    raise OutOfScope("device_out_of_scope", outside[0], serials=outside[:20])
            rows = await tx.fetchall(
                f"SELECT serial FROM devices WHERE state = '{DeviceState.PENDING}'"
                f" AND serial IN ({marks})",
                chunk,
            )
            changed.extend(r[0] for r in rows)
        if accept:
            await tx.executemany(
                f"UPDATE devices SET state = '{DeviceState.INSTALLED}',"
                " village_code = COALESCE(?, village_code) WHERE serial = ?",
                [(village_code, s) for s in changed],
            )
        else:
            await tx.executemany(
                f"UPDATE devices SET state = '{DeviceState.REJECTED}' WHERE serial = ?",
                [(s,) for s in changed],
            )
        if changed:  # their views, fast-lane answers and tokens; the dashboard's counts
            tx.emit("box", changed)
            tx.emit("coverage")
    return sorted(changed)


async def auto_accept_villages(db: Database) -> list[str]:
    rows = await db.fetchall("SELECT village_code FROM auto_accept_villages ORDER BY village_code")
    return [r[0] for r in rows]


async def set_auto_accept(db: Database, village_code: str, on: bool) -> None:
    """Turn the auto-accept rule on or off for a village."""
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT level FROM regions WHERE code = ?", (village_code,))
        if row is None or row[0] != "village":
            raise Invalid("village_unknown", village_code)
        if on:
            await tx.execute(
                "INSERT INTO auto_accept_villages (village_code, created_at) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                (village_code, time.time()),
            )
        else:
            await tx.execute(
                "DELETE FROM auto_accept_villages WHERE village_code = ?", (village_code,)
            )


async def register_pending(
    db: Database, serial: str, village_code: str | None = None, now: float | None = None
) -> str:
    """A box announcing itself: an unknown box is created pending (or installed when its
    village auto-accepts). A known box changes nothing: not its village (only staff move a
    pending box, so a caller cannot carry it into an auto-accepting village), not its state.
    Return the box's state."""
    if not valid_serial(serial):
        raise Invalid("serial_invalid", serial)
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        if village_code is not None:
            row = await tx.fetchone("SELECT level FROM regions WHERE code = ?", (village_code,))
            if row is None or row[0] != "village":
                raise Invalid("village_unknown", village_code)
        row = await tx.fetchone("SELECT state FROM devices WHERE serial = ?", (serial,))
        if row is not None:
            return row[0]
        auto = village_code is not None and (
            await tx.fetchone(
                "SELECT 1 FROM auto_accept_villages WHERE village_code = ?", (village_code,)
            )
            is not None
        )
        state = DeviceState.INSTALLED if auto else DeviceState.PENDING
        await tx.execute(
            "INSERT INTO devices (serial, village_code, state, first_seen, last_seen,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (serial, village_code, state, now, now, now),
        )
        tx.emit("box", [serial])  # only this serial's cached "unknown" views are wrong now
    return state


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]
