"""A banner's staff member corrects a box's registry fields and adds inventory attributes on the
box's page in headless Chromium. The screenshot (1280×720) goes to test-artifacts/ for the
staff guide."""

from __future__ import annotations

import pytest

from device_registry import inventory
from tests.helpers import ARTIFACTS, DEMO_PASSWORD, make_settings
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser


async def test_staff_corrects_a_box_on_its_page(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    db = server.app[keys.DB]
    await inventory.set_attributes(db, "DEMO-0001", {"antenna": "dish"})
    page = await chromium.new_page(viewport={"width": 1280, "height": 720}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/admin/login")))
    await page.fill("input[name=username]", "staff")
    await page.fill("input[name=password]", DEMO_PASSWORD)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    await page.goto(str(server.make_url("/admin/registry/box/DEMO-0001")))
    form = page.locator("#reg-edit")
    await form.locator("select[name=model]").select_option("Huawei EC6110")
    await form.locator("input[name=mac]").fill("AC-DB-48-00-01-23")
    await form.locator("input[name=firmware]").fill("V100R005")
    # Technical fields sit under the "advanced" fold: open it from the keyboard.
    await form.locator("#reg-edit-advanced > summary").focus()
    await page.keyboard.press("Enter")
    await form.locator("select[name=screen_profile]").select_option("2160p")
    await form.locator("input[name=installed_at]").fill("2026-05-01")
    await form.locator("input[name=attr_value]").first.fill("锅盖天线")
    await form.locator("input[name=new_key]").first.fill("tv.size")
    await form.locator("input[name=new_value]").first.fill("55 英寸")
    await form.locator("input[name=new_key]").nth(1).click()
    await page.keyboard.type("installer")
    await page.keyboard.press("Tab")
    await page.keyboard.type("巴图（旗广电）")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")  # submits the form, as a clerk would
    assert "机顶盒信息已保存" in await page.inner_text("main")
    box = await inventory.device_details(db, "DEMO-0001")
    assert box["model"] == "Huawei EC6110" and box["mac"] == "AC:DB:48:00:01:23"
    assert box["screen_profile"] == "2160p" and box["keymap_family"] == "huawei"
    assert box["attributes"] == {
        "antenna": "锅盖天线",
        "installer": "巴图（旗广电）",
        "tv.size": "55 英寸",
    }
    # The guide's picture: the correction form as saved.
    await page.evaluate("window.scrollTo(0, document.getElementById('reg-edit').offsetTop - 8)")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "staff-box-edit.png"))
    assert errors == []
