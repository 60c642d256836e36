"""A household's journeys through the real TV screens in headless Chromium, key presses only,
at the 720p canvas and at 4K. Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import pytest

from tests.helpers import (
    FOCUSED,
    SIZES,
    no_overflow,
    open_box,
    press,
    shot,
)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", SIZES)
async def test_program_paging_and_back_restores_focus(tv, size):
    page = await open_box(tv, size)
    assert await page.evaluate(FOCUSED) == "t-programs"
    await shot(page, "home", size)
    await no_overflow(page)
    await press(page, "Enter", wait_nav=True)  # categories
    await press(page, "ArrowRight")
    category = await page.evaluate(FOCUSED)
    assert category.startswith("cat-")
    await press(page, "Enter", wait_nav=True)  # that category's programs
    program = await page.evaluate(FOCUSED)
    assert program.startswith("prog-")
    await press(page, "Enter", wait_nav=True)
    assert page.url.endswith("-1")
    total = int((await page.inner_text("#indicator")).split("/")[1])
    await press(page, "ArrowRight", wait_nav=True)
    assert (await page.inner_text("#indicator")).startswith("2 /")
    await press(page, "ArrowRight", wait_nav=True)
    assert (await page.inner_text("#indicator")).startswith("3 /")
    await shot(page, "program-page", size)
    await no_overflow(page)
    await press(page, "ArrowLeft", wait_nav=True)
    assert (await page.inner_text("#indicator")).startswith("2 /")
    assert total >= 3
    await press(page, "Backspace", wait_nav=True)  # Back: to the list, focus on that program
    assert "/c-" in page.url
    assert await page.evaluate(FOCUSED) == program
    await press(page, "Escape", wait_nav=True)  # Escape is Back too
    assert await page.evaluate(FOCUSED) == category
    assert page.errors == []


@pytest.mark.parametrize("size", SIZES)
async def test_directory_to_callback_receipt_and_my_requests(tv, size):
    page = await open_box(tv, size)
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "t-dir"
    await press(page, "Enter", wait_nav=True)
    await shot(page, "directory", size)
    # The box's own village room comes first, then its township station.
    await press(page, "ArrowDown")
    station = await page.evaluate("document.activeElement.textContent")
    assert "司法所公共法律服务工作站" in station
    await press(page, "Enter", wait_nav=True)
    assert await page.evaluate(FOCUSED) == "ask-callback"
    await shot(page, "service-point", size)
    await press(page, "Enter", wait_nav=True)  # 请回电
    assert await page.evaluate(FOCUSED) == "svc-consultation"
    await press(page, "Enter", wait_nav=True)  # 法律咨询 → what is it about (optional)
    for key in ("ArrowDown", "ArrowRight", "ArrowRight"):
        await press(page, key)
    assert await page.evaluate(FOCUSED) == "topic-skip"
    await press(page, "Enter", wait_nav=True)  # 跳过 → phone
    for digit in "1380013800":
        await press(page, digit)
    await press(page, "9")  # a typo...
    assert await page.input_value("#phone") == "13800138009"
    await press(page, "ArrowDown")  # ...fixed on the on-screen keypad: 删除, then 0
    await press(page, "ArrowDown")
    await press(page, "ArrowDown")
    await press(page, "ArrowDown")
    await press(page, "ArrowRight")
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "k-del"
    await press(page, "Enter")
    await press(page, "0")
    assert await page.input_value("#phone") == "13800138000"
    await shot(page, "callback-phone", size)
    for _ in range(6):
        if await page.evaluate(FOCUSED) == "phone-next":
            break
        await press(page, "ArrowUp")
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "phone-next"
    await press(page, "Enter", wait_nav=True)  # → time window
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "w-afternoon"
    await press(page, "Enter", wait_nav=True)  # → confirm: the whole number, to check it
    assert "138 0013 8000" in await page.inner_text("main")
    await press(page, "Enter", wait_nav=True)  # 确认提交 → receipt
    ref = await page.inner_text("#ref")
    assert ref.isdigit() and len(ref) == 12
    await shot(page, "receipt", size)
    await no_overflow(page)
    await press(page, "ArrowDown")
    assert await page.evaluate(FOCUSED) == "r-mine"
    await press(page, "Enter", wait_nav=True)
    mine = await page.inner_text("main")
    assert ref in mine and "138****8000" in mine and "13800138000" not in mine
    await shot(page, "my-requests", size)
    assert page.errors == []


async def test_invalid_phone_shows_a_readable_message(tv):
    page = await open_box(tv, (1280, 720))
    await press(page, "ArrowRight")
    await press(page, "ArrowRight")
    await press(page, "Enter", wait_nav=True)
    await press(page, "Enter", wait_nav=True)  # 法律咨询
    await press(page, "Enter", wait_nav=True)  # 土地草场
    for digit in "12345":
        await press(page, digit)
    await press(page, "ArrowUp")
    await press(page, "ArrowRight")
    await press(page, "Enter", wait_nav=True)
    assert "电话号码不正确" in await page.inner_text(".error")
    assert await page.input_value("#phone") == "12345"
    await shot(page, "callback-phone-error", (1280, 720))


async def test_announcement_arrives_live_without_stealing_focus(tv, data_dir):
    from content.announcements.notices import create_announcement
    from tv_server import keys

    server, _browser = tv
    page = await open_box(tv, (1280, 720))
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "t-dir"
    app = server.app
    await create_announcement(
        app[keys.DB], "明天上午司法所有律师免费咨询", ["150602"], level="important"
    )
    await app[keys.HUB].refresh()
    await page.wait_for_function(
        "document.getElementById('ann').textContent.indexOf('律师免费咨询') >= 0", timeout=5000
    )
    assert await page.evaluate(FOCUSED) == "t-dir"
    await shot(page, "announcement", (1280, 720))
