"""PostgreSQL as the database: the SQL dialect's differences, moving an installation from SQLite
(`legaltv db copy`), and two LegalTV processes ("nodes") on one database.

These tests start their own throwaway cluster (tests/pgcluster.py) whichever backend the rest
of the suite runs on; `make test` also runs the whole suite on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from storage import Migration
from storage.pg import PgDatabase
from tests.helpers import (
    ROOT,
    TEST_SECRET,
    book,
    build_demo,
    enter,
    make_settings,
    phone_step,
    publish,
    tomorrow,
)
from tv_server import keys
from tv_server.app import create_app
from tv_server.migrations import POSTGRES


def new_database(cluster) -> str:
    name = "x_" + uuid.uuid4().hex[:16]
    cluster.psql(f"CREATE DATABASE {name}")
    return cluster.url(name)


@pytest.fixture
async def pg(postgres):
    db = PgDatabase(new_database(postgres))
    await db.open()
    yield db
    await db.close()


async def test_the_dialect_gives_sqlites_answers(pg):
    # SQLite's DDL, translated (an identity id, double precision) like every migration.
    table = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n REAL)"
    await pg.migrate([*POSTGRES, Migration("t_0001", table)])
    async with pg.transaction() as tx:
        first = await tx.insert("INSERT INTO t (name, n) VALUES (?, ?)", ("Alpha?", 1))
        second = await tx.insert("INSERT INTO t (name, n) VALUES (?, ?)", ("beta", 2.5))
        ignored = await tx.execute("INSERT OR IGNORE INTO t (name, n) VALUES (?, ?)", ("beta", 9))
    assert (first, second, ignored.rowcount) == (1, 2, 0)
    # A `?` inside a literal is text, not a parameter; LIKE ignores ASCII case as in SQLite.
    assert await pg.fetchval("SELECT COUNT(*) FROM t WHERE name LIKE 'alpha?'") == 1
    assert await pg.fetchval("SELECT COUNT(*) FROM t WHERE name LIKE ?", ("ALP%",)) == 1
    # Scalar MAX/MIN of two values, nested; the aggregate stays an aggregate.
    assert await pg.fetchval("SELECT MAX(COALESCE(NULL, 0), ?) FROM t LIMIT 1", (5,)) == 5
    assert await pg.fetchval("SELECT MAX(n) FROM t") == 2.5
    # SUM over a comparison counts rows (NULL over none), and numeric sums come back as ints.
    assert await pg.fetchval("SELECT SUM(n > 1) FROM t") == 1
    assert await pg.fetchval("SELECT SUM(n > 1) FROM t WHERE id < 0") is None
    assert await pg.fetchval("SELECT SUM(id) FROM t") == 3
    # Loose parameter types, as SQLite takes them: an int for text, a digit string for an int.
    assert await pg.fetchval("SELECT name FROM t WHERE id = ?", ("2",)) == "beta"
    async with pg.transaction() as tx:
        await tx.execute("UPDATE t SET name = ? WHERE id = ?", (42, 1))
    assert await pg.fetchval("SELECT name FROM t WHERE id = 1") == "42"


async def test_closing_never_waits_forever_for_a_connection_in_use(postgres):
    """A node told to stop while a connection is still checked out (a long query; or a task
    cancelled before its release began, as a stop used to do) closes its database anyway:
    what is still out gets `close_seconds`, then is ended. The stop waited forever before."""
    db = PgDatabase(new_database(postgres), close_seconds=1)
    await db.open()
    query = asyncio.create_task(db.fetchval("SELECT pg_sleep(30)"))
    await asyncio.sleep(0.5)  # the query runs: its connection is out of the pool
    started = time.monotonic()
    async with asyncio.timeout(15):
        await db.close()
    assert time.monotonic() - started < 10
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):  # ended under the query
        await query


async def test_a_cancelled_bulk_write_ends_rolled_back(pg, postgres):
    """A node that stops cancels its background work, a big multi-row write among it (the
    coverage figures of every village). The write ends, rolled back, and the database closes:
    asyncpg's executemany, cancelled while still sending rows, swallowed the cancellation and
    waited forever for an answer the server (waiting for the rest of the rows) never sent."""
    await pg.migrate([*POSTGRES, Migration("t_0001", "CREATE TABLE t (id INTEGER, name TEXT)")])

    async def write(rows) -> None:
        async with pg.transaction() as tx:
            await tx.executemany("INSERT INTO t (id, name) VALUES (?, ?)", rows)

    await write([(0, "an earlier round")])  # the statement known: what follows is the write
    watcher = await asyncpg.connect(pg.url)
    try:
        task = asyncio.create_task(write([(i, "village figures " * 8) for i in range(100_000)]))
        for _ in range(3000):  # until the server is receiving the rows
            if await watcher.fetchval(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active'"
                " AND query LIKE 'INSERT INTO t %'"
            ):
                break
            await asyncio.sleep(0.005)
        else:
            raise AssertionError("the write never reached the server")
        task.cancel()
        async with asyncio.timeout(20):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert await pg.fetchval("SELECT COUNT(*) FROM t") == 1  # the earlier round only
    finally:
        await watcher.close()


async def test_a_cancelled_bulk_copy_ends_rolled_back(pg, postgres):
    """A bulk load (`registry synth`'s COPY) cancelled while asyncpg is still sending its rows,
    as Ctrl-C or a stop cancels it: the load ends at once, nothing of it committed, the next
    write and read are served at once, and the database closes without waiting for a
    connection. (asyncpg's COPY, unlike its executemany, fails the COPY and passes the
    cancellation on: no guard needed, this is the proof.)"""
    await pg.migrate([*POSTGRES, Migration("t_0001", "CREATE TABLE t (id INTEGER, name TEXT)")])

    async def load(rows) -> None:
        async with pg.transaction() as tx:
            await tx.copy_rows("t", ("id", "name"), rows)

    await load([(0, "an earlier round")])  # the table's types known: what follows is the COPY
    total, halfway = 200_000, asyncio.Event()
    sent = 0

    def villages():  # the rows, counted as asyncpg takes them to send
        nonlocal sent
        for i in range(total):
            sent += 1
            if sent == total // 2:
                halfway.set()
            yield (i, "village figures " * 8)

    task = asyncio.create_task(load(villages()))
    async with asyncio.timeout(60):
        await halfway.wait()  # ~27 chunks of 512 KiB sent: the server is in the COPY
    task.cancel()
    async with asyncio.timeout(20):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sent < total  # cancelled while still sending rows
    async with asyncio.timeout(5):
        assert await pg.fetchval("SELECT COUNT(*) FROM t") == 1  # the earlier round only
        await load([(1, "the next round")])
        assert await pg.fetchval("SELECT COUNT(*) FROM t") == 2
    started = time.monotonic()
    await pg.close()
    assert time.monotonic() - started < 2  # no connection left out (close waits 10 s for one)


async def test_write_transactions_are_serialised_across_processes(postgres):
    """Two pools on one database (two nodes): a read-then-write in one transaction never
    interleaves with another's, as under SQLite's single writer."""
    url = new_database(postgres)
    nodes = [PgDatabase(url), PgDatabase(url)]
    for db in nodes:
        await db.open()
    try:
        await nodes[0].migrate(
            [Migration("c_0001", "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")]
        )
        await nodes[0].execute("INSERT INTO counter (id, n) VALUES (1, 0)")

        async def bump(db):
            async with db.transaction() as tx:
                n = (await tx.fetchone("SELECT n FROM counter WHERE id = 1"))[0]
                await asyncio.sleep(0.01)  # a lost update would happen here without the lock
                await tx.execute("UPDATE counter SET n = ? WHERE id = 1", (n + 1,))

        await asyncio.gather(*(bump(nodes[i % 2]) for i in range(20)))
        assert await nodes[1].fetchval("SELECT n FROM counter WHERE id = 1") == 20
    finally:
        for db in nodes:
            await db.close()


@pytest.fixture(scope="session")
def sqlite_demo(demo_template, tmp_path_factory) -> Path:
    """A SQLite file holding the demo (the suite's template when it runs on SQLite)."""
    if (demo_template / "legaltv.sqlite3").exists():
        return demo_template / "legaltv.sqlite3"
    folder = tmp_path_factory.mktemp("sqlite-demo")
    build_demo(folder)
    return folder / "legaltv.sqlite3"


def _legaltv(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEGALTV_LAUNCH_SECRET": TEST_SECRET}
    return subprocess.run(
        [sys.executable, "-m", "tv_server.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _copy_of(sqlite_demo: Path, folder: Path) -> str:
    """A SQLite URL of a private copy of the demo database."""
    target = folder / "source.sqlite3"
    shutil.copyfile(sqlite_demo, target)
    return f"sqlite:///{target}"


async def test_db_copy_moves_the_demo_verified_and_the_tv_answers_the_same(
    postgres, sqlite_demo, data_dir, tmp_path, front_client
):
    source = _copy_of(sqlite_demo, tmp_path)
    target = new_database(postgres)
    done = await asyncio.to_thread(_legaltv, "db", "copy", "--from", source, "--to", target)
    assert done.returncode == 0, done.stderr
    assert "every count and checksum equal" in done.stdout
    copied = dict(
        line.strip().split(": ") for line in done.stdout.splitlines() if line.endswith(" rows")
    )
    assert copied["devices"] == "241 rows"  # the 240 demo boxes and the hotline's
    assert copied["regions"] == "1109 rows"

    again = await asyncio.to_thread(_legaltv, "db", "copy", "--from", source, "--to", target)
    assert again.returncode == 2 and "copy_target_not_empty" in again.stderr

    status = await asyncio.to_thread(_legaltv, "db", "status", "--database", target)
    assert status.returncode == 0, status.stderr
    assert "database: postgresql" in status.stdout and "0 pending" in status.stdout

    # The same screens from the copy as from the file (media from the same data dir).
    sqlite_settings = make_settings(data_dir, database_url=source)
    pg_settings = make_settings(data_dir, database_url=target)
    on_sqlite = await front_client(create_app(sqlite_settings))
    on_pg = await front_client(create_app(pg_settings))
    for screen in ("programs", "dir", "cb"):
        pages = []
        for client in (on_sqlite, on_pg):
            box = await enter(client)
            response = await client.get(box + screen)
            assert response.status == 200
            pages.append(await response.text())
        assert pages[0] == pages[1], screen
    # New rows get new ids after the copy (the identity sequences moved past the copied ones).
    box = await enter(on_pg, "DEMO-0002")
    await publish(on_pg, capacity=3)
    draft = await phone_step(on_pg, box, tomorrow())
    assert (await book(on_pg, box, draft, tomorrow())).status == 303


async def test_two_nodes_on_one_database_never_overbook(
    postgres, sqlite_demo, data_dir, tmp_path, front_client
):
    """Eight boxes race for the last seat, half through each of two LegalTV processes on one
    PostgreSQL database: exactly one booking is made."""
    url = new_database(postgres)
    source = _copy_of(sqlite_demo, tmp_path)
    done = await asyncio.to_thread(_legaltv, "db", "copy", "--from", source, "--to", url)
    assert done.returncode == 0, done.stderr
    nodes = [
        await front_client(create_app(make_settings(data_dir, database_url=url))) for _ in range(2)
    ]
    await publish(nodes[0], capacity=1)
    await publish(nodes[0], capacity=5, start="11:00", end="11:30")
    boxes = [await enter(nodes[n % 2], f"DEMO-{n:04d}") for n in range(1, 9)]
    drafts = [await phone_step(nodes[n % 2], b, tomorrow()) for n, b in enumerate(boxes, 1)]
    responses = await asyncio.gather(
        *(
            book(nodes[(n + 1) % 2], b, d, tomorrow())  # each box books through the other node
            for n, (b, d) in enumerate(zip(boxes, drafts, strict=True), 1)
        )
    )
    assert sorted(r.status for r in responses) == [303] + [409] * 7
    seated = (
        await nodes[1]
        .app[keys.DB]
        .fetchval("SELECT COUNT(*) FROM appointments WHERE start = '09:00' AND status = 'booked'")
    )
    assert seated == 1
