"""What anyone holding a box's page token, or no credential at all, can make the server store or
forget: callback drafts, self-registration, announcement dismissals and SSE streams. Each is
bounded, and none can turn a shared cache cold for every box."""

from __future__ import annotations

import asyncio
import re

from content.announcements import notices as ann
from device_registry import admission
from tests.helpers import enter, front_screens, legacy_device_token, make_settings, warm_screen
from tv_server import keys
from tv_server.app import create_app

VILLAGE = "150602001001"  # DEMO-0001's village
OTHER_VILLAGE = "150602001002"  # DEMO-0002's


async def _draft_form(client, box, *, sp="", phone="13800138000"):
    return await client.post(
        box + "cb-phone",
        data={"svc": "consultation", "sp": sp, "d": "", "phone": phone},
        allow_redirects=False,
    )


async def _new_draft(client, box, sp="") -> str:
    response = await _draft_form(client, box, sp=sp)
    assert response.status == 303, await response.text()
    return re.search(r"d=([0-9a-f]+)", response.headers["Location"]).group(1)


def _db_bytes(client) -> int:
    path = client.app[keys.SETTINGS].db_path
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


async def _drafts(client, serial="DEMO-0001") -> int:
    return await client.app[keys.DB].fetchval(
        "SELECT COUNT(*) FROM callback_drafts d JOIN devices b ON b.id = d.device_id"
        " WHERE b.serial = ?",
        (serial,),
    )


# -- callback drafts -------------------------------------------------------------------------


async def test_a_900_kb_service_point_gets_a_chinese_message_and_is_not_stored(client, box):
    size = _db_bytes(client)
    response = await _draft_form(client, box, sp="x" * 900_000)
    assert response.status == 422
    html = await response.text()
    assert "没有找到所选的服务点" in html
    assert len(html) < 50_000  # the code is not echoed back either
    assert await _drafts(client) == 0
    assert _db_bytes(client) - size < 100_000
    # A short code the directory does not hold is refused the same way.
    response = await _draft_form(client, box, sp="sp-no-such-office")
    assert response.status == 422
    assert "没有找到所选的服务点" in await response.text()
    assert await _drafts(client) == 0
    # A real one is kept.
    await _new_draft(client, box, sp="sp-150602001")
    assert await _drafts(client) == 1


async def test_overlong_phone_input_is_refused_before_parsing(client, box):
    response = await _draft_form(client, box, phone="1" * 500_000)
    assert response.status == 422
    assert "电话号码不正确" in await response.text()
    assert await _drafts(client) == 0


async def test_seven_drafts_leave_the_five_newest(client, box):
    made = [await _new_draft(client, box) for _ in range(7)]
    assert await _drafts(client) == 5
    for gone in made[:2]:
        response = await client.get(f"{box}cb-time?d={gone}")
        assert response.status == 400 and "页面已过期" in await response.text()
    for kept in made[2:]:
        assert (await client.get(f"{box}cb-time?d={kept}")).status == 200
    # Another box's drafts are its own.
    other = await enter(client, "DEMO-0002")
    await _new_draft(client, other)
    assert await _drafts(client) == 5 and await _drafts(client, "DEMO-0002") == 1


async def test_submitting_deletes_the_draft_and_a_repeat_gets_the_same_receipt(client, box):
    draft = await _new_draft(client, box)
    data = {"d": draft, "w": "morning"}
    first = await client.post(box + "cb-submit", data=data, allow_redirects=False)
    assert first.status == 303 and first.headers["Location"].startswith("r-")
    assert await _drafts(client) == 0
    again = await client.post(box + "cb-submit", data=data, allow_redirects=False)
    assert again.status == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM callback_requests") == 1
    # Another box cannot use the key to reach the receipt.
    other = await enter(client, "DEMO-0002")
    response = await client.post(other + "cb-submit", data=data, allow_redirects=False)
    assert response.status == 400 and "页面已过期" in await response.text()


# -- self-registration -------------------------------------------------------------------------


async def test_a_known_box_registering_again_leaves_every_cache_warm(client, box):
    url = await warm_screen(client, box)
    generation = client.app[keys.BOXES].generation
    for serial in ("DEMO-0001", "DEMO-0002", "DEMO-0001"):
        response = await client.post(f"/api/v1/devices/{serial}/register", json={})
        assert response.status == 202
    # The box's next visit is still answered from the fast lane: nothing was dropped.
    before = await front_screens(client)
    assert (await client.get(url)).status == 200
    assert await front_screens(client) == before + 1
    assert client.app[keys.BOXES].generation == generation


async def test_a_verified_device_token_stays_cached_across_re_registration(client):
    db = client.app[keys.DB]
    token = await legacy_device_token(db, "DEMO-0001")  # the cache serves legacy tokens
    auth = {"Authorization": f"Bearer {token}"}
    beat = {"firmware": "V1"}
    assert (
        await client.post("/api/v1/devices/DEMO-0001/heartbeat", json=beat, headers=auth)
    ).status == 202
    await client.post("/api/v1/devices/DEMO-0001/register", json={})
    # The next heartbeat is answered from the verified-token cache, not from the table: with
    # the stored token gone it is still accepted (within the cache's 10 s), which shows that
    # registering a known box did not drop it (on the old code this heartbeat was a 401).
    await db.execute("DELETE FROM device_tokens")
    response = await client.post("/api/v1/devices/DEMO-0001/heartbeat", json=beat, headers=auth)
    assert response.status == 202


async def test_register_cannot_move_a_pending_box_into_an_auto_accepting_village(client):
    db = client.app[keys.DB]
    assert (await client.post("/api/v1/devices/WAIT-0001/register", json={})).status == 202
    body = {"village_code": OTHER_VILLAGE}
    assert (await client.post("/api/v1/devices/WAIT-0002/register", json=body)).status == 202
    await admission.set_auto_accept(db, VILLAGE, True)
    for serial in ("WAIT-0001", "WAIT-0002"):
        response = await client.post(
            f"/api/v1/devices/{serial}/register", json={"village_code": VILLAGE}
        )
        assert response.status == 202
        assert (await response.json())["state"] == "pending"
    rows = await db.fetchall(
        "SELECT serial, village_code, state FROM devices WHERE serial LIKE 'WAIT-%' ORDER BY 1"
    )
    assert [tuple(r) for r in rows] == [
        ("WAIT-0001", None, "pending"),
        ("WAIT-0002", OTHER_VILLAGE, "pending"),
    ]
    # A new box of that village is still admitted at once.
    response = await client.post(
        "/api/v1/devices/WAIT-0003/register", json={"village_code": VILLAGE}
    )
    assert (await response.json())["state"] == "installed"


# -- announcement dismissals ------------------------------------------------------------------


async def test_dismissing_an_announcement_not_shown_to_the_box_changes_nothing(client, box):
    db, hub = client.app[keys.DB], client.app[keys.HUB]
    foreign = await ann.create_announcement(db, "别村紧急", [OTHER_VILLAGE], level="urgent")
    banner = await ann.create_announcement(db, "本村一般", [VILLAGE], level="info")
    await hub.refresh()
    url = await warm_screen(client, box)
    generation = hub.generation
    for ok in (foreign, banner, 987654, "9" * 5000, "-1", "１２"):
        response = await client.get(f"{box}ann.json", params={"ok": str(ok)})
        assert response.status == 200
    assert hub.generation == generation
    before = await front_screens(client)
    assert (await client.get(url)).status == 200
    assert await front_screens(client) == before + 1  # the fast lane still answers
    # The box of the other village still gets its overlay.
    other = await enter(client, "DEMO-0002")
    assert "ann-urgent overlay" in await (await client.get(other + "programs")).text()


async def test_dismissing_twice_changes_nothing_the_second_time(client, box):
    hub = client.app[keys.HUB]
    urgent = await ann.create_announcement(
        client.app[keys.DB], "本村紧急", [VILLAGE], level="urgent"
    )
    await hub.refresh()
    assert "ann-urgent overlay" in await (await client.get(box + "programs")).text()
    await client.get(f"{box}ann.json?ok={urgent}")
    generation = hub.generation
    assert "ann-urgent overlay" not in await (await client.get(box + "programs")).text()
    url = await warm_screen(client, box)
    await client.get(f"{box}ann.json?ok={urgent}")
    assert hub.generation == generation
    before = await front_screens(client)
    await client.get(url)
    assert await front_screens(client) == before + 1


# -- SSE streams ------------------------------------------------------------------------------


async def _open_stream(client, base: str):
    response = await client.get(base + "events")
    assert response.headers["Content-Type"].startswith("text/event-stream")
    # The stream subscribes before it writes its first line.
    await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)  # retry: line
    return response


async def _closed(response) -> bool:
    try:
        rest = await asyncio.wait_for(response.content.read(), 5)
    except TimeoutError:
        return False
    return rest == b""


async def test_a_third_stream_of_a_box_closes_the_oldest(client, box):
    first = await _open_stream(client, box)
    second = await _open_stream(client, box)
    third = await _open_stream(client, box)
    try:
        assert await _closed(first)
        assert client.app[keys.HUB].listeners == 2
        # The two newest still receive events.
        await ann.create_announcement(client.app[keys.DB], "仍然推送", [VILLAGE])
        await client.app[keys.HUB].refresh()
        for stream in (second, third):
            chunk = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)
            assert "仍然推送" in chunk.decode()
    finally:
        for stream in (first, second, third):
            stream.close()


async def test_streams_in_total_are_capped_oldest_first(front_client, data_dir):
    client = await front_client(create_app(make_settings(data_dir, sse_streams_max=2)))
    streams = []
    try:
        for serial in ("DEMO-0001", "DEMO-0002", "DEMO-0008"):
            streams.append(await _open_stream(client, await enter(client, serial)))
        assert await _closed(streams[0])
        assert client.app[keys.HUB].listeners == 2
    finally:
        for stream in streams:
            stream.close()
