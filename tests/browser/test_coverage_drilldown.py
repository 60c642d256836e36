"""The coverage dashboard in headless Chromium: a city-wide staff member drills down city →
banner → township → village by clicking, sorts a table and opens a box's timeline; a banner's
staff land on their banner. Screenshots go to test-artifacts/ (the staff guide uses them)."""

from __future__ import annotations

import pytest

from tests.helpers import ARTIFACTS, DEMO_PASSWORD, make_settings
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
async def admin(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    return server, chromium


async def logged_in(server, browser, username: str):
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    await page.goto(str(server.make_url("/admin/login")))
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    page.errors = errors
    return page


async def test_drill_down_from_city_to_a_box(admin):
    server, browser = admin
    db, tree = server.app[keys.DB], server.app[keys.REGIONS]
    village = await db.fetchval("SELECT village_code FROM devices WHERE serial = 'DEMO-0001'")
    chain = [r for r in reversed(tree.chain(village)) if r.level != "province"]
    city, rest = chain[0], chain[1:]
    page = await logged_in(server, browser, "admin")
    await page.click("nav >> text=覆盖情况")
    await page.wait_for_selector("#cv-totals")
    assert city.name in await page.inner_text("h1")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "staff-coverage-city.png"), full_page=True)
    for region in rest:
        async with page.expect_navigation():
            await page.click(f'tr[data-code="{region.code}"] a')
        assert region.name in await page.inner_text("h1")
        assert await page.locator("#cv-totals b[data-k=installed]").inner_text() != "0"
        if region.level == "township":
            await page.screenshot(
                path=str(ARTIFACTS / "staff-coverage-township.png"), full_page=True
            )
    # The village page lists its boxes; sorting the township's table by installed boxes.
    async with page.expect_navigation():
        await page.click("text=DEMO-0001")
    timeline = await page.inner_text("#cv-timeline")
    assert "第一批试点" in timeline
    await page.screenshot(path=str(ARTIFACTS / "staff-box-timeline.png"), full_page=True)
    await page.go_back()
    await page.go_back()
    async with page.expect_navigation():
        await page.click("#cv-rows th >> text=已安装机顶盒")
    values = [int(v) for v in await page.locator("#cv-rows td[data-k=installed]").all_inner_texts()]
    assert values == sorted(values, reverse=True)
    assert page.errors == []


async def test_banner_staff_land_on_their_banner_and_plan_a_wave(admin):
    server, browser = admin
    page = await logged_in(server, browser, "staff")
    await page.goto(str(server.make_url("/admin/coverage")))
    assert "东胜区" in await page.inner_text("h1")
    await page.goto(str(server.make_url("/admin/coverage/readiness")))
    await page.wait_for_selector("#cv-readiness")
    await page.screenshot(path=str(ARTIFACTS / "staff-readiness.png"))
    await page.goto(str(server.make_url("/admin/waves")))
    await page.screenshot(path=str(ARTIFACTS / "staff-waves.png"), full_page=True)
    assert "第一批试点" in await page.inner_text("table")
