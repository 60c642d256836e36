"""Boxes and their entitlement: which box is known, where it sits, whether the section is on.

The legal section is on for a box exactly when it is admitted and its village (or an ancestor
region) is in a started rollout wave. Also: admission (pending boxes accepted or rejected, an
auto-accept rule by village), enrolment with a per-device token (signed, see
`device_registry.tokens`; older boxes may hold legacy tokens, only their hash stored),
replacement of a household's box, and free key-value inventory attributes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from device_registry import tokens
from device_registry.regions import RegionTree
from storage import Conflict, Database, Invalid, NotFound, OutOfScope, clock

ADMITTED_STATES = ("planned", "installed", "activated", "active", "inactive")
STATES = ("pending", "rejected", *ADMITTED_STATES, "retired")
IMPORT_STATES = ("planned", "installed", "activated")
PROFILES = ("720p", "1080p", "2160p")
DEFAULT_FAMILY = "browser"
DEFAULT_PROFILE = "1080p"
ACTIVE_DAYS = 7  # a box seen within this many days is active
SERIAL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{2,63}$")
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}([:\-]?)[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]{0,63}$")
ATTRIBUTE_KEY_RE = re.compile(r"^[a-z][a-z0-9_.\-]{0,39}$")
ATTRIBUTE_VALUE_MAX = 200
TOKEN_PREFIX = "ltvd_"  # noqa: S105 - a public prefix, not a secret


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
    token_generation: int = 0  # TV page tokens of an older generation are refused
    hls: bool = False  # the model's browser plays HLS natively (else the progressive MP4)
    language: str | None = None  # the TV language chosen for the box or its household
    mongolian_text: bool = True  # the model's browser shapes Mongolian and writes vertically

    @property
    def admitted(self) -> bool:
        return self.state in ADMITTED_STATES


async def get_box(db: Database, serial: str) -> Box | None:
    row = await db.fetchone(
        "SELECT d.id, d.serial, d.state, d.village_code, d.household_label,"
        " COALESCE(d.keymap_family, m.keymap_family, ?) AS family,"
        " COALESCE(d.screen_profile, m.screen_profile, ?) AS profile,"
        " COALESCE(m.webp, 0) AS webp, d.token_generation, COALESCE(m.hls, 0) AS hls,"
        " COALESCE(d.language, h.language) AS language, COALESCE(m.mongolian_text, 1) AS mong"
        " FROM devices d LEFT JOIN device_models m ON m.model = d.model"
        " LEFT JOIN households h ON h.id = d.household_id WHERE d.serial = ?",
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
        row["token_generation"],
        bool(row["hls"]),
        row["language"],
        bool(row["mong"]),
    )


TV_LANGUAGES = ("zh", "mn")


async def set_language(db: Database, serial: str, language: str) -> None:
    """Remember the TV language a household chose on its box: on the box and on the box's
    household (so that a replacement box starts in it), in one transaction."""
    if language not in TV_LANGUAGES:
        raise Invalid("language_invalid", language)
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "UPDATE devices SET language = ? WHERE serial = ? RETURNING household_id",
            (language, serial),
        )
        if row is None:
            raise NotFound("device_unknown", serial)
        if row[0] is not None:
            await tx.execute("UPDATE households SET language = ? WHERE id = ?", (language, row[0]))


async def revoke_tv_sessions(db: Database, serial: str, audit=None) -> int:
    """End every TV session of a box: raise its token generation, so the page tokens it was
    given are refused and only its next signed launch gets in. `audit(tx, generation)` is
    awaited inside the same transaction. Returns the new generation."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "UPDATE devices SET token_generation = token_generation + 1 WHERE serial = ?"
            " RETURNING token_generation",
            (serial,),
        )
        if row is None:
            raise NotFound("device_unknown", serial)
        if audit is not None:
            await audit(tx, row[0])
    return int(row[0])


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


# --- validation -------------------------------------------------------------------------------


def valid_serial(serial: str) -> bool:
    return bool(SERIAL_RE.match(serial or ""))


def normalize_mac(raw: str) -> str | None:
    """`AA:BB:CC:DD:EE:FF` for a MAC written with colons, dashes or nothing; None if malformed."""
    raw = (raw or "").strip()
    if not _MAC_RE.match(raw):
        return None
    digits = re.sub(r"[:\-]", "", raw).upper()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def valid_version(value: str) -> bool:
    """Firmware and portal versions: short, printable, no spaces."""
    return bool(_VERSION_RE.match(value or ""))


# The one definition of an active box, for the box list, the box page and the coverage figures:
# an installed box (any of these states) seen within the last ACTIVE_DAYS days.
INSTALLED_STATES = ("installed", "activated", "active", "inactive")


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
        return "active"
    if state == "active" or (state == "activated" and last_seen is not None):
        return "inactive"
    return state


async def mark_inactive(db: Database, now: float | None = None) -> int:
    """Active boxes not seen for 7 days become inactive; return how many changed."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        cur = await tx.execute(
            "UPDATE devices SET state = 'inactive' WHERE state = 'active' AND last_seen < ?",
            (active_since(now),),
        )
        return cur.rowcount


# --- details ----------------------------------------------------------------------------------

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


def check_attribute(key: object, value: object) -> None:
    """An attribute key is a short identifier; a value is one line of at most 200 characters
    (None removes the key)."""
    if not isinstance(key, str) or not ATTRIBUTE_KEY_RE.fullmatch(key):
        shown = str(key)[:60]
        raise Invalid("attribute_key_invalid", shown, key=shown)
    if value is not None and (
        not isinstance(value, str) or len(value) > ATTRIBUTE_VALUE_MAX or _CONTROL_RE.search(value)
    ):
        raise Invalid("attribute_value_invalid", key, key=key)


async def list_models(db: Database) -> list[dict]:
    """Known box models with their key-map family and screen profile, by name."""
    rows = await db.fetchall(
        "SELECT model, vendor, keymap_family, screen_profile FROM device_models ORDER BY model"
    )
    return [dict(r) for r in rows]


# --- corrections by staff (admin) and the operator's systems (PATCH) ---------------------------

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
STATE_CHANGES: dict[str, tuple[str, ...]] = {
    "planned": ("installed", "activated", "retired"),
    "installed": ("planned", "activated", "retired"),
    "activated": ("installed", "retired"),
    "active": ("retired",),
    "inactive": ("retired",),
    "rejected": ("pending",),
}
ATTRIBUTES_MAX = 50
EARLIEST_DATE = dt.date(2000, 1, 1)
CLOCK_SKEW_SECONDS = 300
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
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
        if fields and current["state"] == "retired":
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
        if fields.get("state") == "activated" and current["activated_at"] is None:
            fields.setdefault("activated_at", now)
        if fields.get("state") == "retired":
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
        if fields.get("state") == "retired":
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


# --- admission --------------------------------------------------------------------------------


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
                f"SELECT serial FROM devices WHERE state = 'pending' AND serial IN ({marks})",
                chunk,
            )
            changed.extend(r[0] for r in rows)
        if accept:
            await tx.executemany(
                "UPDATE devices SET state = 'installed',"
                " village_code = COALESCE(?, village_code) WHERE serial = ?",
                [(village_code, s) for s in changed],
            )
        else:
            await tx.executemany(
                "UPDATE devices SET state = 'rejected' WHERE serial = ?", [(s,) for s in changed]
            )
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
        state = "installed" if auto else "pending"
        await tx.execute(
            "INSERT INTO devices (serial, village_code, state, first_seen, last_seen,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (serial, village_code, state, now, now, now),
        )
    return state


# --- tokens and enrolment ---------------------------------------------------------------------


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


async def _new_token(tx, key: bytes, serial: str, device_id: int, now: float) -> str:
    """Inside a write transaction: a signed token of the box's next generation (the previous
    token, signed or legacy, stops working); its hash replaces the stored one."""
    generation = await tokens.next_generation(tx, device_id)
    raw = tokens.mint(key, serial, device_id, generation, now)
    await tx.execute(
        "INSERT INTO device_tokens (device_id, token_hash, issued_at) VALUES (?, ?, ?)"
        " ON CONFLICT (device_id) DO UPDATE SET token_hash = excluded.token_hash,"
        " issued_at = excluded.issued_at",
        (device_id, _token_hash(raw), now),
    )
    return raw


async def issue_token(db: Database, serial: str, *, key: bytes, now: float | None = None) -> str:
    """A new signed device token for an admitted box (the previous one stops working); shown
    once. `key`: the server's device token key (`tokens.key_of(settings.device_token_secret)`)."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT id, state FROM devices WHERE serial = ?", (serial,))
        if row is None:
            raise NotFound("device_unknown", serial)
        if row[1] not in ADMITTED_STATES:
            raise Conflict(f"device_{row[1]}", serial)
        return await _new_token(tx, key, serial, row[0], now)


async def revoke_token(db: Database, serial: str, audit=None) -> bool:
    """Revoke a box's device token (signed or legacy) without retiring the box: its beats are
    refused until a new token is issued. `audit(tx, had_token)` is awaited inside the same
    transaction. Return whether it had one."""
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT id FROM devices WHERE serial = ?", (serial,))
        if row is None:
            raise NotFound("device_unknown", serial)
        cur = await tx.execute("DELETE FROM device_tokens WHERE device_id = ?", (row[0],))
        had = cur.rowcount > 0
        if audit is not None:
            await audit(tx, had)
        return had


@dataclass(frozen=True)
class DeviceAuth:
    device_id: int
    serial: str
    state: str
    token_hash: str | None


async def device_auth(db: Database, serial: str) -> DeviceAuth | None:
    row = await db.fetchone(
        "SELECT d.id, d.serial, d.state, t.token_hash FROM devices d"
        " LEFT JOIN device_tokens t ON t.device_id = d.id WHERE d.serial = ?",
        (serial,),
    )
    return None if row is None else DeviceAuth(row[0], row[1], row[2], row[3])


def token_matches(auth: DeviceAuth, raw: str) -> bool:
    if not auth.token_hash or not raw.startswith(TOKEN_PREFIX):
        return False
    return hmac.compare_digest(auth.token_hash, _token_hash(raw))


def validate_enrolment(data: dict, tree: RegionTree, models: set[str]) -> dict:
    """Check an enrolment body; return clean fields or raise Invalid with a stable code."""
    if not isinstance(data, dict):
        raise Invalid("body_invalid", "a JSON object is expected")
    allowed = {"serial", "mac", "model", "firmware", "village_code", "household_label", "state"}
    extra = sorted(set(data) - allowed)
    if extra:
        raise Invalid("field_unknown", ", ".join(extra))
    for name in allowed:
        if name in data and data[name] is not None and not isinstance(data[name], str):
            raise Invalid("field_invalid", name)
    serial = (data.get("serial") or "").strip()
    if not valid_serial(serial):
        raise Invalid("serial_invalid", serial)
    mac = None
    if data.get("mac"):
        mac = normalize_mac(data["mac"])
        if mac is None:
            raise Invalid("mac_invalid", data["mac"])
    model = (data.get("model") or "").strip() or None
    if model is not None and model not in models:
        raise Invalid("model_unknown", model)
    firmware = (data.get("firmware") or "").strip()
    if firmware and not valid_version(firmware):
        raise Invalid("firmware_invalid", firmware)
    village = (data.get("village_code") or "").strip()
    region = tree.get(village)
    if region is None or region.level != "village":
        raise Invalid("village_unknown", village)
    label = (data.get("household_label") or "").strip()
    if len(label) > 100:
        raise Invalid("household_label_invalid", "at most 100 characters")
    state = (data.get("state") or "installed").strip()
    if state not in IMPORT_STATES:
        raise Invalid("state_invalid", state)
    return {
        "serial": serial,
        "mac": mac,
        "model": model,
        "firmware": firmware,
        "village_code": village,
        "household_label": label,
        "state": state,
    }


async def known_models(db: Database) -> set[str]:
    return {r[0] for r in await db.fetchall("SELECT model FROM device_models")}


async def enrol(
    db: Database, tree: RegionTree, data: dict, *, key: bytes, now: float | None = None
) -> tuple[bool, str]:
    """Register (or update) a box from the operator's systems, pre-authorised; a pending box is
    thereby accepted. Return (created, signed device token under `key`). A retired or rejected
    box is refused."""
    from device_registry import households

    fields = validate_enrolment(data, tree, await known_models(db))
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT id, state FROM devices WHERE serial = ?", (fields["serial"],)
        )
        if row is not None and row[1] in ("retired", "rejected"):
            raise Conflict(f"device_{row[1]}", fields["serial"])
        if fields["mac"]:
            other = await tx.fetchone(
                "SELECT serial FROM devices WHERE mac = ? AND serial != ?",
                (fields["mac"], fields["serial"]),
            )
            if other is not None:
                raise Conflict("mac_taken", fields["mac"])
        household_id = None
        if fields["household_label"]:
            household_id = await households.ensure_household(
                tx, fields["village_code"], fields["household_label"], now
            )
        if row is None:
            device_id = await tx.insert(
                "INSERT INTO devices (serial, mac, model, firmware, village_code, household_id,"
                " household_label, state, installed_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fields["serial"],
                    fields["mac"],
                    fields["model"],
                    fields["firmware"],
                    fields["village_code"],
                    household_id,
                    fields["household_label"],
                    fields["state"],
                    _today(now),
                    now,
                ),
            )
        else:
            device_id = row[0]
            state = fields["state"] if row[1] == "pending" else row[1]
            await tx.execute(
                "UPDATE devices SET mac = COALESCE(?, mac), model = COALESCE(?, model),"
                " firmware = CASE WHEN ? != '' THEN ? ELSE firmware END, village_code = ?,"
                " household_id = ?, household_label = ?, state = ?,"
                " installed_at = COALESCE(installed_at, ?) WHERE id = ?",
                (
                    fields["mac"],
                    fields["model"],
                    fields["firmware"],
                    fields["firmware"],
                    fields["village_code"],
                    household_id,
                    fields["household_label"],
                    state,
                    _today(now),
                    device_id,
                ),
            )
        if household_id is not None:
            await households.link_box(tx, household_id, device_id, now, "enrolled")
        raw = await _new_token(tx, key, fields["serial"], device_id, now)
    return row is None, raw


def _today(now: float) -> str:
    return clock.date(now)


# --- replacement ------------------------------------------------------------------------------


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
        if new is not None and new["state"] not in ("pending", "planned", "installed"):
            raise Conflict("replacement_box_in_use", new_serial)
        household_id = old["household_id"]
        if household_id is None:
            label = old["household_label"] or old_serial
            household_id = await households.ensure_household(tx, old["village_code"], label, now)
        if new is None:
            new_id = await tx.insert(
                "INSERT INTO devices (serial, village_code, household_id, household_label,"
                " state, installed_at, created_at) VALUES (?, ?, ?, ?, 'installed', ?, ?)",
                (
                    new_serial,
                    old["village_code"],
                    household_id,
                    old["household_label"],
                    _today(now),
                    now,
                ),
            )
        else:
            new_id = new["id"]
            await tx.execute(
                "UPDATE devices SET village_code = ?, household_id = ?, household_label = ?,"
                " state = 'installed', installed_at = COALESCE(installed_at, ?) WHERE id = ?",
                (old["village_code"], household_id, old["household_label"], _today(now), new_id),
            )
        await tx.execute(
            "UPDATE devices SET state = 'retired', retired_at = ?, replaced_by = ?,"
            " household_id = ? WHERE id = ?",
            (now, new_id, household_id, old["id"]),
        )
        await tx.execute("DELETE FROM device_tokens WHERE device_id = ?", (old["id"],))
        await households.link_box(tx, household_id, old["id"], now, "installed")
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
    return new_id


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]
