"""The editors' preview in headless Chromium: three frames scaled to the window, each the real TV
page at its pixel size; arrow keys page inside the focused frame as a remote would."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.helpers import ARTIFACTS, DEMO_PASSWORD, make_settings
from tv_server.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
async def browser_and_server(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    return server, chromium


async def editor_page(server, browser, size):
    page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/admin/login")))
    await page.fill("input[name=username]", "editor")
    await page.fill("input[name=password]", DEMO_PASSWORD)
    async with page.expect_navigation():
        await page.press("input[name=password]", "Enter")
    page.errors = errors
    return page


async def open_preview(page, server, pid: int = 1):
    await page.goto(str(server.make_url(f"/admin/programs/{pid}/preview")))
    for profile in ("720p", "1080p", "2160p"):
        frame = page.frame_locator(f"#pv-{profile}")
        await frame.locator("#indicator").wait_for()


@pytest.mark.parametrize("size", [(1280, 720), (3840, 2160)], ids=["1280x720", "3840x2160"])
async def test_preview_shows_three_scaled_frames(browser_and_server, size):
    server, browser = browser_and_server
    page = await editor_page(server, browser, size)
    await open_preview(page, server)
    boxes = {}
    for profile, width in (("720p", 1280), ("1080p", 1920), ("2160p", 3840)):
        frame = page.locator(f"#pv-{profile}")
        # The frame's document has the real pixel size of that output …
        inner = await page.frame(url=lambda u, p=profile: f"profile={p}" in u).evaluate(
            "[window.innerWidth, window.innerHeight]"
        )
        assert inner[0] == width
        # … and is scaled down to fit beside the others inside the editor's window.
        boxes[profile] = await frame.bounding_box()
        assert boxes[profile]["width"] <= size[0]
        assert boxes[profile]["x"] + boxes[profile]["width"] <= size[0] + 1
    widths = {round(b["width"]) for b in boxes.values()}
    assert len(widths) == 1, boxes  # all three shown at the same width
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"admin-preview-{size[0]}x{size[1]}.png"))
    assert page.errors == []


async def test_arrow_right_pages_inside_the_focused_4k_frame(browser_and_server):
    server, browser = browser_and_server
    page = await editor_page(server, browser, (1920, 1080))
    await open_preview(page, server)
    frame = page.frame(url=lambda u: "profile=2160p" in u)
    total = (await frame.inner_text("#indicator")).split("/")[1].strip()
    assert await frame.inner_text("#indicator") == f"1 / {total}"
    # Loading frames do not pull the editor's keyboard into one of them …
    await page.wait_for_timeout(400)
    assert await page.evaluate("document.activeElement.id") == "pv-title"
    indicator = page.frame_locator("#pv-2160p").locator("#indicator")
    # … until the editor picks one; picking another frame then keeps that one.
    await page.locator("#pv-720p").click()
    await page.locator("#pv-2160p").click()
    await page.wait_for_timeout(400)
    assert await page.evaluate("document.activeElement.id") == "pv-2160p"
    await page.keyboard.press("ArrowRight")
    await expect(indicator).to_have_text(f"2 / {total}")
    frame = page.frame(url=lambda u: "profile=2160p" in u)
    assert "page=2" in frame.url
    # The other frames did not move, and the admin page itself stayed put.
    other = page.frame_locator("#pv-720p").locator("#indicator")
    await expect(other).to_have_text(f"1 / {total}")
    assert page.url.endswith("/admin/programs/1/preview")
    await page.keyboard.press("ArrowLeft")
    await expect(indicator).to_have_text(f"1 / {total}")
    assert page.errors == []
