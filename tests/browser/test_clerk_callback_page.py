"""A clerk works a callback in the browser: the call-again time shows only for 约定再打, "complete
too" only for 已接通, and the red 取消申请 stays folded away from 办结. Keyboard only."""

from __future__ import annotations

import pytest

from tests.helpers import ARTIFACTS, DEMO_PASSWORD, claimed_request, make_settings
from tv_server.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
async def browser_and_server(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    return server, chromium


async def test_the_attempt_form_shows_only_what_the_outcome_needs(browser_and_server):
    server, browser = browser_and_server
    cid, _ref = await claimed_request(server.app)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 720})).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/admin/login")))
    await page.focus("input[name=username]")
    await page.keyboard.type("staff")
    await page.keyboard.press("Tab")
    await page.keyboard.type(DEMO_PASSWORD)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await page.goto(str(server.make_url(f"/admin/callbacks/{cid}")))
    assert "由您承办" in await page.inner_text("#cb-holder")
    again = page.locator("#cb-attempt .cb-call-again")
    too = page.locator("#cb-attempt .cb-complete-too")
    assert await too.is_visible() and not await again.is_visible()  # 已接通 is the first choice
    await page.focus("#cb-attempt select[name=outcome]")
    for _ in range(4):  # 无人接听, 占线, 号码错误, 约定再打
        await page.keyboard.press("ArrowDown")
    assert await page.eval_on_selector("#cb-attempt select[name=outcome]", "s => s.value") == (
        "call_again"
    )
    assert await again.is_visible() and not await too.is_visible()
    await page.keyboard.press("ArrowUp")
    assert not await again.is_visible() and not await too.is_visible()
    # The red button is folded away, well below 办结.
    cancel = page.locator("#cb-cancel button.danger")
    assert not await cancel.is_visible()
    await page.focus("#cb-cancel > summary")
    await page.keyboard.press("Enter")
    assert await cancel.is_visible()
    done = await page.locator("#cb-complete button").bounding_box()
    red = await cancel.bounding_box()
    assert red["y"] - done["y"] > 200
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "clerk-callback-page-1280x720.png"), full_page=True)
    assert errors == []
