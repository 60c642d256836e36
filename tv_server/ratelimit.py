"""Sliding-window rate limits kept in memory: admin login attempts per client address, and the
boxes' self-registration in the device API (per address, and new boxes per minute overall)."""

from __future__ import annotations

import math
import time
from collections import deque


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


def retry_after_header(seconds: float) -> str:
    """The Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
