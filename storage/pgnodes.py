"""Several LegalTV processes ("nodes") on one PostgreSQL database.

Two things cross nodes here, each on a dedicated asyncpg connection of its own (not the pool's):

- **Change events** (`ChangeTransport`): every change a node commits (`storage.changes`) is sent
  with `NOTIFY` on one channel — inside the write transaction itself, so it reaches the others
  exactly when the write becomes visible (`PgDatabase.transaction`), or right after for a change
  published after the fact (`ChangeHub.relay`). Payloads are small: the node's id, then the
  change's compact JSON (kind, ids, region), split into several notifications when its ids do
  not fit PostgreSQL's 8,000-byte limit. Every node `LISTEN`s and hands what the others sent to
  its hub; its own notifications come back too and are skipped. A node that loses its listening
  connection drops every cache (events may be missed meanwhile) and again when it has LISTENed
  anew: nothing it cached while deaf outlives the reconnection.
- **Leadership** (`Leadership`): work that must run once for the whole installation (the
  webhook outbox, retention, coverage snapshots, sweeps, the video runner …) runs on the node
  holding one session-level advisory lock. Every node tries to take it every `check_seconds`;
  the holder checks its connection as often and, when that fails, stops its leader work at once.
  When the holder dies (even kill -9), PostgreSQL ends its session and frees the lock, and
  another node takes it at its next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from storage.changes import Change, ChangeHub

log = logging.getLogger(__name__)

CHANNEL = "legaltv_changes"
LEADER_LOCK = 7_481_101  # the session advisory lock of the leader (pg.WRITE_LOCK + 1)
PAYLOAD_BYTES = 7_900  # PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more
CHECK_SECONDS = 1.0


def new_node_id() -> str:
    return secrets.token_hex(4)


def notify_payloads(change: Change, node: str) -> list[str]:
    """The NOTIFY payloads that carry `change` from `node`: `NODE JSON`, the ids split over as
    many payloads as needed to keep each under PAYLOAD_BYTES."""
    prefix = node + " "
    whole = prefix + change.payload()
    if len(whole.encode()) < PAYLOAD_BYTES or not change.ids:
        return [whole]
    out: list[str] = []
    chunk: list[str] = []
    for ident in change.ids:
        trial = prefix + Change(change.kind, (*chunk, ident), change.region).payload()
        if chunk and len(trial.encode()) >= PAYLOAD_BYTES:
            out.append(prefix + Change(change.kind, tuple(chunk), change.region).payload())
            chunk = []
        chunk.append(ident)
    out.append(prefix + Change(change.kind, tuple(chunk), change.region).payload())
    return out


async def _connect(url: str, name: str) -> asyncpg.Connection:
    return await asyncpg.connect(url, server_settings={"application_name": name}, timeout=10)


async def _alive(conn: asyncpg.Connection, seconds: float) -> None:
    """Raise when the connection is closed or does not answer within `seconds`."""
    if conn.is_closed():
        raise ConnectionError("connection closed")
    async with asyncio.timeout(seconds):
        await conn.fetchval("SELECT 1")


async def _close(conn: asyncpg.Connection | None) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.terminate()


class ChangeTransport:
    """LISTEN/NOTIFY between the nodes of one database (see the module's docstring)."""

    def __init__(
        self,
        url: str,
        hub: ChangeHub,
        node: str,
        send: Callable[[list[str]], Awaitable[Any]],
        *,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.url = url
        self.hub = hub
        self.node = node
        self._send = send  # NOTIFYs payloads outside a transaction (the database's pool)
        self.check_seconds = check_seconds
        self.listening = False
        self.received = 0  # changes received from other nodes
        self.reconnects = 0
        self._conn: asyncpg.Connection | None = None
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._outbox: asyncio.Queue[Change] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """LISTEN now (before the node serves), then keep listening in the background."""
        self._conn = await self._listen()
        self.hub.relay = self._outbox.put_nowait
        self._tasks = [
            asyncio.create_task(self._watch()),
            asyncio.create_task(self._deliver()),
            asyncio.create_task(self._relay()),
        ]

    async def stop(self) -> None:
        self.hub.relay = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await _close(self._conn)
        self._conn = None
        self.listening = False

    async def _listen(self) -> asyncpg.Connection:
        conn = await _connect(self.url, "legaltv-listen-" + self.node)
        try:
            await conn.add_listener(CHANNEL, self._heard)
        except BaseException:
            await _close(conn)
            raise
        self.listening = True
        return conn

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        node, _, body = payload.partition(" ")
        if node != self.node:
            self._inbox.put_nowait(body)

    async def _deliver(self) -> None:
        while True:
            body = await self._inbox.get()
            try:
                await self.hub.receive(body)
                self.received += 1
            except Exception:  # a payload we cannot read: forget everything rather than guess
                log.exception("unreadable change from another node; every cache is dropped")
                self.hub.reset()

    async def _relay(self) -> None:
        while True:
            change = await self._outbox.get()
            try:
                await self._send(notify_payloads(change, self.node))
            except Exception:
                log.exception("could not send %s to the other nodes", change)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            try:
                if self._conn is None:
                    self._conn = await self._listen()
                    self.reconnects += 1
                    self.hub.reset()  # whatever was cached while deaf may be stale
                    log.warning("listening for other nodes' changes again; caches dropped")
                    continue
                await _alive(self._conn, max(2.0, 3 * self.check_seconds))
            except Exception as exc:  # the connection, the server, anything: start over
                if self._conn is not None:
                    log.warning("lost the change-listening connection (%s); caches dropped", exc)
                    await _close(self._conn)
                    self._conn = None
                    self.listening = False
                    self.hub.reset()


class Leadership:
    """Holds (or waits for) the leader's advisory lock; `on_gain`/`on_loss` start and stop the
    node's leader work."""

    def __init__(
        self,
        url: str,
        node: str,
        on_gain: Callable[[], None],
        on_loss: Callable[[], Awaitable[None]],
        *,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.url = url
        self.node = node
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.check_seconds = check_seconds
        self.leads = False
        self._task: asyncio.Task | None = None
        self._conn: asyncpg.Connection | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.leads:
            self.leads = False
            await self.on_loss()
        await _close(self._conn)  # the session ends: the lock is free for another node
        self._conn = None

    async def _run(self) -> None:
        while True:
            try:
                if self._conn is None:
                    self._conn = await _connect(self.url, "legaltv-leader-" + self.node)
                if self.leads:
                    await _alive(self._conn, max(2.0, 3 * self.check_seconds))
                else:
                    async with asyncio.timeout(max(2.0, 3 * self.check_seconds)):
                        got = await self._conn.fetchval(
                            "SELECT pg_try_advisory_lock($1)", LEADER_LOCK
                        )
                    if got:
                        self.leads = True
                        log.info("node %s leads: it runs the background work now", self.node)
                        self.on_gain()
            except Exception as exc:  # the connection, the server, anything: start over
                await _close(self._conn)
                self._conn = None
                if self.leads:
                    self.leads = False
                    log.warning("node %s lost the leader lock's connection (%s)", self.node, exc)
                    await self.on_loss()
            await asyncio.sleep(self.check_seconds)
