"""The program form as an editor uses it in headless Chromium: 提交审核 sends what was typed
since the last save, leaving with unsaved edits asks first, and 插入图片 uploads a picture and
puts it in the page at the cursor. Screenshots of the edit and review pages go to
test-artifacts/ (1280×720 and 3840×2160)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from content.programs import workflow
from tests.helpers import ARTIFACTS, contract_picture, log_in, make_settings, shots
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser
TITLE = "草场流转合同怎么签"


async def test_submit_keeps_typed_text_and_pictures_go_in_at_the_cursor(
    front_server, data_dir, chromium
):
    app = create_app(make_settings(data_dir))
    server = await front_server(app)
    base = str(server.make_url("")).rstrip("/")
    db = app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE title = ?", (TITLE,))
    ARTIFACTS.mkdir(exist_ok=True)
    page = await chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await log_in(page, base, "editor")
    await page.goto(f"{base}/admin/programs/{pid}")

    # -- 插入图片: the picture's Markdown lands where the cursor is --------------------------
    body = page.locator("#program-body")
    await body.focus()
    await page.keyboard.press("Control+End")
    await page.keyboard.type("\n\n合同样本如下：")
    async with page.expect_file_chooser() as chooser:
        await page.click("#insert-image")
    await (await chooser.value).set_files(
        files=[{"name": "hetong.png", "mimeType": "image/png", "buffer": contract_picture()}]
    )
    await expect(body).to_have_value(
        re.compile(r"合同样本如下：\n\n!\[图片说明\]\(\.\./images/hetong\.png\)")
    )
    # The description is selected: typing replaces it.
    await page.keyboard.type("合同样本")
    await expect(body).to_have_value(re.compile(r"!\[合同样本\]\(\.\./images/"))
    await expect(page.locator("#new-images code")).to_contain_text("../images/hetong.png")
    await shots(page, "editor-everyday-edit")

    # -- leaving with unsaved edits asks first ----------------------------------------------
    asked: list[str] = []

    async def on_dialog(dialog) -> None:
        asked.append(dialog.type)
        await dialog.accept()

    page.on("dialog", on_dialog)
    await page.goto(f"{base}/admin/programs")
    assert asked == ["beforeunload"]
    page.remove_listener("dialog", on_dialog)
    await page.goto(f"{base}/admin/programs/{pid}")
    assert "合同样本如下" not in await page.locator("#program-body").input_value()

    # -- typed again, then 提交审核 straight away: what was typed is what is submitted -------
    await page.locator("#program-body").focus()
    await page.keyboard.press("Control+End")
    await page.keyboard.type("\n\n签合同前先到司法所咨询。")
    await page.click("#side-submit")
    await expect(page.locator("p.notice")).to_contain_text("已提交审核")
    state = await workflow.get_state(db, pid)
    assert state.workflow.state == "in_review"
    assert "签合同前先到司法所咨询" in state.draft.content.body()

    # -- the reviewer sees the change marked in the rendered text ---------------------------
    await log_in(page, base, "reviewer")
    await page.goto(f"{base}/admin/programs/{pid}/review")
    await expect(page.locator("#body-diff ins")).to_contain_text("签合同前先到司法所咨询")
    await shots(page, "editor-everyday-review")
    assert errors == []
