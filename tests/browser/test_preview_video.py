"""The editors' preview of an iPhone's H.265 MOV in headless Chromium (which cannot play H.265):
while the transcode is queued and running, each TV frame shows the video's first frame under
the live progress (polled, no reload of the editor's page); once the job is done the frames
become the TV's player on the transcoded MP4, which plays on OK."""

from __future__ import annotations

import pytest

from content.programs import video
from tests.helpers import ARTIFACTS, DEMO_PASSWORD, create_with_video, login, make_settings
from tests.video_samples import sample
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser

LINE = "() => { var e = document.getElementById('pv-line'); return e ? e.textContent : ''; }"


async def frame_text(frame, text: str) -> None:
    await frame.wait_for_function(f"() => ({LINE})().indexOf({text!r}) >= 0", timeout=15_000)


@pytest.mark.parametrize("size", [(1280, 720), (3840, 2160)], ids=["1280x720", "3840x2160"])
async def test_an_hevc_upload_previews_as_progress_then_plays_once_transcoded(
    front_client, data_dir, chromium, size
):
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    assert (await login(client, "editor")).status == 303
    pid = await create_with_video(client, sample("hevc_mov"), "IMG_0001.MOV")
    page = await chromium.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(client.make_url("/admin/login")))
    await page.fill("input[name=username]", "editor")
    await page.fill("input[name=password]", DEMO_PASSWORD)
    async with page.expect_navigation():
        await page.press("input[name=password]", "Enter")
    await page.goto(str(client.make_url(f"/admin/programs/{pid}/preview?page=video")))
    frames = {p: page.frame(url=lambda u, p=p: f"profile={p}" in u) for p in ("720p", "2160p")}
    for frame in frames.values():
        await frame.wait_for_selector("#pv-pending")
        await frame_text(frame, "排队等待转码")
        assert await frame.locator("video").count() == 0  # no broken player
        # The first frame of the upload is shown, loaded (not a broken image).
        assert await frame.evaluate("document.getElementById('pv-still').naturalWidth") == 1280
    # The transcode starts: the frames follow its progress without a reload.
    job, source, sha = await video.claim(db)
    await video.set_progress(db, job.id, 42.0, 65)
    for frame in frames.values():
        await frame_text(frame, "正在转码 42% · 预计还要 1 分 5 秒")
        assert await frame.evaluate("document.getElementById('pv-bar').value") == 42
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"admin-preview-transcoding-{size[0]}x{size[1]}.png"
    await page.screenshot(path=str(shot))
    if size[0] > 1280:
        assert errors == []
        return
    # Done: each frame becomes the TV's player on the transcoded MP4; OK plays it.
    state = await video.run_claimed(
        db, data_dir, job, source, sha, ladder=video.parse_ladder("540:1200"), max_seconds=7200,
        runner=video.Runner(nice=False),
    )  # fmt: skip
    assert state == "done"
    page_url = page.url
    await page.frame_locator("#pv-720p").locator("#video").wait_for(timeout=15_000)
    frame = page.frame(url=lambda u: "profile=720p" in u)
    src = await frame.evaluate("document.getElementById('video').getAttribute('src')")
    assert src.endswith(f"/{sha}/video-720p.mp4"), src
    await page.locator("#pv-720p").click()  # the editor picks the frame …
    await page.keyboard.press("Enter")  # … and presses OK, as on the remote
    await frame.wait_for_function(
        "() => { var v = document.getElementById('video'); return v.currentTime > 0.3; }",
        timeout=15_000,
    )
    assert not await frame.evaluate("document.getElementById('video').error")
    assert page.url == page_url  # the editor's page itself never reloaded
    await page.goto("about:blank")
    await page.wait_for_timeout(300)
    assert errors == []
