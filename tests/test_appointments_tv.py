"""Booking an appointment from the box: slots, closed days, the horizon, the last seat under
concurrency, idempotency, cancel up to the cutoff, 我的申请."""

import asyncio
import datetime as dt
import re

import pytest

from appointments import slots
from tests.helpers import (
    POINT,
    book,
    enter,
    linked_code_bytes,
    make_settings,
    phone_step,
    publish,
    tomorrow,
)
from tv_server import keys
from tv_server.app import create_app


async def test_the_flow_lists_the_own_township_first_and_books_with_a_code(client, box):
    await publish(client)
    await slots.add_patterns(
        client.app[keys.DB], "sp-150621", "notarisation", [1], "10:00", "11:00", 3
    )
    html = await (await client.get(box + "ap-pt?svc=notarisation")).text()
    assert html.index("交通街道司法所") < html.index("达拉特旗")
    html = await (await client.get(f"{box}ap-day?svc=notarisation&sp={POINT}")).text()
    card = re.search(rf'id="d-{tomorrow().isoformat()}".*?</a>', html, re.S).group(0)
    assert "余 1 个" in card
    html = await (
        await client.get(f"{box}ap-slot?svc=notarisation&sp={POINT}&day={tomorrow().isoformat()}")
    ).text()
    assert 'id="s-0900"' in html
    # The phone step is the callback flow's screen, posting to this flow.
    html = await (
        await client.get(
            f"{box}ap-phone?svc=notarisation&sp={POINT}&day={tomorrow().isoformat()}&at=09:00"
        )
    ).text()
    assert 'action="ap-phone"' in html and 'id="k-1"' in html and "预约办理" in html
    draft = await phone_step(client, box, tomorrow())
    confirm = await client.get(f"{box}ap-confirm?d={draft}&day={tomorrow().isoformat()}&at=09:00")
    text = await confirm.text()
    assert "138 0013 8000" in text and confirm.headers["Cache-Control"] == "no-store"
    response = await book(client, box, draft, tomorrow())
    assert response.status == 303
    code = response.headers["Location"].rsplit("a-", 1)[1]
    receipt = await (await client.get(box + "a-" + code)).text()
    assert code in receipt and "身份证" in receipt and "138****8000" in receipt
    assert "138 0013 8000" not in receipt
    # A repeated OK finds the same booking.
    again = await book(client, box, draft, tomorrow())
    assert again.status == 303 and again.headers["Location"].endswith("a-" + code)
    count = await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM appointments")
    assert count == 1
    mine = await (await client.get(box + "mine")).text()
    assert f'id="ap-{code}"' in mine and f'id="apc-{code}"' in mine


async def test_a_full_slot_says_so_and_offers_the_next_free_ones(client, box):
    await publish(client, capacity=1)
    await publish(client, capacity=2, start="10:00", end="10:30")
    other = await enter(client, "DEMO-0002")
    first = await phone_step(client, other, tomorrow())
    assert (await book(client, other, first, tomorrow())).status == 303
    draft = await phone_step(client, box, tomorrow())
    response = await book(client, box, draft, tomorrow())
    assert response.status == 409
    html = await response.text()
    assert "已约满" in html
    assert f'id="n-{tomorrow().isoformat()}-1000"' in html  # the next slot with a seat
    # Its link keeps the typed number: one OK books it.
    link = re.search(r'href="(ap-confirm\?[^"]+at=10(?::|%3A)00[^"]*)"', html).group(1)
    assert "已约满" not in await (await client.get(box + link.replace("&amp;", "&"))).text()
    slot_page = await (
        await client.get(f"{box}ap-slot?svc=notarisation&sp={POINT}&day={tomorrow().isoformat()}")
    ).text()
    assert re.search(r'<span class="card slot full" id="s-0900">', slot_page)


async def test_many_boxes_racing_for_the_last_seat_one_wins(front_client, data_dir):
    """Eight boxes press OK on the same last seat at once, over real sockets: exactly one
    booking is made; every other box sees 已约满 and the next free slot."""
    client = await front_client(create_app(make_settings(data_dir)))
    await publish(client, capacity=1)
    await publish(client, capacity=5, start="11:00", end="11:30")
    boxes = [await enter(client, f"DEMO-{n:04d}") for n in range(1, 9)]
    drafts = [await phone_step(client, b, tomorrow()) for b in boxes]
    responses = await asyncio.gather(
        *(book(client, b, d, tomorrow()) for b, d in zip(boxes, drafts, strict=True))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [303] + [409] * 7
    for response in responses:
        if response.status == 409:
            html = await response.text()
            assert "已约满" in html and f"n-{tomorrow().isoformat()}-1100" in html
    seated = await client.app[keys.DB].fetchval(
        "SELECT COUNT(*) FROM appointments WHERE start = '09:00' AND status = 'booked'"
    )
    assert seated == 1


async def test_closed_days_and_public_holidays_offer_no_slot(front_client, data_dir):
    holiday = tomorrow() + dt.timedelta(days=1)
    client = await front_client(
        create_app(make_settings(data_dir, public_holidays=holiday.isoformat()))
    )
    box = await enter(client)
    await publish(client)
    await slots.add_closed(client.app[keys.DB], POINT, tomorrow(), "盘点")
    html = await (await client.get(f"{box}ap-day?svc=notarisation&sp={POINT}")).text()
    assert f"d-{tomorrow().isoformat()}" not in html
    assert f"d-{holiday.isoformat()}" not in html
    assert f"d-{(holiday + dt.timedelta(days=1)).isoformat()}" in html
    # Posting a closed day anyway is refused, nothing booked.
    draft = await phone_step(client, box, tomorrow())
    response = await book(client, box, draft, tomorrow())
    assert response.status == 409 and "已不能预约" in await response.text()
    assert await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM appointments") == 0


async def test_the_horizon_bounds_the_days(front_client, data_dir):
    client = await front_client(create_app(make_settings(data_dir, appointment_horizon_days=3)))
    box = await enter(client)
    await publish(client)
    html = await (await client.get(f"{box}ap-day?svc=notarisation&sp={POINT}")).text()
    assert f"d-{(slots.today() + dt.timedelta(days=3)).isoformat()}" in html
    assert f"d-{(slots.today() + dt.timedelta(days=4)).isoformat()}" not in html
    far = slots.today() + dt.timedelta(days=5)
    draft = await phone_step(client, box, far)
    assert (await book(client, box, draft, far)).status == 409
    assert await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM appointments") == 0


async def test_cancel_frees_the_seat_until_the_cutoff(client, box):
    await publish(client)
    draft = await phone_step(client, box, tomorrow())
    code = (await book(client, box, draft, tomorrow())).headers["Location"].rsplit("a-", 1)[1]
    page = await (await client.get(f"{box}ac-{code}")).text()
    assert 'id="ac-keep"' in page and 'id="ac-cancel"' in page
    response = await client.post(f"{box}ac-{code}", allow_redirects=False)
    assert response.status == 303
    status = await client.app[keys.DB].fetchval(
        "SELECT status FROM appointments WHERE code = ?", (code,)
    )
    assert status == "cancelled"
    html = await (await client.get(f"{box}ap-day?svc=notarisation&sp={POINT}")).text()
    card = re.search(rf'id="d-{tomorrow().isoformat()}".*?</a>', html, re.S).group(0)
    assert "余 1 个" in card  # the seat is free again


async def test_no_cancel_from_the_tv_after_the_cutoff(front_client, data_dir):
    # A cutoff longer than the time to tomorrow's slot: too late to cancel on the TV.
    client = await front_client(
        create_app(make_settings(data_dir, appointment_cancel_cutoff_hours=60))
    )
    box = await enter(client)
    await publish(client)
    draft = await phone_step(client, box, tomorrow())
    code = (await book(client, box, draft, tomorrow())).headers["Location"].rsplit("a-", 1)[1]
    assert "ac-" + code not in await (await client.get(box + "a-" + code)).text()
    response = await client.post(f"{box}ac-{code}", allow_redirects=False)
    assert response.status == 409 and "不能取消" in await response.text()
    status = await client.app[keys.DB].fetchval(
        "SELECT status FROM appointments WHERE code = ?", (code,)
    )
    assert status == "booked"


async def test_another_box_cannot_see_or_cancel_a_booking(client, box):
    await publish(client)
    draft = await phone_step(client, box, tomorrow())
    code = (await book(client, box, draft, tomorrow())).headers["Location"].rsplit("a-", 1)[1]
    other = await enter(client, "DEMO-0002")
    assert (await client.get(other + "a-" + code)).status == 404
    assert (await client.post(other + "ac-" + code, allow_redirects=False)).status == 404


async def test_a_box_holds_a_bounded_number_of_bookings(front_client, data_dir):
    client = await front_client(create_app(make_settings(data_dir, appointment_max_per_box=1)))
    box = await enter(client)
    await publish(client, capacity=5)
    first = await phone_step(client, box, tomorrow())
    assert (await book(client, box, first, tomorrow())).status == 303
    second = await phone_step(client, box, tomorrow())
    response = await book(client, box, second, tomorrow())
    html = await response.text()
    assert response.status == 429 and "还没去办" in html
    # Headed as the booking's other steps, not as the callback flow that shares the screen.
    assert re.search(r'<h1 class="screen-title">\s*预约办理\s*</h1>', html)


@pytest.mark.parametrize(
    ("field", "value"), [("svc", "appraisal"), ("sp", "sp-nope"), ("day", "2026-13-01")]
)
async def test_bad_steps_are_refused_on_screen(client, box, field, value):
    await publish(client)
    query = {"svc": "notarisation", "sp": POINT, "day": tomorrow().isoformat(), "at": "09:00"}
    query[field] = value
    response = await client.get(box + "ap-phone", params=query)
    assert response.status == 400
    assert "<html" in (await response.text()).lower()


async def test_the_point_page_offers_booking_once_slots_are_published(client, box):
    db = client.app[keys.DB]
    point_id = await db.fetchval("SELECT id FROM service_points WHERE code = ?", (POINT,))
    async with db.transaction() as tx:  # the demo's own weekly slots at this point
        await tx.execute("DELETE FROM appointment_patterns WHERE point_code = ?", (POINT,))
    client.app[keys.SCREENS].invalidate("appointments")
    assert 'id="ask-appointment"' not in await (await client.get(f"{box}o-{point_id}")).text()
    await publish(client)
    client.app[keys.SCREENS].invalidate("appointments")
    html = await (await client.get(f"{box}o-{point_id}")).text()
    assert 'id="ask-appointment"' in html


async def test_every_booking_screen_keeps_the_weight_budget(client, box):
    """≤ 30 KB of HTML+CSS+JS per screen before compression, as every TV screen."""
    await publish(client)
    draft = await phone_step(client, box, tomorrow())
    day = tomorrow().isoformat()
    screens = [
        "ap",
        "ap-pt?svc=notarisation",
        f"ap-day?svc=notarisation&sp={POINT}",
        f"ap-slot?svc=notarisation&sp={POINT}&day={day}",
        f"ap-phone?svc=notarisation&sp={POINT}&day={day}&at=09:00",
        f"ap-confirm?d={draft}&day={day}&at=09:00",
    ]
    code = (await book(client, box, draft, tomorrow())).headers["Location"].rsplit("a-", 1)[1]
    screens += [f"a-{code}", f"ac-{code}", "mine"]
    for screen in screens:
        response = await client.get(box + screen, headers={"Accept-Encoding": "identity"})
        assert response.status == 200, screen
        page = await response.read()
        static = await linked_code_bytes(client, page.decode())
        assert len(page) + static <= 30 * 1024, screen


async def test_a_box_keeps_at_most_five_appointment_drafts(client, box):
    await publish(client)
    for _ in range(7):
        await phone_step(client, box, tomorrow())
    drafts = await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM appointment_drafts")
    assert drafts == 5
    response = await client.post(
        box + "ap-phone",
        data={
            "svc": "notarisation",
            "sp": POINT,
            "day": tomorrow().isoformat(),
            "at": "09:00",
            "phone": "1" * 40,
        },
        allow_redirects=False,
    )
    assert response.status == 422 and "电话号码不正确" in await response.text()


async def test_the_demo_takes_appointments_for_every_service_out_of_the_box(client, box):
    """`make run`: the demo's centres and township stations publish weekly slots, so each
    service has points, days and free times without staff publishing anything first."""
    for service in slots.SERVICES:
        html = await (await client.get(f"{box}ap-pt?svc={service}")).text()
        assert "暂时没有服务点接受这项预约" not in html, service
        point = re.search(r'href="ap-day\?svc=\w+&amp;sp=([\w-]+)"', html).group(1)
        html = await (await client.get(f"{box}ap-day?svc={service}&sp={point}")).text()
        assert "近期没有可预约的时间" not in html, service
        day = re.search(r'id="d-(\d{4}-\d\d-\d\d)"', html).group(1)
        html = await (await client.get(f"{box}ap-slot?svc={service}&sp={point}&day={day}")).text()
        assert re.search(r'id="s-\d{4}"', html), service
    # The box's own township station comes first for the services it offers.
    html = await (await client.get(box + "ap-pt?svc=legal_aid")).text()
    assert re.search(r'href="ap-day\?svc=\w+&amp;sp=([\w-]+)"', html).group(1) == POINT
