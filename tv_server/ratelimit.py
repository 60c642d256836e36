"""Sliding-window rate limits kept in memory: admin login attempts per client address, and the
boxes' self-registration in the device API (per address, and new boxes per minute overall).

Those limits hold across nodes (`SharedLimit`): on PostgreSQL, where several processes may
share the database, a hit this node's window allows is counted in the database as well
(storage/limits.py). The other limits are per node (docs/scaling.md lists them)."""

from __future__ import annotations

import math
import time
from collections import deque

from storage.limits import SharedWindow


class SlidingWindow:
    """At most `limit` hits per key within the last `window` seconds. Refused hits are not
    counted, so waiting always helps."""

    MAX_KEYS = 10_000

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Record a hit and return 0, or return the seconds until one is allowed again."""
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(hits[0] + self.window - now, 0.001)
        hits.append(now)
        if len(self._hits) > self.MAX_KEYS:
            self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < self.window}
        return 0.0

    def allow(self, key: str, now: float | None = None) -> bool:
        return self.retry_after(key, now) == 0.0


class SharedLimit:
    """At most `limit` hits per key within `window` seconds on every node together. This node's
    window answers first (a flood is refused from memory, without a query); what it allows is
    then counted in the database when that is PostgreSQL (on SQLite there is one process, so
    the node's window is the whole count)."""

    def __init__(self, name: str, limit: int, window: float) -> None:
        self.node = SlidingWindow(limit, window)
        self.shared = SharedWindow(name, limit, window)

    async def retry_after(self, db, key: str) -> float:
        """Record a hit and return 0, or return the seconds until one is allowed again."""
        wait = self.node.retry_after(key)
        if wait or db.backend != "postgresql":
            return wait
        return await self.shared.retry_after(db, key)


def retry_after_header(seconds: float) -> str:
    """The Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
