"""Reads through storage.Database: one trip to a reader's thread each, the same rows."""

from __future__ import annotations

from storage import Database


def test_aiosqlite_still_has_the_thread_queue_one_trip_reads_use():
    """storage.Database.fetchone runs a read in one trip to the reader's thread through
    aiosqlite's private `Connection._execute` (and `_conn`); when an upgrade renames them, reads
    fall back to three trips each — slower, not wrong. This says so loudly."""
    import aiosqlite

    assert callable(getattr(aiosqlite.Connection, "_execute", None)), "aiosqlite changed"
    assert isinstance(getattr(aiosqlite.Connection, "_conn", None), property), "aiosqlite changed"


async def test_reads_answer_the_same_rows_in_one_trip(tmp_path):
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER, y TEXT)")
            await tx.executemany("INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
        assert [tuple(r) for r in await db.fetchall("SELECT x, y FROM t ORDER BY x")] == [
            (1, "a"), (2, "b"), (3, "c")
        ]  # fmt: skip
        row = await db.fetchone("SELECT x, y FROM t WHERE x > ? ORDER BY x", (1,))
        assert row["y"] == "b" and await db.fetchone("SELECT x FROM t WHERE x > 9") is None
        assert await db.fetchval("SELECT COUNT(*) FROM t") == 3
    finally:
        await db.close()


async def test_several_reads_and_reads_built_from_a_first_one_are_one_trip(tmp_path):
    """`fetch_together` and `fetch_after` (a box's record, then its facts by its id) answer the
    rows each read would, and count as one read: one trip to a reader's thread."""
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER, y TEXT)")
            await tx.executemany("INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
        reads = db.reads
        rows = await db.fetch_together(
            ("SELECT COUNT(*) FROM t", ()), ("SELECT y FROM t WHERE x > ? ORDER BY x", (1,))
        )
        assert [[tuple(r) for r in found] for found in rows] == [[(3,)], [("b",), ("c",)]]
        first, more = await db.fetch_after(
            ("SELECT x FROM t WHERE y = ?", ("b",)),
            lambda found: [("SELECT y FROM t WHERE x > ?", (found[0][0],))],
        )
        assert first[0][0] == 2 and [tuple(r) for r in more[0]] == [("c",)]
        first, more = await db.fetch_after(
            ("SELECT x FROM t WHERE y = ?", ("z",)), lambda found: []
        )
        assert first == [] and more == []
        assert db.reads == reads + 3
    finally:
        await db.close()


async def test_a_page_read_while_its_flush_is_being_written_is_still_known(client, box):
    """Where a box stopped reading is answered from memory until the flush that writes it has
    committed (it used to be in neither memory nor the file meanwhile: 继续 began at page 1)."""
    import asyncio

    from tv_server import keys

    db = client.app[keys.DB]
    usage = client.app[keys.USAGE]
    pid = await db.fetchval("SELECT id FROM programs WHERE video_media_id IS NULL LIMIT 1")
    device_id = await db.fetchval("SELECT id FROM devices WHERE serial = 'DEMO-0001'")
    usage.record_view(device_id, pid, 3)
    flush = asyncio.create_task(usage.flush())
    await asyncio.sleep(0)  # the flush has taken the records and waits for its transaction
    assert await usage.page_for(device_id, pid) == 3
    await flush
    assert await usage.page_for(device_id, pid) == 3


async def _table(tmp_path) -> Database:
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    async with db.transaction() as tx:
        await tx.execute("CREATE TABLE t (x INTEGER, y TEXT)")
        await tx.executemany("INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b")])
    return db


async def test_small_reads_take_no_trip_to_a_readers_thread(tmp_path):
    """A box's record and facts (`fetch_after`, `fetch_together`) are read on the event loop's
    own thread: they answer, and see the last commit, even while every reader thread is busy
    (a trip cost several times the reads: the launch bench's largest cost)."""
    import asyncio

    db = await _table(tmp_path)
    held = [await db._readers.get() for _ in range(db._n_readers)]  # every reader busy
    try:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (3, 'c')")
        rows = await asyncio.wait_for(db.fetch_together(("SELECT COUNT(*) FROM t", ())), 2)
        assert rows[0][0][0] == 3
        first, more = await asyncio.wait_for(
            db.fetch_after(
                ("SELECT x FROM t WHERE y = ?", ("b",)),
                lambda found: [("SELECT y FROM t WHERE x > ?", (found[0][0],))],
            ),
            2,
        )
        assert first[0]["x"] == 2 and [r["y"] for r in more[0]] == ["c"]
    finally:
        for conn in held:
            db._readers.put_nowait(conn)
        await db.close()
