"""A callback acknowledged to a box survives `kill -9` of a real `legaltv serve` process right
after the receipt: after a restart the request is there with the same reference, once, and
retrying the same submission returns that reference. On either backend (on PostgreSQL the
server process dies, the database server keeps what it committed)."""

from __future__ import annotations

import re

import aiohttp

from tests.helpers import ServeProcess, free_port, test_database


async def _enter(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(base + "/tv/", params={"stb": "DEMO-0001"}, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        return r.headers["Location"][: -len("home")]


async def _submit(session, base: str, box: str, draft: str) -> str:
    async with session.post(
        base + box + "cb-submit", data={"d": draft, "w": "morning"}, allow_redirects=False
    ) as r:
        assert r.status == 303, await r.text()
        return r.headers["Location"].rsplit("r-", 1)[1]


async def test_acknowledged_request_survives_kill_9(data_dir, tmp_path):
    server = ServeProcess(data_dir, free_port(), tmp_path / "server.log")
    try:
        await server.start()
        async with aiohttp.ClientSession() as session:
            box = await _enter(session, server.base)
            async with session.post(
                server.base + box + "cb-phone",
                data={"svc": "consultation", "sp": "", "d": "", "phone": "13800138000"},
                allow_redirects=False,
            ) as r:
                assert r.status == 303, await r.text()
                draft = re.search(r"d=([0-9a-f]+)", r.headers["Location"]).group(1)
            ref = await _submit(session, server.base, box, draft)
            server.kill9()  # right after the receipt: no shutdown, no checkpoint

        await server.start()
        async with aiohttp.ClientSession() as session:
            async with session.get(server.base + box + "mine") as r:
                assert r.status == 200
                assert ref in await r.text()
            # the box retries the same submission (e.g. it never saw the receipt)
            assert await _submit(session, server.base, box, draft) == ref
    finally:
        server.stop()
    db = test_database(data_dir)
    await db.open()
    try:
        rows = await db.fetchall(
            "SELECT ref, status FROM callback_requests WHERE idempotency_key = ?", (draft,)
        )
        events = await db.fetchval(
            "SELECT COUNT(*) FROM callback_events e JOIN callback_requests r"
            " ON r.id = e.request_id WHERE r.ref = ? AND e.kind = 'submitted'",
            (ref,),
        )
    finally:
        await db.close()
    assert [tuple(r) for r in rows] == [(ref, "submitted")]
    assert events == 1
