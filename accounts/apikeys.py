"""API keys for machine clients (the 12348 hotline platform, operator systems).

A key is shown once at creation (`ltv_<prefix>_<secret>`); only its SHA-256 hash and the short
prefix (for lookup) are stored. Keys carry scopes, can be disabled or revoked, and record when
they were last used. Creating, disabling and revoking are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from accounts import audit
from storage import Conflict, Database, Invalid, NotFound

SCOPES = {
    "open311:read": "read callback requests through Open311 (GET requests.json)",
    "open311:write": "create callback requests through Open311 (POST requests.json)",
    "coverage:read": "read coverage figures",
    "devices:write": "enrol and update devices",
    "devices:read": "read the device registry",
    "appointments:read": "read appointments at service points (read-only, for the hotline)",
}
PREFIX = "ltv_"
NAME_MAX = 64
LAST_USED_EVERY = 60.0  # seconds: last_used_at is written at most this often per key


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    disabled: bool
    created_at: float
    revoked_at: float | None
    last_used_at: float | None

    @property
    def active(self) -> bool:
        return not self.disabled and self.revoked_at is None


_COLUMNS = "id, name, prefix, scopes, disabled, created_at, revoked_at, last_used_at"


def _key(row) -> ApiKey:
    return ApiKey(
        row[0], row[1], row[2], tuple(row[3].split()), bool(row[4]), row[5], row[6], row[7]
    )


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _split(raw: str) -> str | None:
    """The lookup prefix of a presented key, or None when it does not look like one of ours."""
    if not raw.startswith(PREFIX):
        return None
    prefix, sep, secret = raw[len(PREFIX) :].partition("_")
    if not sep or len(prefix) != 8 or not secret:
        return None
    return prefix


async def create(
    db: Database, name: str, scopes: list[str] | tuple[str, ...], *, via: str = "cli"
) -> tuple[ApiKey, str]:
    """Create a key; return it with its plain text (shown once, never stored)."""
    name = name.strip()
    if not name or len(name) > NAME_MAX or not name.replace("-", "").replace("_", "").isalnum():
        raise Invalid("apikey_name_invalid", name)
    wanted = sorted(set(scopes))
    if not wanted:
        raise Invalid("apikey_scope_required", "")
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise Invalid("apikey_scope_invalid", ", ".join(unknown))
    now = time.time()
    async with db.transaction() as tx:
        if await tx.fetchone("SELECT 1 FROM api_keys WHERE name = ?", (name,)):
            raise Conflict("apikey_name_taken", name)
        for _attempt in range(5):
            prefix = secrets.token_hex(4)
            if not await tx.fetchone("SELECT 1 FROM api_keys WHERE prefix = ?", (prefix,)):
                break
        raw = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        key_id = await tx.insert(
            "INSERT INTO api_keys (name, prefix, key_hash, scopes, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, prefix, _hash(raw), " ".join(wanted), now),
        )
        await audit.record(
            tx,
            user=None,
            action="apikey.create",
            object_type="apikey",
            object_id=name,
            detail={"scopes": wanted, "prefix": prefix, "via": via},
        )
        row = await tx.fetchone(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
    return _key(row), raw


async def list_keys(db: Database) -> list[ApiKey]:
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM api_keys ORDER BY name")
    return [_key(r) for r in rows]


async def get(db: Database, name: str) -> ApiKey:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM api_keys WHERE name = ?", (name,))
    if row is None:
        raise NotFound("apikey_not_found", name)
    return _key(row)


async def _change(db: Database, name: str, sql: str, params: tuple, action: str, via: str) -> None:
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT id, revoked_at FROM api_keys WHERE name = ?", (name,))
        if row is None:
            raise NotFound("apikey_not_found", name)
        if row[1] is not None:
            raise Conflict("apikey_revoked", name)
        await tx.execute(sql, (*params, row[0]))
        await audit.record(
            tx,
            user=None,
            action=action,
            object_type="apikey",
            object_id=name,
            detail={"via": via},
        )


async def revoke(db: Database, name: str, *, via: str = "cli") -> None:
    """Revoke for good: the key never authenticates again (the row stays for the audit)."""
    await _change(
        db,
        name,
        "UPDATE api_keys SET revoked_at = ? WHERE id = ?",
        (time.time(),),
        "apikey.revoke",
        via,
    )


async def set_disabled(db: Database, name: str, disabled: bool, *, via: str = "cli") -> None:
    """Disable (or enable again) a key without revoking it."""
    await _change(
        db,
        name,
        "UPDATE api_keys SET disabled = ? WHERE id = ?",
        (int(disabled),),
        "apikey.disable" if disabled else "apikey.enable",
        via,
    )


async def authenticate(db: Database, raw: str, scope: str, now: float | None = None) -> ApiKey:
    """The active key presented as `raw`, holding `scope`. Raises Invalid('api_key_invalid')
    for a missing, unknown, disabled or revoked key and Invalid('api_key_scope') for a key
    without the scope. Notes the use (at most every LAST_USED_EVERY seconds per key)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope}")
    prefix = _split(raw or "")
    if prefix is None:
        raise Invalid("api_key_invalid", "")
    row = await db.fetchone(
        f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE prefix = ?", (prefix,)
    )
    if row is None or not hmac.compare_digest(row[8], _hash(raw)):
        raise Invalid("api_key_invalid", prefix)
    key = _key(row)
    if not key.active:
        raise Invalid("api_key_invalid", prefix)
    if scope not in key.scopes:
        raise Invalid("api_key_scope", scope)
    now = time.time() if now is None else now
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        await db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now, key.id))
    return key
