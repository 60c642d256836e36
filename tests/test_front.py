"""The front (tv_server.front): repeat TV screens and heartbeats answered before routing must be
answered exactly as the full path answers them, and `legaltv serve` (which serves through the
front) stops cleanly on SIGTERM without losing buffered usage records."""

from __future__ import annotations

import signal
import sqlite3

import aiohttp

from tests.test_callback_durability import Server, free_port
from tv_server import keys

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
        "SELECT COUNT(*) FROM usage_events WHERE kind = 'view' AND program_id = ?", (pid,)
    )
    assert views == 3


async def test_serve_stops_on_sigterm_and_keeps_buffered_usage(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LEGALTV_USAGE_FLUSH_SECONDS", "3600")  # only the shutdown flush writes
    server = Server(data_dir, free_port(), tmp_path / "server.log")
    try:
        await server.start()
        async with aiohttp.ClientSession() as session:
            async with session.get(
                server.base + "/tv/", params={"stb": LIVE}, allow_redirects=False
            ) as r:
                box = r.headers["Location"][: -len("home")]
            with sqlite3.connect(data_dir / "legaltv.sqlite3") as conn:
                pid = conn.execute(
                    "SELECT id FROM programs WHERE status = 'published' LIMIT 1"
                ).fetchone()[0]
            for _ in range(2):
                async with session.get(f"{server.base}{box}p-{pid}-2") as r:
                    assert r.status == 200
            async with session.get(server.base + "/healthz") as r:
                assert (await r.json())["front"]["tv_screen"] == 1
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(15) == 0, server.log.read_text()
    finally:
        server.stop()
    with sqlite3.connect(data_dir / "legaltv.sqlite3") as conn:
        views = conn.execute(
            "SELECT COUNT(*) FROM usage_events WHERE kind = 'view' AND program_id = ? AND page = 2",
            (pid,),
        ).fetchone()[0]
    assert views == 2
