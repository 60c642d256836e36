"""Personal data: webhook bodies carry codes and states only; retention erases every copy of a
household's number down to the bytes of the database file; no log line carries a box token or
an API key; the box cookie is Secure under https; staff revoke one box's TV sessions."""

import json
import logging
import re
import time

import aiohttp
from aiohttp import web

from callbacks import lifecycle, webhooks
from tests.helpers import (
    FORMS,
    PHONE,
    TEST_SECRET,
    ServeProcess,
    csrf_of,
    enter,
    free_port,
    login,
    make_settings,
    stored_bytes,
    test_database,
)
from tv_server import keys
from tv_server.app import create_app
from tv_server.boxauth import launch_signature
from tv_server.callback_tasks import deliver_due
from tv_server.logredact import redact

# What staff might type into a note or a reason: the number in the forms people write it.
NOTE = "家属说改打 139 1234 5678 或 13912345678，周末再联系"
REASON = "本人来电取消，留号 +86-139-1234-5678"


async def _submit(client, box: str, phone: str = PHONE) -> tuple[str, int, str]:
    response = await client.post(
        box + "cb-phone", data={"svc": "consultation", "phone": phone}, allow_redirects=False
    )
    draft = re.search(r"d=([0-9a-f]+)", response.headers["Location"]).group(1)
    response = await client.post(
        box + "cb-submit", data={"d": draft, "w": "morning"}, allow_redirects=False
    )
    assert response.status == 303
    ref = response.headers["Location"].rsplit("r-", 1)[1]
    cid = await client.app[keys.DB].fetchval(
        "SELECT id FROM callback_requests WHERE ref = ?", (ref,)
    )
    return ref, cid, draft


async def _act(client, cid: int, **data):
    token = await csrf_of(client, f"/admin/callbacks/{cid}")
    response = await client.post(
        f"/admin/callbacks/{cid}", data={"csrf_token": token, **data}, allow_redirects=False
    )
    assert response.status == 303, await response.text()


async def _worked_request(client) -> tuple[str, int]:
    """A request from the TV that staff claim, call with a note, annotate and complete — every
    free text holding the number — and a second one they cancel with such a reason."""
    box = await enter(client)
    ref, cid, _draft = await _submit(client, box)
    assert (await login(client, "staff")).status == 303
    await _act(client, cid, action="claim")
    await _act(client, cid, action="attempt", outcome="answered", note=NOTE)
    await _act(client, cid, action="note", note=NOTE, for_household="1")
    await _act(client, cid, action="complete", note=NOTE)
    _ref2, cid2, _ = await _submit(client, box)
    await _act(client, cid2, action="cancel", reason=REASON)
    return ref, cid


async def test_webhook_bodies_hold_no_free_text_and_no_digit_of_the_number(
    front_client, front_server, data_dir
):
    client = await front_client(create_app(make_settings(data_dir, webhook_poll_seconds=3600)))
    received = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await front_server(receiver)
    await webhooks.add_endpoint(client.app[keys.DB], "hotline", str(server.make_url("/hook")))
    await _worked_request(client)
    async with aiohttp.ClientSession() as session:
        await deliver_due(client.app[keys.DB], session)

    bodies = [json.loads(b) for b in received]
    kinds = [b["event"] for b in bodies]
    assert "callback.note" in kinds and "callback.cancelled" in kinds
    assert "callback.attempt" in kinds and "callback.completed" in kinds
    for raw in received:
        text = raw.decode("utf-8")
        # Eight digits of the number in any form (references and times cannot hold them).
        squeezed = re.sub(r"[\s\-+]", "", text)
        assert "12345678" not in squeezed and "13912345" not in squeezed
        assert "家属" not in text and "取消，留号" not in text
    for body in bodies:
        assert "reason" not in body  # codes and states only
    attempt = next(b for b in bodies if b["event"] == "callback.attempt")
    assert attempt["outcome"] == "answered" and attempt["to_status"] == "in_progress"


async def test_retention_erases_every_copy_down_to_the_file_bytes(client, data_dir):
    db = client.app[keys.DB]
    await webhooks.add_endpoint(db, "paused", "http://127.0.0.1:9/nothing-listens")
    ref, cid = await _worked_request(client)
    # A draft typed but never submitted, and the audit log's excerpt of a note.
    box = await enter(client, "DEMO-0002")
    await client.post(box + "cb-phone", data={"svc": "consultation", "phone": PHONE})
    excerpts = await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE object_id = ? AND detail LIKE ?",
        (ref, f"%{PHONE}%"),
    )
    assert excerpts >= 1  # the audit log did copy the note: the erase must reach it
    assert await db.fetchval("SELECT COUNT(*) FROM webhook_outbox") > 0

    await db.checkpoint()  # months later the rows have long been copied into the main file
    later = time.time() + 181 * 86400
    erased, _purged = await lifecycle.apply_retention(db, 180, 30, now=later)
    assert erased == 2

    ticket = await lifecycle.get(db, cid)
    assert ticket.phone_erased and ticket.phone_masked == "139****5678"
    assert ticket.household_note == ""
    content = await stored_bytes(db, data_dir)
    assert b"139****5678" in content  # the masked form stays: we did read the right file
    for form in FORMS:
        assert form.encode() not in content, form
    assert "家属说改打".encode() not in content
    # Staff still see what happened, without the texts.
    events = await lifecycle.events(db, cid)
    assert [e.kind for e in events][-1] == "phone_erased"
    assert {e.reason for e in events[:-1]} == {""}


async def test_submitting_drops_the_draft_and_a_repeated_ok_still_lands_on_the_receipt(client, box):
    ref, _cid, draft = await _submit(client, box)
    db = client.app[keys.DB]
    assert await db.fetchval("SELECT COUNT(*) FROM callback_drafts") == 0
    again = await client.post(
        box + "cb-submit", data={"d": draft, "w": "morning"}, allow_redirects=False
    )
    assert again.status == 303 and again.headers["Location"].endswith(f"r-{ref}")
    back = await client.get(f"{box}cb-confirm?d={draft}&w=morning", allow_redirects=False)
    assert back.status == 303 and back.headers["Location"].endswith(f"r-{ref}")


async def test_webhook_rows_are_purged_after_their_retention(client):
    db = client.app[keys.DB]
    await webhooks.add_endpoint(db, "paused", "http://127.0.0.1:9/nothing-listens")
    box = await enter(client)
    await _submit(client, box)
    assert await webhooks.purge(db, 30, now=time.time() + 29 * 86400) == 0
    assert await webhooks.purge(db, 30, now=time.time() + 31 * 86400) == 1
    assert await db.fetchval("SELECT COUNT(*) FROM webhook_outbox") == 0


async def test_error_log_lines_hold_no_box_token_nor_api_key(client, box, caplog):
    token = box.split("/")[3]
    db = client.app[keys.DB]
    # A database fault: every request below fails and is logged as an unhandled error.
    await db.execute("DROP TABLE api_keys")
    await db.execute("ALTER TABLE callback_requests RENAME TO callback_requests_gone")
    key = "ltv_0123abcd_S3cretS3cretS3cret"
    with caplog.at_level(logging.ERROR):
        response = await client.get(box + "mine", headers={"Referer": box + "home"})
        assert response.status == 500
        response = await client.get(f"/open311/v2/requests.json?api_key={key}&status=open")
        assert response.status == 500
        launch = f"/tv/launch?stb=DEMO-0001&ts=1&sig={'ab' * 32}"
        logging.getLogger("tv_server.test").error("quoted %s and %s", launch, token)
    text = caplog.text
    assert "unhandled error on GET /tv/b/***/mine" in text
    assert "unhandled error on GET /open311/v2/requests.json?api_key=***&status=open" in text
    assert token not in text and token.rsplit(".", 1)[1] not in text
    assert "S3cretS3cret" not in text and "ab" * 32 not in text
    for record in caplog.records:
        assert token not in record.getMessage()


async def test_a_real_server_s_log_holds_no_box_token_nor_api_key(data_dir, tmp_path):
    server = ServeProcess(data_dir, free_port(), tmp_path / "server.log")
    key = "ltv_0123abcd_S3cretS3cretS3cret"
    try:
        await server.start()
        async with aiohttp.ClientSession() as session:
            async with session.get(
                server.base + "/tv/", params={"stb": "DEMO-0001"}, allow_redirects=False
            ) as r:
                box = r.headers["Location"][: -len("home")]
            db = test_database(data_dir)  # a database fault, made by another process
            await db.open()
            try:
                await db.execute("ALTER TABLE callback_requests RENAME TO callback_requests_gone")
                await db.execute("DROP TABLE api_keys")
            finally:
                await db.close()
            async with session.get(server.base + box + "mine") as r:
                assert r.status == 500
            async with session.get(
                server.base + "/open311/v2/requests.json", params={"api_key": key}
            ) as r:
                assert r.status == 500
    finally:
        server.stop()
    log = server.log.read_text()
    assert "unhandled error on GET /tv/b/***/mine" in log
    assert "api_key=***" in log
    assert box.split("/")[3] not in log and "S3cretS3cret" not in log


def test_redact_masks_tokens_keys_and_signatures_wherever_they_stand():
    token = "REVNTy0wMDAx.675a1b2c.Abcdefghijklmnopqrstuv"
    line = (
        f'GET /tv/b/{token}/p-3-1?x=1 "https://tv.example.org/tv/b/{token}/home" '
        f"next=%2Ftv%2Fb%2F{token}%2Fhome Cookie: ltv_box={token}; "
        "Authorization: Bearer ltvd_abcDEF123 X-API-Key: ltv_0123abcd_secretpart "
        f"?API_KEY=zzz&sig=ffee bare {token}."
    )
    out = redact(line)
    assert token not in out and "Abcdefghijklmnopqrstuv" not in out
    assert "secretpart" not in out and "ltv_0123abcd_***" in out
    assert "abcDEF123" not in out and "zzz" not in out and "ffee" not in out
    assert "/tv/b/***/p-3-1?x=1" in out


async def test_box_cookie_is_secure_under_an_https_public_url(front_client, data_dir):
    plain = await front_client(create_app(make_settings(data_dir)))
    response = await plain.get("/tv/", params={"stb": "DEMO-0001"}, allow_redirects=False)
    assert "Secure" not in response.headers["Set-Cookie"]
    https = await front_client(
        create_app(make_settings(data_dir, public_url="https://tv-legal.example.org"))
    )
    response = await https.get("/tv/", params={"stb": "DEMO-0001"}, allow_redirects=False)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("ltv_box=") and "Secure" in cookie and "HttpOnly" in cookie


async def _launch(client, serial: str) -> str:
    ts = int(time.time())
    sig = launch_signature(TEST_SECRET, serial, ts)
    response = await client.get(
        "/tv/launch", params={"stb": serial, "ts": ts, "sig": sig}, allow_redirects=False
    )
    assert response.status == 303
    return response.headers["Location"][: -len("home")]


async def _revoke(client, serial: str):
    token = await csrf_of(client, "/admin/")
    return await client.post(
        f"/admin/registry/box/{serial}/revoke-tv",
        data={"csrf_token": token},
        allow_redirects=False,
    )


async def test_staff_revoke_a_box_s_tv_sessions_and_the_next_launch_works(client, admin_as):
    old = await _launch(client, "DEMO-0001")
    for _ in range(2):  # the second is answered by the front's fast lane
        assert (await client.get(old + "programs")).status == 200
    await admin_as("staff")
    page = await (await client.get("/admin/registry/box/DEMO-0001")).text()
    assert "让页面地址失效" in page
    response = await _revoke(client, "DEMO-0001")
    assert response.status == 303
    for screen in ("programs", "home"):
        refused = await client.get(old + screen)
        assert refused.status == 403
        assert "页面已过期，请回到电视首页重新进入" in await refused.text()
    new = await _launch(client, "DEMO-0001")
    assert new != old
    assert (await client.get(new + "home")).status == 200
    assert (await client.get(old + "home")).status == 403
    logged = await client.app[keys.DB].fetchall(
        "SELECT username, object_id, outcome FROM audit_log"
        " WHERE action = 'device.revoke_tv_sessions'"
    )
    assert [tuple(r) for r in logged] == [("staff", "DEMO-0001", "ok")]


async def test_staff_of_another_banner_cannot_revoke(client, admin_as):
    db = client.app[keys.DB]
    serial = await db.fetchval(
        "SELECT serial FROM devices WHERE village_code NOT LIKE '150602%' AND serial LIKE 'DEMO%'"
    )
    await admin_as("staff")  # scoped to 东胜区 150602
    response = await _revoke(client, serial)
    assert response.status == 403
    generation = await db.fetchval(
        "SELECT token_generation FROM devices WHERE serial = ?", (serial,)
    )
    assert generation == 0
    denied = await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE outcome = 'denied' AND detail LIKE ?",
        (f"%{serial}%",),
    )
    assert denied == 1
