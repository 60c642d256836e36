"""The video player in headless Chromium, key presses only: home → programs → a category → the
program with a video → OK plays → Right seeks 10 s on → digit 5 jumps to half way → Back
leaves → the home screen offers "继续观看" at the position left. Debian's Chromium plays H.264
MP4 (canPlayType says "probably"), so the box gets the same MP4 as a box without HLS."""

from __future__ import annotations

import asyncio
import re
import subprocess

import pytest

from content.programs import video
from tests.helpers import ARTIFACTS, make_settings, publish_subtitles
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium_args() -> list[str]:
    return ["--autoplay-policy=no-user-gesture-required"]


FOCUSED = "document.activeElement ? document.activeElement.id : ''"
# Which arrow brings the focus nearer to an element (the key choice only; focus moves by keys).
TOWARDS = """(id) => { var t = document.getElementById(id), a = document.activeElement;
  if (!t) { return 'PageDown'; }
  var r = t.getBoundingClientRect(), c = a.getBoundingClientRect();
  if (r.top >= c.bottom - 1) { return 'ArrowDown'; }
  if (r.bottom <= c.top + 1) { return 'ArrowUp'; }
  return r.left > c.left ? 'ArrowRight' : 'ArrowLeft'; }"""


async def key(page, name: str, *, nav: bool = False) -> None:
    if nav:
        before = page.url.split("#")[0]
        async with page.expect_navigation(url=lambda url: url.split("#")[0] != before):
            await page.keyboard.press(name)
    else:
        await page.keyboard.press(name)
        await page.wait_for_timeout(120)


async def at_time(page, condition: str) -> None:
    """Wait until the video's currentTime `t` meets `condition` (tv.js spaces arrow keys
    80 ms apart, so a quick second press may act a moment later)."""
    await page.wait_for_function(
        f"() => {{ var t = document.getElementById('video').currentTime; return {condition}; }}",
        timeout=10_000,
    )


async def settle(page) -> None:
    """Leave the video and let its transfers end before the server stops (a transfer the
    server's shutdown cancels while aiohttp opens the file leaves that file to the collector)."""
    await page.goto("about:blank")
    await page.wait_for_timeout(300)


async def walk_to(page, element_id: str) -> None:
    """Arrow (or page) towards an element until it has the focus, then press OK."""
    for _ in range(40):
        if await page.evaluate(FOCUSED) == element_id:
            await key(page, "Enter", nav=True)
            return
        arrow = await page.evaluate(TOWARDS, element_id)
        await key(page, arrow, nav=arrow == "PageDown")
    raise AssertionError(f"could not reach #{element_id} on {page.url}")


async def test_play_seek_leave_and_resume_with_the_remote(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    db = server.app[keys.DB]
    pid, slug = await db.fetchone(
        "SELECT id, category FROM programs WHERE video_media_id IS NOT NULL"
        " AND status = 'published' AND slug = 'fang-dianxin-zhapian'"
    )
    page = await chromium.new_page(viewport={"width": 1280, "height": 720})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/tv/?stb=DEMO-0001")))
    await page.wait_for_url(re.compile(r"/home"))
    await walk_to(page, "t-programs")
    await walk_to(page, f"cat-{slug}")
    await walk_to(page, f"prog-{pid}")
    await page.wait_for_url(re.compile(rf"/v-{pid}"))
    assert await page.evaluate(FOCUSED) == "video"
    await page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    await key(page, "Enter")  # OK: play
    await page.wait_for_function("() => document.getElementById('video').currentTime > 0.3")
    await key(page, "Enter")  # OK: pause
    assert await page.evaluate("document.getElementById('video').paused")
    before = await page.evaluate("document.getElementById('video').currentTime")
    await key(page, "ArrowRight")  # +10 s
    await at_time(page, f"t >= {before + 9.5} && t <= {before + 10.5}")
    after = await page.evaluate("document.getElementById('video').currentTime")
    time_text = await page.text_content("#player-time")
    assert time_text.startswith(f"0:{int(after):02d}") and time_text.endswith("/ 0:16")
    await key(page, "5")  # half way
    await at_time(page, "Math.abs(t - 8) < 0.1")
    await key(page, "ArrowRight")  # 18 s would pass the end: stops a second before it
    await at_time(page, "Math.abs(t - 15) < 0.1")
    await key(page, "ArrowLeft")
    await at_time(page, "Math.abs(t - 5) < 0.1")
    width = await page.evaluate("document.getElementById('player-done').style.width")
    assert float(width.rstrip("%")) == pytest.approx(100 * 5 / 16, abs=1)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "video-player-1280x720.png"))
    # Back leaves (saving the position), and Back again up to the home screen.
    await key(page, "Backspace", nav=True)
    for _ in range(4):
        if "/home" in page.url:
            break
        await key(page, "Backspace", nav=True)
    assert "/home" in page.url
    resume = page.locator("#t-resume")
    assert "继续观看" in await resume.text_content()
    assert "看到 0:05" in await resume.text_content()
    # OK on it reopens the video at 5 s.
    await walk_to(page, "t-resume")
    await page.wait_for_url(re.compile(rf"/v-{pid}\?t=5"))
    await page.wait_for_function("() => document.getElementById('video').currentTime >= 5")
    assert errors == []
    await settle(page)


async def _long_video(server, data_dir) -> tuple[int, int]:
    """The demo video program, its video swapped (in this test's copy) for a 5-minute one, with
    a Chinese subtitle track for its first 50 seconds."""
    db = server.app[keys.DB]
    pid, media_id = await db.fetchone(
        "SELECT id, video_media_id FROM programs WHERE slug = 'fang-dianxin-zhapian'"
        " AND status = 'published'"
    )
    clip = data_dir / "video" / "src" / "long.mp4"
    clip.parent.mkdir(parents=True)
    await asyncio.to_thread(
        subprocess.run,
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=5:d=300",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10",
         "-movflags", "+faststart", str(clip)], check=True, timeout=120,
    )  # fmt: skip
    async with db.transaction() as tx:
        await tx.execute("UPDATE media SET file = 'video/src/long.mp4' WHERE id = ?", (media_id,))
        await video.enqueue(tx, media_id)
    ladder = video.parse_ladder("540:1200")  # transcoded: the MP4 and its thumbnail strip
    assert await video.run_next(db, data_dir, ladder=ladder, max_seconds=7200) == "done"
    cues = "0:00 - 0:50 不要相信陌生来电\n4:00 - 4:59 拨打12348咨询"
    await publish_subtitles(server.app, pid, cues)
    server.app[keys.PROGRAMS].clear()
    return pid, media_id


async def test_subtitles_info_bar_back_question_and_held_seek(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    db = server.app[keys.DB]
    pid, _media_id = await _long_video(server, data_dir)
    device = await db.fetchval("SELECT id FROM devices WHERE serial = 'DEMO-0001'")
    page = await chromium.new_page(viewport={"width": 1280, "height": 720})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/tv/?stb=DEMO-0001")))
    await page.wait_for_url(re.compile(r"/home"))
    home = page.url
    await page.goto(home.replace("/home", f"/v-{pid}"))
    await page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    # Subtitles show large, outlined, over the video.
    subs = page.locator("#subs")
    await subs.wait_for(state="visible")
    assert await subs.text_content() == "不要相信陌生来电"
    size = await subs.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    shadow = await subs.evaluate("e => getComputedStyle(e).textShadow")
    assert size >= 32 and shadow.count("rgb(0, 0, 0)") >= 4
    # Yellow (F3 on a keyboard) turns them off, remembered for the box; again turns them on.
    await key(page, "F3")
    await subs.wait_for(state="hidden")
    assert await page.text_content("#subs-btn") == "字幕：关"
    for _ in range(50):
        row = await db.fetchone(
            "SELECT subtitles FROM video_box_prefs WHERE device_id = ?", (device,)
        )
        if row is not None:
            break
        await page.wait_for_timeout(50)
    assert row["subtitles"] == 0
    await page.reload()
    await page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    assert await page.get_attribute("#video", "data-subs-on") == "0"
    assert await subs.is_hidden()
    # Up shows the info bar, Up again reaches its subtitles button, OK there turns them on.
    await key(page, "ArrowDown")
    assert await page.locator("#info").is_hidden()
    await key(page, "ArrowUp")
    assert await page.locator("#info").is_visible()
    await key(page, "ArrowUp")
    assert await page.evaluate(FOCUSED) == "subs-btn"
    await key(page, "Enter")
    await subs.wait_for(state="visible")
    await key(page, "ArrowDown")  # hides the bar, back on the video
    assert await page.evaluate(FOCUSED) == "video"
    assert await page.locator("#info").is_hidden()
    # Back with more than a minute left asks first; OK goes on watching.
    url = page.url
    await key(page, "Backspace")
    ask = page.locator("#ask")
    assert await ask.is_visible() and page.url == url
    assert "再按返回键离开" in await ask.text_content()
    await key(page, "Enter")
    assert await ask.is_hidden()
    await page.wait_for_function("() => !document.getElementById('video').paused")
    await key(page, "Enter")  # pause
    # Held Right: steps grow from 10 s to 30 s and 60 s. Twenty key repeats 50 ms apart
    # (tv.js lets at most one through per 80 ms: at most 13 steps) would reach at most
    # 130 s at 10 s a step; held, the seek goes past 200 s and is made once the key rests.
    for _ in range(20):
        await page.keyboard.down("ArrowRight")
        await page.wait_for_timeout(50)
    # Meanwhile the strip's picture of the target time shows above the progress bar.
    thumb = await page.evaluate(
        "() => { var s = document.getElementById('thumb').style;"
        " return [s.backgroundImage, s.backgroundPosition]; }"
    )
    assert await page.locator("#thumb").is_visible()
    assert "thumbs.jpg" in thumb[0] and thumb[1] != "0px 0px"
    await page.keyboard.up("ArrowRight")
    await at_time(page, "t > 200")
    await page.locator("#thumb").wait_for(state="hidden")
    assert "拨打12348咨询" in await subs.text_content() or await subs.is_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "video-subtitles-1280x720.png"))
    # The question was asked once: Back now leaves.
    await key(page, "Backspace", nav=True)
    assert f"/v-{pid}" not in page.url
    assert errors == []
    await settle(page)
