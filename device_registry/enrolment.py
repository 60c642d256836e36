"""Enrolment of a box through the device API and its device token: issued signed (see
`device_registry.tokens`), revoked by staff or the CLI; older boxes may hold legacy tokens, only
their hash stored."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from device_registry import tokens
from device_registry.regions import RegionTree
from device_registry.states import ADMITTED_STATES, IMPORT_STATES, DeviceState
from device_registry.validation import normalize_mac, valid_serial, valid_version
from storage import Conflict, Database, Invalid, NotFound, clock

TOKEN_PREFIX = "ltvd_"  # noqa: S105 - a public prefix, not a secret


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
        tx.emit("box", [serial])  # the previous token (legacy ones verified lately too) goes
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
        tx.emit("box", [serial])  # legacy tokens verified lately go too
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
    state = (data.get("state") or DeviceState.INSTALLED).strip()
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
        if row is not None and row[1] in (DeviceState.RETIRED, DeviceState.REJECTED):
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
                    clock.date(now),
                    now,
                ),
            )
        else:
            device_id = row[0]
            state = fields["state"] if row[1] == DeviceState.PENDING else row[1]
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
                    clock.date(now),
                    device_id,
                ),
            )
        if household_id is not None:
            await households.link_box(tx, household_id, device_id, now, "enrolled")
        raw = await _new_token(tx, key, fields["serial"], device_id, now)
        tx.emit("box", [fields["serial"]])  # its cached view and tokens follow once committed
    return row is None, raw
