"""A program's whole life in headless Chromium: an editor writes it with an uploaded image,
previews it in the 4K frame and submits it; a reviewer (not the editor) approves it; a box in the
targeted banner shows it and a box elsewhere does not; an edited title goes live after review;
an earlier revision is restored through the history page. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.helpers import ARTIFACTS, contract_picture, log_in, make_settings, shots
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser
TITLE = "东胜区草场流转签合同"
NEW_TITLE = "草场流转：合同要写清楚"
BODY = (
    "# 签合同\n\n![合同样本](../images/hetong.png)\n\n草场流转要签**书面合同**，"
    "写清面积、年限和价格。\n\n# 有纠纷\n\n先找村调解委员会，或拨打12348。"
)
# A box of another banner whose village is in a started wave (so it sees the TV at all).
OUTSIDE_BOX_SQL = (
    "SELECT d.serial FROM devices d"
    " JOIN wave_regions wr ON d.village_code LIKE wr.region_code || '%'"
    " JOIN rollout_waves w ON w.id = wr.wave_id"
    " WHERE w.status = 'started' AND d.state = 'active'"
    " AND (d.village_code LIKE '150626%' OR d.village_code LIKE '150621%')"
    " ORDER BY d.serial LIMIT 1"
)


async def doc_shot(page, name: str) -> None:
    """A screenshot for docs/editors.md (copied to docs/screenshots/ by hand)."""
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(ARTIFACTS / f"editor-{name}.png"))
    await page.set_viewport_size({"width": 1280, "height": 900})


async def submit_and_approve(page, base: str, pid: int, *, editor_page: bool = True) -> None:
    """The editor submits the working copy; the reviewer approves it at once."""
    if editor_page:
        await log_in(page, base, "editor")
        await page.goto(f"{base}/admin/programs/{pid}")
    await page.click("button[value=submit]")
    await expect(page.locator("p.notice")).to_contain_text("已提交审核")
    await log_in(page, base, "reviewer")
    await page.goto(f"{base}/admin/programs/{pid}/review")
    await page.click("button[value=approve]")
    await expect(page.locator("p.notice")).to_contain_text("已上线")


async def tv_category(tv, base: str, serial: str) -> str:
    """Enter the TV as this box and open the grass-land category; return the screen's text."""
    await tv.goto(f"{base}/tv/?stb={serial}")
    await tv.goto(tv.url.rsplit("/", 1)[0] + "/c-caoyuan-tudi")
    return await tv.inner_text("body")


async def test_program_from_draft_to_the_right_boxes_and_back(front_server, data_dir, chromium):
    app = create_app(make_settings(data_dir))
    server = await front_server(app)
    base = str(server.make_url("")).rstrip("/")
    db = app[keys.DB]
    outside = await db.fetchval(OUTSIDE_BOX_SQL)
    assert outside, "the demo has a live box in 乌审旗 or 达拉特旗"
    ARTIFACTS.mkdir(exist_ok=True)
    page = await chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # -- the editor writes a program for 东胜区 with a page picture --------------------------
    await log_in(page, base, "editor")
    await page.goto(base + "/admin/programs/new")
    await page.fill("input[name=title]", TITLE)
    await page.fill("input[name=summary]", "书面合同写清面积、年限和价格。")
    await page.select_option("select[name=category]", "caoyuan-tudi")
    await page.fill("#wv-search", "东胜区")  # the village picker of waves
    await page.keyboard.press("Enter")
    await expect(page.locator("#wv-chips li[data-code='150602']")).to_be_visible()
    await page.fill("textarea[name=body]", BODY)
    await page.set_input_files(
        "input[name=images]",
        files=[{"name": "hetong.png", "mimeType": "image/png", "buffer": contract_picture()}],
    )
    await doc_shot(page, "new")
    await page.click("#program-form button[type=submit]")
    await expect(page.locator("p.notice")).to_contain_text("节目已创建为草稿")
    pid = int(page.url.split("/programs/")[1].split("?")[0])
    await expect(page.locator(".image-row code")).to_contain_text("../images/hetong.png")
    await shots(page, "program-edit")
    await doc_shot(page, "edit")

    # -- preview: the 4K frame shows the page text and the picture's 2160p rendition --------
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await page.goto(f"{base}/admin/programs/{pid}/preview")
    for profile in ("720p", "1080p", "2160p"):
        await page.frame_locator(f"#pv-{profile}").locator("#indicator").wait_for()
    await page.locator("#pv-2160p").click()
    await page.wait_for_timeout(300)
    assert await page.evaluate("document.activeElement.id") == "pv-2160p"
    frame = page.frame(url=lambda u: "profile=2160p" in u)
    assert await frame.evaluate("[innerWidth, innerHeight]") == [3840, 2160]
    assert "草场流转要签书面合同" in await frame.inner_text("body")
    picture = frame.locator("img[alt=合同样本]")
    await expect(picture).to_have_attribute("src", re.compile(r"page-2160p"))
    assert await picture.evaluate("i => i.complete && i.naturalWidth") == 1200
    await page.locator("#pv-2160p").screenshot(path=str(ARTIFACTS / "preview-4k-frame.png"))
    await shots(page, "program-preview", full_page=False)
    await doc_shot(page, "preview")

    # -- submit; the editor cannot approve ---------------------------------------------------
    await page.goto(f"{base}/admin/programs/{pid}")
    await page.click("button[value=submit]")
    await expect(page.locator("p.notice")).to_contain_text("已提交审核")
    assert await page.locator("button[value=approve]").count() == 0
    assert await page.locator(f"a[href$='/programs/{pid}/review']").count() == 0
    token = await page.get_attribute("#program-form input[name=csrf_token]", "value")
    revision = await page.get_attribute("#program-form input[name=revision]", "value")
    refused = await page.request.post(
        f"{base}/admin/programs/{pid}/workflow",
        form={"csrf_token": token, "action": "approve", "revision": revision},
    )
    assert refused.status == 403
    assert (await page.goto(f"{base}/admin/programs/{pid}/review")).status == 403

    # -- a reviewer approves -----------------------------------------------------------------
    await log_in(page, base, "reviewer")
    await page.goto(f"{base}/admin/programs/{pid}/review")
    await doc_shot(page, "review")
    await page.click("button[value=approve]")
    await expect(page.locator("p.notice")).to_contain_text("已上线")

    # -- the box in 东胜区 shows it, the one elsewhere does not --------------------------------
    tv = await chromium.new_page(viewport={"width": 1280, "height": 720})
    tv.on("pageerror", lambda exc: errors.append(str(exc)))
    assert TITLE in await tv_category(tv, base, "DEMO-0001")
    await tv.focus(f"#prog-{pid}")
    await tv.keyboard.press("Enter")
    await tv.wait_for_url(f"**/p-{pid}-1")
    assert "草场流转要签书面合同" in await tv.inner_text("body")
    shown = tv.locator("img[alt=合同样本]")
    assert await shown.evaluate("i => i.complete && i.naturalWidth") > 0
    await shots(tv, "tv-new-program", full_page=False)
    await doc_shot(tv, "tv")
    other = await chromium.new_page(viewport={"width": 1280, "height": 720})
    assert TITLE not in await tv_category(other, base, outside)
    gone = await other.goto(other.url.rsplit("/", 1)[0] + f"/p-{pid}-1")
    assert gone.status == 404

    # -- revision 2: a new title, reviewed, on the TV ----------------------------------------
    await log_in(page, base, "editor")
    await page.goto(f"{base}/admin/programs/{pid}")
    await page.fill("input[name=title]", NEW_TITLE)
    await page.fill("input[name=note]", "标题改得更清楚")
    await page.click("#program-form button[type=submit]")
    await expect(page.locator("p.notice")).to_contain_text("草稿已保存")
    assert TITLE in await tv_category(tv, base, "DEMO-0001")  # not before review
    await submit_and_approve(page, base, pid, editor_page=False)
    text = await tv_category(tv, base, "DEMO-0001")
    assert NEW_TITLE in text and TITLE not in text

    # -- restore revision 1 from the history page: draft → submit → approve -----------------
    first = await db.fetchval("SELECT MIN(id) FROM program_revisions WHERE program_id = ?", (pid,))
    await log_in(page, base, "editor")
    await page.goto(f"{base}/admin/programs/{pid}/history")
    await doc_shot(page, "history")
    await page.click(f"#rev-{first} button[value=restore]")
    await expect(page.locator("p.notice")).to_contain_text("所选版本已恢复为草稿")
    assert await page.input_value("input[name=title]") == TITLE
    await submit_and_approve(page, base, pid, editor_page=False)
    text = await tv_category(tv, base, "DEMO-0001")
    assert TITLE in text and NEW_TITLE not in text
    await shots(tv, "tv-restored", full_page=False)
    assert errors == []
