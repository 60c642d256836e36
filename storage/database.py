"""SQLite through aiosqlite: one writer connection, a small pool of read-only readers, WAL.

All writes go through `transaction()` (BEGIN IMMEDIATE … COMMIT under one lock) or, for the short
writes many requests make at once, `grouped()` (group commit: the blocks of concurrent callers run
in one transaction with one fsync, each in its own savepoint); reads go to the readers
concurrently, except a screen's few indexed reads (`fetch_together`, `fetch_after`), made on the
event loop's thread where the trip to a reader's thread would cost more than they do. Schema
changes are ordered, named migrations applied at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage import changelog
from storage.changes import Change, ChangeHub

Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")

# The most blocks one group commit holds (bounds the wait of the last one in it).
GROUP_MAX = 64
GROUP_SLICE_SECONDS = 0.002  # blocks of a batch run this long at most before the loop is served


@dataclass(frozen=True)
class Migration:
    """One schema step. `name` is unique; steps apply in the order of the list given to
    `Database.migrate` (tv_server/migrations.py), not in the order of their names. `formerly`: the
    names older releases recorded for this same step (renamed in the bookkeeping, not re-applied).
    `sql` is SQLite's; PostgreSQL gets it translated by `storage.dialect`, or `postgres` (its
    statements, in order) where no translation fits (e.g. triggers).
    """

    name: str
    sql: str
    formerly: tuple[str, ...] = ()
    postgres: tuple[str, ...] | None = None


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

    async def copy_rows(self, table: str, columns: Sequence[str], rows: list[Params]) -> None:
        """Bulk-insert `rows` (values in `columns`' order): one prepared INSERT run for each
        (PostgreSQL's backend uses COPY here). For trusted bulk loads, not for user input."""
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        await self._conn.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)


class _ThreadTransaction(Transaction):
    """A Transaction over a plain sqlite3 connection on the group thread: every method returns
    without suspending, so a block over it runs to its end in one `send` (see `_run_to_end`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._sync = conn

    async def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:  # type: ignore[override]
        return self._sync.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._sync.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        return self._sync.execute(sql, params).fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return self._sync.execute(sql, params).fetchall()

    async def insert(self, sql: str, params: Params = ()) -> int:
        return int(self._sync.execute(sql, params).lastrowid or 0)


def _run_to_end(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never suspends (it awaits only a _ThreadTransaction)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("a grouped block awaited something other than its transaction")


class Backend:
    """What both databases (SQLite here, PostgreSQL in storage.pg) do the same way on top of
    their own fetchone / transaction."""

    backend = ""
    _write_lock: asyncio.Lock

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)  # type: ignore[attr-defined]
        return None if row is None else row[0]

    async def fetch_together(self, *queries: tuple[str, Params]) -> list[list[Any]]:
        """The rows of several small reads, in order (a per-box screen's facts). SQLite runs
        them in one trip to a reader's thread; this fallback (PostgreSQL) one after another."""
        return [await self.fetchall(sql, params) for sql, params in queries]  # type: ignore[attr-defined]

    async def fetch_after(
        self, first: tuple[str, Params], then: Callable[[list[Any]], list[tuple[str, Params]]]
    ) -> tuple[list[Any], list[list[Any]]]:
        """The rows of `first`, and of the reads `then(rows)` names (built from them: a box's
        facts once its record gave its id). SQLite does it all in one trip to a reader's
        thread (`then` runs there: it must only build queries); this fallback in turn."""
        rows = await self.fetchall(*first)  # type: ignore[attr-defined]
        more = then(rows)
        return rows, (await self.fetch_together(*more) if more else [])

    async def execute(self, sql: str, params: Params = ()) -> None:
        async with self.transaction() as tx:  # type: ignore[attr-defined]
            await tx.execute(sql, params)

    def write_queue(self) -> int:
        """Transactions of this process waiting for the writer now."""
        return len(getattr(self._write_lock, "_waiters", None) or ())

    async def health(self) -> dict[str, Any]:
        started = time.perf_counter()
        value = await self.fetchval("SELECT COUNT(*) FROM schema_migrations")
        return {
            "status": "ok",
            "backend": self.backend,
            "migrations": value,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }


class Database(Backend):
    """The embedded SQLite file. Open with `await db.open()`, close with `await db.close()`."""

    backend = "sqlite"

    def __init__(self, path: Path | str, *, readers: int = 2, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self._n_readers = max(1, readers)
        self._synchronous = synchronous
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        # The connection of the small reads run on the event loop's own thread (`_read_here`).
        self._here: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()
        # Group commit: blocks waiting for the next batch, the task running batches, and the
        # second writer connection (used only under _write_lock) with its one thread.
        self._group_queue: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future]] = []
        self._group_leader: asyncio.Task[None] | None = None
        self._group_conn: sqlite3.Connection | None = None
        self._group_thread: ThreadPoolExecutor | None = None
        # Statistics: queries run on the readers, and transactions committed (a change of the
        # latter tells a cache of this process that data may have changed); group commits and
        # the blocks they held.
        self.reads = 0
        self.commits = 0
        self.group_commits = 0
        self.group_blocks = 0
        self.commit_seconds = 0.0  # time spent in COMMIT (the fsync), in all
        # Change events of committed writes (storage.changes): every cache subscribes here.
        self.changes = ChangeHub()
        # Other processes on this file learn of them from `change_log` (storage.changelog): a
        # transaction that emits appends one row signed with this id. None: not known yet
        # whether the table exists (a database not migrated yet has none).
        self.origin = changelog.new_origin()
        self._change_log: bool | None = None

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
        self._here = self._connect_here()
        self._group_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-group")
        self._group_conn = await asyncio.get_running_loop().run_in_executor(
            self._group_thread, self._connect_group
        )

    def _connect_here(self) -> sqlite3.Connection:
        """The reader of `_read_here`: read-only, and never waiting for a lock (timeout 0: a read
        that would wait is refused at once and goes to a reader's thread instead)."""
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=0, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only = ON")
        return conn

    def _connect_group(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        for pragma in (
            "busy_timeout = 5000",
            "foreign_keys = ON",
            f"synchronous = {self._synchronous_pragma()}",
            "secure_delete = ON",
        ):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    def _synchronous_pragma(self) -> str:
        value = self._synchronous.upper()
        if value not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"sqlite synchronous must be OFF, NORMAL, FULL or EXTRA, not {value}")
        return value

    async def close(self) -> None:
        if self._group_leader is not None:
            with contextlib.suppress(Exception):
                await self._group_leader
        if self._group_thread is not None:
            if self._group_conn is not None:
                await asyncio.get_running_loop().run_in_executor(
                    self._group_thread, self._group_conn.close
                )
                self._group_conn = None
            self._group_thread.shutdown()
            self._group_thread = None
        for conn in self._all_readers:
            await conn.close()
        self._all_readers.clear()
        if self._here is not None:
            self._here.close()
            self._here = None
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

    def _read_here(self, read: Callable[..., T], *args: Any) -> T | None:
        """`read(connection, *args)` — a few small indexed reads in one read transaction — run
        right here on the event loop's thread, with no trip to a reader's thread: for such reads
        (tens of µs in SQLite) the trip cost several times the reads (waking the thread, handing
        the GIL over and back, waking the loop: ~100 µs per launch and home in the launch bench).
        A WAL reader never waits for a writer; when this one would wait anyway (another process
        holds the file exclusively, a rollback-journal file being written) it is refused at once
        and the answer is None: the caller takes the trip, where waiting blocks only that thread."""
        conn = self._here
        if conn is None:
            return None
        try:
            return read(conn, *args)
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None
            raise

    async def fetch_together(self, *queries: tuple[str, Params]) -> list[list[sqlite3.Row]]:
        """The rows of several small reads, in order, from one snapshot (a read transaction):
        on the loop's thread (`_read_here`), else in ONE trip to a reader's thread. Counted as
        one read: the trip, not the statements, is what a small indexed read costs."""
        self.reads += 1
        found = self._read_here(_all_rows, queries)
        if found is not None:
            return found
        async with self._reader() as conn:
            run = getattr(conn, "_execute", None)
            if run is None:  # pinned by tests/test_storage_reads.py
                return [list(await conn.execute_fetchall(sql, p)) for sql, p in queries]
            return await run(_all_rows, conn._conn, queries)

    async def fetch_after(
        self, first: tuple[str, Params], then: Callable[[list[Any]], list[tuple[str, Params]]]
    ) -> tuple[list[sqlite3.Row], list[list[sqlite3.Row]]]:
        """`Backend.fetch_after` from one snapshot: on the loop's thread (`_read_here`), else in
        ONE trip to a reader's thread."""
        self.reads += 1
        found = self._read_here(_rows_after, first, then)
        if found is not None:
            return found
        async with self._reader() as conn:
            run = getattr(conn, "_execute", None)
            if run is None:  # pinned by tests/test_storage_reads.py
                rows = list(await conn.execute_fetchall(*first))
                more = then(rows)
                return rows, [list(await conn.execute_fetchall(q, p)) for q, p in more]
            return await run(_rows_after, conn._conn, first, then)

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
            if tx.changes and await self._logs_changes():
                try:
                    await self._writer.execute(
                        changelog.INSERT,
                        (self.origin, time.time(), changelog.row_for(tx.changes)),
                    )
                except BaseException:
                    await self._writer.execute("ROLLBACK")
                    raise
            started = time.perf_counter()
            await self._writer.execute("COMMIT")
            self.commit_seconds += time.perf_counter() - started
            self.commits += 1
        if tx.changes:
            await self.changes.publish(*tx.changes)

    async def _logs_changes(self) -> bool:
        """Whether `change_log` exists (asked once, under the writer lock)."""
        if self._change_log is None:
            assert self._writer is not None
            async with self._writer.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'change_log'"
            ) as cur:
                self._change_log = await cur.fetchone() is not None
        return self._change_log

    async def grouped(self, block: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run `await block(tx, *args)` in a write transaction shared with the blocks of other
        callers waiting at the same time (group commit: one BEGIN … COMMIT, one fsync), and
        return its result once that COMMIT is done — so a caller acknowledges only what is on
        disk. When the block raises, its savepoint is rolled back, the error is raised here and
        its batch-mates go on; when the COMMIT fails, every block of the batch gets the error.

        A block runs in one go, without a trip through a thread and the event loop per
        statement: it may await only its `tx` (a block awaiting anything else fails with
        RuntimeError). Blocks run one after another, so a block sees the writes of the blocks
        before it, as with separate transactions.
        """
        if self._group_conn is None:
            raise RuntimeError("database is not open")
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._group_queue.append((block, args, done))
        if self._group_leader is None:
            self._group_leader = asyncio.create_task(self._lead_groups())
        return await done

    async def _lead_groups(self) -> None:
        """Commit the waiting blocks, at most GROUP_MAX a batch, until none wait."""
        try:
            while self._group_queue:
                async with self._write_lock:
                    # taken under the lock: blocks arriving while others write join this batch
                    batch = self._group_queue[:GROUP_MAX]
                    del self._group_queue[:GROUP_MAX]
                    try:
                        outcomes = await self._run_group([(b, a) for b, a, _ in batch])
                    except Exception as exc:  # BEGIN or COMMIT failed: nothing of it stayed
                        outcomes = [(False, exc)] * len(batch)
                    else:
                        self.commits += 1
                        self.group_commits += 1
                        self.group_blocks += len(batch)
                for (_block, _args, done), (ok, value) in zip(batch, outcomes, strict=True):
                    if done.done():  # the caller went away
                        continue
                    if ok:
                        done.set_result(value)
                    else:
                        done.set_exception(value)
        finally:
            self._group_leader = None

    async def _run_group(
        self, blocks: list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]]
    ) -> list[tuple[bool, Any]]:
        """One transaction, a savepoint per block. BEGIN (which may wait for another process's
        lock) and COMMIT (the fsync) run on the group thread; the blocks run right here, one
        after another, each without suspending (a few SQLite statements of a fraction of a
        millisecond), the event loop served between two blocks once GROUP_SLICE_SECONDS have
        passed (a turn per block would make a batch wait as many turns of a busy loop as it
        holds blocks). Run on a thread, the blocks
        would hold the GIL against the event loop for the whole batch."""
        conn = self._group_conn
        assert conn is not None
        loop = asyncio.get_running_loop()
        tx = _ThreadTransaction(conn)
        outcomes: list[tuple[bool, Any]] = []
        await loop.run_in_executor(self._group_thread, conn.execute, "BEGIN IMMEDIATE")
        turn = time.perf_counter()
        try:
            for block, args in blocks:
                conn.execute("SAVEPOINT grouped")
                try:
                    value = _run_to_end(block(tx, *args))
                except Exception as exc:
                    conn.execute("ROLLBACK TO grouped")
                    conn.execute("RELEASE grouped")
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE grouped")
                    outcomes.append((True, value))
                if time.perf_counter() - turn >= GROUP_SLICE_SECONDS:
                    # Serve the event loop now and then, not after every block: one turn of a
                    # busy loop serves every request ready, and a batch waiting a turn per
                    # block made its writes (and the writer lock) wait that many turns.
                    await asyncio.sleep(0)
                    turn = time.perf_counter()
            await loop.run_in_executor(self._group_thread, conn.execute, "COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        return outcomes

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
        """Apply, in order, every migration not applied yet; return the names applied now
        (`apply_migrations`; SQLite DDL is transactional, so a failure leaves the database
        exactly as it was)."""

        async def run(tx: Transaction, step: Migration) -> None:
            for statement in split_sql(step.sql):
                await tx.execute(statement)

        try:
            return await apply_migrations(self, migrations, run, sqlite3.Error)
        finally:
            self._change_log = None  # change_log may exist now

    # -- catalogue ---------------------------------------------------------------------------

    async def tables(self) -> list[str]:
        """The names of the tables, sorted."""
        rows = await self.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
        return [r[0] for r in rows]

    async def columns(self, table: str) -> list[str]:
        """A table's column names in their order."""
        rows = await self.fetchall("SELECT name FROM pragma_table_info(?) ORDER BY cid", (table,))
        return [r[0] for r in rows]

    async def references(self, table: str) -> set[str]:
        """The tables `table` has foreign keys to."""
        rows = await self.fetchall('SELECT "table" FROM pragma_foreign_key_list(?)', (table,))
        return {r[0] for r in rows}

    async def after_bulk_load(self, tables: Iterable[str]) -> None:
        """Nothing to do for SQLite (its rowids follow the largest id by themselves)."""


async def applied_migrations(db) -> set[str]:
    """The names of the migrations a database (either backend) has recorded as applied."""
    if "schema_migrations" not in await db.tables():
        return set()
    return {r[0] for r in await db.fetchall("SELECT name FROM schema_migrations")}


async def apply_migrations(db, migrations: Iterable[Migration], run, errors) -> list[str]:
    """Apply, in order, every migration not applied yet to `db` (either backend); return the
    names applied now. `run(tx, step)` executes one step's statements.

    A step recorded under one of its `formerly` names is renamed in the bookkeeping, not applied
    again. The renames and all pending migrations run in one transaction: when one fails,
    MigrationError names it and the database is left exactly as it was.
    """
    steps = list(migrations)
    names = [m.name for m in steps]
    renamed = {old: m.name for m in steps for old in m.formerly}
    every = names + list(renamed)
    if len(set(every)) != len(every):
        raise ValueError("duplicate migration names")
    async with db.transaction() as tx:
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
        )
        recorded = {r[0] for r in await tx.fetchall("SELECT name FROM schema_migrations")}
    done = {renamed.get(name, name) for name in recorded}
    pending = [step for step in steps if step.name not in done]
    stale = sorted(recorded & renamed.keys())
    if not pending and not stale:
        return []
    current = None
    try:
        async with db.transaction() as tx:  # renames and new steps: all or nothing
            # Read again under the writer's lock: another process starting at the same moment
            # (a second node) may have applied them meanwhile.
            recorded = {r[0] for r in await tx.fetchall("SELECT name FROM schema_migrations")}
            done = {renamed.get(name, name) for name in recorded}
            pending = [step for step in steps if step.name not in done]
            stale = sorted(recorded & renamed.keys())
            await tx.executemany(
                "UPDATE schema_migrations SET name = ? WHERE name = ?",
                [(renamed[old], old) for old in stale],
            )
            for current in pending:
                await run(tx, current)
                await tx.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (current.name, time.time()),
                )
    except errors as exc:
        if current is None:
            raise
        raise MigrationError(current.name, str(exc), len(pending)) from exc
    return [step.name for step in pending]


def _first_row(conn: sqlite3.Connection, sql: str, params: Params) -> sqlite3.Row | None:
    """Run in a reader's thread: the first row of a query."""
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def _all_rows(
    conn: sqlite3.Connection, queries: Iterable[tuple[str, Params]]
) -> list[list[sqlite3.Row]]:
    """Run in a reader's thread: every row of each query, in order, in one read transaction."""
    out = []
    conn.execute("BEGIN")
    try:
        for sql, params in queries:
            cursor = conn.execute(sql, params)
            try:
                out.append(cursor.fetchall())
            finally:
                cursor.close()
    finally:
        conn.execute("COMMIT")
    return out


def _rows_after(conn: sqlite3.Connection, first, then) -> tuple[list, list[list]]:
    """Run in a reader's thread: `first`'s rows, then the rows of the reads `then` names."""
    conn.execute("BEGIN")
    try:
        rows = conn.execute(*first).fetchall()
        return rows, [conn.execute(sql, params).fetchall() for sql, params in then(rows)]
    finally:
        conn.execute("COMMIT")


def split_sql(script: str) -> list[str]:
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
