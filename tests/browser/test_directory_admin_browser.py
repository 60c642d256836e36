"""An editor keeps the service directory right in headless Chromium: filters the list, edits a
point's hours and services, sees a typing mistake explained, checks a CSV upload; the box then
shows the change. Screenshots of the list, the form and the import report go to
test-artifacts/."""

from __future__ import annotations

import pytest

from tests.helpers import ARTIFACTS, DEMO_PASSWORD, make_settings
from tv_server.app import create_app

pytestmark = pytest.mark.browser


async def test_editor_edits_a_point_and_checks_a_csv(front_server, data_dir, tmp_path, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    base = str(server.make_url("")).rstrip("/")
    ARTIFACTS.mkdir(exist_ok=True)
    page = await chromium.new_page(viewport={"width": 1440, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(base + "/admin/login")
    await page.fill("input[name=username]", "editor")
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/admin/")

    await page.click("nav.nav >> text=服务指南")
    await page.select_option("select[name=region]", "150602")
    await page.select_option("select[name=kind]", "banner_centre")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_selector("text=共 1 个服务点")
    await page.screenshot(path=str(ARTIFACTS / "admin-directory-list.png"), full_page=True)

    await page.click("table.dir-points >> text=东胜区公共法律服务中心")
    await page.fill("input[name=phone]", "0477-555")
    await page.click("form.dir-form button[type=submit]")
    await page.wait_for_selector("text=请填写正确的手机号")
    await page.screenshot(path=str(ARTIFACTS / "admin-directory-form-error.png"), full_page=True)
    await page.fill("input[name=phone]", "0477-8512345")
    await page.uncheck("input[name=phone_is_sample]")
    await page.fill("input[name=hours]", "周一至周六 9:00—17:00")
    await page.check("input[name=services][value=notarisation]")
    await page.check("input[name=languages][value=mn]")
    await page.click("form.dir-form button[type=submit]")
    await page.wait_for_selector("text=已保存")
    assert await page.input_value("input[name=hours]") == "周一至周六 9:00—17:00"
    await page.screenshot(path=str(ARTIFACTS / "admin-directory-form.png"), full_page=True)

    bad = tmp_path / "points.csv"
    header = (
        "code,name,kind,region_code,region_served,organization,address,hours,phone,"
        "phone_is_sample,services,languages,latitude,longitude,description"
    )
    bad.write_bytes((header + "\r\nsp-x,某服务室,room,150602,,,,,12345,0,,zh,,,\r\n").encode("gbk"))
    await page.click("nav.dir-tabs >> text=导入 CSV")
    await page.set_input_files("input[name=file]", str(bad))
    await page.click("text=上传并检查")
    await page.wait_for_selector("table.dir-report")
    report = await page.inner_text("table.dir-report")
    assert "没有这个类型" in report and "手机号" in report
    await page.screenshot(path=str(ARTIFACTS / "admin-directory-import.png"), full_page=True)
    assert errors == []

    await page.goto(base + "/tv/?stb=DEMO-0001")
    await page.goto(page.url.rsplit("/", 1)[0] + "/dir")
    await page.click("a:has-text('东胜区公共法律服务中心')")
    await page.wait_for_selector("text=周一至周六 9:00—17:00")
    assert "0477-8512345" in await page.content()
    await page.screenshot(path=str(ARTIFACTS / "tv-directory-point-edited.png"))
