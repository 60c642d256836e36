"""Rate limits kept in the database, so that they hold across every process on it.

Each node keeps its own sliding windows in memory (`tv_server.ratelimit`); with several nodes on
one PostgreSQL database an attacker spreading attempts over the nodes would get the limit once
per node. The limits that must hold across nodes (admin login attempts per address,
self-registration per address and new boxes per minute) also count their hits here, in the
table `rate_limit_hits`, in one serialised write transaction per hit (docs/scaling.md).

Keys are stored as a hash, not in clear (the audit log is where client addresses are kept),
and every check first erases the limit's hits that have left its window, so the table holds at
most `limit` rows per key per window.
"""

from __future__ import annotations

import hashlib
import time


def _key(name: str, key: str) -> str:
    return name + ":" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


class SharedWindow:
    """At most `limit` hits per key within the last `window` seconds, counted over every
    process on the database (wall-clock times: processes share no monotonic clock). Refused
    hits are not counted, so waiting always helps."""

    def __init__(self, name: str, limit: int, window: float) -> None:
        self.name = name
        self.limit = limit
        self.window = window

    async def retry_after(self, db, key: str, now: float | None = None) -> float:
        """Record a hit and return 0, or return the seconds until one is allowed again."""
        now = time.time() if now is None else now
        bucket = _key(self.name, key)
        async with db.transaction() as tx:
            await tx.execute(
                "DELETE FROM rate_limit_hits WHERE name = ? AND at <= ?",
                (self.name, now - self.window),
            )
            count, oldest = await tx.fetchone(
                "SELECT COUNT(*), MIN(at) FROM rate_limit_hits WHERE bucket = ?", (bucket,)
            )
            if count >= self.limit:
                return max(oldest + self.window - now, 0.001)
            await tx.execute(
                "INSERT INTO rate_limit_hits (name, bucket, at) VALUES (?, ?, ?)",
                (self.name, bucket, now),
            )
        return 0.0
