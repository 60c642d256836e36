"""A staff member publishes announcements in the admin while a household's TV is open: the
banner arrives live without a reload and without moving focus; an urgent overlay closes with OK.
Screenshots of the admin form and the TV (720p and 4K) go to test-artifacts/."""

from __future__ import annotations

import pytest

from tests.helpers import ARTIFACTS, DEMO_PASSWORD, make_settings
from tv_server.app import create_app

pytestmark = pytest.mark.browser

SIZES = [pytest.param((1280, 720), id="720p"), pytest.param((3840, 2160), id="2160p")]
VILLAGE = "150602001001"  # DEMO-0001's village
FOCUSED = "document.activeElement ? document.activeElement.id : ''"
ANN_TEXT = "document.getElementById('ann').textContent"
ANN_VISIBLE = "document.getElementById('ann').offsetHeight > 0"


@pytest.fixture
async def browser_and_server(front_server, data_dir, chromium):
    # A slow poll: what arrives within seconds was pushed by the admin action, not polled.
    server = await front_server(create_app(make_settings(data_dir, announcement_poll_seconds=60)))
    return server, chromium


async def _admin_page(server, browser):
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(str(server.make_url("/admin/login")))
    await page.fill("input[name=username]", "staff")
    await page.fill("input[name=password]", DEMO_PASSWORD)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    return page


async def _publish(page, server, text: str, level: str, shot: str | None = None) -> None:
    await page.goto(str(server.make_url("/admin/announcements/new")))
    await page.fill("#ann-text", text)
    await page.check(f"input[name=level][value={level}]")
    await page.fill("#ann-region-codes", VILLAGE)
    if shot:
        await page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    async with page.expect_navigation():
        await page.click("button.primary[type=submit]")
    assert "/admin/announcements" in page.url
    assert text in await page.inner_text("table")


@pytest.mark.parametrize("size", SIZES)
async def test_staff_announcement_reaches_the_open_tv_live(browser_and_server, size):
    server, browser = browser_and_server
    ARTIFACTS.mkdir(exist_ok=True)
    tv = await (
        await browser.new_context(viewport={"width": size[0], "height": size[1]})
    ).new_page()
    errors: list[str] = []
    tv.on("pageerror", lambda exc: errors.append(str(exc)))
    await tv.goto(str(server.make_url("/tv/?stb=DEMO-0001")))
    await tv.keyboard.press("ArrowRight")
    await tv.wait_for_timeout(150)
    focused = await tv.evaluate(FOCUSED)
    assert focused
    url_before = tv.url

    admin = await _admin_page(server, browser)
    shot = "announcement-admin-form-1280x900.png" if size[0] == 1280 else None
    await _publish(admin, server, "本周六上午司法所律师免费咨询", "important", shot)

    await tv.wait_for_function(f"{ANN_TEXT}.indexOf('律师免费咨询') >= 0", timeout=5000)
    assert await tv.evaluate(ANN_VISIBLE)
    assert await tv.evaluate(FOCUSED) == focused
    assert tv.url == url_before  # no reload
    await tv.screenshot(path=str(ARTIFACTS / f"announcement-banner-{size[0]}x{size[1]}.png"))

    await _publish(admin, server, "暴雪预警：请牧户今晚把牲畜赶进棚圈", "urgent")
    await tv.wait_for_function(
        "document.getElementById('ann').className.indexOf('overlay') >= 0"
        f" && {ANN_TEXT}.indexOf('暴雪预警') >= 0",
        timeout=5000,
    )
    assert await tv.evaluate(FOCUSED) == focused
    await tv.screenshot(path=str(ARTIFACTS / f"announcement-overlay-{size[0]}x{size[1]}.png"))
    await tv.keyboard.press("Enter")  # closes the overlay, does not open the focused tile
    await tv.wait_for_function("document.getElementById('ann').offsetHeight === 0")
    await tv.wait_for_timeout(300)
    assert tv.url == url_before
    assert await tv.evaluate(FOCUSED) == focused

    # The next screen shows it as a red banner, not as an overlay again.
    before = url_before.split("#")[0]
    async with tv.expect_navigation(url=lambda url: url.split("#")[0] != before):
        await tv.keyboard.press("Enter")
    await tv.wait_for_function(f"{ANN_TEXT}.indexOf('暴雪预警') >= 0")
    assert "overlay" not in await tv.evaluate("document.getElementById('ann').className")
    assert errors == []
