"""The announcements admin: create, edit, withdraw; bad input, region scope, permissions and
CSRF; every action audited; the list shows boxes shown and targeted."""

from __future__ import annotations

import io
import re
import time

import pytest
from aiohttp import FormData
from PIL import Image

from content.announcements import notices as ann
from tests.helpers import csrf_of, enter
from tv_server import keys

NEW = "/admin/announcements/new"
VILLAGE = "150602001001"


async def _count(client, table: str = "announcements") -> int:
    return await client.app[keys.DB].fetchval(f"SELECT COUNT(*) FROM {table}")


async def _audit(client, action: str) -> list:
    return await client.app[keys.DB].fetchall(
        "SELECT * FROM audit_log WHERE action = ? ORDER BY id", (action,)
    )


def _form(token: str, **fields) -> FormData:
    data = FormData()
    data.add_field("csrf_token", token)
    values = {"text": "村委会明天有律师值班", "level": "info", "region_codes": VILLAGE}
    values.update(fields)
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            data.add_field(name, item)
    return data


def _png(size=(64, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def test_staff_creates_one_and_the_box_shows_it_at_once(client, admin_as):
    await admin_as("staff")
    box = await enter(client, "DEMO-0001")
    token = await csrf_of(client, NEW)
    response = await client.post(
        NEW, data=_form(token, text="今晚停水通知", level="important"), allow_redirects=False
    )
    assert response.status == 303, await response.text()
    # No poll interval waited for: the hub was refreshed by the admin action.
    assert "今晚停水通知" in await (await client.get(box + "home")).text()
    entry = (await _audit(client, "announcement.create"))[-1]
    assert entry["outcome"] == "ok"
    assert "今晚停水通知" in entry["detail"]
    listing = await (await client.get(response.headers["Location"])).text()
    assert "今晚停水通知" in listing and "公告已发布" in listing


async def test_the_list_shows_boxes_shown_and_targeted(client, admin_as):
    await admin_as("editor")
    ann_id = await ann.create_announcement(client.app[keys.DB], "显示统计", [VILLAGE])
    await client.app[keys.HUB].refresh()
    await client.get(await enter(client, "DEMO-0001") + "home")
    await client.app[keys.HUB].flush_impressions()
    html = await (await client.get("/admin/announcements")).text()
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*显示统计.*?</tr>", html, re.S).group(0)
    targeted = await ann.targeted_boxes(client.app[keys.DB], ann_id)
    assert targeted >= 2
    assert f'<b class="shown">1</b> / <span class="targeted">{targeted}</span>' in row


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": ""}, "请填写公告内容"),
        ({"text": "长" * 121}, "最多120个字"),
        ({"starts_at": "2030-05-02T10:00", "ends_at": "2030-05-01T10:00"}, "结束时间必须晚于开始"),
        ({"starts_at": "2020-01-01T08:00"}, "开始时间不能早于现在"),
        ({"serials": "DEMO-0001\nNO-SUCH-BOX"}, "NO-SUCH-BOX"),
        ({"region_codes": ""}, "请至少选择一个"),
        ({"starts_at": "明天"}, "时间格式不正确"),
    ],
)
async def test_bad_input_rerenders_with_a_message_and_writes_nothing(
    client, admin_as, fields, message
):
    await admin_as("editor")
    token = await csrf_of(client, NEW)
    before = await _count(client)
    response = await client.post(NEW, data=_form(token, **fields))
    html = await response.text()
    assert response.status == 400
    assert message in html
    if fields.get("text"):
        assert fields["text"] in html  # what was typed is kept
    assert await _count(client) == before
    assert await _count(client, "announcement_regions") == await _count(
        client, "announcement_regions"
    )


async def test_a_scoped_editor_cannot_target_outside_the_region(client, admin_as):
    await admin_as("dsq_editor")  # 东胜区 only
    token = await csrf_of(client, NEW)
    before = await _count(client)
    for fields in (
        {"region_codes": "1506"},  # all of Ordos
        {"region_codes": "150621"},  # 达拉特旗
        {"region_codes": "", "serials": "DEMO-0023"},  # a box in 达拉特旗
    ):
        response = await client.post(NEW, data=_form(token, **fields))
        assert response.status == 400
        assert "只能向您负责地区内" in await response.text()
    assert await _count(client) == before
    denied = [e for e in await _audit(client, "announcement.create") if e["outcome"] == "denied"]
    assert len(denied) == 3
    # Inside the region it works, and the form only offers regions of 东胜区.
    page = await (await client.get(NEW)).text()
    assert 'value="150602"' in page and 'value="150621"' not in page
    response = await client.post(NEW, data=_form(token), allow_redirects=False)
    assert response.status == 303


async def test_a_scoped_editor_neither_sees_nor_edits_others(client, admin_as):
    other = await ann.create_announcement(client.app[keys.DB], "达拉特旗的公告", ["150621"])
    await admin_as("dsq_editor")
    assert "达拉特旗的公告" not in await (await client.get("/admin/announcements")).text()
    response = await client.get(f"/admin/announcements/{other}")
    assert response.status == 403


async def test_viewer_is_refused_and_audited(client, admin_as):
    await admin_as("viewer")
    assert (await client.get("/admin/announcements")).status == 403
    token = await csrf_of(client, "/admin/")
    response = await client.post(NEW, data=_form(token))
    assert response.status == 403
    denied = await client.app[keys.DB].fetchall(
        "SELECT * FROM audit_log WHERE action = 'announcement.edit' AND outcome = 'denied'"
    )
    assert len(denied) == 2


async def test_a_post_without_csrf_token_is_refused(client, admin_as):
    await admin_as("editor")
    before = await _count(client)
    response = await client.post(NEW, data={"text": "x", "region_codes": VILLAGE})
    assert response.status == 403
    assert await _count(client) == before


async def test_edit_and_withdraw(client, admin_as):
    await admin_as("editor")
    box = await enter(client, "DEMO-0001")
    ann_id = await ann.create_announcement(
        client.app[keys.DB], "旧内容", [VILLAGE], level="important"
    )
    await client.app[keys.HUB].refresh()
    path = f"/admin/announcements/{ann_id}"
    page = await (await client.get(path)).text()
    assert "旧内容" in page and VILLAGE in page
    token = await csrf_of(client, path)
    response = await client.post(
        path, data=_form(token, text="新内容", level="important"), allow_redirects=False
    )
    assert response.status == 303, await response.text()
    assert "新内容" in await (await client.get(box + "home")).text()
    response = await client.post(
        path, data={"csrf_token": token, "action": "withdraw"}, allow_redirects=False
    )
    assert response.status == 303
    assert "新内容" not in await (await client.get(box + "home")).text()
    record = await ann.get_announcement(client.app[keys.DB], ann_id)
    assert record.status(time.time()) == "withdrawn"
    assert len(await _audit(client, "announcement.update")) == 1
    assert len(await _audit(client, "announcement.withdraw")) == 1
    # A withdrawn announcement cannot be changed any more.
    response = await client.post(path, data=_form(token, text="再改"))
    assert response.status == 400 and "已结束或已撤回" in await response.text()


async def test_an_image_is_validated_and_shown(client, admin_as):
    await admin_as("editor")
    token = await csrf_of(client, NEW)
    bad = _form(token, text="带图片")
    bad.add_field("image", b"GIF89a not a picture", filename="x.png", content_type="image/png")
    response = await client.post(NEW, data=bad)
    assert response.status == 400 and "JPEG或PNG" in await response.text()
    assert await _count(client) == 1  # the demo notice only
    good = _form(token, text="带图片", level="urgent")
    good.add_field("image", _png(), filename="x.png", content_type="image/png")
    response = await client.post(NEW, data=good, allow_redirects=False)
    assert response.status == 303, await response.text()
    html = await (await client.get(await enter(client, "DEMO-0001") + "home")).text()
    src = re.search(r'<div id="ann"[^>]*><img src="([^"]+)"', html).group(1)
    image = await client.get(src)
    assert image.status == 200 and image.content_type == "image/jpeg"


async def test_a_too_large_image_gets_413(client, front_client, data_dir):
    from tests.helpers import login, make_settings
    from tv_server.app import create_app

    small = await front_client(create_app(make_settings(data_dir, upload_max_bytes=2000)))
    assert (await login(small, "editor")).status == 303
    token = await csrf_of(small, NEW)
    form = _form(token, text="大图片")
    form.add_field(
        "image", _png((400, 400)) + b"\0" * 3000, filename="big.png", content_type="image/png"
    )
    response = await small.post(NEW, data=form)
    assert response.status == 413
    assert "图片太大" in await response.text()
