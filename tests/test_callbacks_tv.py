"""Asking for a callback from the box: validation, durability, idempotency, the open limit."""

import re

import pytest

from callbacks import phones
from storage import Invalid
from tests.helpers import draft_for, submit
from tv_server import keys


@pytest.mark.parametrize(
    ("typed", "e164", "masked"),
    [
        ("13800138000", "+8613800138000", "138****8000"),
        ("04778512345", "+864778512345", "0477***2345"),
        ("19912345678", "+8619912345678", "199****5678"),
    ],
)
def test_valid_mainland_numbers_are_normalised_and_masked(typed, e164, masked):
    assert phones.normalise(typed) == e164
    assert phones.mask(e164) == masked


@pytest.mark.parametrize(
    "typed", ["", "123", "1380013800", "23800138000", "12345678901234", "00000000000", "10086"]
)
def test_invalid_numbers_are_refused(typed):
    with pytest.raises(Invalid) as caught:
        phones.normalise(typed)
    assert caught.value.code == "phone_invalid"


async def test_invalid_phone_gets_a_clear_chinese_message_on_screen(client, box):
    response = await client.post(
        box + "cb-phone", data={"svc": "consultation", "phone": "12345"}, allow_redirects=False
    )
    assert response.status == 422
    html = await response.text()
    assert "电话号码不正确" in html
    assert 'value="12345"' in html  # what was typed is kept for correction


async def test_keypad_works_without_script(client, box):
    data = {"svc": "consultation", "phone": "138", "k": "0"}
    html = await (await client.post(box + "cb-phone", data=data)).text()
    assert 'value="1380"' in html
    html = await (await client.post(box + "cb-phone", data={**data, "k": "del"})).text()
    assert 'value="13"' in html
    html = await (await client.post(box + "cb-phone", data={**data, "k": "clr"})).text()
    assert 'value=""' in html


async def test_full_flow_gives_a_receipt_only_after_commit(client, box):
    draft = await draft_for(client, box, sp="sp-150602001")
    confirm = await client.get(f"{box}cb-confirm?d={draft}&w=evening")
    html = await confirm.text()
    # The household checks the whole number it typed, in groups; the page is kept nowhere.
    assert "138 0013 8000" in html and "****" not in html
    assert confirm.headers["Cache-Control"] == "no-store"
    response = await submit(client, box, draft, "evening")
    assert response.status == 303
    ref = response.headers["Location"].rsplit("r-", 1)[1]
    row = await client.app[keys.DB].fetchone(
        "SELECT status, phone_e164, time_window, service_point_code FROM callback_requests"
        " WHERE ref = ?",
        (ref,),
    )
    assert tuple(row) == ("submitted", "+8613800138000", "evening", "sp-150602001")
    receipt = await (await client.get(f"{box}r-{ref}")).text()
    assert ref in receipt and "138****8000" in receipt
    mine = await (await client.get(box + "mine")).text()
    assert ref in mine and "138****8000" in mine and "13800138000" not in mine


async def test_double_ok_makes_one_request(client, box):
    draft = await draft_for(client, box)
    first = await submit(client, box, draft)
    second = await submit(client, box, draft)  # a double OK, or a retry after a timeout
    assert first.headers["Location"] == second.headers["Location"]
    count = await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM callback_requests")
    assert count == 1


async def test_open_request_limit(client, box):
    for _ in range(3):
        assert (await submit(client, box, await draft_for(client, box))).status == 303
    response = await submit(client, box, await draft_for(client, box))
    assert response.status == 429
    assert "已有 3 个申请正在办理中" in await response.text()
    html = await (await client.get(box + "cb")).text()
    assert "已有 3 个申请正在办理中" in html
    count = await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM callback_requests")
    assert count == 3


async def test_phone_never_appears_in_urls(client, box):
    draft = await draft_for(client, box)
    html = await (await client.get(f"{box}cb-time?d={draft}")).text()
    assert "13800138000" not in html
    assert "138****8000" in html


async def test_a_draft_of_another_box_cannot_be_submitted(client, box):
    from tests.helpers import enter

    draft = await draft_for(client, box)
    other = await enter(client, "DEMO-0002")
    response = await submit(client, other, draft)
    assert response.status == 400
    assert "页面已过期" in await response.text()


async def test_bad_window_and_service_are_refused(client, box):
    draft = await draft_for(client, box)
    assert (await submit(client, box, draft, "midnight")).status == 400
    assert (await client.get(f"{box}cb-phone?svc=astrology")).status == 400


async def test_per_box_screens_share_their_pruned_stylesheet(client):
    """我的申请 carries each request's own id (`req-REF`): two boxes' lists still link one
    stylesheet, pruned from tv.css once — not once per box — and the list names each request's
    office."""
    from tests.helpers import enter
    from tv_server import tvfont

    styles = client.app[tvfont.STYLES]
    sheets = []
    for serial, phone in (("DEMO-0001", "13800138000"), ("DEMO-0002", "13900139000")):
        box = await enter(client, serial)
        ref = (
            (await submit(client, box, await draft_for(client, box, phone=phone)))
            .headers["Location"]
            .rsplit("r-", 1)[1]
        )
        misses = styles.memo.misses
        html = await (await client.get(box + "mine")).text()
        assert f'id="req-{ref}"' in html
        office = await client.app[keys.DB].fetchval(
            "SELECT p.name FROM callback_requests r JOIN service_points p"
            " ON p.code = r.office_code WHERE r.ref = ?",
            (ref,),
        )
        assert office and office in html
        sheets.append((re.search(r"/tv/css/(zs-[0-9a-f]+)\.css", html).group(1), misses))
    (first, _), (second, misses_before) = sheets
    assert first == second
    assert styles.memo.misses == misses_before  # the second box's list: no pruning again
    metrics = client.app[keys.DB].changes.caches
    assert metrics["tv_sheet_names"].hits >= 1
