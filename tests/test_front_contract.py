"""The front lanes' contract (tv_server.front): their answers carry the security headers the
middleware gives every routed answer, their errors are built by the middleware's functions, and a
screen's view is recorded by the cache API on the full path and on every fast-lane repeat."""

from __future__ import annotations

from aiohttp import web

from tests.helpers import make_settings
from tv_server import keys
from tv_server.app import create_app
from tv_server.front import add_lane


async def test_every_lane_answer_carries_the_middlewares_security_headers(front_client, data_dir):
    app = create_app(make_settings(data_dir))
    add_lane(app, "bare", "GET", "/tv/bare", lambda _app, _request: web.Response(text="x"))
    client = await front_client(app)
    response = await client.get("/tv/bare")
    assert response.status == 200 and await response.text() == "x"
    routed = await client.get("/tv/no-such-screen")  # the full path, through `guard`
    for name in ("X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"):
        assert response.headers[name] == routed.headers[name]
    assert response.headers["Content-Security-Policy"] == routed.headers["Content-Security-Policy"]


async def _front_answered(client) -> int:
    return (await (await client.get("/healthz")).json())["front"]["tv_screen"]


async def test_a_video_watched_again_through_the_fast_lane_counts_as_a_view(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval(
        "SELECT id FROM programs WHERE video_media_id IS NOT NULL AND status = 'published'"
        " ORDER BY id LIMIT 1"
    )
    before = await _front_answered(client)
    for _ in range(3):
        assert (await client.get(f"{box}v-{pid}")).status == 200
    assert await _front_answered(client) == before + 2  # two repeats answered by the front
    await client.app[keys.USAGE].flush()
    views = await db.fetchval(
        "SELECT SUM(n) FROM usage_events WHERE kind = 'view' AND program_id = ?", (pid,)
    )
    assert views == 3
