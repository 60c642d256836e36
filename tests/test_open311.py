"""Open311 GeoReport v2 for the 12348 hotline, and the API keys that guard it: creating requests
that reach the staff queue, idempotency, the spec's error format, open/closed mapping."""

from __future__ import annotations

import pytest

from accounts import apikeys, audit
from accounts.users import find_user
from callbacks import lifecycle
from storage import Invalid
from tv_server import keys

VILLAGE = "150602001001"  # DEMO-0001's village (东胜区)
BASE = "/open311/v2"


@pytest.fixture
async def key(client):
    db = client.app[keys.DB]
    _k, raw = await apikeys.create(db, "hotline", ["open311:read", "open311:write"])
    return raw


def form(key, **extra):
    data = {
        "api_key": key,
        "service_code": "consultation",
        "phone": "13800138000",
        "address_id": VILLAGE,
        "attribute[time_window]": "morning",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def assert_error(body, status):
    assert isinstance(body, list) and len(body) == 1
    assert body[0]["code"] == status and body[0]["description"]


async def test_api_keys_are_hashed_scoped_revocable_and_audited(client):
    db = client.app[keys.DB]
    k, raw = await apikeys.create(db, "reader", ["open311:read"])
    stored = await db.fetchone("SELECT key_hash, prefix FROM api_keys WHERE id = ?", (k.id,))
    assert raw not in tuple(stored) and raw.startswith(f"ltv_{stored['prefix']}_")
    assert (await apikeys.authenticate(db, raw, "open311:read")).name == "reader"
    assert (await apikeys.get(db, "reader")).last_used_at is not None
    with pytest.raises(Invalid) as caught:
        await apikeys.authenticate(db, raw, "open311:write")
    assert caught.value.code == "api_key_scope"
    with pytest.raises(Invalid):
        await apikeys.authenticate(db, raw[:-1] + ("A" if raw[-1] != "A" else "B"), "open311:read")
    await apikeys.set_disabled(db, "reader", True)
    with pytest.raises(Invalid):
        await apikeys.authenticate(db, raw, "open311:read")
    await apikeys.set_disabled(db, "reader", False)
    await apikeys.revoke(db, "reader")
    with pytest.raises(Invalid):
        await apikeys.authenticate(db, raw, "open311:read")
    with pytest.raises(Invalid) as caught:
        await apikeys.create(db, "bad", ["everything"])
    assert caught.value.code == "apikey_scope_invalid"
    entries, _ = await audit.search(db, action="apikey.*")
    assert [e.action for e in reversed(entries)] == [
        "apikey.create",
        "apikey.disable",
        "apikey.enable",
        "apikey.revoke",
    ]


async def test_services_and_definition(client):
    services = await (await client.get(f"{BASE}/services.json")).json()
    codes = {s["service_code"] for s in services}
    assert {"consultation", "legal_aid", "mediation"} <= codes
    assert (
        next(s for s in services if s["service_code"] == "legal_aid")["service_name"] == "法律援助"
    )
    definition = await (await client.get(f"{BASE}/services/consultation.json")).json()
    window = next(a for a in definition["attributes"] if a["code"] == "time_window")
    assert window["required"] and {v["key"] for v in window["values"]} == {
        "morning",
        "afternoon",
        "evening",
    }
    response = await client.get(f"{BASE}/services/astrology.json")
    assert response.status == 404
    assert_error(await response.json(), 404)
    response = await client.get(f"{BASE}/services.xml")
    assert response.status == 400
    assert_error(await response.json(), 400)


async def test_post_creates_a_routed_request_in_the_staff_queue(client, key):
    response = await client.post(f"{BASE}/requests.json", data=form(key, token="call-0001"))
    assert response.status == 201, await response.text()
    ref = (await response.json())[0]["service_request_id"]
    ticket = await lifecycle.get_by_ref(client.app[keys.DB], ref)
    assert ticket.origin == "open311" and ticket.status == "submitted"
    assert ticket.office_code and ticket.region_code == VILLAGE and ticket.due_at
    assert ticket.serial == "HOTLINE-12348"
    # the same token again: the same request, nothing duplicated
    again = await client.post(f"{BASE}/requests.json", data=form(key, token="call-0001"))
    assert again.status == 200 and (await again.json())[0]["service_request_id"] == ref
    header = await client.post(
        f"{BASE}/requests.json", data=form(key), headers={"Idempotency-Key": "call-0001"}
    )
    assert (await header.json())[0]["service_request_id"] == ref
    count = await client.app[keys.DB].fetchval(
        "SELECT COUNT(*) FROM callback_requests WHERE origin = 'open311'"
    )
    assert count == 1


async def test_get_maps_states_to_open_closed_with_notes_office_and_due(client, key):
    response = await client.post(f"{BASE}/requests.json", data=form(key, token="t-2"))
    ref = (await response.json())[0]["service_request_id"]
    db = client.app[keys.DB]
    ticket = await lifecycle.get_by_ref(db, ref)
    body = await (await client.get(f"{BASE}/requests/{ref}.json", params={"api_key": key})).json()
    item = body[0]
    assert item["status"] == "open" and item["legaltv_status"] == "submitted"
    assert item["service_request_id"] == ref
    assert item["expected_datetime"].endswith("+08:00")
    office = await db.fetchval(
        "SELECT name FROM service_points WHERE code = ?", (ticket.office_code,)
    )
    assert item["agency_responsible"] == office
    assert item["legaltv_phone_masked"] == "138****8000"
    assert "13800138000" not in str(body)

    staff = await find_user(db, "staff")
    await lifecycle.claim(db, ticket.id, staff.id)
    await lifecycle.add_note(db, ticket.id, staff.id, "已安排律师回电", for_household=True)
    await lifecycle.complete(db, ticket.id, staff.id, "已电话解答")
    listed = await (
        await client.get(f"{BASE}/requests.json", params={"api_key": key, "status": "closed"})
    ).json()
    item = next(i for i in listed if i["service_request_id"] == ref)
    assert item["status"] == "closed" and item["status_notes"] == "已安排律师回电"
    still_open = await (
        await client.get(f"{BASE}/requests.json", params={"api_key": key, "status": "open"})
    ).json()
    assert ref not in {i["service_request_id"] for i in still_open}


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"api_key": None}, 403, "api_key"),
        ({"api_key": "ltv_00000000_nope"}, 403, "not valid"),
        ({"service_code": None}, 400, "service_code"),
        ({"service_code": "astrology"}, 400, "service_code"),
        ({"phone": "12345"}, 400, "phone"),
        ({"address_id": None}, 400, "address_id"),
        ({"address_id": "999999"}, 400, "address_id"),
        ({"attribute[time_window]": "midnight"}, 400, "time_window"),
        ({"attribute[service_point]": "sp-nowhere"}, 400, "service_point"),
    ],
)
async def test_bad_posts_get_the_spec_error_and_write_nothing(client, key, change, status, words):
    response = await client.post(f"{BASE}/requests.json", data=form(key, **change))
    assert response.status == status
    body = await response.json()
    assert_error(body, status)
    assert words in body[0]["description"]
    count = await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM callback_requests")
    assert count == 0


async def test_reading_requests_needs_the_read_scope(client):
    db = client.app[keys.DB]
    _k, writer = await apikeys.create(db, "writer", ["open311:write"])
    response = await client.get(f"{BASE}/requests.json", params={"api_key": writer})
    assert response.status == 403
    assert_error(await response.json(), 403)
    response = await client.get(f"{BASE}/requests.json")
    assert response.status == 403
    _k, reader = await apikeys.create(db, "reader", ["open311:read"])
    response = await client.get(f"{BASE}/requests/000000.json", params={"api_key": reader})
    assert response.status == 404
    assert_error(await response.json(), 404)
    response = await client.post(f"{BASE}/requests.json", data=form(reader))
    assert response.status == 403


async def test_router_errors_under_open311_use_the_spec_format(client):
    response = await client.get(f"{BASE}/nothing-here.json")
    assert response.status == 404
    assert_error(await response.json(), 404)
    response = await client.delete(f"{BASE}/services.json")
    assert response.status == 405
    assert_error(await response.json(), 405)


async def test_openapi_document_is_served(client):
    doc = await (await client.get(f"{BASE}/openapi.json")).json()
    assert doc["openapi"].startswith("3.0")
    assert set(doc["paths"]) == {
        "/open311/v2/services.json",
        "/open311/v2/services/{service_code}.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests/{service_request_id}.json",
    }
