"""PATCH /api/v1/devices/{serial}: the operator corrects a box's registry fields and attributes
(audited with the key's name, If-Match against lost updates, stable error codes); and the
boxes' self-registration is rate-limited (429 with Retry-After)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from accounts import apikeys
from device_registry import admission, enrolment, inventory
from tests.helpers import device_token_key, make_settings
from tv_server import keys
from tv_server.app import create_app
from tv_server.ratelimit import SlidingWindow

BOX = "DEMO-0001"  # active, model "Desktop browser (test)", in a started pilot village
URL = f"/api/v1/devices/{BOX}"


async def _key(client, *scopes: str) -> dict:
    name = "op-" + "-".join(s.replace(":", "_") for s in scopes)
    _key_obj, raw = await apikeys.create(client.app[keys.DB], name, list(scopes))
    return {"Authorization": f"Bearer {raw}"}


def _nullable(schema):
    """OpenAPI 3.0 `nullable` as JSON Schema (a type list with "null"), for jsonschema."""
    if isinstance(schema, list):
        return [_nullable(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _nullable(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable"):
        out["type"] = [schema["type"], "null"] if "type" in schema else None
        if out["type"] is None:
            del out["type"]
            out = {"anyOf": [out, {"type": "null"}]}
    return out


async def _schemas(client) -> dict:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    return _nullable(doc["components"]["schemas"])


async def test_patch_corrects_fields_and_attributes_and_is_audited(client):
    db = client.app[keys.DB]
    key = await _key(client, "devices:write", "devices:read")
    record = await (await client.get(URL, headers=key)).json()
    schemas = await _schemas(client)
    jsonschema.validate(record, schemas["Device"])
    body = {
        "model": "Jiuzhou DVB",
        "mac": "ac-db-48-00-01-23",
        "firmware": "V100R005",
        "screen_profile": "2160p",
        "keymap_family": "huawei",
        "installed_at": "2026-05-01",
        "activated_at": "2026-05-02T09:30:00+08:00",
        "attributes": {"antenna": "dish", "tv.size": "55"},
    }
    jsonschema.validate(body, schemas["DeviceUpdate"])
    response = await client.patch(
        URL, json=body, headers={**key, "If-Match": f'"{record["version"]}"'}
    )
    assert response.status == 200, await response.text()
    after = await response.json()
    jsonschema.validate(after, schemas["Device"])
    assert response.headers["ETag"] == f'"{after["version"]}"' != f'"{record["version"]}"'
    assert after["model"] == "Jiuzhou DVB" and after["mac"] == "AC:DB:48:00:01:23"
    assert after["keymap_family"] == "huawei" and after["screen_profile"] == "2160p"
    assert after["installed_at"] == "2026-05-01"
    assert after["activated_at"] == 1777685400.0  # 2026-05-02 01:30 UTC
    assert after["attributes"] == {"antenna": "dish", "tv.size": "55"}
    # The box's own key map and profile reach the entitlement (and the TV) at once.
    entitlement = await (await client.get(URL + "/entitlement", headers=key)).json()
    assert entitlement["keymap_family"] == "huawei" and entitlement["screen_profile"] == "2160p"
    assert entitlement["keymap"]["8"] == "back"

    row = await db.fetchone(
        "SELECT username, detail FROM audit_log WHERE action = 'device.update'"
        " AND object_id = ? ORDER BY id DESC",
        (BOX,),
    )
    detail = json.loads(row["detail"])
    assert detail["api_key"] == "op-devices_write-devices_read"
    assert detail["before"]["model"] == "Desktop browser (test)"
    assert detail["after"]["model"] == "Jiuzhou DVB"
    assert detail["before"]["attributes"] == {"antenna": None, "tv.size": None}
    assert "firmware" in detail["after"] and "state" not in detail["after"]

    # null removes an attribute and gives the model's profile and key map back.
    response = await client.patch(
        URL,
        json={"attributes": {"antenna": None}, "screen_profile": None, "keymap_family": None},
        headers=key,
    )
    again = await response.json()
    assert again["attributes"] == {"tv.size": "55"}
    assert again["screen_profile"] == "1080p" and again["keymap_family"] == "ipanel"
    # A PATCH that changes nothing writes no audit entry.
    count = await db.fetchval("SELECT COUNT(*) FROM audit_log WHERE action = 'device.update'")
    assert (await client.patch(URL, json={"firmware": "V100R005"}, headers=key)).status == 200
    assert (
        await db.fetchval("SELECT COUNT(*) FROM audit_log WHERE action = 'device.update'") == count
    )


BAD = [
    ({"colour": "red"}, 400, "field_unknown"),
    ({"firmware": 5}, 400, "field_invalid"),
    ({"attributes": ["a"]}, 400, "field_invalid"),
    ({"mac": "zz:zz"}, 400, "mac_invalid"),
    ({"model": "Nope 3000"}, 400, "model_unknown"),
    ({"firmware": "has space"}, 400, "firmware_invalid"),
    ({"screen_profile": "4k"}, 400, "screen_profile_invalid"),
    ({"keymap_family": "sony"}, 400, "keymap_family_invalid"),
    ({"keymap_family": "default"}, 400, "keymap_family_invalid"),
    ({"installed_at": "2026-13-01"}, 400, "installed_at_invalid"),
    ({"installed_at": "2999-01-01"}, 400, "installed_at_invalid"),
    ({"activated_at": "2026-05-02T09:30:00"}, 400, "activated_at_invalid"),
    ({"activated_at": True}, 400, "activated_at_invalid"),
    ({"activated_at": 4102444800}, 400, "activated_at_invalid"),
    ({"installed_at": "2026-05-01", "activated_at": "2026-04-01T00:00:00Z"}, 400, None),
    ({"state": "flying"}, 400, "state_unknown"),
    ({"state": None}, 400, "state_unknown"),
    ({"state": "pending"}, 409, "state_change_invalid"),
    ({"state": "installed"}, 409, "state_change_invalid"),
    ({"attributes": {"Bad Key": "x"}}, 400, "attribute_key_invalid"),
    ({"attributes": {"k" * 41: "x"}}, 400, "attribute_key_invalid"),
    ({"attributes": {"k": "x" * 201}}, 400, "attribute_value_invalid"),
    ({"attributes": {"k": "two\nlines"}}, 400, "attribute_value_invalid"),
    ({"attributes": {"k": 5}}, 400, "attribute_value_invalid"),
    ({"attributes": {f"k{i}": "x" for i in range(51)}}, 400, "attributes_too_many"),
    ({"mac": "02:4C:54:56:00:02"}, 409, "mac_taken"),  # DEMO-0002's
]


@pytest.mark.parametrize(("body", "status", "code"), BAD, ids=[str(b)[:40] for b, *_ in BAD])
async def test_patch_refuses_bad_input_and_changes_nothing(client, body, status, code):
    key = await _key(client, "devices:write", "devices:read")
    before = await inventory.device_details(client.app[keys.DB], BOX)
    response = await client.patch(URL, json=body, headers=key)
    assert response.status == status, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == (code or "activated_before_installed")
    assert error["message"]
    after = await inventory.device_details(client.app[keys.DB], BOX)
    assert after["version"] == before["version"] and after == before


async def test_patch_needs_a_writing_key_a_known_box_and_a_small_object(client):
    read_only = await _key(client, "devices:read")
    write = await _key(client, "devices:write")
    cases = [
        ({}, URL, {"firmware": "V2"}, 401, "api_key_invalid"),
        (read_only, URL, {"firmware": "V2"}, 403, "api_key_scope"),
        (write, "/api/v1/devices/NOPE-0001", {"firmware": "V2"}, 404, "device_unknown"),
    ]
    for headers, url, body, status, code in cases:
        response = await client.patch(url, json=body, headers=headers)
        assert response.status == status, await response.text()
        assert (await response.json())["error"]["code"] == code
    response = await client.patch(URL, data=b"[1]", headers=write)
    assert (await response.json())["error"]["code"] == "body_invalid"
    big = {"attributes": {"note": "x" * 200, **{f"k{i}": "y" * 200 for i in range(30)}}}
    response = await client.patch(URL, json=big, headers=write)
    assert response.status == 413


async def test_a_stale_if_match_is_refused_with_412(client):
    key = await _key(client, "devices:write", "devices:read")
    version = (await (await client.get(URL, headers=key)).json())["version"]
    # Someone else (here: the box's own heartbeat path or staff) changes the record.
    await inventory.set_attributes(client.app[keys.DB], BOX, {"shelf": "A3"})
    response = await client.patch(
        URL, json={"firmware": "V9"}, headers={**key, "If-Match": f'"{version}"'}
    )
    assert response.status == 412
    assert (await response.json())["error"]["code"] == "version_mismatch"
    assert (await inventory.device_details(client.app[keys.DB], BOX))["firmware"] != "V9"
    response = await client.patch(URL, json={"firmware": "V9"}, headers={**key, "If-Match": "*"})
    assert response.status == 200


async def test_retiring_by_patch_revokes_the_token_and_closes_the_fields(client):
    db = client.app[keys.DB]
    key = await _key(client, "devices:write")
    token = await enrolment.issue_token(db, BOX, key=device_token_key(client.app))
    response = await client.patch(URL, json={"state": "retired"}, headers=key)
    assert response.status == 200, await response.text()
    record = await response.json()
    assert record["state"] == "retired" and record["retired_at"] is not None
    assert (
        await db.fetchval(
            "SELECT COUNT(*) FROM device_tokens t JOIN devices d"
            " ON d.id = t.device_id WHERE d.serial = ?",
            (BOX,),
        )
        == 0
    )
    beat = await client.post(
        URL + "/heartbeat", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert beat.status in (401, 410)
    response = await client.patch(URL, json={"firmware": "V9"}, headers=key)
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "device_retired"
    # Inventory notes stay possible on a retired box (where it went).
    response = await client.patch(URL, json={"attributes": {"returned": "仓库"}}, headers=key)
    assert response.status == 200
    assert (await response.json())["attributes"] == {"returned": "仓库"}


async def test_a_rejected_box_can_be_reopened_but_not_accepted_by_patch(client):
    db = client.app[keys.DB]
    key = await _key(client, "devices:write")
    await admission.register_pending(db, "REJ-0001")
    await admission.decide_pending(db, ["REJ-0001"], accept=False)
    url = "/api/v1/devices/REJ-0001"
    response = await client.patch(url, json={"state": "installed"}, headers=key)
    assert response.status == 409
    response = await client.patch(url, json={"state": "pending"}, headers=key)
    assert response.status == 200 and (await response.json())["state"] == "pending"


# -- self-registration rate limits ------------------------------------------------------------


async def test_register_is_limited_per_address_with_retry_after(front_client, data_dir):
    client = await front_client(create_app(make_settings(data_dir, register_attempts_per_ip=3)))
    db = client.app[keys.DB]
    for n in range(3):
        response = await client.post(f"/api/v1/devices/FLOOD-{n:04d}/register", json={})
        assert response.status == 202
    response = await client.post("/api/v1/devices/FLOOD-0003/register", json={})
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["Content-Type"].startswith("application/json")
    assert await db.fetchval("SELECT COUNT(*) FROM devices WHERE serial = 'FLOOD-0003'") == 0
    # Bad requests count too: a flood of garbage is refused before any work.
    response = await client.post("/api/v1/devices/%20/register", json={})
    assert response.status == 429


async def test_register_caps_new_boxes_per_minute_overall(front_client, data_dir):
    client = await front_client(create_app(make_settings(data_dir, register_new_per_minute=2)))
    db = client.app[keys.DB]
    for serial in ("NEWBOX-0001", "NEWBOX-0002"):
        assert (await client.post(f"/api/v1/devices/{serial}/register", json={})).status == 202
    response = await client.post("/api/v1/devices/NEWBOX-0003/register", json={})
    assert response.status == 429 and "Retry-After" in response.headers
    assert await db.fetchval("SELECT COUNT(*) FROM devices WHERE serial = 'NEWBOX-0003'") == 0
    # Known boxes announcing themselves again are not new: still answered.
    response = await client.post("/api/v1/devices/NEWBOX-0001/register", json={})
    assert response.status == 202 and (await response.json())["state"] == "pending"


async def test_register_limits_can_be_turned_off(front_client, data_dir):
    client = await front_client(
        create_app(make_settings(data_dir, register_attempts_per_ip=0, register_new_per_minute=0))
    )
    for n in range(40):
        response = await client.post(f"/api/v1/devices/MANY-{n:04d}/register", json={})
        assert response.status == 202


def test_sliding_window_lets_through_again_once_the_window_has_passed():
    window = SlidingWindow(2, 60.0)
    assert window.retry_after("a", now=0.0) == 0 and window.retry_after("a", now=10.0) == 0
    assert window.retry_after("a", now=20.0) == pytest.approx(40.0)
    assert window.retry_after("b", now=20.0) == 0  # other keys are counted apart
    assert window.retry_after("a", now=59.0) == pytest.approx(1.0)  # refusals are not counted
    assert window.retry_after("a", now=60.0) == 0
    assert not window.allow("a", now=65.0)
    assert window.allow("a", now=70.5)
