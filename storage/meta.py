"""Flags and small values of the installation itself, in the `meta` table (key → value)."""

from __future__ import annotations

import time

from storage.database import Database


async def any_set(db: Database, *keys: str) -> bool:
    """Whether any of these keys holds a (non-empty) value."""
    marks = ", ".join("?" * len(keys))
    return bool(await db.fetchval(f"SELECT value FROM meta WHERE key IN ({marks})", keys))


async def set_flag(db: Database, key: str) -> None:
    """Set `key` to '1' (kept when already set; its time moves on)."""
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO meta (key, value, updated_at) VALUES (?, '1', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = '1', updated_at = excluded.updated_at",
            (key, time.time()),
        )
