"""What a household stumbles on in everyday use, in headless Chromium with key presses only, at
the 720p canvas and at 4K: program text that does not fit its page, the phone step's OK, the
number to check before sending, services in plain words, 我的申请 without dead ends."""

from __future__ import annotations

import pytest

from tests.helpers import FOCUSED, MEASURE, SIZES, open_box, press, shot

pytestmark = pytest.mark.browser


# Every line of text of the reader page: an id stable across scrolling, and whether the line
# lies wholly inside the visible part of the page box, of #main and of the window.
LINES = """() => {
  var s = document.querySelector('article.page'), m = document.getElementById('main');
  var a = s.getBoundingClientRect(), b = m.getBoundingClientRect();
  var top = Math.max(a.top, b.top, 0), bottom = Math.min(a.bottom, b.bottom, innerHeight);
  var left = Math.max(a.left, b.left, 0), right = Math.min(a.right, b.right, innerWidth);
  var w = document.createTreeWalker(s, NodeFilter.SHOW_TEXT), n, i = 0, out = [];
  while ((n = w.nextNode())) {
    i++;
    if (!n.nodeValue.trim()) { continue; }
    var r = document.createRange(); r.selectNodeContents(n);
    var rects = r.getClientRects();
    for (var j = 0; j < rects.length; j++) {
      var q = rects[j];
      if (q.width < 1) { continue; }
      out.push([i + ':' + j, q.top >= top - 1 && q.bottom <= bottom + 1 && q.left >= left - 1
        && q.right <= right + 1, n.nodeValue.trim().slice(0, 24)]);
    }
  }
  var more = document.getElementById('more');
  return {lines: out, more: !!(more && more.offsetWidth > 0 && more.offsetHeight > 0)};
}"""


async def base_url(page) -> str:
    return page.url.split("#")[0].rsplit("/", 1)[0] + "/"


async def program_ids(page) -> list[str]:
    """Every program the box can open, found by following the screens' own links."""
    return await page.evaluate(
        """async () => {
        var t = await (await fetch('programs')).text(), out = [];
        var cats = t.match(/href="c-[a-z0-9-]+"/g) || [];
        for (var c of cats) {
          var url = c.slice(6, -1);
          while (url) {
            var h = await (await fetch(url)).text();
            for (var p of (h.match(/href="p-\\d+"/g) || [])) { out.push(p.slice(6, -1)); }
            var next = h.match(/rel="next" href="([^"]+)"/);
            url = next ? next[1].replace(/&amp;/g, '&') : null;
          }
        }
        return Array.from(new Set(out)); }"""
    )


async def read_whole_page(page) -> tuple[set, set, int]:
    """Press Down until the "more" marker goes; return the lines seen, all lines, presses."""
    measured = await page.evaluate(LINES)
    every = {line[0] for line in measured["lines"]}
    seen = {line[0] for line in measured["lines"] if line[1]}
    presses = 0
    while measured["more"] and presses < 20:
        await press(page, "ArrowDown")
        presses += 1
        measured = await page.evaluate(LINES)
        seen |= {line[0] for line in measured["lines"] if line[1]}
    return seen, every, presses


@pytest.mark.parametrize("size", SIZES)
async def test_no_program_page_hides_text(tv, size):
    """Every page of every demo program: each line of text is on screen, at once or after Down
    presses that a visible "▼ 更多" marker asks for; Down never moves the focus."""
    page = await open_box(tv, size)
    base = await base_url(page)
    programs = await program_ids(page)
    assert len(programs) >= 10, programs
    hidden = []
    checked = 0
    for pid in programs:
        number = 1
        while True:
            await page.goto(f"{base}{pid}-{number}")
            await page.wait_for_load_state("load")
            focused = await page.evaluate(FOCUSED)
            seen, every, _presses = await read_whole_page(page)
            assert await page.evaluate(FOCUSED) == focused, f"Down moved focus on {pid}-{number}"
            checked += 1
            missing = every - seen
            if missing:
                lines = {x[0]: x[2] for x in (await page.evaluate(LINES))["lines"]}
                hidden.append((f"{pid}-{number}", [lines.get(m) for m in sorted(missing)]))
            indicator = await page.inner_text("#indicator")
            current, total = (int(x) for x in indicator.split("/"))
            if current >= total:
                break
            number += 1
    assert checked >= 40
    assert hidden == []


@pytest.mark.parametrize("size", SIZES)
async def test_long_page_scrolls_with_a_marker_and_still_turns(tv, size):
    """草场流转合同怎么签, page 2: its last two items come into view with Down, under a visible
    "▼ 更多"; Left/Right still turn pages."""
    page = await open_box(tv, size)
    base = await base_url(page)
    pid = await page.evaluate(
        """async () => { var t = await (await fetch('c-caoyuan-tudi')).text();
        var m = t.match(/href="(p-\\d+)"[^>]*>(?:(?!<\\/a>)[\\s\\S])*草场流转合同怎么签/);
        return m[1]; }"""
    )
    await page.goto(f"{base}{pid}-2")
    main = await page.inner_text("main")
    assert "双方的权利义务和违约责任" in await page.inner_text("article.page")
    measured = await page.evaluate(LINES)
    assert measured["more"], "a page taller than its box shows ▼ 更多"
    assert "更多" in await page.inner_text("#more")
    if size == (1280, 720):
        await readable(page)
    await shot(page, "program-page-more", size)
    focused = await page.evaluate(FOCUSED)
    seen, every, presses = await read_whole_page(page)
    assert presses >= 1 and seen == every
    assert await page.evaluate(FOCUSED) == focused
    visible = {x[2] for x in (await page.evaluate(LINES))["lines"] if x[1]}
    assert any("违约责任" in text for text in visible)
    assert any("盖章见证" in text for text in visible)
    assert not (await page.evaluate(LINES))["more"]
    await shot(page, "program-page-scrolled", size)
    await press(page, "ArrowUp")  # back up: the marker returns
    assert (await page.evaluate(LINES))["more"]
    await press(page, "ArrowRight", wait_nav=True)
    assert (await page.inner_text("#indicator")).startswith("3 /")
    assert main  # the page had text at all
    assert page.errors == []


async def readable(page):
    """Body text >= 24 px on the 720p canvas and contrast >= 7:1 (as test_readability)."""
    problems = [
        (m["text"], m["size"], round(m["contrast"], 2))
        for m in await page.evaluate(MEASURE)
        if m["size"] < 24 or m["contrast"] < 7
    ]
    assert problems == [], page.url


# ------------------------------------------------------------------ the phone step


async def to_phone_step(page):
    base = await base_url(page)
    await page.goto(base + "cb")
    await press(page, "Enter", wait_nav=True)  # the first service
    if "cb-topic" in page.url:  # the optional "what is it about": skip it
        for key in ("ArrowDown", "ArrowRight", "ArrowRight"):
            await press(page, key)
        assert await page.evaluate(FOCUSED) == "topic-skip"
        await press(page, "Enter", wait_nav=True)
    assert await page.evaluate(FOCUSED) == "k-1"


@pytest.mark.parametrize("size", SIZES)
async def test_ok_after_typing_the_number_goes_on(tv, size):
    page = await open_box(tv, size)
    await to_phone_step(page)
    for digit in "13812345678":
        await press(page, digit)
    assert await page.input_value("#phone") == "13812345678"
    await press(page, "Enter", wait_nav=True)  # the natural OK: 下一步, not another "1"
    assert "cb-time" in page.url
    assert page.errors == []


async def test_ok_after_a_few_remote_digits_submits_and_the_error_focuses_the_field(tv):
    page = await open_box(tv, (1280, 720))
    await to_phone_step(page)
    for digit in "12345":
        await press(page, digit)
    await press(page, "Enter", wait_nav=True)
    assert "电话号码不正确" in await page.inner_text(".error")
    assert await page.input_value("#phone") == "12345"
    assert await page.evaluate(FOCUSED) == "phone"
    async with page.expect_response(lambda r: r.request.method == "POST"):
        await page.keyboard.press("Enter")  # OK again submits again, adds nothing
    await page.wait_for_load_state("load")
    assert await page.input_value("#phone") == "12345"
    assert await page.evaluate(FOCUSED) == "phone"


async def test_keypad_completing_a_mobile_number_moves_to_next(tv):
    page = await open_box(tv, (1280, 720))
    await to_phone_step(page)
    for digit in "1381234567":
        await press(page, digit)
    await press(page, "ArrowDown")  # from the field onto the keypad: "1"
    assert await page.evaluate(FOCUSED) == "k-1"
    await press(page, "Enter")  # the eleventh digit from the on-screen keypad
    assert await page.input_value("#phone") == "13812345671"
    assert await page.evaluate(FOCUSED) == "phone-next"
    await press(page, "Enter", wait_nav=True)
    assert "cb-time" in page.url


@pytest.mark.parametrize("size", SIZES)
async def test_confirm_shows_the_whole_number_grouped(tv, size):
    page = await open_box(tv, size)
    await to_phone_step(page)
    for digit in "13812345678":
        await press(page, digit)
    await press(page, "Enter", wait_nav=True)
    await press(page, "Enter", wait_nav=True)  # the first time window
    assert "cb-confirm" in page.url
    main = await page.inner_text("main")
    assert "138 1234 5678" in main and "****" not in main
    await shot(page, "callback-confirm", size)
    await press(page, "Enter", wait_nav=True)  # submit: the receipt masks again
    receipt = await page.inner_text("main")
    assert "138****5678" in receipt
    assert "138 1234 5678" not in receipt and "13812345678" not in receipt


# ------------------------------------------------------------ services, topic, 我的申请


@pytest.mark.parametrize("size", SIZES)
async def test_plain_words_topic_and_my_requests_without_dead_ends(tv, size):
    page = await open_box(tv, size)
    base = await base_url(page)
    await page.goto(base + "cb")
    for _ in range(2):
        await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "svc-mediation"
    assert "邻里、土地、草场纠纷，帮您调解" in await page.inner_text("#svc-mediation")
    await shot(page, "callback-service", size)
    await press(page, "Enter", wait_nav=True)
    assert "cb-topic" in page.url and await page.evaluate(FOCUSED) == "topic-land"
    await shot(page, "callback-topic", size)
    if size == (1280, 720):
        await readable(page)
    await press(page, "Enter", wait_nav=True)  # 土地草场
    for digit in "13812345678":
        await press(page, digit)
    await press(page, "Enter", wait_nav=True)
    await press(page, "Enter", wait_nav=True)  # 上午
    assert "人民调解 · 土地草场" in await page.inner_text("main")
    await press(page, "Enter", wait_nav=True)  # 确认提交 → receipt
    ref = await page.inner_text("#ref")
    assert "最晚在" in await page.inner_text("#call-day")
    await shot(page, "receipt", size)
    await press(page, "ArrowDown")
    await press(page, "Enter", wait_nav=True)  # 查看我的申请
    assert await page.evaluate(FOCUSED) == f"req-{ref}"
    row = await page.inner_text(f"#req-{ref}")
    for text in ("申请", "最晚", "上午 8:30—12:00", "司法所", "已收到"):
        assert text in row, row
    await shot(page, "my-requests", size)
    if size == (1280, 720):
        await readable(page)
    await press(page, "Enter", wait_nav=True)  # OK on the row: its detail
    assert f"m-{ref}" in page.url and await page.evaluate(FOCUSED) == "r-mine"
    assert "土地草场" in await page.inner_text("main")
    await shot(page, "request-detail", size)
    if size == (1280, 720):
        await readable(page)
    await press(page, "Backspace", wait_nav=True)  # Back: the list, on that row
    assert "/mine" in page.url and await page.evaluate(FOCUSED) == f"req-{ref}"
    await press(page, "ArrowDown")
    assert await page.evaluate(FOCUSED) == f"cancel-{ref}"
    await press(page, "Enter", wait_nav=True)
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "cc-cancel"
    await press(page, "Enter", wait_nav=True)  # 确定取消 → the list
    assert "/mine" in page.url and "您已取消" in await page.inner_text(f"#req-{ref}")
    await press(page, "Backspace", wait_nav=True)  # Back: home, not the cancel screen
    assert page.url.split("#")[0].endswith("/home")
    assert page.errors == []
