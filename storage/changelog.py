"""Change events between processes on one SQLite file: the `change_log` table.

SQLite has no NOTIFY. Instead every write transaction that emits changes (`Transaction.emit`)
appends ONE row to `change_log` in that same transaction — its changes as a JSON list of
`Change.payload`s, the writing process's origin id and the time — so the row exists exactly when
the write does. A running server reads the rows added since it last looked every
`change_poll_seconds` (`ChangeLogFollower`: one indexed read on a reader connection, nothing on
the request path), publishes those written by other processes (a `legaltv` command) on its hub
like PostgreSQL's notifications, skips its own (already published after its COMMIT), and prunes
old rows so the table stays small.

A row holds at most MAX_CHANGES changes (each already capped at `changes.MAX_IDS` ids); a
transaction emitting more is logged as "every object" of each kind it touched. When rows the
follower has not read were pruned (it lagged longer than KEEP_SECONDS), every cache is dropped
(`ChangeHub.reset`), as when a PostgreSQL transport reconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from collections.abc import Sequence

from storage.changes import Change, ChangeHub

log = logging.getLogger(__name__)

MAX_CHANGES = 50  # changes one row holds; beyond: one "every object" change per kind
KEEP_SECONDS = 600.0  # rows older than this are pruned...
KEEP_ROWS = 10_000  # ...and never more than this many are kept
READ_ROWS = 500  # rows read in one go (a backlog is read in several)
PRUNE_EVERY = 30  # polls between two prunes

INSERT = "INSERT INTO change_log (origin, at, changes) VALUES (?, ?, ?)"


def new_origin() -> str:
    """The id a process (one open database) signs its rows with."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def row_for(changes: Sequence[Change]) -> str:
    """The `changes` column for a transaction's changes: deduplicated, capped."""
    unique = list(dict.fromkeys(changes))
    if len(unique) > MAX_CHANGES:
        unique = [Change(kind) for kind in dict.fromkeys(c.kind for c in unique)]
    return json.dumps([c.payload() for c in unique], separators=(",", ":"), ensure_ascii=False)


def changes_of(text: str) -> list[Change]:
    return [Change.from_payload(p) for p in json.loads(text)]


class ChangeLogFollower:
    """Reads `change_log` every `interval` seconds and publishes other processes' changes."""

    def __init__(self, db, interval: float) -> None:
        self.db = db
        self.hub: ChangeHub = db.changes
        self.interval = interval
        self.last_id = 0
        self.received = 0  # changes received from other processes
        self.polls = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Only what is written from now on: the caches are empty at start. The last id given
        # (AUTOINCREMENT's, kept when the rows are pruned): ids follow each other from there.
        self.last_id = int(
            await self.db.fetchval(
                "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'change_log'), 0)"
            )
        )
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll()
                if self.polls % PRUNE_EVERY == 0:
                    await self.prune()
            except Exception:
                log.exception("reading other processes' changes failed; caches dropped")
                self.hub.reset()

    async def poll(self) -> int:
        """Publish the changes other processes committed since the last poll; how many."""
        self.polls += 1
        published = 0
        while True:
            rows = await self.db.fetchall(
                "SELECT id, origin, changes FROM change_log WHERE id > ? ORDER BY id LIMIT ?",
                (self.last_id, READ_ROWS),
            )
            if not rows:
                return published
            if rows[0]["id"] != self.last_id + 1:
                log.warning("changes of other processes were pruned unread; caches dropped")
                self.hub.reset()
            for row in rows:
                self.last_id = row["id"]
                if row["origin"] == self.db.origin:
                    continue  # published by this process right after its COMMIT
                for change in changes_of(row["changes"]):
                    await self.hub.publish(change, relay=False)
                    published += 1
                    self.received += 1
            if len(rows) < READ_ROWS:
                return published

    async def prune(self) -> None:
        """Drop rows older than KEEP_SECONDS, and all but the newest KEEP_ROWS."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "DELETE FROM change_log WHERE at < ? OR id <= "
                "(SELECT COALESCE(MAX(id), 0) FROM change_log) - ?",
                (time.time() - KEEP_SECONDS, KEEP_ROWS),
            )
