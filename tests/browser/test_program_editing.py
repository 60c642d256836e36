"""An editor writes a program in the admin and a reviewer approves it, in headless Chromium;
then a box shows it. Screenshots of the edit and review pages are kept in test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.conftest import ARTIFACTS, DEMO_PASSWORD, chromium_or_skip, make_settings
from tv_server.app import create_app

pytestmark = pytest.mark.browser
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
BODY = "# 签合同\n\n草场流转要签**书面合同**。\n\n# 有纠纷\n\n先找村调解委员会，或拨打12348。"


async def log_in(page, base: str, username: str) -> None:
    await page.context.clear_cookies()
    await page.goto(base + "/admin/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/admin/")


async def test_editor_writes_reviewer_publishes_box_shows(aiohttp_server, data_dir):
    server = await aiohttp_server(create_app(make_settings(data_dir)))
    base = str(server.make_url("")).rstrip("/")
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_or_skip(), args=ARGS)
        page = await browser.new_page(viewport={"width": 1440, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await log_in(page, base, "editor")
        await page.goto(base + "/admin/programs/new")
        await page.fill("input[name=title]", "草场流转签合同")
        await page.fill("input[name=summary]", "书面合同写清面积、年限和价格。")
        await page.select_option("select[name=category]", "caoyuan-tudi")
        await page.select_option("select[name=regions]", ["1506"])
        await page.fill("textarea[name=body]", BODY)
        await page.click("#program-form button[type=submit]")
        await page.wait_for_selector("text=节目已创建为草稿")
        await page.click("button[value=submit]")
        await page.wait_for_selector("text=已提交审核")
        await page.screenshot(path=str(ARTIFACTS / "admin-program-edit.png"), full_page=True)
        pid = page.url.split("/programs/")[1].split("?")[0]

        await log_in(page, base, "reviewer")
        await page.goto(f"{base}/admin/programs/{pid}/review")
        await page.screenshot(path=str(ARTIFACTS / "admin-program-review.png"), full_page=True)
        await page.click("button[value=approve]")
        await page.wait_for_selector("text=已上线")

        tv = await browser.new_page(viewport={"width": 1280, "height": 720})
        await tv.goto(base + "/tv/?stb=DEMO-0001")
        await tv.goto(tv.url.replace("/home", "/c-caoyuan-tudi"))
        assert "草场流转签合同" in await tv.content()
        assert errors == []
        await browser.close()
