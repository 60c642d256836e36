"""Device tokens that verify without the database.

A token is `ltvd_1.<device id>.<generation>.<issued>.<mac>`: `mac` is HMAC-SHA256 under the
server's device token key (setting `device_token_secret`) over the box's serial, device id, token
generation and issue time, so checking one costs a hash of a few dozen bytes and no query.

Revocation is by generation. `device_token_state` holds, per box that ever had a signed token, the
generation now valid and, when the box may not beat at all, why (`refusal`: retired, rejected,
pending, unknown). Issuing a token moves the generation on (the previous token stops working);
database triggers (schema `registry_205_device_token_state`) move it on and set the refusal when a
box's token is deleted (staff revoke, retirement, replacement) or its state leaves the admitted
states, whichever code path or process made the change. Every change bumps the row's `seq`, so
`TokenLedger.refresh()` reads only what changed since its last look.

Tokens made before this scheme (`ltvd_` + random, only their hash stored in `device_tokens`) keep
working until the box's token is rotated (its next enrolment or token issue gives it a signed one).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time

from device_registry.states import REFUSED_STATES
from storage import Database

PREFIX = "ltvd_1."  # the signed scheme; legacy tokens are "ltvd_" + urlsafe base64 (no '.')
REFUSED = REFUSED_STATES  # states whose boxes may not beat


def key_of(secret: str) -> bytes:
    """The HMAC key of a configured or generated `device_token_secret`."""
    if not secret:
        raise ValueError("device_token_secret is empty")
    return secret.encode("utf-8")


def _mac(key: bytes, serial: str, device_id: str, generation: str, issued: str) -> str:
    """Over the fields as written in the token (so "07" and "7" differ: one spelling only)."""
    message = f"ltvd1|{serial}|{device_id}|{generation}|{issued}".encode()
    digest = hmac.digest(key, message, hashlib.sha256)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def mint(key: bytes, serial: str, device_id: int, generation: int, issued: float) -> str:
    """A signed token for generation `generation` of this box (the caller records the
    generation, see `enrolment.issue_token`)."""
    fields = (str(int(device_id)), str(int(generation)), str(int(issued)))
    return f"{PREFIX}{'.'.join(fields)}.{_mac(key, serial, *fields)}"


def is_signed(raw: str) -> bool:
    return raw.startswith(PREFIX)


def verify(key: bytes, serial: str, raw: str) -> tuple[int, int] | None:
    """(device id, generation) of a signed token whose MAC is right for this serial; else None.
    Says nothing about revocation (`TokenLedger.refusal`)."""
    parts = raw[len(PREFIX) :].split(".")
    if len(parts) != 4 or not raw.startswith(PREFIX):
        return None
    device_id, generation, issued, mac = parts
    if not (device_id.isdigit() and generation.isdigit() and issued.isdigit()):
        return None
    if len(device_id) > 18 or len(generation) > 18 or len(issued) > 18:
        return None
    expected = _mac(key, serial, device_id, generation, issued)
    if not hmac.compare_digest(expected.encode("ascii"), mac.encode("ascii", "replace")):
        return None
    return int(device_id), int(generation)


async def next_generation(tx, device_id: int) -> int:
    """Inside a write transaction: make the next generation the valid one and return it."""
    await tx.execute(
        "INSERT INTO device_token_state (device_id, generation, refusal, seq)"
        " VALUES (?, 1, NULL, (SELECT COALESCE(MAX(seq), 0) + 1 FROM device_token_state))"
        " ON CONFLICT (device_id) DO UPDATE SET"
        " generation = device_token_state.generation + 1, refusal = NULL, seq = excluded.seq",
        (device_id,),
    )
    row = await tx.fetchone(
        "SELECT generation FROM device_token_state WHERE device_id = ?", (device_id,)
    )
    return int(row[0])


class TokenLedger:
    """The in-memory copy of `device_token_state`: per box, the lowest generation still valid
    and why a box may not beat. Loaded at start, then kept current by `refresh()` (only rows
    whose `seq` moved). Signed tokens of a generation above the known one are accepted: only
    the server mints tokens, so such a token was issued since the last refresh (by another
    process); the token it replaced is refused from the next refresh on."""

    def __init__(self, db: Database, key: bytes) -> None:
        self.db = db
        self.key = key
        self.generations: dict[int, int] = {}
        self.refusals: dict[int, str] = {}
        self.seq = 0
        self.refreshed_at = 0.0  # monotonic
        self.refreshes = 0
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Read the rows changed since the last refresh (all of them the first time)."""
        async with self._lock:
            stamp = time.monotonic()
            rows = await self.db.fetchall(
                "SELECT device_id, generation, refusal, seq FROM device_token_state"
                " WHERE seq > ? ORDER BY seq",
                (self.seq,),
            )
            for device_id, generation, refusal, seq in rows:
                self.generations[device_id] = generation
                if refusal:
                    self.refusals[device_id] = refusal
                else:
                    self.refusals.pop(device_id, None)
                self.seq = max(self.seq, seq)
            self.refreshed_at = stamp
            self.refreshes += 1

    def refusal(self, device_id: int, generation: int) -> str | None:
        """None when a verified token of this generation is good now; otherwise the refusal:
        'retired', 'rejected', 'pending', 'unknown' (the box is gone) or 'revoked'."""
        refused = self.refusals.get(device_id)
        if refused is not None:
            return refused
        if generation < self.generations.get(device_id, 0):
            return "revoked"
        return None
