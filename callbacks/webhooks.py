"""Outbound webhooks for callback-request events (and the legal review digest): endpoints and a
persisted outbox.

Every request event is queued, inside the transaction that makes it, once per active endpoint
(with a stable delivery id, so receivers can drop duplicates: delivery is at least once). A
sender (tv_server/callback_tasks.py) posts due rows; failures back off exponentially per row, so
a dead endpoint only delays its own rows. Bodies carry codes and states only, never free text
(staff notes and reasons may hold a phone number), so they never hold a phone number.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from storage import Conflict, Database, Invalid, NotFound
from storage.database import Transaction

BASE_DELAY = 5.0  # seconds before the first retry; doubled per failure
MAX_DELAY = 3600.0
MAX_ATTEMPTS = 20  # then the row is given up (still listed, never blocks anything)
SIGNATURE_HEADER = "X-LegalTV-Signature"
DELIVERY_HEADER = "X-LegalTV-Delivery"
EVENT_HEADER = "X-LegalTV-Event"


@dataclass(frozen=True)
class Endpoint:
    id: int
    name: str
    url: str
    secret: str
    active: bool


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint_id: int
    url: str
    secret: str
    delivery_id: str
    event_type: str
    payload: str
    attempts: int


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """'t=TIMESTAMP,v1=HEX' where HEX = HMAC-SHA256(secret, 'TIMESTAMP.' + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, tolerance: float = 300, now=None) -> bool:
    """What a receiver does: recompute the signature and check the timestamp is recent."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def backoff(attempts: int) -> float:
    """Delay after the n-th failed attempt: 5 s, 10 s, 20 s … capped at an hour."""
    return min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1))


async def add_endpoint(db: Database, name: str, url: str, secret: str | None = None) -> Endpoint:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("webhook_url_invalid", url)
    if not name.strip():
        raise Invalid("webhook_name_required", name)
    secret = secret or secrets.token_hex(24)
    async with db.transaction() as tx:
        if await tx.fetchone("SELECT 1 FROM webhook_endpoints WHERE name = ?", (name,)):
            raise Conflict("webhook_name_taken", name)
        endpoint_id = await tx.insert(
            "INSERT INTO webhook_endpoints (name, url, secret, created_at) VALUES (?, ?, ?, ?)",
            (name.strip(), url, secret, time.time()),
        )
    return Endpoint(endpoint_id, name.strip(), url, secret, True)


async def set_active(db: Database, endpoint_id: int, active: bool) -> None:
    async with db.transaction() as tx:
        cur = await tx.execute(
            "UPDATE webhook_endpoints SET active = ? WHERE id = ?", (int(active), endpoint_id)
        )
        if cur.rowcount == 0:
            raise NotFound("webhook_not_found", str(endpoint_id))


async def list_endpoints(db: Database) -> list[Endpoint]:
    rows = await db.fetchall(
        "SELECT id, name, url, secret, active FROM webhook_endpoints ORDER BY id"
    )
    return [Endpoint(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


async def enqueue(tx: Transaction, event_id: int, now: float) -> int:
    """Queue one request event for every active endpoint (inside the event's transaction)."""
    endpoints = await tx.fetchall("SELECT id FROM webhook_endpoints WHERE active = 1")
    if not endpoints:
        return 0
    row = await tx.fetchone(
        "SELECT e.id, e.at, e.kind, e.actor, e.from_status, e.to_status, e.outcome,"
        " r.ref, r.service, r.office_code, r.region_code, r.status, r.origin, r.due_at"
        " FROM callback_events e JOIN callback_requests r ON r.id = e.request_id"
        " WHERE e.id = ?",
        (event_id,),
    )
    event_type = f"callback.{row['kind']}"
    body = {
        "event": event_type,
        "event_id": row["id"],
        "at": row["at"],
        "actor": row["actor"],
        "from_status": row["from_status"],
        "to_status": row["to_status"],
        "outcome": row["outcome"],
        "request": {
            "ref": row["ref"],
            "service": row["service"],
            "office": row["office_code"],
            "region": row["region_code"],
            "status": row["status"],
            "origin": row["origin"],
            "due_at": row["due_at"],
        },
    }
    rows = []
    for endpoint in endpoints:
        delivery_id = f"evt-{event_id}-ep-{endpoint[0]}"
        payload = json.dumps(
            {**body, "delivery_id": delivery_id}, ensure_ascii=False, sort_keys=True
        )
        rows.append((endpoint[0], delivery_id, event_type, payload, now, now))
    await tx.executemany(
        "INSERT INTO webhook_outbox (endpoint_id, delivery_id, event_type, payload,"
        " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


async def enqueue_event(tx: Transaction, event_type: str, body: dict, key: str, now: float) -> int:
    """Queue an event of another domain (e.g. `legal.review_digest`) for every active endpoint,
    inside the caller's transaction; `key` makes the delivery ids (stable, so receivers can
    drop duplicates). Returns the number of deliveries queued."""
    endpoints = await tx.fetchall("SELECT id FROM webhook_endpoints WHERE active = 1")
    rows = []
    for endpoint in endpoints:
        delivery_id = f"{key}-ep-{endpoint[0]}"
        payload = json.dumps(
            {**body, "event": event_type, "delivery_id": delivery_id},
            ensure_ascii=False,
            sort_keys=True,
        )
        rows.append((endpoint[0], delivery_id, event_type, payload, now, now))
    await tx.executemany(
        "INSERT INTO webhook_outbox (endpoint_id, delivery_id, event_type, payload,"
        " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


async def due(db: Database, now: float, limit: int = 50) -> list[Delivery]:
    """Rows to try now, oldest first, at most a few per endpoint so none hogs a round."""
    rows = await db.fetchall(
        "SELECT o.id, o.endpoint_id, w.url, w.secret, o.delivery_id, o.event_type, o.payload,"
        " o.attempts FROM webhook_outbox o JOIN webhook_endpoints w ON w.id = o.endpoint_id"
        " WHERE o.delivered_at IS NULL AND o.given_up_at IS NULL AND o.next_attempt_at <= ?"
        " AND w.active = 1 ORDER BY o.next_attempt_at, o.id LIMIT ?",
        (now, limit * 4),
    )
    per_endpoint: dict[int, int] = {}
    out = []
    for r in rows:
        n = per_endpoint.get(r[1], 0)
        if n >= 10:
            continue
        per_endpoint[r[1]] = n + 1
        out.append(Delivery(*[r[i] for i in range(8)]))
        if len(out) >= limit:
            break
    return out


async def delivered(db: Database, outbox_id: int, now: float) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE webhook_outbox SET delivered_at = ?, attempts = attempts + 1, last_error = ''"
            " WHERE id = ?",
            (now, outbox_id),
        )


async def failed(db: Database, outbox_id: int, error: str, now: float) -> float | None:
    """Record a failure; return when it will be retried (None when given up)."""
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT attempts FROM webhook_outbox WHERE id = ?", (outbox_id,))
        attempts = row[0] + 1
        if attempts >= MAX_ATTEMPTS:
            await tx.execute(
                "UPDATE webhook_outbox SET attempts = ?, given_up_at = ?, last_error = ?"
                " WHERE id = ?",
                (attempts, now, error[:500], outbox_id),
            )
            return None
        retry = now + backoff(attempts)
        await tx.execute(
            "UPDATE webhook_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?"
            " WHERE id = ?",
            (attempts, retry, error[:500], outbox_id),
        )
    return retry


async def pending_count(db: Database) -> int:
    return int(
        await db.fetchval(
            "SELECT COUNT(*) FROM webhook_outbox WHERE delivered_at IS NULL AND given_up_at IS NULL"
        )
    )


async def forget_events(tx: Transaction, event_ids: list[int]) -> None:
    """Drop the outbox rows of these events (inside the caller's transaction), e.g. when a
    request's personal data is erased. Delivery ids are 'evt-{event}-ep-{endpoint}'."""
    for event_id in event_ids:
        prefix = f"evt-{event_id}-ep-"
        # A range on the unique index: every id starting with the prefix ('.' follows '-').
        await tx.execute(
            "DELETE FROM webhook_outbox WHERE delivery_id >= ? AND delivery_id < ?",
            (prefix, prefix[:-1] + "."),
        )


async def purge(db: Database, retention_days: float, now: float | None = None) -> int:
    """Delete outbox rows queued more than `retention_days` ago: delivered, given up, or still
    waiting on an endpoint that was switched off (an active endpoint's row is delivered or given
    up within a day). Returns how many were deleted."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        cur = await tx.execute(
            "DELETE FROM webhook_outbox WHERE created_at < ?", (now - retention_days * 86400,)
        )
        return cur.rowcount
