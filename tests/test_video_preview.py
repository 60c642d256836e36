"""The editors' preview of a program's video while it is transcoded (issue 12): an upload
Chromium cannot play (an iPhone's H.265 MOV) is shown as its first good frame under the live
progress instead of a broken player, the transcoded MP4 once the job is done, and FFmpeg's
reason after a failure; an H.264 MP4 plays at once."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid

from content.programs import uploads, video, workflow
from tests.helpers import create_with_video, login, make_settings
from tests.video_samples import sample
from tv_server import keys
from tv_server.app import create_app

LADDER = video.parse_ladder("540:1200")


async def frame(client, pid: int, profile: str = "720p") -> str:
    response = await client.get(f"/admin/programs/{pid}/preview/frame?page=video&profile={profile}")
    html = await response.text()
    assert response.status == 200, html[:300]
    return html


def line_of(html: str) -> str:
    return re.search(r'<p class="pv-line" id="pv-line">([^<]*)</p>', html).group(1)


async def test_an_hevc_upload_previews_as_its_progress_then_as_the_transcoded_mp4(
    front_client, data_dir
):
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    assert (await login(client, "editor")).status == 303
    pid = await create_with_video(client, sample("hevc_mov"), "IMG_0001.MOV")
    state = await workflow.get_state(db, pid)
    media_id = state.draft.content.video_media_id
    # Queued: no player for a file Chromium cannot play, the first frame under the state.
    for profile in ("720p", "1080p", "2160p"):
        html = await frame(client, pid, profile)
        assert "<video" not in html and 'id="pv-pending"' in html
        assert line_of(html) == "排队等待转码"
    still = re.search(r'<img class="pv-still" id="pv-still" src="([^"]+)"', html).group(1)
    got = await client.get(still)
    assert got.status == 200 and got.content_type == "image/jpeg"
    assert (await got.read())[:2] == b"\xff\xd8"
    status_url = re.search(r'data-status="([^"]+)"', html).group(1)
    assert status_url.startswith(f"/admin/programs/{pid}/preview/video.json")
    assert re.search(r'<script src="/static/preview_pending\.[^"]*js"', html), html[-400:]
    # Running: the percent and the time left, as the program page words them.
    job, _file, sha = await video.claim(db)
    await video.set_progress(db, job.id, 42.4, 65)
    html = await frame(client, pid)
    assert line_of(html) == "正在转码 42% · 预计还要 1 分 5 秒"
    assert 'value="42"' in html
    polled = await (await client.get(status_url)).json()
    assert polled["state"] == "running" and polled["line"] == "正在转码 42% · 预计还要 1 分 5 秒"
    page = await (await client.get(f"/admin/programs/{pid}/video.json")).json()
    assert page["line"] == polled["line"]  # the same words as on the program page
    # Done: the poll says so and the frame is the TV's player on the transcoded MP4.
    runner = video.Runner(nice=False)
    done = await video.run_claimed(
        db, data_dir, job, _file, sha, ladder=LADDER, max_seconds=7200, runner=runner
    )
    assert done == "done"
    assert (await (await client.get(status_url)).json()) == {"state": "done"}
    html = await frame(client, pid)
    src = re.search(r'<video[^>]* src="([^"]+)"', html).group(1)
    assert src.endswith("/video-720p.mp4") and src.startswith(f"/media/video/{sha[:2]}/{sha}/")
    assert (await client.get(src)).status == 200
    assert 'id="pv-pending"' not in html
    assert (await video.job_for(db, media_id)).state == "done"


async def test_a_failed_transcode_previews_as_ffmpegs_reason(front_client, data_dir, tmp_path):
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    assert (await login(client, "editor")).status == 303
    # An H.265 MOV of its own (the media folders are shared between tests: no other test
    # stores these bytes, whose stored copy is damaged below).
    own = tmp_path / "own.mov"
    await asyncio.to_thread(
        subprocess.run,
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=25:d=1.2",
         "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
         "-tag:v", "hvc1", "-metadata", f"title={uuid.uuid4()}", str(own)],
        check=True, timeout=120,
    )  # fmt: skip
    pid = await create_with_video(client, own, "IMG_0002.MOV")
    # The stored file loses its end (and the MOV its index) before the transcode runs.
    media_id = (await workflow.get_state(db, pid)).draft.content.video_media_id
    stored = data_dir / (await uploads.media_info(db, media_id))["file"]
    raw = stored.read_bytes()
    stored.unlink()  # a new file, never written through a link
    stored.write_bytes(raw[: len(raw) // 2])
    assert await video.run_next(db, data_dir, ladder=LADDER, max_seconds=7200) == "failed"
    html = await frame(client, pid)
    assert "<video" not in html and line_of(html) == "转码失败"
    reason = re.search(r'<pre class="pv-error" id="pv-error">([^<]+)</pre>', html).group(1)
    job = await video.job_for(db, media_id)
    assert "moov atom not found" in job.error  # FFmpeg's own words
    assert reason.strip() == job.error.strip().replace("&", "&amp;")
    assert "机顶盒无法播放这个视频" in html
    status = await (await client.get(f"/admin/programs/{pid}/preview/video.json")).json()
    assert status["state"] == "failed" and status["error"] == job.error


async def test_an_h264_mp4_plays_at_once_and_others_may_not_peek(front_client, data_dir):
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    assert (await login(client, "editor")).status == 303
    pid = await create_with_video(client, sample("fps120_mp4"), "安卓手机.mp4")
    html = await frame(client, pid)
    src = re.search(r'<video[^>]* src="([^"]+)"', html).group(1)
    assert src.startswith("/media/media/") and src.endswith(".mp4")  # the upload, as it is
    # The poll answers only staff who may preview the program.
    client.session.cookie_jar.clear()
    url = f"/admin/programs/{pid}/preview/video.json"
    anonymous = await client.get(url, allow_redirects=False)
    assert anonymous.status in (302, 303, 401) and "state" not in await anonymous.text()
