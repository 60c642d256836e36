"""Callback requests from the 12348 hotline platform (Open311): they have no box, so they hang on
one pseudo-device (`HOTLINE-12348`, added by migration callbacks_0005) and are idempotent per
API key and client token. Searching requests for the Open311 GET endpoints lives here too.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from callbacks import lifecycle
from callbacks import requests as box_requests
from content.directory import points as directory
from storage import Database, Invalid, NotFound

HOTLINE_SERIAL = "HOTLINE-12348"
NO_OPEN_LIMIT = 10**9  # the hotline speaks for many households: no per-box open limit
TOKEN_MAX = 200


async def device_id(db: Database) -> int:
    value = await db.fetchval("SELECT id FROM devices WHERE serial = ?", (HOTLINE_SERIAL,))
    if value is None:
        raise NotFound("hotline_device_missing", HOTLINE_SERIAL)
    return int(value)


def idempotency_key(api_key_id: int, token: str | None) -> str:
    """The stored key of a hotline submission: the client's token scoped to its API key (so
    two clients never collide), or a fresh random key when it sent none."""
    if not token:
        return box_requests.new_idempotency_key()
    if len(token) > TOKEN_MAX:
        raise Invalid("token_invalid", "")
    return hashlib.sha256(f"{api_key_id}:{token}".encode()).hexdigest()[:40]


async def submit(
    db: Database,
    policy: lifecycle.Policy,
    *,
    api_key_id: int,
    service: str,
    phone: str,
    time_window: str,
    region_chain: Sequence[str],
    service_point_code: str | None = None,
    token: str | None = None,
    now: float | None = None,
) -> tuple[box_requests.CallbackRequest, bool]:
    """Validate and write one hotline request (routing and deadline as for a box); returns
    (request, created) — the same request again for a repeated token."""
    key = idempotency_key(api_key_id, token)
    draft = box_requests.validate(service, phone, time_window, key, service_point_code)
    if service_point_code:
        try:
            await directory.get_point(db, service_point_code)
        except NotFound:
            raise Invalid("service_point_invalid", service_point_code) from None
    return await lifecycle.submit(
        db,
        policy,
        await device_id(db),
        draft,
        region_chain,
        max_open=NO_OPEN_LIMIT,
        origin="open311",
        actor="open311",
        now=time.time() if now is None else now,
    )


async def office_names(db: Database, codes: Sequence[str]) -> dict[str, str]:
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    rows = await db.fetchall(
        f"SELECT code, name FROM service_points WHERE code IN ({','.join('?' * len(wanted))})",
        wanted,
    )
    return {r[0]: r[1] for r in rows}
