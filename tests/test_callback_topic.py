"""The household's callback screens in everyday use: services in plain words, the optional
"what is it about" (topic) carried to staff, 我的申请 rows that say more and open a detail."""

from __future__ import annotations

import re

from accounts import apikeys
from tests.helpers import login
from tv_server import keys


async def request_with_topic(client, box, topic="land", service="mediation"):
    topic_screen = await (await client.get(f"{box}cb-topic?svc={service}")).text()
    assert f'href="cb-phone?svc={service}&amp;t={topic}"' in topic_screen
    response = await client.post(
        box + "cb-phone",
        data={"svc": service, "t": topic, "phone": "13800138000"},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    draft = re.search(r"d=([0-9a-f]+)", response.headers["Location"]).group(1)
    confirm = await (await client.get(f"{box}cb-confirm?d={draft}&w=morning")).text()
    response = await client.post(
        box + "cb-submit", data={"d": draft, "w": "morning"}, allow_redirects=False
    )
    assert response.status == 303
    return response.headers["Location"].rsplit("r-", 1)[1], confirm


async def test_each_service_says_in_one_plain_sentence_what_it_is(client, box):
    html = await (await client.get(box + "cb")).text()
    assert "邻里、土地、草场纠纷，帮您调解" in html
    assert html.count('class="sub"') >= 6
    assert 'href="cb-topic?svc=mediation"' in html  # then: what is it about (optional)


async def test_topic_is_stored_and_shown_to_staff_and_the_hotline(client, box):
    ref, confirm = await request_with_topic(client, box)
    assert "人民调解 · 土地草场" in confirm
    db = client.app[keys.DB]
    assert await db.fetchval("SELECT topic FROM callback_requests WHERE ref = ?", (ref,)) == "land"
    receipt = await (await client.get(f"{box}r-{ref}")).text()
    assert "土地草场" in receipt
    await login(client, "admin")
    queue = await (await client.get("/admin/callbacks")).text()
    row = re.search(rf'<tr class="cb-row[^"]*" id="cb-{ref}">(.*?)</tr>', queue, re.S).group(1)
    assert "土地草场" in row
    cid = await db.fetchval("SELECT id FROM callback_requests WHERE ref = ?", (ref,))
    page = await (await client.get(f"/admin/callbacks/{cid}")).text()
    assert re.search(r"事由</dt><dd[^>]*>土地草场", page)
    _k, key = await apikeys.create(db, "hotline", ["open311:read"])
    body = await client.get(f"/open311/v2/requests/{ref}.json", params={"api_key": key})
    assert (await body.json())[0]["description"] == "土地草场"


async def test_skipping_the_topic_leaves_it_empty(client, box):
    response = await client.post(
        box + "cb-phone", data={"svc": "consultation", "phone": "13800138000"}
    )
    assert response.status == 200  # followed to the time step
    db = client.app[keys.DB]
    assert await db.fetchval("SELECT topic FROM callback_drafts") == ""


async def test_an_unknown_topic_is_refused(client, box):
    assert (await client.get(f"{box}cb-phone?svc=consultation&t=astrology")).status == 400
    response = await client.post(
        box + "cb-phone", data={"svc": "consultation", "t": "x" * 500, "phone": "13800138000"}
    )
    assert response.status == 400
    assert "跳过" in await response.text()
    assert await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM callback_drafts") == 0


async def test_my_requests_rows_say_when_where_and_what_and_open_a_detail(client, box):
    ref, _confirm = await request_with_topic(client, box)
    mine = await (await client.get(box + "mine")).text()
    row = re.search(
        rf'<a class="f row request[^"]*" id="req-{ref}" href="m-{ref}"(.*?)</a>', mine, re.S
    )
    assert row, mine
    text = row.group(1)
    assert re.search(r"\d+月\d+日申请", text)  # the day it was filed
    assert re.search(r"最晚 \d+月\d+日 星期.", text) and "上午 8:30—12:00" in text
    assert "司法所" in text or "中心" in text  # the office it went to
    assert "已收到，正在安排人员" in text  # the status in plain words
    detail = await client.get(f"{box}m-{ref}")
    assert detail.status == 200
    html = await detail.text()
    assert ref in html and "138****8000" in html and "13800138000" not in html
    assert re.search(r"工作人员最晚在 \d+月\d+日 星期. 上午", html)
    assert f'href="mc-{ref}"' in html  # cancel from the detail too
    assert f'data-back="mine#req-{ref}"' in html and "data-back-force" in html


async def test_another_boxs_request_detail_is_not_found(client, box):
    from tests.helpers import enter

    ref, _confirm = await request_with_topic(client, box)
    other = await enter(client, "DEMO-0002")
    assert (await client.get(f"{other}m-{ref}")).status == 404


async def test_the_receipt_names_the_day_staff_will_call(client, box):
    ref, _confirm = await request_with_topic(client, box)
    receipt = await (await client.get(f"{box}r-{ref}")).text()
    assert re.search(r"工作人员最晚在 \d+月\d+日 星期. 上午 8:30—12:00 给您打电话", receipt)
