"""The front (tv_server.front): repeat TV screens and heartbeats answered before routing must be
answered exactly as the full path answers them, and `legaltv serve` (which serves through the
front) stops cleanly on SIGTERM: without losing buffered usage records, and answering the
requests it was answering."""

from __future__ import annotations

import asyncio
import json
import signal

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from device_registry import enrolment
from tests.helpers import (
    ServeProcess,
    device_token_key,
    draft_for,
    free_port,
    make_settings,
    submit,
    value_in,
    write_lock_held,
)
from tv_server import keys
from tv_server.api.devices import HEARTBEATS
from tv_server.app import create_app

LIVE = "DEMO-0001"
VOLATILE = {"Date", "Server", "Content-Length", "Transfer-Encoding"}


def _headers(response) -> dict:
    return {k: v for k, v in response.headers.items() if k not in VOLATILE}


async def _front_answered(client) -> dict:
    response = await client.get("/healthz")
    return (await response.json())["front"]


async def test_a_repeat_screen_is_answered_by_the_front_exactly_as_the_full_path(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE status = 'published' LIMIT 1")
    url = f"{box}p-{pid}-1"
    first = await client.get(url)  # full path: routing, box resolution, cache build
    first_body = await first.read()
    assert (await _front_answered(client))["tv_screen"] == 0
    second = await client.get(url)
    assert await second.read() == first_body
    assert _headers(second) == _headers(first)
    assert second.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert second.headers["X-Frame-Options"] == "DENY"
    assert (await _front_answered(client))["tv_screen"] == 1
    # The box's revalidation is answered 304 by the front as well.
    etag = first.headers["ETag"]
    third = await client.get(url, headers={"If-None-Match": etag})
    assert third.status == 304 and (await _front_answered(client))["tv_screen"] == 2
    # The front counts the view as the full path does.
    await client.app[keys.USAGE].flush()
    views = await db.fetchval(
        "SELECT SUM(n) FROM usage_events WHERE kind = 'view' AND program_id = ?", (pid,)
    )
    assert views == 3


async def test_heartbeats_through_the_front_answer_as_the_routed_handler(
    front_client, data_dir, tmp_path
):
    """The same requests against the app served with and without the front give the same
    statuses, JSON bodies and headers; only the front counts them as its own."""
    settings = make_settings(data_dir)
    front = await front_client(create_app(settings))
    plain = TestClient(TestServer(create_app(settings)))  # aiohttp's own runner: no front
    await plain.start_server()
    try:
        token = await enrolment.issue_token(
            front.app[keys.DB], LIVE, key=device_token_key(front.app)
        )
        auth = {"Authorization": f"Bearer {token}"}
        good = {"firmware": "V1.2.3", "portal_version": "4.0.1", "uptime": 360}
        cases = [
            (f"/api/v1/devices/{LIVE}/heartbeat", good, auth, 202),  # verifies the token
            (f"/api/v1/devices/{LIVE}/heartbeat", good, auth, 202),  # the verified fast path
            (f"/api/v1/devices/{LIVE}/heartbeat", good, {"Authorization": "Bearer ltvd_x"}, 401),
            ("/api/v1/devices/NO-SUCH-BOX/heartbeat", good, auth, 404),
            (f"/api/v1/devices/{LIVE}/heartbeat", "not json", auth, 400),
            (f"/api/v1/devices/{LIVE}/heartbeat", {"colour": "red"}, auth, 400),
            (f"/api/v1/devices/{LIVE}/heartbeat", {"uptime": -1}, auth, 400),
            (f"/api/v1/devices/{LIVE}/heartbeat", {"firmware": "x" * 5000}, auth, 413),
            (f"/api/v1/devices/{LIVE}/heartbeat?x=1", good, auth, 202),
        ]
        for path, body, headers, status in cases:
            data = body if isinstance(body, str) else json.dumps(body)
            answers = []
            for c in (front, plain):
                r = await c.post(path, data=data, headers=headers)
                answers.append((r.status, await r.json(), _headers(r)))
            assert answers[0] == answers[1], path
            assert answers[0][0] == status, (path, answers[0])
        # Eight of the nine were answered by the front; the query string took the full path.
        assert (await _front_answered(front))["heartbeat"] == 8
        assert (await _front_answered(plain))["heartbeat"] == 0
        for c in (front, plain):
            await c.app[HEARTBEATS].flush()
        rows = await front.app[keys.DB].fetchall(
            "SELECT firmware, portal_version FROM devices WHERE serial = ?", (LIVE,)
        )
        assert [tuple(r) for r in rows] == [("V1.2.3", "4.0.1")]
    finally:
        await plain.close()


async def box_of(session, server) -> str:
    """The live demo box entered on a `legaltv serve` subprocess: its screens' base path."""
    async with session.get(server.base + "/tv/", params={"stb": LIVE}, allow_redirects=False) as r:
        return r.headers["Location"][: -len("home")]


async def test_serve_stops_on_sigterm_and_keeps_buffered_usage(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LEGALTV_USAGE_FLUSH_SECONDS", "3600")  # only the shutdown flush writes
    server = ServeProcess(data_dir, free_port(), tmp_path / "server.log")
    try:
        await server.start()
        async with aiohttp.ClientSession() as session:
            box = await box_of(session, server)
            pid = await value_in(
                data_dir, "SELECT id FROM programs WHERE status = 'published' LIMIT 1"
            )
            for _ in range(2):
                async with session.get(f"{server.base}{box}p-{pid}-2") as r:
                    assert r.status == 200
            async with session.get(server.base + "/healthz") as r:
                assert (await r.json())["front"]["tv_screen"] == 1
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(15) == 0, server.log.read_text()
    finally:
        server.stop()
    views = await value_in(
        data_dir,
        "SELECT SUM(n) FROM usage_events WHERE kind = 'view' AND program_id = ? AND page = 2",
        (pid,),
    )
    assert views == 2


async def test_serve_on_sigterm_answers_the_request_it_is_answering(data_dir, tmp_path):
    """A household's callback request on its way into the database when the server is told to
    stop (a restart, a node taken out behind nginx) is saved and answered, not cut off; then
    the server exits, whatever it was waiting on."""
    requests_before = await value_in(data_dir, "SELECT COUNT(*) FROM callback_requests")
    server = ServeProcess(data_dir, free_port(), tmp_path / "server.log")
    try:
        await server.start()
        async with aiohttp.ClientSession() as session:
            box = server.base + await box_of(session, server)
            draft = await draft_for(session, box)
            async with write_lock_held(data_dir):  # another process's long write
                sending = asyncio.create_task(submit(session, box, draft))
                await asyncio.sleep(1.5)  # the request waits for the database
                assert not sending.done()
                server.proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(1)
            response = await asyncio.wait_for(sending, 30)
            assert response.status == 303, await response.text()
        assert await asyncio.to_thread(server.proc.wait, 30) == 0, server.log.read_text()
    finally:
        server.stop()
    saved = await value_in(data_dir, "SELECT COUNT(*) FROM callback_requests")
    assert saved == requests_before + 1
