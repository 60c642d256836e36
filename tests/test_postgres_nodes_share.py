"""What several LegalTV processes on one PostgreSQL database share beyond their data: the
heartbeat flush as one multi-row statement per batch, and the rate limits that must hold across
nodes (admin login per address, the account lock-out, self-registration per address and new
boxes per minute), tested with two apps on one database.

These tests run on PostgreSQL whichever backend the rest of the suite runs on: the suite's
cluster when it runs on PostgreSQL, else a throwaway cluster of this module's own.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import pytest

from device_registry import enrolment
from device_registry.states import REFUSED_STATES
from storage import database_for
from storage.copy import copy_database
from storage.limits import SharedWindow
from storage.pg import PgDatabase
from tests.helpers import URL_FILE, device_token_key, login, make_settings
from tv_server import keys
from tv_server.api.devices import HEARTBEATS
from tv_server.app import create_app
from tv_server.migrations import MIGRATIONS


@pytest.fixture
async def demo_on_pg(postgres, data_dir) -> str:
    """The URL of a PostgreSQL database holding this test's copy of the demo."""
    url_file = data_dir / URL_FILE
    if url_file.exists():  # the suite runs on PostgreSQL: the data dir's database is one
        return url_file.read_text()
    name = "n_" + uuid.uuid4().hex[:16]
    postgres.psql(f"CREATE DATABASE {name}")
    source = database_for("", data_dir / "legaltv.sqlite3")
    target = PgDatabase(postgres.url(name))
    await source.open()
    await target.open()
    try:
        await copy_database(source, target, MIGRATIONS, progress=lambda _line: None)
    finally:
        await source.close()
        await target.close()
    return postgres.url(name)


async def _node(front_client, data_dir, url, **settings):
    return await front_client(create_app(make_settings(data_dir, database_url=url, **settings)))


# -- heartbeats: one statement per flush -----------------------------------------------------


async def _device_updates(observer: asyncpg.Connection) -> int:
    """How many times PostgreSQL executed an UPDATE of devices in this database."""
    return await observer.fetchval(
        "SELECT COALESCE(SUM(s.calls), 0) FROM pg_stat_statements s"
        " JOIN pg_database d ON d.oid = s.dbid"
        " WHERE d.datname = current_database() AND s.query LIKE 'UPDATE devices SET%'"
    )


async def test_a_heartbeat_flush_is_one_statement_and_lands_every_beat(
    demo_on_pg, data_dir, front_client
):
    # The background flush waits an hour: the test flushes the batch itself.
    client = await _node(front_client, data_dir, demo_on_pg, usage_flush_seconds=3600)
    db = client.app[keys.DB]
    refused = ", ".join(f"'{s}'" for s in REFUSED_STATES)
    serials = [
        r[0]
        for r in await db.fetchall(
            f"SELECT serial FROM devices WHERE serial LIKE 'DEMO-%' AND state NOT IN ({refused})"
            " ORDER BY serial LIMIT 40"
        )
    ]
    assert len(serials) == 40
    tokens = [await enrolment.issue_token(db, s, key=device_token_key(client.app)) for s in serials]
    observer = await asyncpg.connect(demo_on_pg)
    try:
        await observer.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        before = await _device_updates(observer)
        sent = time.time()
        for n, (serial, token) in enumerate(zip(serials, tokens, strict=True)):
            response = await client.post(
                f"/api/v1/devices/{serial}/heartbeat",
                json={"firmware": f"V2-{n}", "portal_version": "3.0.1", "uptime": 1000 + n},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status == 202, await response.text()
        assert await client.app[HEARTBEATS].flush() == 40
        # One UPDATE … FROM unnest(…) for the 40 beats (not one statement per box).
        assert await _device_updates(observer) - before == 1
    finally:
        await observer.close()
    rows = await db.fetchall(
        "SELECT serial, firmware, portal_version, uptime, last_seen, state FROM devices"
        " WHERE serial LIKE 'DEMO-%' ORDER BY serial LIMIT 40"
    )
    landed = {r[0]: tuple(r[1:4]) for r in rows}
    assert landed == {s: (f"V2-{n}", "3.0.1", 1000 + n) for n, s in enumerate(serials)}
    assert all(r["last_seen"] >= sent - 1 and r["state"] == "active" for r in rows)


async def test_a_heartbeat_is_an_update_in_place_on_postgresql(demo_on_pg, data_dir, front_client):
    """`last_seen` is in no index of `devices` and its pages keep room (registry_209): a beat
    rewrites the row on its own page without new index entries (a HOT update: a fraction of
    the WAL, and none of the index bloat, of an ordinary update)."""
    client = await _node(front_client, data_dir, demo_on_pg, usage_flush_seconds=3600)
    db = client.app[keys.DB]
    refused = ", ".join(f"'{s}'" for s in REFUSED_STATES)
    rows = await db.fetchall(  # one box per table page
        "SELECT DISTINCT ON ((ctid::text::point)[0]) serial FROM devices"
        f" WHERE state NOT IN ({refused}) ORDER BY (ctid::text::point)[0], serial"
    )
    serials = [r[0] for r in rows][:5]
    assert serials
    tokens = [await enrolment.issue_token(db, s, key=device_token_key(client.app)) for s in serials]
    observer = await asyncpg.connect(demo_on_pg)
    counts = "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'devices'"
    try:
        before = await observer.fetchrow(counts)
        for serial, token in zip(serials, tokens, strict=True):
            response = await client.post(
                f"/api/v1/devices/{serial}/heartbeat",
                json={"uptime": 60},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status == 202, await response.text()
        assert await client.app[HEARTBEATS].flush() == len(serials)
        for _ in range(100):  # the writer's statistics reach the shared counters when it idles
            after = await observer.fetchrow(counts)
            if after[0] - before[0] >= len(serials):
                break
            await asyncio.sleep(0.1)
    finally:
        await observer.close()
    assert after[0] - before[0] == len(serials)
    assert after[1] - before[1] == len(serials)  # every one in place


# -- rate limits across nodes ----------------------------------------------------------------


async def test_the_login_limit_per_address_holds_across_two_nodes(
    demo_on_pg, data_dir, front_client
):
    """Four attempts per address in ten minutes, spread over two nodes: the fifth is refused
    on both (each node alone has seen only two)."""
    nodes = [
        await _node(front_client, data_dir, demo_on_pg, login_attempts_per_ip=4) for _ in range(2)
    ]
    statuses = [(await login(nodes[n % 2], f"nobody{n}", "whatever pw")).status for n in range(4)]
    assert statuses == [401] * 4
    for node in nodes:
        response = await login(node, "nobody", "whatever pw")
        assert response.status == 429
        assert "尝试次数过多" in await response.text()


async def test_the_account_lock_out_holds_across_two_nodes(demo_on_pg, data_dir, front_client):
    nodes = [await _node(front_client, data_dir, demo_on_pg) for _ in range(2)]
    for n in range(5):
        response = await login(nodes[n % 2], "reviewer", "wrong password!")
        assert response.status == 401
    # The right password now fails on either node: the account is locked for 15 minutes.
    for node in nodes:
        response = await login(node, "reviewer")
        assert response.status == 401
    assert (await login(nodes[1], "editor")).status == 303  # other accounts are not affected


async def test_the_registration_limits_hold_across_two_nodes(demo_on_pg, data_dir, front_client):
    nodes = [
        await _node(front_client, data_dir, demo_on_pg, register_attempts_per_ip=3)
        for _ in range(2)
    ]
    statuses = [
        (await nodes[n % 2].post(f"/api/v1/devices/FLOOD-{n:04d}/register", json={})).status
        for n in range(5)
    ]
    assert statuses == [202, 202, 202, 429, 429]
    db = nodes[0].app[keys.DB]
    assert await db.fetchval("SELECT COUNT(*) FROM devices WHERE serial LIKE 'FLOOD-%'") == 3


async def test_the_cap_on_new_boxes_holds_across_two_nodes(demo_on_pg, data_dir, front_client):
    nodes = [
        await _node(front_client, data_dir, demo_on_pg, register_new_per_minute=2) for _ in range(2)
    ]
    statuses = [
        (await nodes[n % 2].post(f"/api/v1/devices/NEWBOX-{n:04d}/register", json={})).status
        for n in range(4)
    ]
    assert statuses == [202, 202, 429, 429]
    db = nodes[1].app[keys.DB]
    assert await db.fetchval("SELECT COUNT(*) FROM devices WHERE serial LIKE 'NEWBOX-%'") == 2


async def test_a_shared_window_forgets_hits_that_left_it(demo_on_pg):
    """Waiting helps: a refused hit is not counted, hits older than the window are erased (the
    table keeps no more than the window holds), and addresses are not stored."""
    window = SharedWindow("test", 2, 60.0)
    db = PgDatabase(demo_on_pg)
    await db.open()
    try:
        assert await window.retry_after(db, "10.0.0.1", now=1000.0) == 0
        assert await window.retry_after(db, "10.0.0.1", now=1001.0) == 0
        assert await window.retry_after(db, "10.0.0.1", now=1002.0) == pytest.approx(58.0)
        assert await window.retry_after(db, "10.0.0.2", now=1002.0) == 0  # another key
        assert await window.retry_after(db, "10.0.0.1", now=1060.5) == 0  # the first has left
        rows = await db.fetchall("SELECT bucket, at FROM rate_limit_hits WHERE name = 'test'")
        assert sorted(r[1] for r in rows) == [1001.0, 1002.0, 1060.5]
        assert not any("10.0.0" in r[0] for r in rows)
        assert await window.retry_after(db, "10.0.0.3", now=1200.0) == 0
        rows = await db.fetchall("SELECT at FROM rate_limit_hits WHERE name = 'test'")
        assert [r[0] for r in rows] == [1200.0]  # every key's old hits are erased
    finally:
        await db.close()
