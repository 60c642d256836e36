"""我的申请 is open on a household's TV while a staff member works the request in the admin: the
TV screen reloads by itself (SSE `refresh` sent to that box only) and shows the household note
and 已经办完了. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest

from tests.helpers import ARTIFACTS, DEMO_PASSWORD, claimed_request, make_settings
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser

NOTE = "已联系司法所，周三上午律师上门"


@pytest.fixture
async def browser_and_server(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    return server, chromium


async def test_my_requests_updates_live_when_staff_complete(browser_and_server):
    server, browser = browser_and_server
    ARTIFACTS.mkdir(exist_ok=True)
    cid, ref = await claimed_request(server.app)

    tv = await (await browser.new_context(viewport={"width": 1280, "height": 720})).new_page()
    errors: list[str] = []
    tv.on("pageerror", lambda exc: errors.append(str(exc)))
    await tv.goto(str(server.make_url("/tv/?stb=DEMO-0001")))
    await tv.goto(tv.url.rsplit("/", 1)[0] + "/mine")
    row = f"#req-{ref}"
    assert "已经办完了" not in await tv.inner_text(row)
    await tv.evaluate("window.__notReloaded = true")
    # Let the box's EventSource connect before staff act.
    hub = server.app[keys.HUB]
    for _ in range(50):
        if hub.listeners:
            break
        await tv.wait_for_timeout(100)
    assert hub.listeners

    admin = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await admin.goto(str(server.make_url("/admin/login")))
    await admin.fill("input[name=username]", "staff")
    await admin.fill("input[name=password]", DEMO_PASSWORD)
    async with admin.expect_navigation():
        await admin.click("button[type=submit]")
    await admin.goto(str(server.make_url(f"/admin/callbacks/{cid}")))
    note_form = admin.locator("form:has(input[name=action][value=note])")
    await note_form.locator("textarea[name=note]").fill(NOTE)
    await note_form.locator("input[name=for_household]").check()
    async with admin.expect_navigation():
        await note_form.locator("button[type=submit]").click()

    await tv.wait_for_function(
        f"() => !window.__notReloaded && document.querySelector('{row}') &&"
        f" document.querySelector('{row}').textContent.indexOf('{NOTE}') >= 0",
        timeout=5000,
    )
    await tv.evaluate("window.__notReloaded = true")

    done_form = admin.locator("form:has(input[name=action][value=complete])")
    await done_form.locator("input[name=note]").fill("已电话解答")
    async with admin.expect_navigation():
        await done_form.locator("button[type=submit]").click()
    await tv.wait_for_function(
        f"() => !window.__notReloaded && document.querySelector('{row}') &&"
        f" document.querySelector('{row}').textContent.indexOf('已经办完了') >= 0",
        timeout=5000,
    )
    text = await tv.inner_text(row)
    assert "已经办完了" in text and NOTE in text
    assert "13800138000" not in await tv.content()
    assert await tv.evaluate("document.activeElement && document.activeElement !== document.body")
    await tv.screenshot(path=str(ARTIFACTS / "my-requests-live-completed-1280x720.png"))
    assert errors == []
