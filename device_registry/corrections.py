"""Corrections of a box's record by staff (admin) and the operator's systems (PATCH): what may
change, which state changes are allowed, and the record version that guards concurrent edits."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from device_registry.records import PROFILES
from device_registry.states import STATES, DeviceState
from device_registry.validation import check_attribute, normalize_mac, valid_version
from storage import Conflict, Database, Invalid, NotFound, clock

# What may be corrected by hand; village and household have their own flows (replacement,
# household record).
EDITABLE_FIELDS = (
    "model",
    "mac",
    "firmware",
    "screen_profile",
    "keymap_family",
    "installed_at",
    "activated_at",
    "state",
)
# State changes made by hand. The others follow from admission (accept/reject), heartbeats
# (active/inactive) and replacement; a retired box stays retired.
STATE_CHANGES: dict[str, tuple[DeviceState, ...]] = {
    DeviceState.PLANNED: (DeviceState.INSTALLED, DeviceState.ACTIVATED, DeviceState.RETIRED),
    DeviceState.INSTALLED: (DeviceState.PLANNED, DeviceState.ACTIVATED, DeviceState.RETIRED),
    DeviceState.ACTIVATED: (DeviceState.INSTALLED, DeviceState.RETIRED),
    DeviceState.ACTIVE: (DeviceState.RETIRED,),
    DeviceState.INACTIVE: (DeviceState.RETIRED,),
    DeviceState.REJECTED: (DeviceState.PENDING,),
}
ATTRIBUTES_MAX = 50
EARLIEST_DATE = dt.date(2000, 1, 1)
CLOCK_SKEW_SECONDS = 300
# The columns a record's version covers: what may be corrected, and what admission,
# enrolment, replacement and heartbeats change (not last_seen, uptime or launches). The
# screen profile and key-map family are the box's own (NULL: its model's).
_VERSIONED = (
    "mac",
    "model",
    "firmware",
    "screen_profile",
    "keymap_family",
    "installed_at",
    "activated_at",
    "state",
    "village_code",
    "household_id",
    "household_label",
    "retired_at",
    "replaced_by",
)

Then = Callable[[Any, dict, dict], Awaitable[None]]


def record_version(record: Mapping[str, Any], attributes: Mapping[str, str]) -> str:
    """A short fingerprint of a box's record and attributes. A form or an API client sends
    back the version it read; a write is refused when the box changed in between."""
    raw = [record[name] for name in _VERSIONED]
    payload = json.dumps([raw, sorted(attributes.items())], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _installed_at(value: str, now: float) -> str | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid("installed_at_invalid", value) from None
    if not EARLIEST_DATE <= day <= clock.today(now):
        raise Invalid("installed_at_invalid", value)
    return day.isoformat()


def _activated_at(raw: object, now: float) -> float | None:
    """Epoch seconds, or ISO 8601 text with a time zone; None or empty clears it."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise Invalid("activated_at_invalid", str(raw))
    if isinstance(raw, (int, float)):
        at = float(raw)
    elif isinstance(raw, str):
        try:
            parsed = dt.datetime.fromisoformat(raw.strip())
        except ValueError:
            raise Invalid("activated_at_invalid", raw) from None
        if parsed.tzinfo is None:
            raise Invalid("activated_at_invalid", raw)
        at = parsed.timestamp()
    else:
        raise Invalid("activated_at_invalid", str(raw))
    earliest = clock.at(EARLIEST_DATE)
    if not (earliest <= at <= now + CLOCK_SKEW_SECONDS):  # also refuses NaN
        raise Invalid("activated_at_invalid", str(raw))
    return at


def validate_changes(
    changes: Mapping[str, object],
    *,
    models: Collection[str],
    families: Collection[str],
    now: float | None = None,
) -> dict[str, Any]:
    """Check corrections of a box's fields and attributes; return them normalised (an empty
    text or None clears a field, an attribute set to None or empty is removed) or raise
    Invalid with a stable code."""
    now = time.time() if now is None else now
    extra = sorted(set(changes) - {*EDITABLE_FIELDS, "attributes"})
    if extra:
        raise Invalid("field_unknown", ", ".join(map(str, extra)))
    out: dict[str, Any] = {}
    for name in EDITABLE_FIELDS:
        if name not in changes:
            continue
        raw = changes[name]
        if name == "activated_at":
            out[name] = _activated_at(raw, now)
            continue
        if raw is not None and not isinstance(raw, str):
            raise Invalid("field_invalid", name)
        value = (raw or "").strip()
        if name == "model":
            if value and value not in models:
                raise Invalid("model_unknown", value)
            out[name] = value or None
        elif name == "mac":
            mac = normalize_mac(value) if value else None
            if value and mac is None:
                raise Invalid("mac_invalid", value)
            out[name] = mac
        elif name == "firmware":
            if value and not valid_version(value):
                raise Invalid("firmware_invalid", value)
            out[name] = value
        elif name == "screen_profile":
            if value and value not in PROFILES:
                raise Invalid("screen_profile_invalid", value)
            out[name] = value or None
        elif name == "keymap_family":
            if value and value not in families:
                raise Invalid("keymap_family_invalid", value)
            out[name] = value or None
        elif name == "installed_at":
            out[name] = _installed_at(value, now)
        elif name == "state":
            if value not in STATES:
                raise Invalid("state_unknown", value)
            out[name] = value
    if "attributes" in changes:
        attributes = changes["attributes"]
        if not isinstance(attributes, Mapping):
            raise Invalid("field_invalid", "attributes")
        clean: dict[str, str | None] = {}
        for key, value in attributes.items():
            if isinstance(value, str):
                value = value.strip() or None
            check_attribute(key, value)
            clean[key] = value
        out["attributes"] = clean
    return out


async def update_device(
    db: Database,
    serial: str,
    changes: Mapping[str, object],
    *,
    models: Collection[str],
    families: Collection[str],
    expected_version: str | None = None,
    then: Then | None = None,
    now: float | None = None,
) -> tuple[dict, dict]:
    """Correct a box's fields and attributes in one transaction; return (before, after), each
    holding only what changed (`attributes` as key -> value, None for an absent key).

    Refused: a version other than `expected_version` (Conflict `device_changed`: the box changed
    since it was read), fields of a retired box, a state change outside STATE_CHANGES, a MAC of
    another box. Retiring a box revokes its token and ends its household link; making it
    activated sets `activated_at` when missing. `then(tx, before, after)` runs inside the
    transaction when something changed (the audit entry)."""
    now = time.time() if now is None else now
    clean = validate_changes(changes, models=models, families=families, now=now)
    wanted_attributes: dict[str, str | None] = clean.pop("attributes", {})
    async with db.transaction() as tx:
        row = await tx.fetchone(
            f"SELECT id, {', '.join(_VERSIONED)} FROM devices WHERE serial = ?", (serial,)
        )
        if row is None:
            raise NotFound("device_unknown", serial)
        current = dict(row)
        attributes = {
            r[0]: r[1]
            for r in await tx.fetchall(
                "SELECT key, value FROM device_attributes WHERE device_id = ?", (row["id"],)
            )
        }
        if expected_version is not None and expected_version != record_version(current, attributes):
            raise Conflict("device_changed", serial)
        fields = {k: v for k, v in clean.items() if v != current[k]}
        if fields and current["state"] == DeviceState.RETIRED:
            raise Conflict("device_retired", serial)
        if "state" in fields and fields["state"] not in STATE_CHANGES.get(current["state"], ()):
            raise Conflict(
                "state_change_invalid",
                f"{current['state']} -> {fields['state']}",
                current=current["state"],
                wanted=fields["state"],
            )
        if fields.get("mac"):
            other = await tx.fetchone(
                "SELECT serial FROM devices WHERE mac = ? AND id != ?", (fields["mac"], row["id"])
            )
            if other is not None:
                raise Conflict("mac_taken", fields["mac"])
        if fields.get("state") == DeviceState.ACTIVATED and current["activated_at"] is None:
            fields.setdefault("activated_at", now)
        if fields.get("state") == DeviceState.RETIRED:
            fields["retired_at"] = now
        installed = fields.get("installed_at", current["installed_at"])
        activated = fields.get("activated_at", current["activated_at"])
        if (
            ("installed_at" in fields or "activated_at" in fields)
            and installed
            and activated is not None
            and clock.date(activated) < installed
        ):
            raise Invalid("activated_before_installed", f"{activated} < {installed}")
        attribute_changes = {k: v for k, v in wanted_attributes.items() if attributes.get(k) != v}
        kept = {**attributes, **attribute_changes}
        if sum(v is not None for v in kept.values()) > ATTRIBUTES_MAX:
            raise Invalid("attributes_too_many", str(ATTRIBUTES_MAX), max=ATTRIBUTES_MAX)
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            await tx.execute(
                f"UPDATE devices SET {assignments} WHERE id = ?", [*fields.values(), row["id"]]
            )
        if fields.get("state") == DeviceState.RETIRED:
            await tx.execute("DELETE FROM device_tokens WHERE device_id = ?", (row["id"],))
            await tx.execute(
                "UPDATE household_boxes SET until = ?, reason = 'retired'"
                " WHERE device_id = ? AND until IS NULL",
                (now, row["id"]),
            )
        await tx.executemany(
            "DELETE FROM device_attributes WHERE device_id = ? AND key = ?",
            [(row["id"], k) for k, v in attribute_changes.items() if v is None],
        )
        await tx.executemany(
            "INSERT INTO device_attributes (device_id, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (device_id, key) DO UPDATE SET value = excluded.value",
            [(row["id"], k, v) for k, v in attribute_changes.items() if v is not None],
        )
        before: dict[str, Any] = {name: current[name] for name in fields}
        after: dict[str, Any] = dict(fields)
        if attribute_changes:
            before["attributes"] = {k: attributes.get(k) for k in attribute_changes}
            after["attributes"] = attribute_changes
        if after and then is not None:
            await then(tx, before, after)
    return before, after
