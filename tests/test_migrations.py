"""The order migrations apply in is the list in tv_server/migrations.py: no two share a name, and
the released ones keep their places (a database made by a release applied them in this order, a
new one must too), whatever their names (`registry_104` applies after `registry_202`)."""

from __future__ import annotations

import gzip
import sqlite3
import tempfile
from pathlib import Path

import pytest

from storage import Database, Migration
from tests.helpers import ROOT
from tv_server import migrations
from tv_server.migrations import MIGRATIONS, ORDER, in_order

FIXTURES = ROOT / "tests" / "fixtures"
FORMERLY = {old: m.name for m in MIGRATIONS for old in m.formerly}


def _applied(fixture: str) -> list[str]:
    """The migrations a database made by an earlier version recorded, in the order it applied
    them (rowid order), under today's names."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "db.sqlite3"
        path.write_bytes(gzip.decompress((FIXTURES / fixture).read_bytes()))
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute("SELECT name FROM schema_migrations ORDER BY rowid").fetchall()
        finally:
            conn.close()
    return [FORMERLY.get(name, name) for (name,) in rows]


def test_released_migrations_keep_their_places():
    names = [m.name for m in MIGRATIONS]
    assert names == ORDER
    # Main before the renames (0ca6878) applied every migration it had in this order: a new
    # migration goes after all of them.
    latest = _applied("legaltv-0ca6878-demo.sqlite3.gz")
    assert len(latest) == 43 and names[: len(latest)] == latest
    # Release 0.1.0 applied its own in the same relative order as a new database does.
    released = _applied("legaltv-0.1.0-demo.sqlite3.gz")
    assert released and [n for n in names if n in released] == released


def test_no_two_migrations_share_a_name_or_a_former_name():
    every = [name for m in MIGRATIONS for name in (m.name, *m.formerly)]
    assert len(every) == len(set(every))
    # Each domain's schema.py lists its own steps in the same relative order.
    for domain in migrations.DOMAINS:
        positions = [ORDER.index(m.name) for m in domain]
        assert positions == sorted(positions)


def test_the_list_is_checked_when_it_is_built():
    a, b = Migration("a_0001", "SELECT 1"), Migration("b_0001", "SELECT 1")
    assert in_order([[a], [b]], ["b_0001", "a_0001"]) == [b, a]
    with pytest.raises(ValueError, match="two migrations are named a_0001"):
        in_order([[a], [Migration("a_0001", "SELECT 2")]], ["a_0001"])
    with pytest.raises(ValueError, match="two migrations are named a_0001"):
        in_order([[a], [Migration("c_0001", "SELECT 2", formerly=("a_0001",))]], ["a_0001"])
    with pytest.raises(ValueError, match="must name every migration once"):
        in_order([[a], [b]], ["a_0001"])
    with pytest.raises(ValueError, match="must name every migration once"):
        in_order([[a], [b]], ["a_0001", "b_0001", "a_0001"])
    with pytest.raises(ValueError, match="not in the order"):
        in_order([[a, b]], ["b_0001", "a_0001"])


async def test_a_step_is_applied_once_under_its_new_name(tmp_path):
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    try:
        assert await db.migrate([Migration("old_0001_t", "CREATE TABLE t (x)")]) == ["old_0001_t"]
        renamed = [
            Migration("new_0001_t", "CREATE TABLE t (x)", formerly=("old_0001_t",)),
            Migration("new_0002_u", "CREATE TABLE u (x)"),
        ]
        assert await db.migrate(renamed) == ["new_0002_u"]
        rows = await db.fetchall("SELECT name FROM schema_migrations ORDER BY name")
        assert [r[0] for r in rows] == ["new_0001_t", "new_0002_u"]
        with pytest.raises(ValueError, match="duplicate migration names"):
            await db.migrate([*renamed, Migration("old_0001_t", "SELECT 1")])
    finally:
        await db.close()
