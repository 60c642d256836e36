"""The device API: enrolment with an operator key, heartbeats with a device token (batched),
entitlement, the OpenAPI document, and every kind of bad input answered with a clear 4xx."""

from __future__ import annotations

import asyncio
import time

import jsonschema

from device_registry import admission, enrolment, inventory, replacement
from tests.helpers import api_key_header, device_token_key, enrol, wave_village
from tv_server import keys
from tv_server.api.devices import HEARTBEATS

LIVE = "DEMO-0001"  # a box in a village of the started pilot wave


async def test_enrol_heartbeat_entitlement_round_trip(client):
    db = client.app[keys.DB]
    village = await wave_village(db, live=True)
    write = await api_key_header(client, "devices:write")
    response = await enrol(
        client,
        {
            "serial": "HS4K-000001",
            "mac": "ac-db-48-00-01-23",
            "model": "Huawei EC6110",
            "firmware": "V100R003",
            "village_code": village,
            "household_label": "王家",
        },
        write,
    )
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["state"] == "installed"
    token = body["token"]
    assert token.startswith("ltvd_")
    # Only a hash is stored.
    stored = await db.fetchval("SELECT token_hash FROM device_tokens")
    assert token not in str(await db.fetchall("SELECT * FROM device_tokens")) and stored

    box = {"Authorization": f"Bearer {token}"}
    response = await client.post(
        "/api/v1/devices/HS4K-000001/heartbeat",
        json={"firmware": "V100R004", "portal_version": "2.1.0", "uptime": 3600},
        headers=box,
    )
    assert response.status == 202, await response.text()
    await client.app[HEARTBEATS].flush()
    details = await inventory.device_details(db, "HS4K-000001")
    assert details["firmware"] == "V100R004"
    assert details["portal_version"] == "2.1.0"
    assert details["uptime"] == 3600
    assert details["mac"] == "AC:DB:48:00:01:23"
    assert details["state"] == "active" and details["activated_at"] is not None
    assert abs(details["last_seen"] - time.time()) < 60

    response = await client.get("/api/v1/devices/HS4K-000001/entitlement", headers=box)
    assert response.status == 200
    ent = await response.json()
    schemas = (await (await client.get("/api/v1/openapi.json")).json())["components"]["schemas"]
    jsonschema.validate(ent, schemas["Entitlement"])
    jsonschema.validate(body, schemas["Enrolled"])
    enrolled = await db.fetchall(
        "SELECT object_id, detail FROM audit_log WHERE action = 'device.enrol'"
    )
    assert enrolled[0][0] == "HS4K-000001" and "op-devices_write" in enrolled[0][1]
    assert ent["entitled"] is True
    assert ent["keymap_family"] == "huawei"
    assert ent["screen_profile"] == "1080p"
    assert ent["regions"][0] == village
    assert ent["keymap"]["38"] == "up"


async def test_heartbeats_are_flushed_by_the_background_task(client):
    db = client.app[keys.DB]
    token = await enrolment.issue_token(db, LIVE, key=device_token_key(client.app))
    before = await db.fetchval("SELECT last_seen FROM devices WHERE serial = ?", (LIVE,))
    response = await client.post(
        f"/api/v1/devices/{LIVE}/heartbeat",
        json={"uptime": 5},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 202
    for _ in range(50):  # usage_flush_seconds is 0.2 in tests
        await asyncio.sleep(0.1)
        seen = await db.fetchval("SELECT last_seen FROM devices WHERE serial = ?", (LIVE,))
        if seen != before:
            break
    assert seen is not None and seen != before
    assert await db.fetchval("SELECT uptime FROM devices WHERE serial = ?", (LIVE,)) == 5


async def test_entitlement_off_outside_started_waves_and_by_api_key(client):
    db = client.app[keys.DB]
    village = await wave_village(db, live=False)
    write = await api_key_header(client, "devices:write", "devices:read")
    response = await enrol(
        client,
        {"serial": "HS4K-OFF-1", "village_code": village, "model": "Skyworth E900V21C"},
        write,
    )
    assert response.status == 201
    response = await client.get("/api/v1/devices/HS4K-OFF-1/entitlement", headers=write)
    assert response.status == 200
    ent = await response.json()
    assert ent["entitled"] is False and ent["screen_profile"] == "2160p"
    record = await client.get("/api/v1/devices/HS4K-OFF-1", headers=write)
    assert (await record.json())["village_code"] == village


async def test_enrol_refuses_bad_input_and_writes_nothing(client):
    db = client.app[keys.DB]
    village = await wave_village(db, live=True)
    write = await api_key_header(client, "devices:write")
    read_only = await api_key_header(client, "devices:read")
    count = await db.fetchval("SELECT COUNT(*) FROM devices")
    cases = [
        ({"serial": "X1-OK", "village_code": village}, {}, 401, "api_key_invalid"),
        ({"serial": "X1-OK", "village_code": village}, read_only, 403, "api_key_scope"),
        ({"serial": "X1-OK", "village_code": "999"}, write, 400, "village_unknown"),
        ({"serial": "X1-OK", "village_code": village, "mac": "zz:zz"}, write, 400, "mac_invalid"),
        ({"serial": "x", "village_code": village}, write, 400, "serial_invalid"),
        (
            {"serial": "X1-OK", "village_code": village, "model": "Nope"},
            write,
            400,
            "model_unknown",
        ),
        (
            {"serial": "X1-OK", "village_code": village, "colour": "red"},
            write,
            400,
            "field_unknown",
        ),
        ({"serial": 12, "village_code": village}, write, 400, "field_invalid"),
        (
            {"serial": "X1-OK", "village_code": village, "state": "retired"},
            write,
            400,
            "state_invalid",
        ),
    ]
    for body, headers, status, code in cases:
        response = await enrol(client, body, headers)
        assert response.status == status, (body, await response.text())
        assert (await response.json())["error"]["code"] == code
    response = await client.post("/api/v1/devices", data=b"not json", headers=write)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "body_invalid"
    assert await db.fetchval("SELECT COUNT(*) FROM devices") == count


async def test_heartbeat_bad_input_is_refused_and_nothing_is_stored(client):
    db = client.app[keys.DB]
    token = await enrolment.issue_token(db, LIVE, key=device_token_key(client.app))
    box = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/devices/{LIVE}/heartbeat"
    now = time.time()
    bad = [
        ({"uptime": -1}, "uptime_invalid"),
        ({"uptime": True}, "uptime_invalid"),
        ({"uptime": "12"}, "uptime_invalid"),
        ({"firmware": "has space"}, "firmware_invalid"),
        ({"portal_version": 3}, "portal_version_invalid"),
        ({"at": now + 86400 * 365 * 30}, "timestamp_invalid"),
        ({"at": 0}, "timestamp_invalid"),
        ({"at": "2026-01-01T00:00:00"}, "timestamp_invalid"),
        ({"at": "yesterday"}, "timestamp_invalid"),
        ({"extra": 1}, "field_unknown"),
    ]
    for body, code in bad:
        response = await client.post(url, json=body, headers=box)
        assert response.status == 400, (body, await response.text())
        assert (await response.json())["error"]["code"] == code
    for raw in (b"[1,2]", b"{", b"\xff\xfe"):
        response = await client.post(url, data=raw, headers=box)
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "body_invalid"
    response = await client.post(url, data=b"{" + b" " * 5000 + b"}", headers=box)
    assert response.status == 413
    assert client.app[HEARTBEATS].pending == 0

    response = await client.post(url, json={}, headers={"Authorization": "Bearer ltvd_wrong"})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "token_invalid"
    response = await client.post("/api/v1/devices/NO-SUCH-BOX/heartbeat", json={}, headers=box)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "device_unknown"
    assert await db.fetchval("SELECT COUNT(*) FROM devices WHERE serial = 'NO-SUCH-BOX'") == 0
    assert client.app[HEARTBEATS].pending == 0


async def test_heartbeat_from_retired_box_is_gone(client):
    db = client.app[keys.DB]
    token = await enrolment.issue_token(db, LIVE, key=device_token_key(client.app))
    await replacement.replace_box(db, LIVE, "NEW-4K-0001")
    response = await client.post(
        f"/api/v1/devices/{LIVE}/heartbeat", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 410
    assert (await response.json())["error"]["code"] == "device_retired"
    # A pending box has no token and is told it waits for staff.
    await admission.register_pending(db, "PENDING-01")
    response = await client.post(
        "/api/v1/devices/PENDING-01/heartbeat",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "device_pending"


async def test_openapi_document_describes_the_routes(client):
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"].startswith("3.")
    paths = set(doc["paths"])
    routes = {
        (r.resource.canonical, r.method.lower())
        for r in client.app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith(("/api/v1/devices", "/api/v1/coverage"))
        and r.method != "HEAD"
    }
    assert {path for path, _m in routes} == paths
    assert routes == {(path, m) for path, item in doc["paths"].items() for m in item}
    heartbeat = doc["paths"]["/api/v1/devices/{serial}/heartbeat"]["post"]
    assert {"202", "400", "401", "404", "410"} <= set(heartbeat["responses"])


async def test_unknown_box_registers_as_pending_or_auto_accepted(client):
    db = client.app[keys.DB]
    village = await wave_village(db, live=True)
    response = await client.post("/api/v1/devices/SELF-0001/register", json={})
    assert response.status == 202
    assert (await response.json())["state"] == "pending"
    await admission.set_auto_accept(db, village, True)
    response = await client.post(
        "/api/v1/devices/SELF-0002/register", json={"village_code": village}
    )
    assert (await response.json())["state"] == "installed"
    for body, code in (({"village_code": "999"}, "village_unknown"), ({"x": 1}, "field_unknown")):
        response = await client.post("/api/v1/devices/SELF-0003/register", json=body)
        assert response.status == 400
        assert (await response.json())["error"]["code"] == code
    response = await client.post("/api/v1/devices/%20/register", json={})
    assert response.status == 400
    assert await db.fetchval("SELECT COUNT(*) FROM devices WHERE serial LIKE 'SELF-0003'") == 0
