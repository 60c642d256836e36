"""Booking the last seat with the remote alone, at the 720p canvas and at 4K: home → 预约办理 →
service → own township's point → day → time → phone → confirm → receipt → 我的申请 → cancel.
Every step is measured (text ≥ 24 px, contrast ≥ 7:1, ≤ 5 requests, focus never on body) and
screenshotted into test-artifacts/, and so is the staff's day list."""

from __future__ import annotations

import asyncio
import time

import pytest

from appointments import bookings, slots
from callbacks.deadlines import Calendar
from storage import clock
from tests.helpers import (
    DEMO_PASSWORD,
    FOCUSED,
    MEASURE,
    SIZES,
    make_settings,
    no_overflow,
    press,
    shot,
)
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser
POINT = "sp-150602001"  # DEMO-0001's township station


@pytest.fixture
async def tv(front_server, data_dir, chromium):
    app = create_app(make_settings(data_dir))
    server = await front_server(app)
    return server, chromium, app


async def one_seat_left(db) -> slots.Slot:
    """Legal aid at the station: two seats a slot every day but today (today's 15:00 slot may lie
    within the cancel cutoff, where the household can book but no longer cancel on the TV);
    another box takes one of the first."""
    today = clock.today().isoweekday()
    days = [d for d in range(1, 8) if d != today]
    await slots.add_patterns(db, POINT, "legal_aid", days, "15:00", "15:30", 2)
    first = (await slots.offered(db, Calendar(), POINT, "legal_aid", time.time(), 14))[0]
    other = await db.fetchval("SELECT id FROM devices WHERE serial = 'DEMO-0002'")
    draft = await bookings.save_draft(db, other, "legal_aid", POINT, "13900139000")
    await bookings.book(
        db, Calendar(), other, draft, first.day, first.start, horizon_days=14, max_active=3
    )
    return first


async def check_screen(page, name, size, problems):
    """Screenshot; at 720p also measure text size and contrast."""
    await shot(page, f"appointment-{name}", size)
    await no_overflow(page)
    if size == (1280, 720):
        for item in await page.evaluate(MEASURE):
            if item["size"] < 24 or item["contrast"] < 7:
                problems.append((name, item))


async def focus(page, target, keys_to_try):
    for key in keys_to_try:
        if await page.evaluate(FOCUSED) == target:
            return
        await press(page, key)
    assert await page.evaluate(FOCUSED) == target


@pytest.mark.parametrize("size", SIZES)
async def test_book_the_last_seat_then_cancel_it_with_the_remote(tv, size):
    server, browser, app = tv
    db = app[keys.DB]
    slot = await one_seat_left(db)
    page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors, requests = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: requests.append(r.url))
    await page.goto(str(server.make_url("/tv/?stb=DEMO-0001")))
    problems: list = []
    await focus(page, "t-ap", ["ArrowRight"] * 4)
    await check_screen(page, "home", size, problems)

    async def step(key, name):
        requests.clear()
        await press(page, key, wait_nav=True)
        await page.wait_for_load_state("load")
        early = [u for u in requests if not u.endswith("/events")]
        assert len(early) <= 5, (name, early)
        await check_screen(page, name, size, problems)

    await step("Enter", "service")
    await focus(page, "svc-legal_aid", ["ArrowRight"])
    await step("Enter", "point")
    assert "交通街道司法所" in await page.evaluate("document.activeElement.textContent")
    await step("Enter", "day")
    assert await page.evaluate(FOCUSED) == f"d-{slot.day.isoformat()}"
    assert "余 1 个" in await page.evaluate("document.activeElement.textContent")
    await step("Enter", "slot")
    assert await page.evaluate(FOCUSED) == "s-1500"
    await step("Enter", "phone")
    for digit in "13800138000":
        await press(page, digit)
    assert await page.input_value("#phone") == "13800138000"
    await check_screen(page, "phone-typed", size, problems)
    await focus(page, "phone-next", ["ArrowUp", "ArrowUp", "ArrowUp", "ArrowUp", "ArrowRight"])
    await step("Enter", "confirm")
    assert await page.inner_text("#phone-full") == "138 0013 8000"
    assert await page.evaluate(FOCUSED) == "ap-submit"
    await step("Enter", "receipt")
    code = (await page.inner_text("#code")).strip()
    assert len(code) == 6
    assert "身份证" in await page.inner_text("#ap-bring")
    seats = await db.fetchval(
        "SELECT COUNT(*) FROM appointments WHERE day = ? AND start = '15:00' AND status = 'booked'",
        (slot.day.isoformat(),),
    )
    assert seats == 2  # the last seat is taken
    await focus(page, "a-mine", ["ArrowDown"])
    await step("Enter", "mine")
    cancel = f"apc-{code}"
    await focus(page, cancel, ["ArrowDown"] * 8)
    await step("Enter", "cancel")
    assert await page.evaluate(FOCUSED) == "ac-keep"  # 不取消 first: a stray OK is harmless
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "ac-cancel"
    await step("Enter", "mine-after-cancel")
    row = await page.inner_text(f"#ap-{code}")
    assert "已取消" in row
    assert await page.query_selector(f"#{cancel}") is None
    status = await db.fetchval("SELECT status FROM appointments WHERE code = ?", (code,))
    assert status == "cancelled"
    assert problems == []
    assert errors == []


async def test_a_box_that_loses_the_race_sees_full_and_the_next_slots(tv):
    """Two boxes on the confirm screen of the same last seat press OK together."""
    server, browser, app = tv
    db = app[keys.DB]
    slot = await one_seat_left(db)
    pages = []
    for serial in ("DEMO-0001", "DEMO-0003"):
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        await page.goto(str(server.make_url(f"/tv/?stb={serial}")))
        base = page.url.rsplit("/", 1)[0] + "/"
        query = f"svc=legal_aid&sp={POINT}&day={slot.day.isoformat()}&at=15:00"
        await page.goto(base + "ap-phone?" + query)
        for digit in "13800138000":
            await press(page, digit)
        await focus(page, "phone-next", ["ArrowUp", "ArrowUp", "ArrowUp", "ArrowUp", "ArrowRight"])
        await press(page, "Enter", wait_nav=True)
        assert await page.evaluate(FOCUSED) == "ap-submit"
        pages.append(page)
    await asyncio.gather(*(p.keyboard.press("Enter") for p in pages))
    for p in pages:
        await p.wait_for_load_state("load")
    titles = [(await p.inner_text("h1")).strip() for p in pages]
    assert sorted(titles) == ["已约满", "预约成功"]
    loser = pages[titles.index("已约满")]
    assert (await loser.evaluate(FOCUSED)).startswith("n-")  # the next free slot, one OK away
    await shot(loser, "appointment-full", (1280, 720))


@pytest.mark.parametrize("size", SIZES)
async def test_staff_day_list_screenshot(tv, size):
    server, browser, app = tv
    db = app[keys.DB]
    slot = await one_seat_left(db)
    page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
    await page.goto(str(server.make_url("/admin/login")))
    await page.fill("input[name=username]", "staff")
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await page.goto(
        str(server.make_url(f"/admin/appointments/point/{POINT}/day?d={slot.day.isoformat()}"))
    )
    assert "13900139000" not in await page.content()
    assert await page.inner_text("h1")
    await shot(page, "appointment-staff-day", size)
    await page.goto(str(server.make_url(f"/admin/appointments/point/{POINT}")))
    await shot(page, "appointment-staff-point", size)
