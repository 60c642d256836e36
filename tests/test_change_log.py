"""Changes written by another process on SQLite (storage/changelog.py): a `legaltv` command's
transaction appends its changes to `change_log`, and the running server publishes them on its
hub within `change_poll_seconds` — no restart (docs/architecture.md, "Writes by another
process")."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from content.directory import csv_io as directory_io
from content.laws import register as laws
from storage import Database, changelog
from storage.changelog import ChangeLogFollower
from storage.changes import MAX_IDS, Change
from tests.helpers import enter, make_settings
from tv_server import keys
from tv_server.app import create_app
from tv_server.migrations import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
POLL = 0.3


async def _legaltv(*argv: str) -> str:
    """Run a `legaltv` command as a process of its own; its standard output."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tv_server.cli", *argv, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await cli.communicate()
    assert cli.returncode == 0, err.decode()
    return out.decode()


async def _served_within(client, page: str, text: str, seconds: float) -> None:
    started = time.monotonic()
    while text not in await (await client.get(page)).text():
        assert time.monotonic() - started < seconds, f"the server kept serving {page} as before"
        await asyncio.sleep(0.05)


async def test_a_law_renamed_by_laws_import_reaches_the_running_server(data_dir, front_client):
    """Before change_log a law renamed by the CLI needed a restart on SQLite: the program
    screens that cite it stayed in the screen cache."""
    client = await front_client(
        create_app(make_settings(data_dir, change_poll_seconds=POLL, announcement_poll_seconds=60))
    )
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = 'jiaotong-shigu'")
    page = f"{await enter(client)}p-{pid}-4"
    for _ in range(2):  # now in the screen cache
        assert "《中华人民共和国道路交通安全法》" in await (await client.get(page)).text()
    law = (await laws.get_law(db, "road-traffic-safety-law")).values()
    csv_file = data_dir.parent / "laws.csv"
    csv_file.write_bytes(laws.export_csv([laws.Law(**law | {"name": "道路交通安全法（新名）"})]))
    out = await _legaltv("laws", "import", str(csv_file), "--data-dir", str(data_dir))
    assert "1 changed" in out
    await _served_within(client, page, "《道路交通安全法（新名）》", 10 * POLL)
    health = await (await client.get("/healthz")).json()
    assert health["node"]["changes_received"] >= 1


async def test_a_point_renamed_by_directory_import_reaches_the_running_server(
    data_dir, front_client
):
    """Before change_log the TV's directory screens kept a point's old name until a restart."""
    client = await front_client(
        create_app(make_settings(data_dir, change_poll_seconds=POLL, announcement_poll_seconds=60))
    )
    db = client.app[keys.DB]
    page = f"{await enter(client)}dir-150621"
    for _ in range(2):
        assert "达拉特旗公共法律服务中心" in await (await client.get(page)).text()
    text = directory_io.decode(await directory_io.export_csv(db))
    csv_file = data_dir.parent / "points.csv"
    csv_file.write_bytes(
        b"\xef\xbb\xbf" + text.replace("达拉特旗公共法律服务中心", "达拉特旗法律服务总站").encode()
    )
    await _legaltv("directory", "import", str(csv_file), "--data-dir", str(data_dir))
    await _served_within(client, page, "达拉特旗法律服务总站", 10 * POLL)


@pytest.mark.sqlite_only("change_log carries changes between processes on SQLite")
async def test_the_log_carries_other_processes_changes_once_and_skips_its_own(tmp_path):
    path = tmp_path / "t.db"
    server, command = Database(path), Database(path)
    heard: list[Change] = []
    for db in (server, command):
        await db.open()
    try:
        await server.migrate(MIGRATIONS)
        server.changes.subscribe(["program", "directory"], heard.append)
        follower = ChangeLogFollower(server, interval=60)
        await follower.start()
        async with command.transaction() as tx:  # another process's write: one row
            tx.emit("program", [7])
            tx.emit("directory", ["sp-1"], region="150621")
            tx.emit("program", [7])  # the same change twice: logged once
        async with command.transaction() as tx:
            tx.emit("program", [8])
        with pytest.raises(RuntimeError):
            async with command.transaction() as tx:  # rolled back: no row, nothing heard
                tx.emit("program", [9])
                raise RuntimeError
        async with server.transaction() as tx:  # the server's own: published after COMMIT
            tx.emit("program", [10])
        assert heard == [Change.of("program", [10])]
        assert await server.fetchval("SELECT COUNT(*) FROM change_log") == 3
        assert await follower.poll() == 3
        assert heard[1:] == [
            Change.of("program", [7]),
            Change.of("directory", ["sp-1"], "150621"),
            Change.of("program", [8]),
        ]
        assert await follower.poll() == 0  # nothing twice
        # A transaction touching many objects: one row of bounded size.
        async with command.transaction() as tx:
            for n in range(500):
                tx.emit("program", [n])
            tx.emit("box", [f"S-{n}" for n in range(MAX_IDS + 1)])
        row = await server.fetchval("SELECT changes FROM change_log ORDER BY id DESC LIMIT 1")
        assert changelog.changes_of(row) == [Change("program"), Change("box")]
    finally:
        for db in (server, command):
            await db.close()


@pytest.mark.sqlite_only("change_log carries changes between processes on SQLite")
async def test_old_rows_are_pruned_and_a_follower_that_missed_rows_drops_every_cache(tmp_path):
    path = tmp_path / "t.db"
    server, command = Database(path), Database(path)
    for db in (server, command):
        await db.open()
    try:
        await server.migrate(MIGRATIONS)
        resets: list[int] = []
        server.changes.subscribe(["program"], lambda change: None, reset=lambda: resets.append(1))
        follower = ChangeLogFollower(server, interval=60)
        await follower.start()
        for n in range(3):
            async with command.transaction() as tx:
                tx.emit("program", [n])
        await command.execute("UPDATE change_log SET at = at - ?", (changelog.KEEP_SECONDS + 1,))
        async with command.transaction() as tx:
            tx.emit("program", [99])
        await follower.prune()
        assert await server.fetchval("SELECT COUNT(*) FROM change_log") == 1
        assert await follower.poll() == 1
        assert resets == [1]  # three rows went unread: the caches could not know
    finally:
        for db in (server, command):
            await db.close()
