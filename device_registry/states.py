"""The states of a box in the registry: one enum, and the groups of states the code asks about.

pending ─accept→ installed … (planned, installed, activated: set by the operator's import,
enrolment or staff) ─first heartbeat→ active ⇄ inactive (not seen for ACTIVE_DAYS)
pending ─reject→ rejected;  any admitted state ─retire / replace→ retired
"""

from __future__ import annotations

import enum


class DeviceState(enum.StrEnum):
    """A box's `devices.state` (a str: compares and binds as its value)."""

    PENDING = "pending"  # announced itself (or imported unplaced): waits for staff
    REJECTED = "rejected"  # refused by staff
    PLANNED = "planned"  # on the operator's installation plan
    INSTALLED = "installed"
    ACTIVATED = "activated"
    ACTIVE = "active"  # installed and seen within ACTIVE_DAYS
    INACTIVE = "inactive"  # installed, not seen within ACTIVE_DAYS
    RETIRED = "retired"  # out of service or replaced


STATES = tuple(DeviceState)
# Boxes the registry has admitted: the only ones the section, announcements and waves count.
ADMITTED_STATES = (
    DeviceState.PLANNED,
    DeviceState.INSTALLED,
    DeviceState.ACTIVATED,
    DeviceState.ACTIVE,
    DeviceState.INACTIVE,
)
# An installed box (any of these states): the ones `activity.is_active` may call active.
INSTALLED_STATES = (
    DeviceState.INSTALLED,
    DeviceState.ACTIVATED,
    DeviceState.ACTIVE,
    DeviceState.INACTIVE,
)
# What the operator's import file and enrolment may set.
IMPORT_STATES = (DeviceState.PLANNED, DeviceState.INSTALLED, DeviceState.ACTIVATED)
# Boxes that may not use the device API (their heartbeats are refused).
REFUSED_STATES = (DeviceState.RETIRED, DeviceState.REJECTED, DeviceState.PENDING)
# What a box's heartbeat turns into active (the others stay as they are or are refused).
BEAT_ACTIVATES = (
    DeviceState.PLANNED,
    DeviceState.INSTALLED,
    DeviceState.ACTIVATED,
    DeviceState.INACTIVE,
)
# Known to the registry but not (yet) part of the fleet.
UNREGISTERED_STATES = (DeviceState.PENDING, DeviceState.REJECTED)


def sql_list(states: tuple[DeviceState, ...]) -> str:
    """`'a','b'` for a state list written into SQL text (enum values only, never input)."""
    return ",".join(f"'{DeviceState(s).value}'" for s in states)
