"""PostgreSQL through asyncpg: the same interface as `storage.database.Database`.

The domain's SQL is written once, in SQLite's dialect; `storage.dialect` translates it. Two
differences of behaviour are handled here rather than in every caller:

- **Writes are serialised**, as SQLite's one writer serialises them: every write transaction
  first takes one transaction-scoped advisory lock (`pg_advisory_xact_lock`), held until its
  COMMIT or ROLLBACK. So a capacity check and the insert that follows it (appointments, callback
  limits) stay atomic under READ COMMITTED, across every process on the database.
- **Parameters are coerced to the column's type.** SQLite stores what it is given; asyncpg
  insists on the exact type. The parameter types of each statement are asked of the server once
  (a prepare) and each value is converted (an int for a text parameter becomes its decimal
  string, an integral float for a bigint becomes an int, a bool becomes 0/1 …).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from storage.changes import Change, ChangeHub
from storage.database import Backend, Migration, apply_migrations, split_sql
from storage.dialect import schema_to_postgres, to_postgres
from storage.pgnodes import CHANNEL, new_node_id, notify_payloads

log = logging.getLogger(__name__)

Params = Sequence[Any]
WRITE_LOCK = 7_481_100  # the advisory-lock key every write transaction takes first
CLOSE_SECONDS = 10.0  # how long `close` lets checked-out connections come back
_INSERT_TABLE = re.compile(r"^\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+([A-Za-z_][A-Za-z0-9_]*)", re.I)
_COUNT = re.compile(r"(\d+)$")
_INTS = {"int2", "int4", "int8", "oid"}
# The parameter types of each statement, as the server inferred them (the schema is the same
# for every database of one code version; cleared when migrations change it).
_PARAM_TYPES: dict[str, tuple[str, ...]] = {}
_FLOATS = {"float4", "float8"}


class Cursor:
    """What a write returns: the rows it touched (and, for an insert, the new id)."""

    def __init__(self, rowcount: int, lastrowid: int | None = None) -> None:
        self.rowcount = rowcount
        self.lastrowid = lastrowid


def _coerce(value: Any, pg_type: str) -> Any:
    if value is None:
        return None
    if pg_type in _INTS:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        return value
    if pg_type in _FLOATS or pg_type == "numeric":
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, (int, Decimal)):
            return float(value) if pg_type != "numeric" else Decimal(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return float(value)
        return value
    if pg_type in {"text", "varchar", "bpchar", "name", "unknown"}:
        if isinstance(value, bool):
            return str(int(value))
        if isinstance(value, (int, float, Decimal)):
            return str(value)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return value
    if pg_type == "bytea" and isinstance(value, str):
        return value.encode("utf-8")
    if pg_type == "bool" and isinstance(value, int):
        return bool(value)
    return value


def _numeric(text: str) -> int | float:
    """SUM/AVG of bigints are numeric in PostgreSQL; SQLite gives an int or a float."""
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


@contextlib.contextmanager
def _naming(sql: str):
    """A failing statement's error names the statement (asyncpg's does not)."""
    try:
        yield
    except asyncpg.PostgresError as exc:
        exc.add_note("statement: " + " ".join(sql.split())[:500])
        raise


class _Session:
    """Statements on one connection, with the parameter types of each cached per database."""

    def __init__(self, owner: PgDatabase, conn: asyncpg.Connection) -> None:
        self._owner = owner
        self._conn = conn

    async def _args(self, sql: str, params: Params) -> tuple[str, list[Any]]:
        if isinstance(params, dict):
            raise TypeError("named parameters are not used with PostgreSQL")
        text = to_postgres(sql)
        types = _PARAM_TYPES.get(text)
        if types is None:
            statement = await self._conn.prepare(text)
            types = tuple(t.name for t in statement.get_parameters())
            _PARAM_TYPES[text] = types
        args = list(params)
        if len(args) != len(types):
            raise asyncpg.exceptions.DataError(
                f"{len(args)} parameters given, {len(types)} expected: {sql[:200]}"
            )
        return text, [_coerce(v, t) for v, t in zip(args, types, strict=True)]

    async def fetchall(self, sql: str, params: Params = ()) -> list[asyncpg.Record]:
        with _naming(sql):
            text, args = await self._args(sql, params)
            return await self._conn.fetch(text, *args)

    async def fetchone(self, sql: str, params: Params = ()) -> asyncpg.Record | None:
        with _naming(sql):
            text, args = await self._args(sql, params)
            return await self._conn.fetchrow(text, *args)

    async def execute(self, sql: str, params: Params = ()) -> Cursor:
        with _naming(sql):
            text, args = await self._args(sql, params)
            status = await self._conn.execute(text, *args)
        m = _COUNT.search(status or "")
        return Cursor(int(m.group(1)) if m else 0)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if not rows:
            return
        text, _ = await self._args(sql, rows[0])
        types = _PARAM_TYPES[text]
        args = [[_coerce(v, t) for v, t in zip(r, types, strict=True)] for r in rows]
        # asyncpg's executemany cannot be cancelled while it is still sending rows: it swallows
        # the cancellation, then waits for an answer the server, waiting for the rest of the
        # rows, never sends (a node's stop cancelling its coverage refresh hung for ever). So
        # it runs to its end in a task of its own; a cancelled caller waits for that (the rows
        # are sent, the statement answers), then is cancelled, and its transaction rolls back.
        sending = asyncio.ensure_future(self._conn.executemany(text, args))
        cancelled = False
        while not sending.done():
            try:
                await asyncio.shield(sending)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            if not sending.cancelled():
                sending.exception()  # retrieved: the caller is cancelled whatever it was
            raise asyncio.CancelledError
        sending.result()

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT and return the new row's id (0 when the table has no id column or
        the row was not inserted), as SQLite's lastrowid."""
        m = _INSERT_TABLE.match(sql)
        has_id = m is not None and await self._owner._has_id(self._conn, m.group(1).lower())
        if not has_id or re.search(r"\bRETURNING\b", sql, re.I):
            await self.execute(sql, params)
            return 0
        row = await self.fetchone(sql.rstrip().rstrip(";") + " RETURNING id", params)
        return int(row[0]) if row is not None else 0


class Transaction(_Session):
    """A connection inside an open write transaction."""

    def __init__(self, owner: PgDatabase, conn: asyncpg.Connection) -> None:
        super().__init__(owner, conn)
        self.changes: list[Change] = []  # published on the database's hub after COMMIT

    def emit(self, kind: str, ids=(), region: str = "") -> None:
        """Note what this transaction changes (storage.changes); published once committed."""
        self.changes.append(Change.of(kind, ids, region))

    async def copy_rows(self, table: str, columns: Sequence[str], rows: list[Params]) -> None:
        """Bulk-insert `rows` (values in `columns`' order, of the columns' exact types) with
        COPY … FROM STDIN (binary): several times faster than a multi-row INSERT. For trusted
        bulk loads (`registry synth`), not for user input.

        Cancellable as it stands, unlike executemany: asyncpg's COPY, cancelled while sending
        rows, sends CopyFail and a cancel request and raises at once (tests/test_postgres.py).
        executemany's guard here would make a cancelled load send every row first."""
        await self._conn.copy_records_to_table(table, records=rows, columns=list(columns))


class PgDatabase(Backend):
    """A PostgreSQL database. Open with `await db.open()`, close with `await db.close()`."""

    backend = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        readers: int = 2,
        close_seconds: float = CLOSE_SECONDS,
        **_ignored: Any,
    ) -> None:
        self.url = url
        self.close_seconds = close_seconds
        self._size = max(2, readers + 2)
        self._pool: asyncpg.Pool | None = None
        # One write transaction per process at a time holds a connection (the advisory lock
        # orders processes): a writer waiting for the lock must not starve the readers.
        self._write_lock = asyncio.Lock()
        self._id_tables: dict[str, bool] = {}
        self.reads = 0
        self.commits = 0
        self.group_commits = 0
        self.group_blocks = 0
        self.commit_seconds = 0.0
        # Change events of committed writes (storage.changes): every cache subscribes here.
        self.changes = ChangeHub()
        # Each write transaction NOTIFYs its changes to the serving nodes before it commits
        # (storage.pgnodes), whatever process writes (a node, or a `legaltv` command).
        self.node_id = new_node_id()

    async def _init(self, conn: asyncpg.Connection) -> None:
        await conn.set_type_codec(
            "numeric", encoder=str, decoder=_numeric, schema="pg_catalog", format="text"
        )

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.url, min_size=1, max_size=self._size, init=self._init
        )

    async def close(self) -> None:
        """Close the pool. Connections still checked out get `close_seconds` to come back (a
        query finishing); then every connection is ended. A close never waits forever: not on a
        long query, nor on a connection a cancelled task never gave back."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self.close_seconds)
        except TimeoutError:
            log.warning("connections still in use after %.0f s at close: ended", self.close_seconds)
            pool.terminate()

    async def _has_id(self, conn: asyncpg.Connection, table: str) -> bool:
        if table not in self._id_tables:
            self._id_tables[table] = bool(
                await conn.fetchval(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema ="
                    " current_schema() AND table_name = $1 AND column_name = 'id'",
                    table,
                )
            )
        return self._id_tables[table]

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[_Session]:
        if self._pool is None:
            raise RuntimeError("database is not open")
        async with self._pool.acquire() as conn:
            yield _Session(self, conn)

    # -- reads -------------------------------------------------------------------------------

    async def fetchall(self, sql: str, params: Params = ()) -> list[asyncpg.Record]:
        self.reads += 1
        async with self._session() as s:
            return await s.fetchall(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> asyncpg.Record | None:
        self.reads += 1
        async with self._session() as s:
            return await s.fetchone(sql, params)

    # -- writes ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One write transaction, serialised with every other (see the module's docstring)."""
        if self._pool is None:
            raise RuntimeError("database is not open")
        async with self._write_lock, self._pool.acquire() as conn:
            tr = conn.transaction()
            await tr.start()
            tx = Transaction(self, conn)
            try:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
                yield tx
                if tx.changes:
                    # Delivered to the other nodes when (and only if) the COMMIT is.
                    for change in tx.changes:
                        for payload in notify_payloads(change, self.node_id):
                            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
            except BaseException:
                await tr.rollback()
                raise
            started = time.perf_counter()
            await tr.commit()
            self.commit_seconds += time.perf_counter() - started
            self.commits += 1
        if tx.changes:
            await self.changes.publish(*tx.changes, relay=False)  # NOTIFYd with the COMMIT

    async def notify(self, payloads: list[str]) -> None:
        """Send change payloads to the other nodes outside a transaction (a change published
        after the fact: `ChangeHub.relay`)."""
        async with self._session() as s:
            for payload in payloads:
                await s._conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    async def grouped(self, block, *args):
        """Run `await block(tx, *args)` in a write transaction and return its result once
        committed. (SQLite shares one COMMIT among concurrent callers; PostgreSQL's own group
        commit does that for concurrent transactions, so each block gets its own here.)
        A block that raises is counted in `group_blocks` as SQLite counts it (its savepoint
        rolled back, the batch committed)."""
        try:
            async with self.transaction() as tx:
                result = await block(tx, *args)
        except Exception:
            self.group_blocks += 1
            raise
        self.group_commits += 1
        self.group_blocks += 1
        return result

    async def checkpoint(self) -> bool:
        """Nothing to do: PostgreSQL recycles its write-ahead log itself (VACUUM reclaims
        erased rows' space; docs/scaling.md)."""
        return True

    # -- schema ------------------------------------------------------------------------------

    async def migrate(self, migrations: Iterable[Migration]) -> list[str]:
        """Apply, in order and in one transaction, every migration not applied yet
        (`storage.database.apply_migrations`; PostgreSQL DDL is transactional too)."""

        async def run(tx: Transaction, step: Migration) -> None:
            for statement in _statements(step):
                await tx._conn.execute(statement)  # the simple protocol: DDL, $$ bodies

        applied = await apply_migrations(self, migrations, run, asyncpg.PostgresError)
        _PARAM_TYPES.clear()
        self._id_tables.clear()
        return applied

    # -- catalogue ---------------------------------------------------------------------------

    async def tables(self) -> list[str]:
        """The names of the tables, sorted."""
        rows = await self.fetchall(
            "SELECT table_name FROM information_schema.tables WHERE table_schema ="
            " current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        return [r[0] for r in rows]

    async def columns(self, table: str) -> list[str]:
        """A table's column names in their order."""
        rows = await self.fetchall(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        return [r[0] for r in rows]

    async def references(self, table: str) -> set[str]:
        """The tables `table` has foreign keys to."""
        rows = await self.fetchall(
            "SELECT DISTINCT c.confrelid::regclass::text FROM pg_constraint c"
            " WHERE c.contype = 'f' AND c.conrelid = ?::regclass",
            (table,),
        )
        return {r[0] for r in rows}

    async def after_bulk_load(self, tables: Iterable[str]) -> None:
        """Move each identity sequence past the ids a bulk copy wrote explicitly."""
        async with self.transaction() as tx:
            for table in tables:
                sequence = (
                    await tx.fetchone("SELECT pg_get_serial_sequence(?, 'id')", (f'"{table}"',))
                    if await self._has_id(tx._conn, table)
                    else None
                )
                if sequence is not None and sequence[0]:
                    await tx.execute(
                        f'SELECT setval(?, COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1,'
                        " false)",
                        (sequence[0],),
                    )


def _statements(migration: Migration) -> list[str]:
    if migration.postgres is not None:
        return list(migration.postgres)
    out = []
    for statement in split_sql(migration.sql):
        translated = schema_to_postgres(statement)
        if translated:
            out.append(translated)
    return out
