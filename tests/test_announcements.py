"""Announcements on the box: targeting by region, rollout wave and single box (TV page, JSON
poll and SSE), the time window, withdrawal, urgent overlays and "shown" counting."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from content.announcements import notices as ann
from device_registry import loading
from tests.helpers import enter
from tv_server import keys

VILLAGE = "150602001001"  # DEMO-0001 and DEMO-0008
TOWNSHIP = "150602001"  # also DEMO-0002's (village 150602001002)
OTHER_BANNER_BOX = "DEMO-0023"  # a pilot village of 达拉特旗


async def _create(client, text, regions=(), **kw) -> int:
    kw.setdefault("level", "important")
    ann_id = await ann.create_announcement(client.app[keys.DB], text, list(regions), **kw)
    await client.app[keys.HUB].refresh()
    return ann_id


async def _sees(client, base: str, text: str) -> dict[str, bool]:
    """Whether the box shows `text`: home (rendered per box), programs (shared cache), poll."""
    home = await (await client.get(base + "home")).text()
    programs = await (await client.get(base + "programs")).text()
    poll = await (await client.get(base + "ann.json")).json()
    return {
        "home": text in home,
        "programs": text in programs,
        "poll": any(a["text"] == text for a in poll["announcements"]),
    }


INSIDE = {"home": True, "programs": True, "poll": True}
OUTSIDE = {"home": False, "programs": False, "poll": False}


async def _wave(client, name: str, regions: list[str]) -> int:
    return await loading.ensure_wave(client.app[keys.DB], name, "expansion", regions)


@pytest.mark.parametrize(
    ("target", "inside", "outside"),
    [
        ("village", ["DEMO-0001", "DEMO-0008"], ["DEMO-0002", OTHER_BANNER_BOX]),
        ("township", ["DEMO-0001", "DEMO-0002"], [OTHER_BANNER_BOX]),
        ("wave_township", ["DEMO-0001", "DEMO-0002"], [OTHER_BANNER_BOX]),
        ("wave_village", ["DEMO-0001", "DEMO-0008"], ["DEMO-0002", OTHER_BANNER_BOX]),
        ("box", ["DEMO-0001"], ["DEMO-0008", "DEMO-0002", OTHER_BANNER_BOX]),
    ],
)
async def test_a_box_inside_the_target_sees_it_and_one_outside_does_not(
    client, target, inside, outside
):
    text = f"定向公告 {target}"
    if target == "village":
        await _create(client, text, [VILLAGE])
    elif target == "township":
        await _create(client, text, [TOWNSHIP])
    elif target == "wave_township":
        await _create(client, text, waves=[await _wave(client, "第二批", [TOWNSHIP])])
    elif target == "wave_village":
        await _create(client, text, waves=[await _wave(client, "第三批", [VILLAGE])])
    else:
        await _create(client, text, serials=["DEMO-0001"])
    for serial in inside:
        assert await _sees(client, await enter(client, serial), text) == INSIDE, serial
    for serial in outside:
        assert await _sees(client, await enter(client, serial), text) == OUTSIDE, serial


async def test_the_shared_screen_cache_keeps_box_targets_apart(client):
    a, b = await enter(client, "DEMO-0001"), await enter(client, "DEMO-0008")
    # Same village, same model: the programs screen is shared until an announcement differs.
    assert "只给一台" not in await (await client.get(b + "programs")).text()
    await _create(client, "只给一台机顶盒", serials=["DEMO-0001"])
    assert "只给一台" in await (await client.get(a + "programs")).text()
    assert "只给一台" not in await (await client.get(b + "programs")).text()


async def test_wave_targets_follow_the_wave_regions_at_refresh(client):
    db = client.app[keys.DB]
    wave = await _wave(client, "第四批", ["150621100"])  # a township of 达拉特旗
    await _create(client, "批次公告", waves=[wave])
    c = await enter(client, OTHER_BANNER_BOX)
    a = await enter(client, "DEMO-0001")
    assert (await _sees(client, a, "批次公告")) == OUTSIDE
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO wave_regions (wave_id, region_code) VALUES (?, ?)", (wave, "150602")
        )
    await client.app[keys.HUB].refresh()
    assert (await _sees(client, a, "批次公告")) == INSIDE
    assert (await _sees(client, c, "批次公告")) == INSIDE


async def test_sse_delivers_to_the_targeted_box_only(client):
    hub = client.app[keys.HUB]
    a = await enter(client, "DEMO-0001")
    other = hub.subscribe(("150602001002", TOWNSHIP, "150602", "1506"), device_id=999_999)
    response = await client.get(a + "events")
    assert response.headers["Content-Type"].startswith("text/event-stream")
    await response.content.readuntil(b"\n\n")  # retry: line
    for _ in range(50):  # the stream subscribes once its headers are out
        if hub.listeners >= 2:
            break
        await asyncio.sleep(0.01)
    ann_id = await _create(client, "推送给一台", serials=["DEMO-0001"])
    chunk = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
    event, data = chunk.decode().strip().split("\n")
    assert event == "event: announcement"
    assert json.loads(data[len("data: ") :]) == {
        "id": ann_id,
        "text": "推送给一台",
        "level": "important",
    }
    assert other.empty()
    response.close()
    hub.unsubscribe(other)


async def test_a_scheduled_announcement_appears_at_its_start_and_leaves_at_its_end(client):
    db, hub = client.app[keys.DB], client.app[keys.HUB]
    now = time.time()
    start, end = now + 3600, now + 7200
    ann_id = await ann.create_announcement(
        db, "明天的公告", [VILLAGE], starts_at=start, ends_at=end, now=now
    )
    await hub.refresh(now)
    chain = ("150602001001", TOWNSHIP, "150602", "1506")
    assert ann_id not in [a.id for a in hub.for_chain(chain, now + 10, device_id=1)]
    assert ann_id in [a.id for a in hub.for_chain(chain, start, device_id=1)]
    assert ann_id not in [a.id for a in hub.for_chain(chain, end, device_id=1)]
    # Not on the screen now, though the hub already holds it.
    a = await enter(client, "DEMO-0001")
    assert await _sees(client, a, "明天的公告") == OUTSIDE
    # After its end it is not even loaded any more.
    assert ann_id not in [x.id for x in await ann.current_announcements(db, end + 1)]


async def test_withdrawing_removes_it_from_screens_and_stream(client):
    a = await enter(client, "DEMO-0001")
    ann_id = await _create(client, "将被撤回", [VILLAGE])
    assert await _sees(client, a, "将被撤回") == INSIDE
    queue = client.app[keys.HUB].subscribe(
        ("150602001001", TOWNSHIP, "150602", "1506"), device_id=None
    )
    await ann.withdraw_announcement(client.app[keys.DB], ann_id)
    await client.app[keys.HUB].refresh()
    assert await _sees(client, a, "将被撤回") == OUTSIDE
    event, data = queue.get_nowait()
    assert event == "announcement" and data["id"] != ann_id  # the demo notice again
    with pytest.raises(Exception) as exc:
        await ann.withdraw_announcement(client.app[keys.DB], ann_id)
    assert getattr(exc.value, "code", "") == "announcement_ended"


async def test_the_most_urgent_shows_first_as_an_overlay_until_closed(client):
    a = await enter(client, "DEMO-0001")
    await _create(client, "重要通知", [VILLAGE], level="important")
    urgent = await _create(client, "紧急通知", [VILLAGE], level="urgent")
    html = await (await client.get(a + "programs")).text()
    assert 'class="ann ann-urgent overlay"' in html and "紧急通知" in html
    poll = await (await client.get(a + "ann.json")).json()
    assert poll["announcements"][0] == {
        "id": urgent,
        "text": "紧急通知",
        "level": "urgent",
        "overlay": True,
    }
    await client.get(a + f"ann.json?ok={urgent}")  # tv.js sends this when OK closes it
    html = await (await client.get(a + "programs")).text()
    assert 'class="ann ann-urgent"' in html and "紧急通知" in html
    # Another household of the same village still gets the overlay.
    b = await enter(client, "DEMO-0008")
    assert "ann-urgent overlay" in await (await client.get(b + "programs")).text()


async def test_each_box_is_counted_once_however_often_it_shows_it(client):
    db, hub = client.app[keys.DB], client.app[keys.HUB]
    ann_id = await _create(client, "计数公告", [VILLAGE])
    a, b = await enter(client, "DEMO-0001"), await enter(client, "DEMO-0008")
    for _ in range(3):
        await client.get(a + "home")
        await client.get(a + "programs")
        await client.get(a + "ann.json")
    await hub.flush_impressions()
    await client.get(a + "programs")
    await client.get(b + "programs")
    await hub.flush_impressions()
    await client.get(await enter(client, "DEMO-0002") + "programs")  # not targeted
    await hub.flush_impressions()
    rows = await db.fetchall(
        "SELECT device_id FROM announcement_impressions WHERE announcement_id = ?", (ann_id,)
    )
    assert len(rows) == 2
    record = await ann.get_announcement(db, ann_id)
    boxes_in_village = await db.fetchval(
        "SELECT COUNT(*) FROM devices WHERE village_code = ?", (VILLAGE,)
    )
    assert (record.shown, record.targeted) == (2, boxes_in_village)


async def test_targeted_count_covers_regions_waves_and_single_boxes(client):
    db = client.app[keys.DB]
    wave = await _wave(client, "第五批", ["150621100"])
    ann_id = await ann.create_announcement(
        db, "合计", [TOWNSHIP], waves=[wave], serials=["DEMO-0001", "DEMO-0021"]
    )
    expected = await db.fetchval(
        "SELECT COUNT(*) FROM devices WHERE village_code LIKE '150602001%'"
        " OR village_code LIKE '150621100%' OR serial = 'DEMO-0021'"
    )
    assert await ann.targeted_boxes(db, ann_id) == expected


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"text": "  "}, "announcement_text_empty"),
        ({"text": "长" * 121}, "announcement_text_long"),
        ({"level": "loud"}, "announcement_level"),
        ({"regions": []}, "announcement_no_target"),
        ({"regions": ["999999"]}, "announcement_region_unknown"),
        ({"waves": [9999]}, "announcement_wave_unknown"),
        ({"serials": ["NOPE-1"]}, "announcement_box_unknown"),
        ({"starts_at": 1000.0, "ends_at": 900.0}, "announcement_start_past"),
        ({"starts_at": 5000.0, "ends_at": 4000.0}, "announcement_window"),
    ],
)
async def test_bad_announcements_write_nothing(client, kwargs, code):
    db = client.app[keys.DB]
    before = await db.fetchval("SELECT COUNT(*) FROM announcements")
    args = {"text": "好", "regions": [VILLAGE], **kwargs}
    with pytest.raises(Exception) as exc:
        await ann.create_announcement(db, args.pop("text"), args.pop("regions"), now=2000.0, **args)
    assert getattr(exc.value, "code", "") == code
    assert await db.fetchval("SELECT COUNT(*) FROM announcements") == before
