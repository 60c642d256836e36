"""The poster picker in headless Chromium: an editor's WebM video, once transcoded, offers its
frames in the side panel 视频; ticking one and pressing 设为海报 makes it the draft's poster.
Screenshots of the picker go to test-artifacts/ (1280×720 and 3840×2160)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from content.programs import video, workflow
from content.programs.revisions import Fields
from tests.helpers import ARTIFACTS, log_in, make_settings, shots
from tests.video_samples import sample
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser
TITLE = "草场流转合同怎么签"


async def test_an_editor_picks_a_frame_as_the_poster(front_server, data_dir, chromium):
    app = create_app(make_settings(data_dir, video_jobs_concurrency=0))
    server = await front_server(app)
    base = str(server.make_url("")).rstrip("/")
    db = app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE title = ?", (TITLE,))
    state = await workflow.get_state(db, pid)
    await workflow.save_draft(
        db, data_dir, pid, Fields.of(state.draft.content), base_revision=state.draft.id,
        video=workflow.Upload("手机视频.mov", sample("hevc_mov")), region_exists=lambda c: True,
        max_bytes=10**7, author="editor",
    )  # fmt: skip
    ladder = video.parse_ladder("540:1200,720:2500")
    assert await video.run_next(db, data_dir, ladder=ladder, max_seconds=7200) == "done"
    ARTIFACTS.mkdir(exist_ok=True)
    page = await chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await log_in(page, base, "editor")
    await page.goto(f"{base}/admin/programs/{pid}")
    picker = page.locator("#poster-picker")
    await expect(picker.locator("img")).to_have_count(4)
    await picker.scroll_into_view_if_needed()
    await picker.locator(".poster-frame").nth(1).click()
    await expect(picker.locator("input[name=candidate]").nth(1)).to_be_checked()
    await shots(page, "poster-picker", full_page=False)
    await picker.locator("button[type=submit]").click()
    await expect(page.locator(".notice")).to_contain_text("海报已换好")
    after = await workflow.get_state(db, pid)
    assert after.draft.content.poster_media_id is not None
    await expect(page.locator(".program-video img.cover-thumb")).to_have_count(1)
    assert errors == []
