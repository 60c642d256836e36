"""The target picker of the wave form in headless Chromium: staff search the region tree, tick
with Enter or a click, remove chips, and save; the same form works with JavaScript off; a
banner's staff see only their banner. A screenshot goes to test-artifacts/ for the staff guide."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.helpers import ARTIFACTS, DEMO_PASSWORD, make_settings
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
async def admin(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    return server, chromium


async def logged_in(server, browser, username: str, javascript: bool = True):
    context = await browser.new_context(
        viewport={"width": 1280, "height": 720}, java_script_enabled=javascript, locale="zh-CN"
    )
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


def unique_names(tree, level: str, prefix: str) -> list:
    counts = Counter(r.name for r in tree.by_code.values())
    return [
        r
        for code, r in sorted(tree.by_code.items())
        if r.level == level and code.startswith(prefix) and counts[r.name] == 1
    ]


async def wave_regions(server, name: str) -> set[str]:
    rows = await server.app[keys.DB].fetchall(
        "SELECT wr.region_code FROM wave_regions wr JOIN rollout_waves w ON w.id = wr.wave_id"
        " WHERE w.name = ?",
        (name,),
    )
    return {r[0] for r in rows}


async def test_search_tick_remove_and_save(admin):
    server, browser = admin
    tree = server.app[keys.REGIONS]
    village = unique_names(tree, "village", "150621")[0]  # 达拉特旗
    township = unique_names(tree, "township", "150627")[0]  # 伊金霍洛旗
    page = await logged_in(server, browser, "admin")
    await page.goto(str(server.make_url("/admin/waves/new")))
    await page.fill("input[name=name]", "第二批推广")
    await page.select_option("select[name=kind]", "expansion")
    assert await page.is_visible("#wv-search")
    assert "还没有选择目标地区" in await page.inner_text("#wv-chips")

    # Type a village's name and press Enter: it is ticked and shown as a chip.
    await page.click("#wv-search")
    await page.keyboard.type(village.name)
    assert await page.is_visible(f"input[value='{village.code}']")
    hidden = await page.locator("#wv-tree input[value='150602']").is_visible()
    assert not hidden  # other banners are filtered away
    await page.keyboard.press("Enter")
    assert await page.is_checked(f"input[value='{village.code}']")
    chip = page.locator(f"#wv-chips li[data-code='{village.code}']")
    assert village.name in await chip.inner_text() and "达拉特旗" in await chip.inner_text()
    assert page.url.endswith("/admin/waves/new")  # Enter did not submit the form

    # A township by code, then Escape clears the search.
    await page.keyboard.press("Control+A")
    await page.keyboard.type(township.code)
    await page.keyboard.press("Enter")
    await page.keyboard.press("Escape")
    assert await page.input_value("#wv-search") == ""
    assert await page.is_checked(f"input[value='{township.code}']")

    # A banner ticked with a click on its checkbox (inside the summary), then removed by chip.
    banner = page.locator("#wv-tree input[value='150603']")
    details = page.locator("#wv-tree details:has(> summary input[value='150603'])")
    was_open = await details.get_attribute("open")
    await banner.click()
    assert await details.get_attribute("open") == was_open  # the click ticks, not toggles
    assert await page.locator("#wv-chips li[data-code='150603']").count() == 1
    await page.click("#wv-chips li[data-code='150603'] button")
    assert await page.locator("#wv-chips li[data-code='150603']").count() == 0
    assert not await banner.is_checked()
    assert await page.locator("#wv-chips li").count() == 2

    # A search narrows the tree (the screenshot for the staff guide shows one).
    await page.click("#wv-search")
    await page.keyboard.type("昭君")
    assert await page.is_visible("#wv-tree input[value='150621002']")  # 昭君街道
    assert not await page.is_visible(f"#wv-tree input[value='{township.code}']")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / "staff-wave-picker.png"))
    async with page.expect_navigation():
        await page.click("form.card button.primary[type=submit]")
    assert "批次已保存" in await page.inner_text("main")
    assert await wave_regions(server, "第二批推广") == {village.code, township.code}
    # The saved wave's page shows its targets as chips, its tree opened where they are.
    assert await page.locator("#wv-chips li.wv-chip").count() == 2
    assert await page.is_visible(f"input[value='{village.code}']")
    assert page.errors == []


async def test_the_form_works_without_javascript(admin):
    server, browser = admin
    tree = server.app[keys.REGIONS]
    village = unique_names(tree, "village", "150622")[0]  # 准格尔旗
    page = await logged_in(server, browser, "admin", javascript=False)
    await page.goto(str(server.make_url("/admin/waves/new")))
    assert not await page.is_visible("#wv-search")
    await page.fill("input[name=name]", "无脚本批次")
    await page.select_option("select[name=kind]", "expansion")
    await page.click("#wv-tree details:has(> summary input[value='150622']) > summary small")
    township = village.parent_code
    await page.click(f"#wv-tree details:has(> summary input[value='{township}']) > summary small")
    await page.check(f"input[value='{village.code}']")
    await page.click("summary:has-text('或者粘贴地区代码')")
    await page.fill("textarea[name=regions_paste]", "150626")  # 乌审旗, pasted
    async with page.expect_navigation():
        await page.click("form.card button.primary[type=submit]")
    assert "批次已保存" in await page.inner_text("main")
    assert await wave_regions(server, "无脚本批次") == {village.code, "150626"}


async def test_a_banner_staff_member_picks_only_inside_the_banner(admin):
    server, browser = admin
    tree = server.app[keys.REGIONS]
    page = await logged_in(server, browser, "staff")  # 东胜区 150602
    await page.goto(str(server.make_url("/admin/waves/new")))
    codes = await page.eval_on_selector_all(
        "#wv-tree input[type=checkbox]", "boxes => boxes.map(b => b.value)"
    )
    assert codes[0] == "150602" and all(c.startswith("150602") for c in codes)
    inside = [c for c, r in tree.by_code.items() if c.startswith("150602")]
    assert sorted(codes) == sorted(inside)
    await page.click("#wv-search")
    await page.keyboard.type("达拉特")
    assert await page.is_visible("#wv-search-none")
    assert page.errors == []
