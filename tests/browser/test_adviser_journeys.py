"""Key-only journeys to the village's legal adviser and the rating screen, at 720p and 4K:
home → 我村法律顾问 → 请他/她回电 → 我的申请, then the completed callback rated with a digit key.
Screenshots of the card, the adviser's page and the rating screen go to test-artifacts/."""

from __future__ import annotations

import pytest

from accounts import users
from callbacks import lifecycle
from tests.helpers import FOCUSED, SIZES, no_overflow, open_box, press, shot
from tv_server import keys

pytestmark = pytest.mark.browser

# Each box of home's bottom row against #main, which clips what sticks out of it.
ROW_INSIDE_MAIN = """() => { var m = document.getElementById('main').getBoundingClientRect();
    return Array.prototype.map.call(
        document.querySelectorAll('.home-row > *, #adv-card, #t-adv-call, #t-lang'),
        function (e) { var r = e.getBoundingClientRect();
            return [e.id || e.className, r.bottom <= m.bottom + 0.5 && r.right <= m.right + 0.5,
                    r.bottom, m.bottom]; }); }"""
# Lines of the adviser card cut short by their ellipsis (the sitting time must show whole).
CARD_LINES_CUT = """() => Array.prototype.filter.call(
    document.querySelectorAll('#adv-card .adv-link, #adv-card .adv-when'),
    function (e) { return e.scrollWidth > e.clientWidth + 1; }).map(function (e) {
        return e.textContent; })"""
# The focused element's white ring (6 px outside it) against every ancestor that clips.
RING_CLIPPED_BY = """() => { var e = document.activeElement, r = e.getBoundingClientRect(),
    z = parseFloat(getComputedStyle(document.documentElement).zoom) || 1, ring = 6 * z, out = [];
    for (var a = e.parentElement; a; a = a.parentElement) {
        if (getComputedStyle(a).overflow === 'visible') continue;
        var b = a.getBoundingClientRect();
        if (r.left - ring < b.left - 0.5 || r.right + ring > b.right + 0.5
            || r.top - ring < b.top - 0.5 || r.bottom + ring > b.bottom + 0.5)
            out.push(a.id || a.className);
    }
    return out; }"""


@pytest.mark.parametrize("size", SIZES)
async def test_adviser_callback_then_rating_with_a_digit(tv, size):
    server, _browser = tv
    db = server.app[keys.DB]
    page = await open_box(tv, size)
    await press(page, "ArrowDown")
    assert await page.evaluate(FOCUSED) == "t-adv"
    await no_overflow(page)
    clipped = [box for box in await page.evaluate(ROW_INSIDE_MAIN) if not box[1]]
    assert clipped == []  # the card, the language tile and the hotline card are whole
    assert await page.evaluate(CARD_LINES_CUT) == []
    await press(page, "ArrowDown")  # the one-key 请他/她回电 is wholly on screen too
    assert await page.evaluate(FOCUSED) == "t-adv-call"
    assert await page.evaluate(RING_CLIPPED_BY) == []  # its focus ring shows whole
    await shot(page, "adviser-card", size)
    await press(page, "ArrowUp")
    assert await page.evaluate(FOCUSED) == "t-adv"
    await press(page, "Enter", wait_nav=True)  # the adviser's page
    assert await page.evaluate(FOCUSED) == "adv-call"
    assert "可以帮您" in await page.inner_text("main")
    await shot(page, "adviser-page", size)
    await no_overflow(page)
    await press(page, "Enter", wait_nav=True)  # 请他/她回电 → the callback flow's phone step
    assert "律师回电" in await page.inner_text("main")
    for digit in "13800138000":
        await press(page, digit)
    for _ in range(6):
        if await page.evaluate(FOCUSED) in ("phone", "phone-next"):
            break
        await press(page, "ArrowUp")
    if await page.evaluate(FOCUSED) == "phone":
        await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "phone-next"
    await press(page, "Enter", wait_nav=True)  # → time window
    await press(page, "Enter", wait_nav=True)  # 上午 → confirm
    assert "法律顾问" in await page.inner_text("main")
    await press(page, "Enter", wait_nav=True)  # 确认提交 → receipt
    ref = await page.inner_text("#ref")
    await press(page, "ArrowDown")
    assert await page.evaluate(FOCUSED) == "r-mine"
    await press(page, "Enter", wait_nav=True)  # 我的申请
    assert ref in await page.inner_text("main")
    adviser_id = await db.fetchval("SELECT adviser_id FROM callback_requests WHERE ref = ?", (ref,))
    assert adviser_id is not None

    # Staff complete it; the household's next visit to home asks for a rating.
    ticket = await lifecycle.get_by_ref(db, ref)
    admin = await users.find_user(db, "admin")
    await lifecycle.claim(db, ticket.id, admin.id)
    await lifecycle.complete(db, ticket.id, admin.id, "已电话解答")
    await press(page, "Backspace", wait_nav=True)  # home → the rating screen
    assert f"rate-{ref}" in page.url
    assert await page.evaluate(FOCUSED) == "score-5"
    await shot(page, "rating", size)
    await no_overflow(page)
    await press(page, "4")  # the number key gives the score, OK sends it
    assert await page.input_value("#score") == "4"
    assert await page.evaluate(FOCUSED) == "score"
    await press(page, "Enter", wait_nav=True)
    assert "您打了 4 分" in await page.inner_text("main")
    await shot(page, "rating-reason", size)
    await press(page, "ArrowRight")
    assert await page.evaluate(FOCUSED) == "why-clear"
    await press(page, "Enter", wait_nav=True)  # 讲得清楚 → home
    assert page.url.split("#")[0].endswith("/home")
    row = await db.fetchone(
        "SELECT score, reason, adviser_id FROM ratings WHERE kind = 'callback' AND ref = ?", (ref,)
    )
    assert tuple(row) == (4, "clear", adviser_id)
    assert page.errors == []


@pytest.mark.parametrize("size", SIZES)
async def test_with_a_program_to_resume_the_bottom_row_still_fits(tv, size):
    """继续观看 joins the adviser card, the language tile and the hotline in the bottom row: the
    row stays inside #main and the adviser's name and sitting time show whole."""
    server, _browser = tv
    page = await open_box(tv, size)
    program = await server.app[keys.DB].fetchval(
        "SELECT id FROM programs WHERE status = 'published' ORDER BY id LIMIT 1"
    )
    base = page.url.rsplit("/", 1)[0] + "/"
    await page.goto(base + f"p-{program}-2")  # read on to page 2: home offers to resume
    await page.goto(base + "home")
    assert await page.query_selector("#t-resume") is not None
    assert await page.query_selector("#adv-card") is not None
    await no_overflow(page)
    clipped = [box for box in await page.evaluate(ROW_INSIDE_MAIN) if not box[1]]
    assert clipped == []
    assert await page.evaluate(CARD_LINES_CUT) == []
    assert "12348" in await page.inner_text(".hotline-card")
    await shot(page, "adviser-card-resume", size)
    assert page.errors == []
