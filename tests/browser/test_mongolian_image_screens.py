"""The Mongolian image path (boxes whose model cannot shape Mongolian: every text block a drawn
image, tv_server/mongol_image.py) on every kind of screen, at 720p and 4K, keys only: no text
image is cut off — the header and the key-hint bar hold theirs whole, long program titles
included — and the video page's subtitle button keeps a Mongolian label in both states.
Screenshots go to test-artifacts/ (mn-img-*.png)."""

from __future__ import annotations

import pytest

from tests.helpers import (
    CLIP_FUNCTIONS,
    FOCUS_VISIBLE,
    FOCUSED,
    IMAGES_CUT_OFF,
    POINT,
    SIZES,
    assert_image_path,
    force_image_path,
    no_overflow,
    open_box,
    open_mn,
    press,
    publish,
    publish_subtitles,
    shot,
    tomorrow,
)
from tv_server import keys

pytestmark = pytest.mark.browser

VIDEO_SLUG = "fang-dianxin-zhapian"  # the demo's video program, with a Mongolian version


async def video_with_subtitles(server) -> int:
    """The demo video program, given a Chinese subtitle track (an image-path box, which cannot
    shape Mongolian cues, gets the Chinese track: the subtitle button shows)."""
    db = server.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = ?", (VIDEO_SLUG,))
    await publish_subtitles(server.app, pid, "0:00 - 0:50 不要相信陌生来电")
    return pid


SUBS_BUTTON = """() => { var b = document.getElementById('subs-btn'), img = b.querySelector('img');
  var text = '';
  for (var n = b.firstChild; n; n = n.nextSibling) { if (n.nodeType === 3) { text += n.data; } }
  return {text: text.trim(), img: img && img.className, alt: img && img.alt,
          src: img && img.getAttribute('src'),
          loaded: !!img && img.complete && img.naturalWidth > 0};
}"""


@pytest.mark.parametrize("size", SIZES)
async def test_image_path_video_page_shows_every_text_whole(tv, size):
    server, _browser = tv
    await force_image_path(server, "DEMO-0004")
    pid = await video_with_subtitles(server)
    page = await open_mn(tv, size, "DEMO-0004")
    await page.goto(page.url.split("#")[0].rsplit("/", 1)[0] + f"/v-{pid}")
    await assert_image_path(page)
    await no_overflow(page)
    # The info bar (with the subtitle button) shows with Up, as the household brings it up.
    await page.keyboard.press("ArrowUp")
    await page.wait_for_timeout(150)
    await shot(page, "mn-img-video", size)
    # The long Mongolian title in the header, the key hints at the foot, the bar's buttons.
    assert await page.evaluate(IMAGES_CUT_OFF, False) == []
    before = await page.evaluate(SUBS_BUTTON)
    assert before["img"] == "mi" and before["text"] == "" and before["loaded"], before
    assert before["alt"] == "字幕：开"
    # Yellow (F3) turns the subtitles off: the label is the drawn 字幕：关, Mongolian still.
    await page.keyboard.press("F3")
    await page.wait_for_timeout(200)
    after = await page.evaluate(SUBS_BUTTON)
    assert after["text"] == "" and after["img"] == "mi" and after["alt"] == "字幕：关", after
    assert after["src"] != before["src"]
    await page.wait_for_function(
        "() => { var i = document.querySelector('#subs-btn img'); return i.complete"
        " && i.naturalWidth > 0; }"
    )
    await page.keyboard.press("F3")  # on again: the drawn 字幕：开 is back
    await page.wait_for_timeout(200)
    again = await page.evaluate(SUBS_BUTTON)
    assert again["text"] == "" and again["alt"] == "字幕：开" and again["src"] == before["src"]
    await page.keyboard.press("F3")
    await page.wait_for_timeout(200)
    await shot(page, "mn-img-video-subs", size)
    assert await page.evaluate(IMAGES_CUT_OFF, False) == []
    assert page.errors == []


async def image_path_urls(server, page) -> list[tuple[str, str]]:
    """(name, URL) of every kind of TV screen for the image-path box on `page`."""

    base = page.url.split("#")[0].rsplit("/", 1)[0] + "/"
    db = server.app[keys.DB]
    category, program = await db.fetchone(
        "SELECT category, id FROM programs WHERE slug = 'xianfa-gongmin-quanli'"
    )
    point = await db.fetchval("SELECT id FROM service_points WHERE code = ?", (POINT,))
    day = tomorrow().isoformat()
    cb = "svc=consultation&phone=13800138000"
    ap = f"svc=notarisation&sp={POINT}&day={day}&at=09:00"
    screens = [
        ("programs", "programs"),
        ("category", f"c-{category}"),
        ("program-page", f"p-{program}-1"),
        ("program-page-2", f"p-{program}-2"),
        ("directory", "dir"),
        ("region", "dir-150624"),
        ("point", f"o-{point}"),
        ("cb-service", "cb"),
        ("cb-topic", "cb-topic?svc=mediation"),
        ("cb-phone", "cb-phone?svc=consultation"),
        ("cb-time", f"cb-time?{cb}"),
        ("cb-confirm", f"cb-confirm?{cb}&w=morning"),
        ("mine", "mine"),
        ("ap-service", "ap"),
        ("ap-point", "ap-pt?svc=notarisation"),
        ("ap-day", f"ap-day?svc=notarisation&sp={POINT}"),
        ("ap-slot", f"ap-slot?svc=notarisation&sp={POINT}&day={day}"),
        ("ap-phone", f"ap-phone?{ap}"),
        ("adviser", "adv"),
        ("error-404", "no-such-screen"),
    ]
    return [(name, base + url) for name, url in screens] + [
        ("notice-bad-launch", str(server.make_url("/tv/launch?stb=X-1&ts=1&lang=mn&sig=00"))),
        ("notice-pending", str(server.make_url("/tv/?stb=NEW-BOX-7&lang=mn"))),
    ]


@pytest.mark.parametrize("size", SIZES)
async def test_image_path_screens_show_every_text_whole(tv, size):
    """Program pages, the directory, callback, 我的申请, appointments, the adviser, notices and
    error pages: every text image whole (a list's rows may lie below the fold, to be scrolled to
    by the focus, but none is cut off by its own box or the screen's sides)."""
    server, _browser = tv
    await force_image_path(server, "DEMO-0001")

    class Client:  # publish() takes a test client; the server's app is what it uses
        app = server.app

    await publish(Client, capacity=5)
    page = await open_mn(tv, size, "DEMO-0001")
    problems = {}
    for name, url in await image_path_urls(server, page):
        await page.goto(url)
        await page.wait_for_load_state("load")
        await shot(page, f"mn-img-{name}", size)
        cut = await page.evaluate(IMAGES_CUT_OFF, True)
        if cut:
            problems[name] = cut
    assert problems == {}


# Where the screen's main area is scrolled to, and the text images of the screen not wholly
# inside the canvas or cut off by a box around them.
MAIN_STATE = (
    """() => {"""
    + CLIP_FUNCTIONS
    + """
  var m = document.getElementById('main'), cut = [];
  var imgs = document.querySelectorAll('#main img.mi');
  for (var i = 0; i < imgs.length; i++) {
    var r = imgs[i].getBoundingClientRect();
    if (clipped(imgs[i], r, 'main')) { cut.push([imgs[i].alt].concat(pos(r))); }
  }
  return {scrolled: m.scrollTop, tall: m.scrollHeight - m.clientHeight, cut: cut,
          focused: document.activeElement.id}; }"""
)


@pytest.mark.parametrize("size", SIZES)
async def test_image_path_point_and_adviser_pages_keep_their_top_in_view(tv, size):
    """The service point's and the adviser's pages, taller than #main in the horizontal layout,
    once showed their top cut off as soon as the focus (on their buttons, low on the screen) was
    scrolled into view. Laid out for column text they fit: whatever key the household presses,
    the main area is never scrolled and every text image in it is whole."""
    server, _browser = tv
    await force_image_path(server, "DEMO-0001")
    page = await open_mn(tv, size, "DEMO-0001")
    base = page.url.split("#")[0].rsplit("/", 1)[0] + "/"
    point = await server.app[keys.DB].fetchval(
        "SELECT id FROM service_points WHERE name_mn != '' AND name LIKE '鄂尔多斯市%'"
    )
    for name, url in (("point", f"o-{point}"), ("adviser", "adv")):
        await page.goto(base + url)
        await assert_image_path(page)
        await no_overflow(page)
        seen = set()
        for key in ("ArrowDown", "ArrowRight", "ArrowDown", "ArrowUp", "ArrowLeft", "ArrowUp"):
            state = await page.evaluate(MAIN_STATE)
            assert state["scrolled"] == 0 and state["tall"] <= 1, (name, key, state)
            assert state["cut"] == [], (name, state)
            seen.add(state["focused"])
            await press(page, key)  # the focus stays on the screen, wholly in view
        await shot(page, f"mn-img-{name}-keys", size)
        assert len(seen - {""}) >= (2 if name == "point" else 1), seen
    assert page.errors == []


BOXES_OF_SUBS_AND_BAR = """() => {
  function box(id) { var e = document.getElementById(id), r = e.getBoundingClientRect();
    return {shown: e.getClientRects().length > 0 && r.height > 0,
            rect: [r.left, r.top, r.right, r.bottom]}; }
  return {subs: box('subs'), info: box('info'), text: document.getElementById('subs').textContent};
}"""


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1


async def video_page_on(tv, size, path):
    """The video page of a program with subtitles, on a Chinese box ("zh") or a Mongolian box on
    the font ("mn-font") or image ("mn-image") path."""
    server, _browser = tv
    serial = {"zh": "DEMO-0002", "mn-font": "DEMO-0003", "mn-image": "DEMO-0004"}[path]
    if path == "mn-image":
        await force_image_path(server, serial)
    pid = await video_with_subtitles(server)
    page = await (open_mn(tv, size, serial) if path != "zh" else open_box(tv, size, serial))
    await page.goto(page.url.split("#")[0].rsplit("/", 1)[0] + f"/v-{pid}")
    return page


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("path", ["zh", "mn-font", "mn-image"])
async def test_video_subtitles_stand_clear_of_the_info_bar(tv, size, path):
    """The info bar (time, track, subtitle button) once lay over the subtitle line: with both
    showing (the video paused at a cue), the subtitles stand above the bar, in Chinese and in
    Mongolian on both rendering paths; with the bar gone (Down) they go back to the foot of the
    picture."""
    page = await video_page_on(tv, size, path)
    await page.wait_for_selector("#subs:not(.hidden)")
    await page.wait_for_timeout(150)
    both = await page.evaluate(BOXES_OF_SUBS_AND_BAR)
    await shot(page, f"video-subs-bar-{path}", size)
    assert both["subs"]["shown"] and both["info"]["shown"], both
    assert not overlap(both["subs"]["rect"], both["info"]["rect"]), both
    await page.keyboard.press("ArrowDown")  # the bar hides: the subtitles at the picture's foot
    await page.wait_for_timeout(150)
    alone = await page.evaluate(BOXES_OF_SUBS_AND_BAR)
    assert alone["subs"]["shown"] and not alone["info"]["shown"], alone
    assert alone["subs"]["rect"][3] >= both["subs"]["rect"][3], (both, alone)
    await page.keyboard.press("ArrowUp")  # and back above the bar with it
    await page.wait_for_timeout(150)
    again = await page.evaluate(BOXES_OF_SUBS_AND_BAR)
    assert again["info"]["shown"] and not overlap(again["subs"]["rect"], again["info"]["rect"])
    assert page.errors == []


# The info bar's backing: the first opaque background behind the time (its own or an
# ancestor's), whether the picture lies under it, and the contrast of the time against it.
BAR_BACKING = """() => {
  function rgb(s) { var m = s.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; }
  function lum(c) { var a = c.slice(0, 3).map(function (v) { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2]; }
  var time = document.getElementById('player-time'), video = document.getElementById('video');
  var el = time, back = null;
  while (el) { var c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] >= 0.99) { back = el; break; } el = el.parentElement; }
  var b = document.getElementById('info').getBoundingClientRect(),
      v = video.getBoundingClientRect();
  var over = b.left < v.right - 1 && v.left < b.right - 1 && b.top < v.bottom - 1
    && v.top < b.bottom - 1;
  var l1 = lum(rgb(getComputedStyle(time).color)),
      l2 = lum(rgb(getComputedStyle(back).backgroundColor));
  return {over_picture: over, behind_picture: back.contains(video),
          backing: back.id || back.tagName,
          contrast: (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05)};
}"""


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("path", ["zh", "mn-font", "mn-image"])
async def test_video_info_bar_reads_over_any_picture(tv, size, path):
    """The image path's info bar (taller, of drawn labels) lies over the picture's foot and had
    no backing: its white time over a bright frame could not be read. On every path the bar's
    time stands on an opaque backing of its own (not the page's behind the picture) wherever
    it lies over the picture, at a contrast of at least 7:1, whatever the picture shows."""
    page = await video_page_on(tv, size, path)
    await page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    await page.keyboard.press("Enter")  # OK: play, a bright frame of the demo video
    await page.wait_for_function("() => document.getElementById('video').currentTime > 1.5")
    await page.keyboard.press("Enter")  # OK: pause; the bar shows
    await page.wait_for_selector("#info:not(.hidden)")
    backing = await page.evaluate(BAR_BACKING)
    await shot(page, f"video-bar-{path}", size)
    if backing["over_picture"]:
        assert not backing["behind_picture"], backing
    assert backing["contrast"] >= 7, backing
    assert page.errors == []


# Where the first drawn text of a program page's body lies, against the page's own box.
BODY_START = """() => { var img = document.querySelector('.page-body img.mi');
  var p = document.getElementById('page').getBoundingClientRect(), r = img.getBoundingClientRect();
  return {left: r.left - p.left, width: p.width, float: getComputedStyle(img).cssFloat}; }"""


@pytest.mark.parametrize("size", SIZES)
async def test_image_path_program_pages_show_their_pager_and_read_from_the_left(tv, size):
    """With the demo's announcement showing, the image path's taller header and hint bar left
    the program page's pager (上一页, 1 / 2, 下一页 — the focus) cut off under the hint bar,
    and tv.css floated the body's text images right as if they were pictures. Now every drawn
    text outside the body is wholly on the screen, the focus shows, and the body reads from
    the page's left edge."""
    server, _browser = tv
    await force_image_path(server, "DEMO-0001")
    db = server.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = 'xianfa-gongmin-quanli'")
    page = await open_mn(tv, size)
    base = page.url.split("#")[0].rsplit("/", 1)[0] + "/"
    for number in (1, 2):
        await page.goto(base + f"p-{pid}-{number}")
        await assert_image_path(page)
        await shot(page, f"mn-img-page-{number}", size)
        cut = await page.evaluate(IMAGES_CUT_OFF, False)
        body = await page.eval_on_selector_all(".page-body img.mi", "l => l.map(i => i.alt)")
        assert [c for c in cut if c[0] not in body] == [], cut
        assert await page.evaluate(FOCUS_VISIBLE), await page.evaluate("document.activeElement.id")
        start = await page.evaluate(BODY_START)
        assert start["float"] == "none" and start["left"] < start["width"] / 4, start
    assert page.errors == []


@pytest.mark.parametrize("size", SIZES)
async def test_image_path_focus_under_the_hint_bar_is_scrolled_into_view(tv, size):
    """A day with no free time: its one button (换一天, the focus) lay half under the image
    path's tall key-hint bar, inside the window, so tv.js did not scroll it into view (it
    looked at the window, not at #main's visible box). Now the focus is wholly in view."""
    server, _browser = tv
    await force_image_path(server, "DEMO-0001")
    page = await open_mn(tv, size)
    base = page.url.split("#")[0].rsplit("/", 1)[0] + "/"
    await page.goto(base + f"ap-slot?svc=notarisation&sp={POINT}&day={tomorrow().isoformat()}")
    await assert_image_path(page)
    assert await page.evaluate(FOCUSED) == "slot-back"
    await shot(page, "mn-img-ap-slot-none", size)
    assert await page.evaluate(FOCUS_VISIBLE)
    assert page.errors == []


# #main's scroll and the rectangles (canvas px, the focus ring's 6-px white band added) of the
# elements matching `sel` not wholly inside #main's visible part.
OFF_MAIN = (
    """(sel) => {"""
    + CLIP_FUNCTIONS
    + """
  var m = document.getElementById('main'), b = m.getBoundingClientRect(), out = [];
  var z = window.innerWidth / 1280, ring = 6 * z, els = document.querySelectorAll(sel);
  for (var i = 0; i < els.length; i++) {
    var r = els[i].getBoundingClientRect();
    if (!r.width) { continue; }
    if (r.left - ring < b.left - 1 || r.top - ring < b.top - 1 || r.right + ring > b.right + 1
        || r.bottom + ring > b.bottom + 1) {
      out.push([els[i].id].concat(pos(r).map(function (v) { return Math.round(v / z); }))); }
  }
  var ann = document.getElementById('ann');
  return {scrolled: m.scrollTop, tall: m.scrollHeight - m.clientHeight, off: out,
          ann: ann.getClientRects().length > 0 && !/overlay/.test(ann.className)}; }"""
)


@pytest.mark.parametrize("size", SIZES)
async def test_image_path_video_fits_under_the_announcement(tv, size):
    """With the announcement line showing, the picture (450 px tall) ran about 4 px under the
    key-hint bar, its focus ring more, and tv.js scrolled its top away instead. It now takes
    what is left of #main: the picture and its ring wholly in view, #main never scrolled."""
    server, _browser = tv
    await force_image_path(server, "DEMO-0004")
    pid = await server.app[keys.DB].fetchval(
        "SELECT id FROM programs WHERE slug = ?", (VIDEO_SLUG,)
    )
    page = await open_mn(tv, size, "DEMO-0004")
    await page.goto(page.url.split("#")[0].rsplit("/", 1)[0] + f"/v-{pid}")
    await assert_image_path(page)
    for key in (None, "ArrowUp", "ArrowDown"):  # with the info bar up, and gone
        if key:
            await page.keyboard.press(key)
            await page.wait_for_timeout(150)
        state = await page.evaluate(OFF_MAIN, "#video")
        assert state["ann"], state  # the demo's announcement line
        assert state["off"] == [] and state["scrolled"] == 0 and state["tall"] <= 1, (key, state)
    await shot(page, "mn-img-video-ann", size)
    assert page.errors == []


KEY_LABELS_CUT = """() => { var out = [], keys = document.querySelectorAll('.key');
  for (var i = 0; i < keys.length; i++) { var k = keys[i].getBoundingClientRect();
    var img = keys[i].querySelector('img');
    if (!img) { continue; }
    var r = img.getBoundingClientRect();
    if (r.top < k.top - 1 || r.bottom > k.bottom + 1 || r.left < k.left - 1
        || r.right > k.right + 1) { out.push(keys[i].id); } }
  return out; }"""


@pytest.mark.parametrize("size", SIZES)
async def test_image_path_phone_step_shows_the_whole_keypad(tv, size):
    """The phone step (callback and appointment) under the announcement line: the keypad's rows
    2-4 lay below the fold, scrolled to one at a time. A household must see every digit at once:
    the field, 下一步 and all twelve keys (清空 and 删除 drawn inside their keys) lie in #main's
    visible part, which never scrolls while the focus walks the keypad."""
    server, _browser = tv
    await force_image_path(server, "DEMO-0001")
    page = await open_mn(tv, size, "DEMO-0001")
    base = page.url.split("#")[0].rsplit("/", 1)[0] + "/"
    day = tomorrow().isoformat()
    for name, url in (
        ("cb", "cb-phone?svc=consultation"),
        ("ap", f"ap-phone?svc=notarisation&sp={POINT}&day={day}&at=09:00"),
    ):
        await page.goto(base + url)
        await assert_image_path(page)
        assert await page.evaluate(FOCUSED) == "k-1"
        seen = set()
        for key in ("ArrowDown", "ArrowDown", "ArrowDown", "ArrowRight", "ArrowRight", "ArrowUp"):
            await press(page, key)
            seen.add(await page.evaluate(FOCUSED))
            state = await page.evaluate(OFF_MAIN, "#phone, #phone-next, .key, .lead img")
            assert state["ann"], state
            assert state["off"] == [] and state["scrolled"] == 0 and state["tall"] <= 1, (
                name,
                key,
                state,
            )
        assert {"k-clr", "k-del"} <= seen, seen
        assert await page.evaluate(KEY_LABELS_CUT) == [], name
        assert await page.evaluate(IMAGES_CUT_OFF, False) == [], name
        await shot(page, f"mn-img-{name}-phone", size)
    assert page.errors == []


# The tallest text image of a program page's body and the height of the page's visible part
# (canvas px); text images cut off.
PAGE_COLUMNS = (
    """() => {"""
    + CLIP_FUNCTIONS
    + """
  var z = window.innerWidth / 1280, imgs = document.querySelectorAll('.page-body img.mi');
  var tallest = 0, cut = [], m = document.getElementById('main').getBoundingClientRect();
  for (var i = 0; i < imgs.length; i++) { var r = imgs[i].getBoundingClientRect();
    tallest = Math.max(tallest, r.height / z);
    if (clipped(imgs[i], r, 'main')) { cut.push([imgs[i].alt.slice(0, 10)].concat(pos(r))); } }
  return {tallest: Math.round(tallest), page: Math.round(m.height / z), cut: cut,
          images: imgs.length}; }"""
)


@pytest.mark.parametrize("size", SIZES)
async def test_image_path_program_page_columns_use_the_page_height(tv, size):
    """A program page's paragraphs were drawn in columns of at most 190 px, each paragraph under
    the last, leaving most of the page empty. Now the body's columns run as long as the page is
    tall (its paragraphs side by side), and none is cut off."""
    server, _browser = tv
    await force_image_path(server, "DEMO-0001")
    program = await server.app[keys.DB].fetchval(
        "SELECT id FROM programs WHERE slug = 'xianfa-gongmin-quanli'"
    )
    page = await open_mn(tv, size, "DEMO-0001")
    base = page.url.split("#")[0].rsplit("/", 1)[0] + "/"
    await page.goto(base + f"p-{program}-1")
    for number in (1, 2):
        await assert_image_path(page)
        state = await page.evaluate(PAGE_COLUMNS)
        await shot(page, f"mn-img-page-columns-{number}", size)
        assert state["images"] > 0 and state["cut"] == [], state
        assert state["tallest"] > 0.6 * state["page"], state
        if number == 1:
            await press(page, "ArrowRight", wait_nav=True)
    assert page.errors == []


@pytest.mark.parametrize("size", SIZES)
async def test_image_path_short_screens_fit_without_scrolling(tv, size):
    """Under the announcement line, the second row of the callback's topics, the programs'
    second row of categories (and their descriptions) and a region's place buttons started
    below the fold, brought up one by one as the focus reached them. Laid out for the drawn
    text, each screen shows all its choices at once: every focusable, focus ring included, lies
    in #main's visible part, which never scrolls while the keys walk the screen. (The directory's
    list of points and the service steps' cards are lists that still scroll.)"""
    server, _browser = tv
    await force_image_path(server, "DEMO-0001")
    page = await open_mn(tv, size, "DEMO-0001")
    base = page.url.split("#")[0].rsplit("/", 1)[0] + "/"
    walks = {
        "programs": ("ArrowDown", "ArrowRight", "ArrowRight", "ArrowRight", "ArrowUp"),
        "cb-topic?svc=mediation": ("ArrowDown", "ArrowRight", "ArrowRight", "ArrowUp"),
        "dir-150624": ("ArrowRight", "ArrowDown", "ArrowDown", "ArrowDown", "ArrowDown"),
    }
    for url, walk in walks.items():
        await page.goto(base + url)
        await assert_image_path(page)
        seen = {await page.evaluate(FOCUSED)}
        for key in (None, *walk):
            if key:
                await press(page, key)
                seen.add(await page.evaluate(FOCUSED))
            state = await page.evaluate(OFF_MAIN, "#main .f")
            assert state["ann"], state
            assert state["off"] == [] and state["scrolled"] == 0 and state["tall"] <= 1, (
                url,
                key,
                state,
            )
        assert len(seen) >= 4, (url, seen)
        assert await page.evaluate(IMAGES_CUT_OFF, False) == [], url
        await shot(page, "mn-img-fit-" + url.split("?")[0], size)
    assert page.errors == []
