"""Usage records (launches, program views, reading progress), written in batches.

A box's page view must not wait on a disk write: `UsageRecorder.record_*` only appends to memory;
`flush()` (run by a background task every few seconds and at shutdown) writes everything in one
transaction. Reading progress not yet flushed is served from memory.

Every view counts (a Back press that shows a page again is a view again), but the views of one
page by one box within one minute are kept as one row with a count `n` (its `at` is the first of
them): a box paging back and forth, or a screen reloaded in a loop, costs one row a minute rather
than one per request.
"""

from __future__ import annotations

import time

from storage import Database

VIEW_BUCKET_SECONDS = 60


class UsageRecorder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._events: list[tuple[int, str, int | None, int | None, float]] = []
        # (device, program, page, minute) -> [first at, views]
        self._views: dict[tuple[int, int, int, int], list] = {}
        self._progress: dict[tuple[int, int], tuple[int, float]] = {}
        # The progress a flush is writing: still the answer until its transaction committed.
        self._writing: dict[tuple[int, int], tuple[int, float]] = {}
        self._seen: dict[int, float] = {}
        self._launched: dict[int, int] = {}
        # The most recent (at, program, page) per box, so home needs no query for it.
        self._latest: dict[int, tuple[float, int, int] | None] = {}

    def record_launch(self, device_id: int, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._events.append((device_id, "launch", None, None, now))
        self._launched[device_id] = self._launched.get(device_id, 0) + 1
        self._seen[device_id] = now

    def record_view(self, device_id: int, program_id: int, page: int, now: float | None = None):
        now = time.time() if now is None else now
        key = (device_id, program_id, page, int(now // VIEW_BUCKET_SECONDS))
        counted = self._views.get(key)
        if counted is None:
            self._views[key] = [now, 1]
        else:
            counted[1] += 1
        self._progress[(device_id, program_id)] = (page, now)
        self._seen[device_id] = now
        if len(self._latest) > 200_000:
            self._latest.clear()
        self._latest[device_id] = (now, program_id, page)

    def touch(self, device_id: int, now: float | None = None) -> None:
        self._seen[device_id] = time.time() if now is None else now

    @property
    def pending(self) -> int:
        return len(self._events) + len(self._views) + len(self._seen)

    async def flush(self) -> int:
        """Write everything recorded so far in one transaction; return the number of events."""
        if not (self._events or self._views or self._seen):
            return 0
        events, self._events = self._events, []
        views, self._views = self._views, {}
        progress, self._progress = self._progress, {}
        seen, self._seen = self._seen, {}
        launched, self._launched = self._launched, {}
        self._writing = progress
        try:
            async with self.db.transaction() as tx:
                await tx.executemany(
                    "INSERT INTO usage_events (device_id, kind, program_id, page, at, n)"
                    " VALUES (?, ?, ?, ?, ?, 1)",
                    events,
                )
                await tx.executemany(
                    "INSERT INTO usage_events (device_id, kind, program_id, page, at, n)"
                    " VALUES (?, 'view', ?, ?, ?, ?)",
                    [(d, p, page, at, n) for (d, p, page, _m), (at, n) in views.items()],
                )
                await tx.executemany(
                    "INSERT INTO device_progress (device_id, program_id, page, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (device_id, program_id) DO UPDATE SET"
                    " page = excluded.page, updated_at = excluded.updated_at",
                    [(d, p, page, at) for (d, p), (page, at) in progress.items()],
                )
                await tx.executemany(
                    "UPDATE devices SET last_seen = MAX(COALESCE(last_seen, 0), ?),"
                    " first_seen = COALESCE(first_seen, ?), launches = launches + ? WHERE id = ?",
                    [(at, at, launched.get(d, 0), d) for d, at in seen.items()],
                )
        except BaseException:
            # Keep the records for the next attempt rather than losing them.
            self._events = events + self._events
            for key, (at, n) in views.items():
                counted = self._views.setdefault(key, [at, 0])
                counted[0], counted[1] = min(counted[0], at), counted[1] + n
            for key, value in progress.items():
                self._progress.setdefault(key, value)
            for key, value in seen.items():
                self._seen.setdefault(key, value)
            for key, value in launched.items():
                self._launched[key] = self._launched.get(key, 0) + value
            raise
        finally:
            self._writing = {}
        return len(events) + sum(n for _at, n in views.values())

    async def last_progress(self, device_id: int) -> tuple[int, int] | None:
        """(program_id, page) the box read most recently, flushed or not."""
        query = self.progress_query(device_id)
        rows = [] if query is None else await self.db.fetchall(*query)
        return self.progress_from(device_id, rows, query is not None)

    def progress_query(self, device_id: int) -> tuple[str, tuple] | None:
        """The read `last_progress` needs (None when this process knows the answer already), for
        a screen that runs it with its other facts in one trip; `progress_from` reads its rows."""
        if device_id in self._latest:
            return None
        return (
            "SELECT updated_at, program_id, page FROM device_progress WHERE device_id = ?"
            " ORDER BY updated_at DESC LIMIT 1",
            (device_id,),
        )

    def progress_from(self, device_id: int, rows, read: bool = True) -> tuple[int, int] | None:
        if read:
            known = self._latest.get(device_id)  # a view may have arrived meanwhile
            if known is None and rows:
                known = (rows[0][0], rows[0][1], rows[0][2])
            if len(self._latest) > 200_000:
                self._latest.clear()
            self._latest[device_id] = known
        latest = self._latest.get(device_id)
        return None if latest is None else (latest[1], latest[2])

    async def page_for(self, device_id: int, program_id: int) -> int | None:
        key = (device_id, program_id)
        known = self._progress.get(key) or self._writing.get(key)
        if known is not None:  # not written yet, or being written
            return known[0]
        return await self.db.fetchval(
            "SELECT page FROM device_progress WHERE device_id = ? AND program_id = ?",
            (device_id, program_id),
        )
