"""Upgrades: a database made by release 0.1.0 (its demo, tests/fixtures/) is brought forward by
today's migrations with every row kept; a failing migration leaves it as it was and the server
refuses to start with a clear message."""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest

from storage import Database, Migration, MigrationError
from tests.helpers import ROOT, TEST_SECRET, free_port, launch_params, login, make_settings
from tv_server import keys
from tv_server.app import create_app
from tv_server.migrations import MIGRATIONS

FIXTURE = ROOT / "tests" / "fixtures" / "legaltv-0.1.0-demo.sqlite3.gz"
# The demo database of main at 0ca6878, the last commit before content migrations were renamed.
BEFORE_RENAMES = ROOT / "tests" / "fixtures" / "legaltv-0ca6878-demo.sqlite3.gz"
FORMERLY = {old: m.name for m in MIGRATIONS for old in m.formerly}


@pytest.fixture
def old_data_dir(tmp_path) -> Path:
    folder = tmp_path / "data-0.1.0"
    folder.mkdir()
    (folder / "legaltv.sqlite3").write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    return folder


def _snapshot(path: Path) -> dict:
    """Every table's rows (sorted), and the schema, read with the standard library."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        rows = {t: sorted(map(tuple, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}
        columns = {t: [c[1] for c in conn.execute(f'PRAGMA table_info("{t}")')] for t in tables}
        schema = sorted(conn.execute("SELECT type, name, sql FROM sqlite_master"))
        return {"rows": rows, "columns": columns, "schema": schema}
    finally:
        conn.close()


async def _migrate(path: Path, migrations=MIGRATIONS) -> list[str]:
    db = Database(path)
    await db.open()
    try:
        return await db.migrate(migrations)
    finally:
        await db.close()


async def test_migrations_bring_0_1_0_forward_keeping_every_row(old_data_dir):
    path = old_data_dir / "legaltv.sqlite3"
    before = _snapshot(path)
    assert len(before["rows"]["programs"]) == 15 and len(before["rows"]["devices"]) == 240

    applied = await _migrate(path)
    assert "accounts_0004_demo_accounts" in applied
    assert await _migrate(path) == []  # a second start changes nothing

    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    added_by_migrations = {"schema_migrations": len(applied), "devices": 1}  # the hotline's
    renamed = sorted(
        (FORMERLY.get(name, name), at) for name, at in before["rows"]["schema_migrations"]
    )
    before["rows"]["schema_migrations"] = renamed  # the same steps, under today's names
    for table, rows in before["rows"].items():
        columns = ", ".join(f'"{c}"' for c in before["columns"][table])
        kept = sorted(map(tuple, conn.execute(f'SELECT {columns} FROM "{table}"')))
        assert len(kept) == len(rows) + added_by_migrations.get(table, 0), table
        assert not Counter(rows) - Counter(kept), f"{table}: rows lost or changed"
    names = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
    assert names == {m.name for m in MIGRATIONS}
    assert "content_0001_programs" not in names and "programs_0001_programs" not in applied
    device = conn.execute(
        "SELECT village_code, state FROM devices WHERE serial = 'DEMO-0001'"
    ).fetchone()
    assert tuple(device) == ("150602001001", "active")
    assert (
        conn.execute("SELECT title FROM programs WHERE id = 1").fetchone()[0]
        == "草场流转合同怎么签"
    )
    admin = conn.execute(
        "SELECT role, disabled, demo FROM users WHERE username = 'admin'"
    ).fetchone()
    assert tuple(admin) == ("admin", 0, 1)  # recognised as a demo account
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


async def test_the_app_serves_an_upgraded_0_1_0_data_dir(front_client, old_data_dir):
    client = await front_client(
        create_app(make_settings(old_data_dir, demo=False, allow_unsigned=False))
    )
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "ok"
    assert health["database"]["migrations"] == len(MIGRATIONS)
    response = await client.get("/tv/launch", params=launch_params())
    assert response.status == 200
    assert "普法节目" in await response.text()
    response = await client.get(response.url.path.replace("/home", "/p-1-1"))
    assert "草场流转合同怎么签" in await response.text()
    # The 0.1.0 demo's accounts have the published password: off without --demo.
    assert (await login(client, "admin")).status != 303
    await client.close()

    # With --demo the old demo is recognised as loaded: nothing is added twice.
    demo = await front_client(create_app(make_settings(old_data_dir, demo=True)))
    db = demo.app[keys.DB]
    assert await db.fetchval("SELECT COUNT(*) FROM programs") == 15
    assert await db.fetchval("SELECT COUNT(*) FROM devices WHERE serial LIKE 'DEMO-%'") == 240
    assert await db.fetchval("SELECT COUNT(*) FROM users") == 6
    assert (await login(demo, "admin")).status == 303


async def test_a_database_of_main_before_the_renames_opens_with_nothing_applied_again(tmp_path):
    """Content migrations were renamed (`content_0001_programs` → `programs_0001_programs`, …):
    a database that recorded the old names opens with no migration applied twice, its rows and
    schema as they were, and the bookkeeping under today's names with the old times."""
    path = tmp_path / "legaltv.sqlite3"
    path.write_bytes(gzip.decompress(BEFORE_RENAMES.read_bytes()))
    before = _snapshot(path)
    old_names = dict(before["rows"]["schema_migrations"])
    assert "content_0001_programs" in old_names and "video_0003_device_models_hls" in old_names

    # The migrations that main had at 0ca6878 (its last was programs_0007, formerly video_0003):
    # none applies again; those added since apply once, after them.
    known = [m for m in MIGRATIONS if m.name in old_names or set(m.formerly) & set(old_names)]
    assert len(known) == len(old_names)
    assert await _migrate(path, known) == []
    after = _snapshot(path)
    assert after["schema"] == before["schema"]
    del before["rows"]["schema_migrations"]
    assert {t: r for t, r in after["rows"].items() if t != "schema_migrations"} == before["rows"]
    recorded = dict(after["rows"]["schema_migrations"])
    assert recorded == {FORMERLY.get(name, name): at for name, at in old_names.items()}
    newer = [m.name for m in MIGRATIONS if m not in known]
    assert await _migrate(path) == newer
    assert await _migrate(path) == []


async def test_the_app_serves_a_data_dir_of_main_before_the_renames(front_client, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "legaltv.sqlite3").write_bytes(gzip.decompress(BEFORE_RENAMES.read_bytes()))
    client = await front_client(create_app(make_settings(folder, demo=False)))
    health = await (await client.get("/healthz")).json()
    assert health["database"]["migrations"] == len(MIGRATIONS)
    response = await client.get("/tv/launch", params=launch_params())
    assert response.status == 200
    await client.close()


def _sabotage(path: Path) -> tuple[str, str]:
    """Make the last pending migration that creates a table fail, as a table an operator made
    by hand would: return the migration's name and the table's."""
    conn = sqlite3.connect(path)
    applied = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
    for step in reversed(MIGRATIONS):
        found = re.search(r"CREATE TABLE (\w+)", step.sql)
        if step.name not in applied and found:
            conn.execute(f"CREATE TABLE {found.group(1)} (x)")
            conn.commit()
            conn.close()
            return step.name, found.group(1)
    raise AssertionError("no pending migration creates a table")


async def test_a_failing_migration_leaves_the_database_as_it_was(old_data_dir):
    path = old_data_dir / "legaltv.sqlite3"
    name, table = _sabotage(path)
    pending = [m.name for m in MIGRATIONS]
    assert pending.index(name) > pending.index("accounts_0004_demo_accounts")  # others ran first
    before = _snapshot(path)
    with pytest.raises(MigrationError) as caught:
        await _migrate(path)
    assert caught.value.name == name
    assert f"table {table} already exists" in caught.value.error
    assert _snapshot(path) == before

    bad = [Migration("zz_9999_broken", "CREATE TABLE zz (a); INSERT INTO nowhere VALUES (1)")]
    with pytest.raises(MigrationError, match="zz_9999_broken failed: no such table: nowhere"):
        await _migrate(path, [*MIGRATIONS[:3], *bad])
    assert _snapshot(path) == before


async def test_the_server_refuses_to_start_on_a_failing_migration(old_data_dir):
    path = old_data_dir / "legaltv.sqlite3"
    name, table = _sabotage(path)
    before = _snapshot(path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEGALTV_LAUNCH_SECRET": TEST_SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tv_server.cli",
        "serve",
        "--data-dir",
        str(old_data_dir),
        "--port",
        str(free_port()),  # never listened on: the migration stops the start
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    message = err.decode()
    assert proc.returncode != 0
    assert f"migration {name} failed: table {table} already exists" in message
    assert "left as it was" in message
    assert "Traceback" not in message
    assert len(message.strip().splitlines()) <= 2, message
    assert _snapshot(path) == before
