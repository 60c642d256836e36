"""SQLite through aiosqlite: one writer connection, a small pool of read-only readers, WAL.

All writes go through `transaction()` (BEGIN IMMEDIATE … COMMIT under one lock), reads go to the
readers concurrently. Schema changes are ordered, named migrations applied at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from storage.changes import Change, ChangeHub

Params = Sequence[Any] | dict[str, Any]


@dataclass(frozen=True)
class Migration:
    """One schema step. `name` is unique and sorts in application order within its package."""

    name: str
    sql: str


class MigrationError(Exception):
    """A schema migration failed; every pending migration was rolled back."""

    def __init__(self, name: str, error: str, pending: int) -> None:
        self.name = name
        self.error = error
        self.pending = pending
        super().__init__(
            f"migration {name} failed: {error} (the database was left as it was;"
            f" {pending} migration(s) not applied)"
        )


class Transaction:
    """The writer connection inside an open transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self.changes: list[Change] = []  # published on the database's hub after COMMIT

    def emit(self, kind: str, ids=(), region: str = "") -> None:
        """Note what this transaction changes (see storage.changes); published once committed,
        dropped if it rolls back."""
        self.changes.append(Change.of(kind, ids, region))

    async def execute(self, sql: str, params: Params = ()) -> aiosqlite.Cursor:
        return await self._conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def insert(self, sql: str, params: Params = ()) -> int:
        cur = await self._conn.execute(sql, params)
        return int(cur.lastrowid or 0)


class Database:
    """The embedded SQLite file. Open with `await db.open()`, close with `await db.close()`."""

    def __init__(self, path: Path | str, *, readers: int = 2, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self._n_readers = max(1, readers)
        self._synchronous = synchronous
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._write_lock = asyncio.Lock()
        # Statistics: queries run on the readers, and transactions committed (a change of the
        # latter tells a cache of this process that data may have changed).
        self.reads = 0
        self.commits = 0
        self.commit_seconds = 0.0  # time spent in COMMIT (the fsync), in all
        # Change events of committed writes (storage.changes): every cache subscribes here.
        self.changes = ChangeHub()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA busy_timeout = 5000")
        await conn.execute("PRAGMA foreign_keys = ON")
        return conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._writer.execute("PRAGMA journal_mode = WAL")
        await self._writer.execute(f"PRAGMA synchronous = {self._synchronous_pragma()}")
        # Deleted or overwritten content is zeroed, not left in free pages: erased personal data
        # (callbacks.lifecycle.erase_expired_phones) must not be readable from the file.
        await self._writer.execute("PRAGMA secure_delete = ON")
        for _ in range(self._n_readers):
            conn = await self._connect()
            await conn.execute("PRAGMA query_only = ON")
            self._all_readers.append(conn)
            self._readers.put_nowait(conn)

    def _synchronous_pragma(self) -> str:
        value = self._synchronous.upper()
        if value not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"sqlite synchronous must be OFF, NORMAL, FULL or EXTRA, not {value}")
        return value

    async def close(self) -> None:
        for conn in self._all_readers:
            await conn.close()
        self._all_readers.clear()
        if self._writer is not None:
            await self._writer.close()
            self._writer = None

    # -- reads -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    # A read is one trip to the reader's thread (execute, fetch and close there), not three: the
    # trips, not SQLite, are most of what a small indexed read costs.

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        self.reads += 1
        async with self._reader() as conn:
            return list(await conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        self.reads += 1
        async with self._reader() as conn:
            run = getattr(conn, "_execute", None)  # aiosqlite's queue to the thread
            if run is None:  # pinned by tests/test_storage_reads.py; else three trips
                async with conn.execute(sql, params) as cur:
                    return await cur.fetchone()
            return await run(_first_row, conn._conn, sql, params)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    # -- writes ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        if self._writer is None:
            raise RuntimeError("database is not open")
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            tx = Transaction(self._writer)
            try:
                yield tx
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            started = time.perf_counter()
            await self._writer.execute("COMMIT")
            self.commit_seconds += time.perf_counter() - started
            self.commits += 1
        if tx.changes:
            await self.changes.publish(*tx.changes)

    def write_queue(self) -> int:
        """Transactions waiting for the writer now."""
        return len(getattr(self._write_lock, "_waiters", None) or ())

    async def execute(self, sql: str, params: Params = ()) -> None:
        async with self.transaction() as tx:
            await tx.execute(sql, params)

    async def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database file and truncate it to zero bytes, so
        that old page images (e.g. of erased rows) leave the disk. False when a reader kept it
        from completing (it is retried by the next call)."""
        if self._writer is None:
            raise RuntimeError("database is not open")
        async with self._write_lock:
            async with self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cur:
                row = await cur.fetchone()
        return row is not None and row[0] == 0

    # -- schema ------------------------------------------------------------------------------

    async def migrate(self, migrations: Iterable[Migration]) -> list[str]:
        """Apply, in order, every migration not applied yet; return the names applied now.

        All pending migrations run in one transaction (SQLite DDL is transactional): when one
        fails, MigrationError names it and the database is left exactly as it was.
        """
        steps = list(migrations)
        names = [m.name for m in steps]
        if len(set(names)) != len(names):
            raise ValueError("duplicate migration names")
        async with self.transaction() as tx:
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            done = {r[0] for r in await tx.fetchall("SELECT name FROM schema_migrations")}
        pending = [step for step in steps if step.name not in done]
        if not pending:
            return []
        current = pending[0]
        try:
            async with self.transaction() as tx:
                for current in pending:
                    for statement in _split_sql(current.sql):
                        await tx.execute(statement)
                    await tx.execute(
                        "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                        (current.name, time.time()),
                    )
        except sqlite3.Error as exc:
            raise MigrationError(current.name, str(exc), len(pending)) from exc
        return [step.name for step in pending]

    async def health(self) -> dict[str, Any]:
        started = time.perf_counter()
        value = await self.fetchval("SELECT COUNT(*) FROM schema_migrations")
        return {
            "status": "ok",
            "migrations": value,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }


def _first_row(conn: sqlite3.Connection, sql: str, params: Params) -> sqlite3.Row | None:
    """Run in a reader's thread: the first row of a query."""
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (our migrations hold no ';' inside literals;
    a trigger's body, BEGIN … END, stays one statement)."""
    statements, current = [], ""
    for part in script.split(";"):
        current += part + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\n;"):
                statements.append(current.strip()[:-1].strip())
            current = ""
    if current.strip(" \t\n;"):
        statements.append(current.strip().rstrip(";").strip())
    return statements
