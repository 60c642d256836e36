"""Whether a box is active: the one definition used by the box list, the box page and coverage."""

from __future__ import annotations

import time

from device_registry.states import INSTALLED_STATES, DeviceState
from storage import Database

ACTIVE_DAYS = 7  # a box seen within this many days is active

# The one definition of an active box, for the box list, the box page and the coverage figures:
# an installed box (any of these states) seen within the last ACTIVE_DAYS days.


def active_since(now: float) -> float:
    """Boxes seen at or after this moment are active."""
    return now - ACTIVE_DAYS * 86400


def is_active(state: str, last_seen: float | None, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    return state in INSTALLED_STATES and last_seen is not None and last_seen >= active_since(now)


def effective_state(state: str, last_seen: float | None, now: float | None = None) -> str:
    """The state shown to staff: active exactly when `is_active`; an activated or active box
    not seen within the window is inactive (one never seen stays 'activated')."""
    if is_active(state, last_seen, now):
        return DeviceState.ACTIVE
    if state == DeviceState.ACTIVE or (state == DeviceState.ACTIVATED and last_seen is not None):
        return DeviceState.INACTIVE
    return state


async def mark_inactive(db: Database, now: float | None = None) -> int:
    """Active boxes not seen for 7 days become inactive; return how many changed."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        cur = await tx.execute(
            f"UPDATE devices SET state = '{DeviceState.INACTIVE}'"
            f" WHERE state = '{DeviceState.ACTIVE}' AND last_seen < ?",
            (active_since(now),),
        )
        return cur.rowcount
