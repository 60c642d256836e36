"""Outbound webhooks: signed, retried with backoff until delivered, one dead endpoint never
blocks another; delivered by the real aiohttp client to a real local server."""

import time

import aiohttp
from aiohttp import web

from callbacks import lifecycle, webhooks
from callbacks import requests as box_requests
from tests.helpers import make_settings
from tv_server import keys
from tv_server.app import create_app
from tv_server.callback_tasks import deliver_due


async def test_failing_endpoint_is_retried_until_delivered_and_dead_one_blocks_nobody(
    front_client, front_server, data_dir
):
    # The app's own sender sleeps an hour between rounds here: this test drives the rounds.
    client = await front_client(create_app(make_settings(data_dir, webhook_poll_seconds=3600)))
    received, failures_left = [], {"n": 2}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        if failures_left["n"] > 0:
            failures_left["n"] -= 1
            return web.Response(status=503)
        received.append((request.headers, body))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await front_server(app)
    db = client.app[keys.DB]
    good = await webhooks.add_endpoint(db, "hotline", str(server.make_url("/hook")))
    await webhooks.add_endpoint(db, "dead", "http://127.0.0.1:9/nothing-listens")
    device = await db.fetchone("SELECT id, village_code FROM devices WHERE serial='DEMO-0001'")
    chain = [r.code for r in client.app[keys.REGIONS].chain(device[1])]
    draft = box_requests.validate("consultation", "13800138000", "morning", "hookhook1")
    await lifecycle.submit(db, lifecycle.Policy(), device[0], draft, chain, max_open=3)

    async with aiohttp.ClientSession() as session:
        for _ in range(3):  # two failures, then success; make every row due again each round
            await db.execute("UPDATE webhook_outbox SET next_attempt_at = 0")
            await deliver_due(db, session)
    assert len(received) == 1
    headers, body = received[0]
    assert webhooks.verify(good.secret, body, headers[webhooks.SIGNATURE_HEADER])
    assert not webhooks.verify("wrong", body, headers[webhooks.SIGNATURE_HEADER])
    assert headers[webhooks.DELIVERY_HEADER].startswith("evt-")
    assert b"13800138000" not in body
    dead = await db.fetchone(
        "SELECT attempts, next_attempt_at, delivered_at FROM webhook_outbox o"
        " JOIN webhook_endpoints w ON w.id = o.endpoint_id WHERE w.name = 'dead'"
    )
    assert dead["attempts"] == 3 and dead["delivered_at"] is None
    assert dead["next_attempt_at"] > time.time() + 15  # backed off: 5, 10, 20 s …


def test_backoff_doubles_and_is_capped():
    assert [webhooks.backoff(n) for n in (1, 2, 3)] == [5, 10, 20]
    assert webhooks.backoff(40) == webhooks.MAX_DELAY
