"""Signed device tokens (device_registry.tokens): checked without the database, yet a box that
is retired, rejected, replaced or whose token is revoked is refused on its very next beat; a token
forged or altered in any part is refused; a token issued before the scheme still works until the
box is given a new one."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from device_registry import enrolment, replacement, tokens
from storage.pg import PgDatabase
from tests.helpers import (
    api_key_header,
    csrf_of,
    device_token_key,
    enrol,
    legacy_device_token,
    make_settings,
    wave_village,
)
from tv_server import cli, keys
from tv_server.api.devices import HEARTBEATS
from tv_server.app import create_app
from tv_server.front import ANSWERED

BOX = "DEMO-0001"  # an installed demo box
BEAT = {"firmware": "V1.0", "portal_version": "2.0", "uptime": 60}


async def _beat(client, serial: str, token: str, **extra):
    return await client.post(
        f"/api/v1/devices/{serial}/heartbeat",
        json={**BEAT, **extra},
        headers={"Authorization": f"Bearer {token}"},
    )


async def _refused(response, status: int, code: str) -> None:
    assert response.status == status, await response.text()
    assert (await response.json())["error"]["code"] == code


async def _token(client, serial: str = BOX) -> str:
    return await enrolment.issue_token(
        client.app[keys.DB], serial, key=device_token_key(client.app)
    )


async def test_a_box_retired_through_the_api_is_refused_on_its_next_beat(client):
    token = await _token(client)
    assert tokens.is_signed(token)
    assert (await _beat(client, BOX, token)).status == 202
    write = await api_key_header(client, "devices:write")
    response = await client.patch(
        f"/api/v1/devices/{BOX}", json={"state": "retired"}, headers=write
    )
    assert response.status == 200, await response.text()
    await _refused(await _beat(client, BOX, token), 410, "device_retired")


async def test_a_replaced_box_is_refused_on_its_next_beat(client):
    token = await _token(client)
    assert (await _beat(client, BOX, token)).status == 202
    await replacement.replace_box(client.app[keys.DB], BOX, "NEW-4K-0009")
    await _refused(await _beat(client, BOX, token), 410, "device_retired")


async def test_a_rejected_box_is_refused_on_its_next_beat(client):
    """No flow of ours rejects a box holding a token; a state written by hand is still obeyed."""
    token = await _token(client)
    assert (await _beat(client, BOX, token)).status == 202
    await client.app[keys.DB].execute(
        "UPDATE devices SET state = 'rejected' WHERE serial = ?", (BOX,)
    )
    await _refused(await _beat(client, BOX, token), 410, "device_rejected")


async def test_a_revoked_or_rotated_token_is_refused_on_its_next_beat(client):
    db = client.app[keys.DB]
    first = await _token(client)
    assert (await _beat(client, BOX, first)).status == 202
    second = await _token(client)  # a new token: the first stops working at once
    await _refused(await _beat(client, BOX, first), 401, "token_invalid")
    assert (await _beat(client, BOX, second)).status == 202
    assert await enrolment.revoke_token(db, BOX) is True
    await _refused(await _beat(client, BOX, second), 401, "token_invalid")
    third = await _token(client)
    assert (await _beat(client, BOX, third)).status == 202


async def _staff_revoke(client, serial: str):
    return await client.post(
        f"/admin/registry/box/{serial}/revoke-token",
        data={"csrf_token": await csrf_of(client, f"/admin/registry/box/{serial}")},
        allow_redirects=False,
    )


async def test_staff_revoke_the_device_token_from_the_box_page(client, admin_as):
    """The admin's button does what `legaltv devices revoke-token` does: the box's next beat is
    refused (signed and legacy tokens alike), the box stays enrolled, the act is audited."""
    db = client.app[keys.DB]
    signed = await _token(client)
    legacy = await legacy_device_token(db, "DEMO-0002")
    for serial, token in ((BOX, signed), ("DEMO-0002", legacy)):
        for _ in range(2):  # the second is answered by the front lane from what it verified
            assert (await _beat(client, serial, token)).status == 202
    await admin_as("staff")
    page = await (await client.get(f"/admin/registry/box/{BOX}")).text()
    assert "吊销设备令牌" in page
    for serial, token in ((BOX, signed), ("DEMO-0002", legacy)):
        response = await _staff_revoke(client, serial)
        assert response.status == 303
        await _refused(await _beat(client, serial, token), 401, "token_invalid")
    notice = await (await client.get(response.headers["Location"])).text()
    assert "已吊销这台机顶盒的设备令牌" in notice
    again = await _staff_revoke(client, BOX)  # nothing left to revoke: said so, still audited
    assert "没有设备令牌" in await (await client.get(again.headers["Location"])).text()
    assert await db.fetchval("SELECT state FROM devices WHERE serial = ?", (BOX,)) != "retired"
    logged = await db.fetchall(
        "SELECT username, object_id, detail FROM audit_log WHERE action = 'device.token_revoke'"
        " ORDER BY id"
    )
    assert [(r[0], r[1], json.loads(r[2])["had_token"]) for r in logged] == [
        ("staff", BOX, True),
        ("staff", "DEMO-0002", True),
        ("staff", BOX, False),
    ]
    fresh = await _token(client)  # a new token lets it beat again
    assert (await _beat(client, BOX, fresh)).status == 202


async def test_staff_revoke_needs_the_csrf_token(client, admin_as):
    signed = await _token(client)
    await admin_as("staff")
    response = await client.post(
        f"/admin/registry/box/{BOX}/revoke-token", data={}, allow_redirects=False
    )
    assert response.status == 403
    assert (await _beat(client, BOX, signed)).status == 202


async def test_a_revocation_by_another_process_reaches_the_server_within_a_flush(client, settings):
    """`legaltv devices revoke-token` runs in its own process with its own connection; the
    server re-reads the revocations every flush interval (0.2 s in the tests)."""
    token = await _token(client)
    assert (await _beat(client, BOX, token)).status == 202
    argv = ["devices", "revoke-token", BOX, "--data-dir", str(settings.data_path)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    for _ in range(50):
        response = await _beat(client, BOX, token)
        if response.status != 202:
            break
        await asyncio.sleep(0.1)
    await _refused(response, 401, "token_invalid")
    # A state changed by hand in another connection is seen the same way.
    fresh = await _token(client)
    assert (await _beat(client, BOX, fresh)).status == 202
    # Like another process: in its own thread, so that the server's event loop keeps running
    # while this connection waits for the writer. (Run on the loop's own thread, the wait blocked
    # the loop, so a server transaction open across an await could never commit: a deadlock that
    # ended only with the busy timeout, "database is locked".)
    await asyncio.to_thread(_reject_by_hand, settings, BOX)
    for _ in range(50):
        response = await _beat(client, BOX, fresh)
        if response.status != 202:
            break
        await asyncio.sleep(0.1)
    await _refused(response, 410, "device_rejected")


def _reject_by_hand(settings, serial):
    sql = "UPDATE devices SET state = 'rejected' WHERE serial = ?"
    if settings.database_url.startswith("postgresql"):
        asyncio.run(_reject_on_postgresql(settings.database_url, sql, serial))
        return
    with sqlite3.connect(settings.db_path, timeout=30) as other:
        other.execute(sql, (serial,))


async def _reject_on_postgresql(url, sql, serial):
    other = PgDatabase(url)  # a connection of its own, as another process's
    await other.open()
    try:
        await other.execute(sql, (serial,))
    finally:
        await other.close()


async def test_forged_and_altered_tokens_are_refused(client):
    db = client.app[keys.DB]
    key = device_token_key(client.app)
    token = await _token(client)
    other = await _token(client, "DEMO-0002")
    device_id, generation, issued, mac = token[len(tokens.PREFIX) :].split(".")
    forged = {
        "another box's token": other,
        "a bad MAC": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "another generation": f"{tokens.PREFIX}{device_id}.{int(generation) + 1}.{issued}.{mac}",
        "another issue time": f"{tokens.PREFIX}{device_id}.{generation}.{int(issued) - 1}.{mac}",
        "another device id": f"{tokens.PREFIX}{int(device_id) + 1}.{generation}.{issued}.{mac}",
        "another key": tokens.mint(b"not the server key", BOX, int(device_id), 1, float(issued)),
        "a truncated token": token[: len(tokens.PREFIX) + 3],
        "the prefix alone": tokens.PREFIX,
        "extra fields": token + ".1",
        "non-digits": f"{tokens.PREFIX}x.{generation}.{issued}.{mac}",
        "a leading zero": f"{tokens.PREFIX}0{device_id}.{generation}.{issued}.{mac}",
    }
    for why, bad in forged.items():
        response = await _beat(client, BOX, bad)
        assert response.status == 401, why
        assert (await response.json())["error"]["code"] == "token_invalid", why
    assert tokens.verify(key, BOX, token) == (int(device_id), int(generation))  # the original
    # Posting to a serial nobody registered is still told so, as before.
    await _refused(await _beat(client, "NO-SUCH-BOX", token), 404, "device_unknown")
    assert await db.fetchval("SELECT COUNT(*) FROM devices WHERE serial = 'NO-SUCH-BOX'") == 0
    assert (await _beat(client, BOX, token)).status == 202


async def test_a_legacy_token_keeps_working_until_the_box_is_enrolled_again(client):
    db = client.app[keys.DB]
    village = await wave_village(db, live=True)
    write = await api_key_header(client, "devices:write")
    response = await enrol(client, {"serial": "OLD-4K-0001", "village_code": village}, write)
    assert response.status == 201
    assert tokens.is_signed((await response.json())["token"])
    legacy = await legacy_device_token(db, "OLD-4K-0001")  # as enrolled by the old server
    assert not tokens.is_signed(legacy)
    assert (await _beat(client, "OLD-4K-0001", legacy)).status == 202
    assert (await _beat(client, "OLD-4K-0001", legacy, uptime=61)).status == 202
    # Its next enrolment gives the box a signed token; the legacy one stops working.
    response = await enrol(client, {"serial": "OLD-4K-0001", "village_code": village}, write)
    assert response.status == 200
    signed = (await response.json())["token"]
    assert tokens.is_signed(signed)
    await _refused(await _beat(client, "OLD-4K-0001", legacy), 401, "token_invalid")
    assert (await _beat(client, "OLD-4K-0001", signed)).status == 202


async def test_a_fleet_of_signed_tokens_beats_without_a_database_read(front_client, data_dir):
    """Each box beats once (no cache can help): with signed tokens no beat reads the database.
    The read counter is live: a legacy token's first beat reads the box's record."""
    # No flush (and its revocation re-read) during the test.
    client = await front_client(create_app(make_settings(data_dir, usage_flush_seconds=3600)))
    db = client.app[keys.DB]
    village = await wave_village(db, live=True)
    write = await api_key_header(client, "devices:write")
    fleet = []
    for n in range(30):
        serial = f"FLEET-{n:04d}"
        response = await enrol(client, {"serial": serial, "village_code": village}, write)
        assert response.status == 201
        fleet.append((serial, (await response.json())["token"]))
    legacy = await legacy_device_token(db, "DEMO-0002")
    # The enrolments changed the registry: the first beat re-reads the revocations once.
    assert (await _beat(client, "DEMO-0001", await _token(client))).status == 202
    reads, lane = db.reads, client.app[ANSWERED]["heartbeat"]
    for serial, token in fleet:
        assert (await _beat(client, serial, token)).status == 202
    assert db.reads == reads, "a valid signed-token beat read the database"
    assert client.app[ANSWERED]["heartbeat"] == lane + len(fleet)  # all in the front lane
    assert client.app[HEARTBEATS].pending == len(fleet) + 1
    assert (await _beat(client, "DEMO-0002", legacy)).status == 202
    assert db.reads > reads
