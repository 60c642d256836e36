"""The hotline's read-only appointments API (scope appointments:read) and the day-before
reminders through the webhook outbox (signed, delivered by the real sender, no full number unless
the operator asks for it, never in the log; sent by `legaltv serve` on its own)."""

import asyncio
import datetime as dt
import json
import logging
import time

import aiohttp
import pytest
from aiohttp import web

from accounts import apikeys
from appointments import reminders, slots
from callbacks import webhooks
from storage import clock
from tests.helpers import (
    POINT,
    ServeProcess,
    book,
    enter,
    free_port,
    make_settings,
    phone_step,
    publish,
    tomorrow,
)
from tv_server import keys
from tv_server.app import create_app
from tv_server.callback_tasks import deliver_due


async def key(client, *scopes):
    _k, raw = await apikeys.create(client.app[keys.DB], "hotline-" + str(len(scopes)), list(scopes))
    return {"X-API-Key": raw}


async def booked(client, box):
    await publish(client)
    draft = await phone_step(client, box, tomorrow())
    return (await book(client, box, draft, tomorrow())).headers["Location"].rsplit("a-", 1)[1]


async def test_the_hotline_reads_bookings_with_the_scope_only(client, box):
    code = await booked(client, box)
    reader = await key(client, "appointments:read")
    response = await client.get(
        "/api/v1/appointments",
        params={"point": POINT, "day": tomorrow().isoformat()},
        headers=reader,
    )
    assert response.status == 200
    body = await response.json()
    [item] = body["appointments"]
    assert item["code"] == code and item["status"] == "booked" and item["start"] == "09:00"
    assert item["phone_masked"] == "138****8000" and "13800138000" not in json.dumps(body)
    one = await client.get(f"/api/v1/appointments/{code}", headers=reader)
    assert (await one.json())["code"] == code
    assert (await client.get("/api/v1/appointments/ZZZZZZ", headers=reader)).status == 404
    # Other scopes, no key, a key in the URL: refused with a JSON error.
    other = await key(client, "open311:read", "coverage:read")
    response = await client.get(f"/api/v1/appointments/{code}", headers=other)
    assert response.status == 403 and (await response.json())["error"]["code"] == "api_key_scope"
    assert (await client.get(f"/api/v1/appointments/{code}")).status == 401
    raw = reader["X-API-Key"]
    response = await client.get(f"/api/v1/appointments/{code}", params={"api_key": raw})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "api_key_in_query"
    # No filter: no dump of every booking.
    response = await client.get("/api/v1/appointments", headers=reader)
    assert response.status == 400


async def test_the_openapi_document_names_every_route_and_the_scope(client):
    doc = await (await client.get("/api/v1/appointments/openapi.json")).json()
    served = {
        r.resource.canonical
        for r in client.app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/api/v1/appointments")
        and r.method == "GET"
        and not r.resource.canonical.endswith("openapi.json")
    }
    assert served == set(doc["paths"])
    assert "appointments:read" in doc["components"]["securitySchemes"]["apiKey"]["description"]
    assert "appointments:read" in apikeys.SCOPES


def at_cst(day: dt.date, hour: int) -> float:
    return clock.at(day, dt.time(hour))


async def sms_gateway(front_server):
    """The operator's SMS gateway: a real server on loopback whose `POST /sms` deliveries
    (headers, body) land in the list returned beside it."""
    received = []

    async def deliver(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    gateway = web.Application()
    gateway.router.add_post("/sms", deliver)
    return await front_server(gateway), received


async def test_reminders_go_out_once_the_day_before_through_the_outbox(
    front_client, front_server, data_dir, caplog
):
    client = await front_client(create_app(make_settings(data_dir, webhook_poll_seconds=3600)))
    server, received = await sms_gateway(front_server)
    db = client.app[keys.DB]
    endpoint = await webhooks.add_endpoint(db, "sms", str(server.make_url("/sms")))
    box = await enter(client)
    code = await booked(client, box)
    today = slots.today()
    # Not before 09:00 the day before; then exactly once.
    assert await reminders.queue_due(db, with_phone=False, now=at_cst(today, 7)) == 0
    caplog.set_level(logging.INFO)
    assert await reminders.queue_due(db, with_phone=False, now=at_cst(today, 10)) == 1
    assert await reminders.queue_due(db, with_phone=False, now=at_cst(today, 11)) == 0
    # Queued "at 10:00 today", which may still be ahead of the real clock the sender reads.
    await db.execute("UPDATE webhook_outbox SET next_attempt_at = 0")
    async with aiohttp.ClientSession() as session:
        assert await deliver_due(db, session) == 1
    [(headers, body)] = received
    assert headers["X-LegalTV-Event"] == "appointment.reminder"
    assert webhooks.verify(endpoint.secret, body, headers["X-LegalTV-Signature"])
    payload = json.loads(body)
    assert payload["appointment"]["code"] == code
    assert payload["appointment"]["day"] == tomorrow().isoformat()
    assert "phone" not in payload["appointment"] and "13800138000" not in body.decode()
    assert "13800138000" not in caplog.text and "8613800138000" not in caplog.text


async def test_with_the_setting_on_the_gateway_gets_the_number(client, box, caplog):
    db = client.app[keys.DB]
    await webhooks.add_endpoint(db, "sms", "http://127.0.0.1:9/sms")
    await booked(client, box)
    caplog.set_level(logging.DEBUG)
    assert await reminders.queue_due(db, with_phone=True, now=at_cst(slots.today(), 10)) == 1
    payload = json.loads(await db.fetchval("SELECT payload FROM webhook_outbox"))
    assert payload["appointment"]["phone"] == "+8613800138000"
    # A failed delivery (nothing listens on port 9) records and logs no number either.
    await db.execute("UPDATE webhook_outbox SET next_attempt_at = 0")
    async with aiohttp.ClientSession() as session:
        assert await deliver_due(db, session) == 0
    error = await db.fetchval("SELECT last_error FROM webhook_outbox")
    assert error and "13800138000" not in error
    assert "13800138000" not in caplog.text


async def test_a_cancelled_booking_gets_no_reminder(client, box):
    db = client.app[keys.DB]
    await webhooks.add_endpoint(db, "sms", "http://127.0.0.1:9/sms")
    code = await booked(client, box)
    assert (await client.post(f"{box}ac-{code}", allow_redirects=False)).status == 303
    assert await reminders.queue_due(db, with_phone=False, now=at_cst(slots.today(), 10)) == 0
    assert await db.fetchval("SELECT COUNT(*) FROM webhook_outbox") == 0


@pytest.fixture
def offices_at_noon(data_dir):
    """An offices' zone (`timezone`) where it is past noon now, whatever hour the suite runs at:
    reminders go out from 09:00 the day before on the offices' clock. (The zone is the
    process's: put back after.)"""
    offset = 12 - dt.datetime.now(dt.UTC).hour  # -11 … 12
    yield "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX: Etc/GMT-3 is UTC+3
    clock.set_zone(clock.DEFAULT_ZONE)


async def test_the_running_server_sends_the_reminder_by_itself(
    offices_at_noon, front_client, front_server, data_dir, tmp_path, monkeypatch
):
    """`legaltv serve` queues and delivers the day-before reminder on its own (no test calls a
    reminder round): a household books for tomorrow through the TV, the server starts, and the
    operator's SMS gateway gets the signed reminder with the masked number only. The server
    runs a round as soon as it leads and every minute after: booking before it starts spares
    the test that minute."""
    sms, received = await sms_gateway(front_server)
    # The booking, through the real app (whose sender is held back: only the server sends).
    settings = make_settings(data_dir, timezone=offices_at_noon, webhook_poll_seconds=3600)
    client = await front_client(create_app(settings))
    db = client.app[keys.DB]
    endpoint = await webhooks.add_endpoint(db, "sms", str(sms.make_url("/sms")))
    code = await booked(client, await enter(client))
    await client.close()
    monkeypatch.setenv("LEGALTV_TIMEZONE", offices_at_noon)
    monkeypatch.setenv("LEGALTV_WEBHOOK_POLL_SECONDS", "0.2")
    monkeypatch.setenv("LEGALTV_LOG_LEVEL", "DEBUG")
    server = ServeProcess(data_dir, free_port(), tmp_path / "server.log")
    try:
        await server.start()
        deadline = time.monotonic() + 30
        while not received:
            assert time.monotonic() < deadline, "no reminder:\n" + server.log.read_text()[-4000:]
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # later rounds send nothing more
    finally:
        server.stop()
    [(headers, body)] = received
    assert headers[webhooks.EVENT_HEADER] == "appointment.reminder"
    assert webhooks.verify(endpoint.secret, body, headers[webhooks.SIGNATURE_HEADER])
    reminder = json.loads(body)["appointment"]
    assert reminder["code"] == code and reminder["day"] == tomorrow().isoformat()
    assert reminder["start"] == "09:00" and reminder["point"] == POINT
    assert reminder["phone_masked"] == "138****8000" and "phone" not in reminder
    assert "13800138000" not in body.decode()
    assert "13800138000" not in server.log.read_text()  # at log_level DEBUG too
