"""The Mongolian TV in headless Chromium, key presses only, at 720p and 4K: the script runs
vertically in columns left to right with the served font subset, the journeys work, and the
Mongolian screens keep the page budget. Screenshots go to test-artifacts/ (mn-*.png)."""

from __future__ import annotations

import pytest

from tests.helpers import (
    CLIP_FUNCTIONS,
    FOCUS_VISIBLE,
    FOCUSED,
    MEASURE,
    POINT,
    SIZES,
    assert_image_path,
    force_image_path,
    no_overflow,
    open_mn,
    press,
    shot,
    tomorrow,
)
from tv_server import keys

pytestmark = pytest.mark.browser

# The page is Mongolian, written vertically, and its font (the served subset) is in use.
VERTICAL = """async () => {
  await document.fonts.ready;
  var c = getComputedStyle(document.getElementById('canvas'));
  var loaded = [];
  document.fonts.forEach(function (f) { if (f.status === 'loaded') { loaded.push(f.family); } });
  return [document.documentElement.lang, c.writingMode, loaded.join(',')]; }"""


async def assert_vertical(page):
    lang, mode, fonts = await page.evaluate(VERTICAL)
    assert (lang, mode) == ("mn", "vertical-lr"), page.url
    assert "LtvMong" in fonts, (page.url, fonts)


@pytest.mark.parametrize("size", SIZES)
async def test_mongolian_program_paging_and_back(tv, size):
    page = await open_mn(tv, size)
    assert await page.evaluate(FOCUSED) == "t-programs"
    await assert_vertical(page)
    await shot(page, "mn-home", size)
    await no_overflow(page)
    # Tiles two to a column, read top to bottom then left to right: Down moves to the
    # directory, Right to the next column's callback tile, Left and Up back.
    await press(page, "ArrowDown")
    assert await page.evaluate(FOCUSED) == "t-dir"
    await press(page, "ArrowUp")
    assert await page.evaluate(FOCUSED) == "t-programs"
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "t-cb"
    await press(page, "ArrowLeft")
    assert await page.evaluate(FOCUSED) == "t-programs"
    await press(page, "Enter", wait_nav=True)  # categories
    await assert_vertical(page)
    await shot(page, "mn-programs", size)
    # Categories run top to bottom in a column, the next column to the right.
    first = await page.evaluate(FOCUSED)
    await press(page, "ArrowDown")
    below = await page.evaluate(FOCUSED)
    assert below.startswith("cat-") and below != first
    await press(page, "ArrowUp")
    await press(page, "ArrowRight")
    category = await page.evaluate(FOCUSED)
    assert category.startswith("cat-") and category not in (first, below)
    await press(page, "Enter", wait_nav=True)  # that category's programs
    program = await page.evaluate(FOCUSED)
    assert program.startswith("prog-")
    await press(page, "Enter", wait_nav=True)
    assert page.url.endswith("-1")
    await assert_vertical(page)
    await press(page, "ArrowRight", wait_nav=True)
    assert (await page.inner_text("#indicator")).startswith("2 /")
    await shot(page, "mn-program-page", size)
    await no_overflow(page)
    await press(page, "ArrowLeft", wait_nav=True)
    assert (await page.inner_text("#indicator")).startswith("1 /")
    await press(page, "Backspace", wait_nav=True)
    assert "/c-" in page.url
    assert await page.evaluate(FOCUSED) == program
    await press(page, "Escape", wait_nav=True)
    assert await page.evaluate(FOCUSED) == category
    assert page.errors == []


@pytest.mark.parametrize("size", SIZES)
async def test_mongolian_directory_to_callback_receipt(tv, size):
    page = await open_mn(tv, size)
    await press(page, "ArrowDown")
    assert await page.evaluate(FOCUSED) == "t-dir"
    await press(page, "Enter", wait_nav=True)
    await assert_vertical(page)
    await shot(page, "mn-directory", size)
    # Each point is a column: the village room first, its township station to the right.
    await press(page, "ArrowRight")
    station = await page.evaluate("document.activeElement.textContent")
    assert "司法所公共法律服务工作站" in station
    await press(page, "Enter", wait_nav=True)
    assert await page.evaluate(FOCUSED) == "ask-callback"
    await assert_vertical(page)
    await shot(page, "mn-service-point", size)
    await press(page, "Enter", wait_nav=True)  # callback: choose the service
    assert await page.evaluate(FOCUSED) == "svc-consultation"
    await shot(page, "mn-callback-service", size)
    await press(page, "Enter", wait_nav=True)  # → the topic (optional): the first one
    assert (await page.evaluate(FOCUSED)).startswith("topic-")
    await press(page, "Enter", wait_nav=True)  # → phone
    for digit in "13800138000":
        await press(page, digit)
    assert await page.input_value("#phone") == "13800138000"
    await assert_vertical(page)
    await shot(page, "mn-callback-phone", size)
    await press(page, "Enter", wait_nav=True)  # OK after the digits: next (time window)
    assert (await page.evaluate(FOCUSED)).startswith("w-")
    await press(page, "Enter", wait_nav=True)  # → confirm
    assert "138 0013 8000" in await page.inner_text("main")
    await press(page, "Enter", wait_nav=True)  # submit → receipt
    ref = await page.inner_text("#ref")
    assert ref.isdigit() and len(ref) == 12
    await assert_vertical(page)
    await shot(page, "mn-receipt", size)
    await no_overflow(page)
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "r-mine"
    await press(page, "Enter", wait_nav=True)
    assert ref in await page.inner_text("main")
    await assert_vertical(page)
    await shot(page, "mn-my-requests", size)
    assert page.errors == []


MN_SCREENS = [
    "home",
    "programs",
    "dir",
    "cb",
    "cb-topic?svc=mediation",
    "mine",
    "cb-phone?svc=consultation",
    "cb-time?svc=consultation&phone=13800138000",
    "PROGRAM",
]


async def mn_screen_urls(tv, page):
    server, _browser = tv
    await page.goto(str(server.make_url("/tv/?stb=DEMO-0001&lang=mn")))
    base = page.url.split("#")[0].rsplit("/", 1)[0] + "/"
    program = await page.evaluate("""() => fetch('programs').then(r => r.text())
        .then(t => t.match(/href="(c-[a-z-]+)"/)[1]).then(c => fetch(c)).then(r => r.text())
        .then(t => t.match(/href="(p-\\d+)"/)[1])""")
    return [base + (program + "-1" if s == "PROGRAM" else s) for s in MN_SCREENS]


async def test_mongolian_screens_keep_the_budget(tv):
    """≤ 5 requests before first paint, ≤ 30 KB of HTML+CSS+JS (the vertical layout included),
    the font subset ≤ 40 KB, text ≥ 24 px and contrast ≥ 7:1 — on the Mongolian screens."""
    _server, browser = tv
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    problems = []
    for url in await mn_screen_urls(tv, page):
        responses = []

        def record(response, responses=responses):
            responses.append(response)

        page.on("response", record)
        await page.goto(url, wait_until="load")
        await page.evaluate("document.fonts.ready.then(function () { return 1; })")
        page.remove_listener("response", record)
        await assert_vertical(page)
        early = [r for r in responses if not r.url.endswith("/events")]
        assert len(early) <= 5, (url, [r.url for r in early])
        code = 0
        font = 0
        for response in early:
            if response.status >= 300:
                continue
            body = await page.evaluate(
                "u => fetch(u).then(r => r.arrayBuffer()).then(b => b.byteLength)", response.url
            )  # decoded bytes
            kind = response.url.split("?")[0].rsplit(".", 1)[-1]
            if kind in ("woff2", "woff"):
                font += body
            elif "/media/" not in response.url:
                code += body
        assert 0 < font <= 40 * 1024, (url, font)
        assert code <= 30 * 1024, (url, code)
        for item in await page.evaluate(MEASURE):
            if item["size"] < 24 or item["contrast"] < 7:
                problems.append((url.rsplit("/", 1)[1], item))
    assert problems == []


async def test_mongolian_screens_get_only_the_rules_they_use_and_look_the_same(tv):
    """A Mongolian screen's stylesheet holds only the rules it can use (the budget above), and
    the screen renders pixel for pixel as it does with the whole of tv.css and the layout."""
    from tv_server import tvfont

    server, browser = tv
    fonts = server.app[tvfont.FONT]
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    for url in await mn_screen_urls(tv, page):
        await page.goto(url, wait_until="load")
        await assert_vertical(page)
        served = await page.evaluate(
            "() => fetch(document.querySelector('link[rel=stylesheet]').href).then(r => r.text())"
        )
        pruned = await page.screenshot()
        name = served.split("src:url(")[1].split(".woff2")[0]
        whole = fonts.layout + served[served.index("\n@font-face") :]
        assert len(served) < len(whole) - 2000, url

        def fulfil(body):
            return lambda route, _request: route.fulfill(body=body, content_type="text/css")

        await page.route(f"**/tv/font/{name}.css", fulfil(whole))
        await page.goto(url, wait_until="load")
        await assert_vertical(page)
        assert await page.screenshot() == pruned, url
        await page.unroute(f"**/tv/font/{name}.css")


# The image-path home (tv_ui/mongolian_image.css): every focusable element, the adviser card, the
# hotline and the text images of the greeting and the bottom row wholly visible (#main clips what
# runs past it, under the key-hint bar; a card clips what runs past the card), and every text
# image inside its tile.
IMAGE_HOME_OUTSIDE = (
    """() => {"""
    + CLIP_FUNCTIONS
    + """
  var out = [], els = document.querySelectorAll(
    '#main .f, #adv-card, .hotline-card, .home-row img.mi, .welcome img.mi');
  for (var i = 0; i < els.length; i++) {
    var r = els[i].getBoundingClientRect();
    if (els[i].tagName === 'IMG' && !els[i].getClientRects().length) { continue; }  // not shown
    if (clipped(els[i], r, 'main')) { out.push([els[i].id || els[i].alt].concat(pos(r))); }
  }
  var imgs = document.querySelectorAll('.tile img.mi');
  for (var j = 0; j < imgs.length; j++) {
    var t = imgs[j].closest('.tile').getBoundingClientRect(), q = imgs[j].getBoundingClientRect();
    if (!inside(q, t)) { out.push([imgs[j].closest('.tile').id, imgs[j].alt].concat(pos(q))); }
  }
  return out; }"""
)
# How the home's text reads: the greeting line's images, and the tile labels set in more than two
# columns (a 26 px label column is 39 canvas px wide: wider than 80 is three or more crowded ones).
IMAGE_HOME_TEXT = """() => {
  var zoom = window.innerWidth / 1280, labels = document.querySelectorAll('.tile .label img.mi');
  var wide = [];
  for (var i = 0; i < labels.length; i++) {
    var w = labels[i].getBoundingClientRect().width / zoom;
    if (w > 80) { wide.push([labels[i].alt, Math.round(w)]); }
  }
  return {welcome: document.querySelectorAll('.welcome img.mi').length, wide_labels: wide,
          labels: labels.length}; }"""


@pytest.mark.parametrize("size", SIZES)
async def test_image_path_program_paging_and_back(tv, size):  # noqa: F811
    """A model forced to the image path (mongolian_text = 0): every Mongolian text block is an
    image, the home shows everything (bottom row included) with its labels in long columns, and
    focus, paging and Back work as on every other screen."""
    server, _browser = tv
    await force_image_path(server, "DEMO-0004")
    page = await open_mn(tv, size, "DEMO-0004")
    assert await page.evaluate(FOCUSED) == "t-programs"
    await assert_image_path(page)
    await shot(page, "mn-img-home", size)
    await no_overflow(page)
    assert await page.evaluate(IMAGE_HOME_OUTSIDE) == []
    greeting = await page.evaluate(IMAGE_HOME_TEXT)
    assert 1 <= greeting["welcome"] <= 2, greeting  # the greeting and the place: one image each
    assert greeting["labels"] == 5 and greeting["wide_labels"] == [], greeting
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "t-dir"
    await press(page, "ArrowLeft")
    await press(page, "Enter", wait_nav=True)  # categories
    await assert_image_path(page)
    await shot(page, "mn-img-programs", size)
    category = await page.evaluate(FOCUSED)
    assert category.startswith("cat-")
    await press(page, "Enter", wait_nav=True)
    program = await page.evaluate(FOCUSED)
    assert program.startswith("prog-")
    await press(page, "Enter", wait_nav=True)
    assert page.url.endswith("-1")
    await assert_image_path(page)
    await press(page, "ArrowRight", wait_nav=True)
    assert (await page.inner_text("#indicator")).startswith("2 /")
    await assert_image_path(page)
    await shot(page, "mn-img-program-page", size)
    await no_overflow(page)
    await press(page, "Backspace", wait_nav=True)
    assert "/c-" in page.url
    assert await page.evaluate(FOCUSED) == program
    await press(page, "Escape", wait_nav=True)
    assert await page.evaluate(FOCUSED) == category
    await press(page, "Escape", wait_nav=True)
    assert await page.evaluate(FOCUSED) == "t-programs"
    # Back home with a program to resume: the resume tile joins the bottom row, still on screen.
    assert await page.query_selector("#t-resume") is not None
    await shot(page, "mn-img-home-resume", size)
    assert await page.evaluate(IMAGE_HOME_OUTSIDE) == []
    await press(page, "ArrowRight")
    await press(page, "Enter", wait_nav=True)  # the directory
    await assert_image_path(page)
    await shot(page, "mn-img-directory", size)
    assert page.errors == []


# Every focusable element of the screen lies wholly inside the window (nothing off to the right).
FOCUSABLES_OUTSIDE = """() => {
  var out = [], els = document.querySelectorAll('.f');
  for (var i = 0; i < els.length; i++) {
    var r = els[i].getBoundingClientRect();
    if (r.left < -1 || r.top < -1 || r.right > window.innerWidth + 1
        || r.bottom > window.innerHeight + 1 || r.width === 0) {
      out.push([els[i].id, Math.round(r.left), Math.round(r.top), Math.round(r.right),
                Math.round(r.bottom)]); }
  }
  return out; }"""


@pytest.mark.parametrize("size", SIZES)
async def test_mongolian_home_shows_everything_on_screen(tv, size):  # noqa: F811
    """The vertical home: the five tiles, the resume tile, the adviser card, the language tile
    and the hotline all inside the screen, reachable with the arrow keys."""
    page = await open_mn(tv, size)
    # Watch a program page first, so that home has its 继续观看 tile too.
    await press(page, "Enter", wait_nav=True)
    await press(page, "Enter", wait_nav=True)
    await press(page, "Enter", wait_nav=True)
    await press(page, "Escape", wait_nav=True)
    await press(page, "Escape", wait_nav=True)
    await press(page, "Escape", wait_nav=True)
    await assert_vertical(page)
    for needed in ("#t-resume", "#adv-card", "#t-lang", ".hotline-card"):
        assert await page.query_selector(needed), needed
    await shot(page, "mn-home-full", size)
    assert await page.evaluate(FOCUSABLES_OUTSIDE) == []
    hotline = await page.evaluate(
        """() => { var r = document.querySelector('.hotline-card').getBoundingClientRect();
        return r.right <= window.innerWidth + 1 && r.bottom <= window.innerHeight + 1; }"""
    )
    assert hotline
    # 12348 stands upright, digit under digit (mlreq): a tall narrow run in its column.
    number = await page.evaluate(
        """() => { var n = document.querySelector('.hotline-card .upr');
        var r = n.getBoundingClientRect();
        return [n.textContent, getComputedStyle(n).textOrientation, r.height / r.width]; }"""
    )
    assert number[:2] == ["12348", "upright"] and number[2] > 2, number
    # Every focusable can be reached with the arrow keys.
    seen = set()
    for key in ["ArrowRight"] * 8 + ["ArrowDown"] * 3 + ["ArrowLeft"] * 8 + ["ArrowUp"] * 3:
        await press(page, key)
        seen.add(await page.evaluate(FOCUSED))
    ids = set(await page.evaluate("Array.from(document.querySelectorAll('.f'), e => e.id)"))
    assert ids <= seen | {"t-programs"}, ids - seen
    assert page.errors == []


# Every character of the video page's time display with its box on the screen, in the order
# of the text (spaces left out), and the video's real length.
TIME_GLYPHS = """() => {
  var out = [], walker = document.createTreeWalker(document.getElementById('player-time'),
    NodeFilter.SHOW_TEXT, null, false);
  while (walker.nextNode()) {
    var node = walker.currentNode;
    for (var i = 0; i < node.data.length; i++) {
      if (!node.data[i].trim()) { continue; }
      var range = document.createRange(); range.setStart(node, i); range.setEnd(node, i + 1);
      var r = range.getBoundingClientRect();
      if (r.width > 0) { out.push([node.data[i], r.left, r.top, r.right, r.bottom]); }
    }
  }
  var bar = document.getElementById('info').getBoundingClientRect(),
      video = document.getElementById('video');
  var track = document.querySelector('.player-track').getBoundingClientRect(),
      done = document.getElementById('player-done').getBoundingClientRect();
  return {glyphs: out, bar: [bar.left, bar.top, bar.right, bar.bottom],
          duration: video.duration, share: video.currentTime / video.duration,
          track: [track.width, track.height], done: [done.width, done.height],
          zoom: window.innerWidth / 1280};
}"""


@pytest.mark.parametrize("size", SIZES)
async def test_mongolian_video_time_reads_upright_with_the_real_length(tv, size):
    """The font path's time display once lay turned sideways and wrapped into two columns, so
    that a viewer tilting the head read "0:16 / 0:00" (the position as the length). Now each
    clock is an upright unit (mlreq: a number read as a whole set upright): its characters on
    one line left to right, the position above the length, and the length the video's real one,
    while it plays and after a pause, all inside the info bar; and the progress track shows,
    down the bar's column (it was 0 px wide)."""
    server, _browser = tv
    pid = await server.app[keys.DB].fetchval(
        "SELECT id FROM programs WHERE slug = 'fang-dianxin-zhapian'"
    )
    page = await open_mn(tv, size, "DEMO-0003")
    await page.goto(page.url.split("#")[0].rsplit("/", 1)[0] + f"/v-{pid}")
    await assert_vertical(page)
    await page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    await page.keyboard.press("Enter")  # OK: play
    await page.wait_for_function("() => document.getElementById('video').currentTime > 2")
    await page.keyboard.press("Enter")  # OK: pause; the bar shows
    await page.wait_for_selector("#info:not(.hidden)")
    state = await page.evaluate(TIME_GLYPHS)
    await shot(page, "mn-video-time", size)
    text = "".join(g[0] for g in state["glyphs"])
    now, _, length = text.partition("/")
    seconds = round(state["duration"])
    assert length == f"{seconds // 60}:{seconds % 60:02d}" == "0:16", text
    assert now.startswith("0:0") and now != "0:00", text
    clocks = [state["glyphs"][: len(now)], state["glyphs"][len(now) + 1 :]]
    for clock in clocks:  # upright: one line, read left to right
        tops = [g[2] for g in clock]
        lefts = [g[1] for g in clock]
        assert max(tops) - min(tops) < 2 and lefts == sorted(lefts), clock
    assert clocks[1][0][2] >= clocks[0][0][4] - 1, state  # the length under the position
    # The track runs down the column, filled down to the share played (it was 0 px wide).
    width, height = (v / state["zoom"] for v in state["track"])
    assert width >= 10 and height >= 80, state
    assert state["done"][0] == state["track"][0], state
    assert state["done"][1] == pytest.approx(state["share"] * state["track"][1], abs=3), state
    left, top, right, bottom = state["bar"]
    for g in state["glyphs"]:  # (a glyph's box is the font's whole height: its middle)
        assert left <= g[1] and g[3] <= right and top <= (g[2] + g[4]) / 2 <= bottom, (g, state)
    assert page.errors == []


# Focusable elements and elements with text of their own that stick out of #main's sides (the
# announcement and key-hint columns lie there) or off the canvas: [tag, id, text, rect].
# Rows above or below #main's visible part are a list the focus scrolls to, not cut off.
OUT_OF_PLACE = (
    """() => {"""
    + CLIP_FUNCTIONS
    + """
  var out = [], all = document.querySelectorAll('#canvas *');
  var main = document.getElementById('main'), m = main.getBoundingClientRect();
  for (var i = 0; i < all.length; i++) {
    var el = all[i], own = /\\bf\\b/.test(el.className);
    for (var n = el.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 3 && n.data.trim()) { own = true; } }
    if (!own || !el.getClientRects().length) { continue; }
    var r = el.getBoundingClientRect(), cut;
    if (r.width < 1 || r.height < 1) { continue; }
    if (main.contains(el)) { cut = r.left < m.left - 1 || r.right > m.right + 1; }
    else { cut = !inside(r, document.getElementById('canvas').getBoundingClientRect()); }
    if (cut) { out.push([el.tagName, el.id, el.textContent.trim().slice(0, 20)].concat(pos(r))); }
  }
  return out; }"""
)


# Tags (ᠮᠣᠩᠭᠣᠯ on the directory's rows) cut off by a box around them (a row's name clips).
TAGS_CUT = (
    "() => {"
    + CLIP_FUNCTIONS
    + """
  var out = [], tags = document.querySelectorAll('.tag');
  for (var i = 0; i < tags.length; i++) { var r = tags[i].getBoundingClientRect();
    if (r.width && boxCut(tags[i], r, 'canvas')) { out.push(pos(r)); } }
  return out; }"""
)


@pytest.mark.parametrize("size", SIZES)
async def test_font_path_screens_keep_their_columns_on_the_screen(tv, size):
    """Font path, with the demo's announcement column showing: the adviser's call button lay
    off the canvas' right edge (tv.css' 130-px label widths spread the facts), the last program
    page's buttons ran under the key-hint column, the video page's and the directory's key
    hints ran off the canvas in a second column, and the directory's ᠮᠣᠩᠭᠣᠯ tags were cut at
    both sides by their row's name box. Every focusable and every text is now within #main's
    sides (or, outside #main, on the canvas), no tag is cut, and the focus shows."""
    server, _browser = tv
    db = server.app[keys.DB]
    program = await db.fetchval("SELECT id FROM programs WHERE slug = 'xianfa-gongmin-quanli'")
    video = await db.fetchval("SELECT id FROM programs WHERE slug = 'fang-dianxin-zhapian'")
    page = await open_mn(tv, size)
    base = page.url.split("#")[0].rsplit("/", 1)[0] + "/"
    for name in ("adv", f"p-{program}-1", f"p-{program}-2", f"v-{video}", "dir"):
        await page.goto(base + name)
        await assert_vertical(page)
        await page.wait_for_timeout(100)
        await shot(page, "mn-" + name.split("-")[0] + name[-1], size)
        assert await page.evaluate(OUT_OF_PLACE) == [], name
        assert await page.evaluate(FOCUS_VISIBLE), (name, await page.evaluate(FOCUSED))
        await no_overflow(page)
        assert await page.evaluate(TAGS_CUT) == [], name
    assert page.errors == []


# The phone step's focus: its id and whether it (with its 12-px focus ring) lies on the screen.
PHONE_NEXT = """() => { var el = document.activeElement, r = el.getBoundingClientRect();
  var ring = 12 * window.innerWidth / 1280;
  return {id: el.id, bottom: Math.round(r.bottom + ring), screen: window.innerHeight}; }"""


@pytest.mark.parametrize("size", SIZES)
async def test_font_path_phone_step_keeps_next_on_the_screen(tv, size):
    """The vertical number field (520 px) pushed 下一步 under it 4 px past the screen's foot at
    720p (callback and appointment flows). After the eleven digits Down goes to 下一步 under the
    field: it and its focus ring lie wholly on the screen."""
    page = await open_mn(tv, size)
    base = page.url.split("#")[0].rsplit("/", 1)[0] + "/"
    day = tomorrow().isoformat()
    for name, url in (
        ("cb", "cb-phone?svc=consultation"),
        ("ap", f"ap-phone?svc=notarisation&sp={POINT}&day={day}&at=09:00"),
    ):
        await page.goto(base + url)
        await assert_vertical(page)
        for digit in "13800138000":
            await press(page, digit)
        assert await page.input_value("#phone") == "13800138000"
        await press(page, "ArrowDown")  # down the column: 下一步
        state = await page.evaluate(PHONE_NEXT)
        await shot(page, f"mn-{name}-phone-next", size)
        assert state["id"] == "phone-next" and state["bottom"] <= state["screen"], (name, state)
        await no_overflow(page)
    assert page.errors == []
