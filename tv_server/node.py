"""This process as one node among several on one PostgreSQL database (docs/scaling.md).

Background work is of two sorts. Per-node work deals with the node's own memory — writing the
usage records, heartbeats, impressions and video positions it buffered, re-reading announcements
and signed-token revocations, following the leader's coverage figures — and runs on every node.
Leader work must run once for the whole installation and runs only on the node holding the
leader lock (`storage.pgnodes.Leadership`): the webhook outbox and retention, the appointment
reminders, the coverage refresh and its daily snapshots, the video transcode runner and its
sweep of unused burned-in subtitle copies, the program scheduler's go-live and expiry, the
legal-review round and the inactive-box sweep. On SQLite the one process is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from storage.changelog import ChangeLogFollower
from storage.pgnodes import ChangeTransport, Leadership, new_node_id

log = logging.getLogger(__name__)

Work = Callable[[], Coroutine[Any, Any, None]]


class Node:
    """Created with the app; `start` once the database is open, `stop` before it closes."""

    def __init__(self, check_seconds: float = 1.0) -> None:
        self.id = new_node_id()
        self.check_seconds = check_seconds
        self.transport: ChangeTransport | None = None
        self.follower: ChangeLogFollower | None = None  # SQLite: other processes' changes
        self._leadership: Leadership | None = None
        self._leads = False  # SQLite: set at start
        self._work: list[Work] = []
        self._running: list[asyncio.Task] = []

    @property
    def leads(self) -> bool:
        """Whether this node runs the installation's background work now."""
        return self._leadership.leads if self._leadership is not None else self._leads

    async def listen(self, db, poll_seconds: float = 2.0) -> None:
        """Join the other nodes' change events, before the node serves: PostgreSQL's
        notifications, or on SQLite the change_log other processes append to, read every
        `poll_seconds` (storage.changelog)."""
        if db.backend != "postgresql":
            self.follower = ChangeLogFollower(db, poll_seconds)
            await self.follower.start()
            return
        self.id = db.node_id  # what its transactions sign their notifications with
        self.transport = ChangeTransport(
            db.url, db.changes, self.id, db.notify, check_seconds=self.check_seconds
        )
        await self.transport.start()

    def lead(self, db, work: list[Work]) -> None:
        """Run `work` (each a coroutine function) while this node leads: at once on SQLite, on
        PostgreSQL whenever the leader lock is this node's."""
        self._work = work
        if db.backend != "postgresql":
            self._leads = True
            self._gain()
            return
        self._leadership = Leadership(
            db.url, self.id, self._gain, self._lose, check_seconds=self.check_seconds
        )
        self._leadership.start()

    def _gain(self) -> None:
        self._running = [asyncio.create_task(work()) for work in self._work]

    async def _lose(self) -> None:
        running, self._running = self._running, []
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def stop_leading(self) -> None:
        """Stop the leader work and give the lock up (another node takes it)."""
        if self._leadership is not None:
            await self._leadership.stop()
        else:
            self._leads = False
            await self._lose()

    async def stop_listening(self) -> None:
        if self.follower is not None:
            await self.follower.stop()
        if self.transport is not None:
            await self.transport.stop()

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "leader": self.leads}
        if self.transport is not None:
            out["listening"] = self.transport.listening
            out["changes_received"] = self.transport.received
        if self.follower is not None:
            out["changes_received"] = self.follower.received
        return out
