"""Drafts on the box: what a household typed before it confirms (a callback request or an
appointment), kept server-side so the phone number never goes into a URL.

Anyone holding a box's page token can make drafts, so everything a draft stores is bounded: the
typed number is looked at up to PHONE_INPUT_MAX characters and validated, a draft expires after
DRAFT_TTL_SECONDS, and a box keeps at most DRAFTS_PER_BOX per table (its oldest is replaced).
A draft is only ever read or updated by the box that made it.

The table and its columns come from the fixed allow-list `_TABLES`, never from input.
"""

from __future__ import annotations

import secrets

from callbacks import phones
from storage import Database, Invalid
from storage.database import Transaction

DRAFT_TTL_SECONDS = 24 * 3600
DRAFTS_PER_BOX = 5
DRAFT_ID_MAX = 64
PHONE_INPUT_MAX = 32  # characters of typed input looked at (a number has at most 12 digits)

# table -> the columns a draft holds besides id, device_id and created_at (in this order).
_TABLES = {
    "callback_drafts": ("service", "service_point_code", "phone_e164", "topic", "adviser_id"),
    "appointment_drafts": ("service", "point_code", "phone_e164"),
}


def new_draft_id() -> str:
    return secrets.token_hex(12)


def valid_draft_id(draft_id: str | None) -> bool:
    if not draft_id or len(draft_id) > DRAFT_ID_MAX:
        return False
    return draft_id.isascii() and draft_id.isalnum()


def phone_e164(phone_digits: str) -> str:
    """The typed number as E.164; Invalid('phone_invalid') for an overlong or invalid one."""
    if len(phone_digits) > PHONE_INPUT_MAX:
        raise Invalid("phone_invalid", "length")
    return phones.normalise(phone_digits)


def _columns(table: str) -> tuple[str, ...]:
    if table not in _TABLES:
        raise ValueError(f"not a draft table: {table!r}")
    return _TABLES[table]


async def write(
    tx: Transaction, table: str, device_id: int, draft_id: str | None, values: tuple, now: float
) -> str:
    """Drop expired drafts, then update this box's draft `draft_id` with `values` (the table's
    columns in `_TABLES` order) or, when the box holds no such draft, make room (keep the box's
    newest DRAFTS_PER_BOX - 1) and insert a new one. Returns the draft's id."""
    columns = _columns(table)
    if len(values) != len(columns):
        raise ValueError("one value per draft column")
    await tx.execute(f"DELETE FROM {table} WHERE created_at < ?", (now - DRAFT_TTL_SECONDS,))
    existing = None
    if draft_id and valid_draft_id(draft_id):
        existing = await tx.fetchone(
            f"SELECT id FROM {table} WHERE id = ? AND device_id = ?", (draft_id, device_id)
        )
    if existing is not None:
        assignments = ", ".join(f"{column} = ?" for column in columns)
        await tx.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*values, draft_id))
        return draft_id
    # Room for the new one: keep this box's newest DRAFTS_PER_BOX - 1.
    await tx.execute(
        f"DELETE FROM {table} WHERE device_id = ? AND id NOT IN"
        f" (SELECT id FROM {table} WHERE device_id = ?"
        " ORDER BY created_at DESC, rowid DESC LIMIT ?)",
        (device_id, device_id, DRAFTS_PER_BOX - 1),
    )
    draft_id = new_draft_id()
    marks = ", ".join("?" for _ in range(len(columns) + 3))
    await tx.execute(
        f"INSERT INTO {table} (id, device_id, {', '.join(columns)}, created_at) VALUES ({marks})",
        (draft_id, device_id, *values, now),
    )
    return draft_id


async def read(db: Database, table: str, device_id: int, draft_id: str) -> tuple | None:
    """This box's draft `draft_id` as (id, *columns in `_TABLES` order), or None (unknown,
    another box's or a malformed id)."""
    columns = _columns(table)
    if not valid_draft_id(draft_id):
        return None
    row = await db.fetchone(
        f"SELECT id, {', '.join(columns)} FROM {table} WHERE id = ? AND device_id = ?",
        (draft_id, device_id),
    )
    return None if row is None else tuple(row[i] for i in range(len(columns) + 1))
