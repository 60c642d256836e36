"""The video player in headless Chromium, key presses only: home → programs → a category → the
program with a video → OK plays → Right seeks 10 s on → digit 5 jumps to half way → Back
leaves → the home screen offers "继续观看" at the position left. Debian's Chromium plays H.264
MP4 (canPlayType says "probably"), so the box gets the same MP4 as a box without HLS."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ARTIFACTS, make_settings
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
