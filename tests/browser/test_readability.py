"""Readability at 3 m and the page budget, measured in the real browser on the real screens:
body text ≥ 24 px on the 1280x720 canvas, contrast ≥ 7:1, ≤ 5 requests before first paint."""

from __future__ import annotations

import pytest

from tests.helpers import MEASURE, make_settings
from tv_server.app import create_app

pytestmark = pytest.mark.browser

SCREENS = [
    "home",
    "programs",
    "dir",
    "cb",
    "cb-topic?svc=mediation",
    "mine",
    "cb-phone?svc=consultation",
    "adv",
    "PROGRAM",
]


@pytest.fixture
async def browser_and_server(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    return chromium, server


async def screen_urls(server, page):
    await page.goto(str(server.make_url("/tv/?stb=DEMO-0001")))
    base = page.url.rsplit("/", 1)[0] + "/"
    program = await page.evaluate("""() => fetch('programs').then(r => r.text())
        .then(t => t.match(/href="(c-[a-z-]+)"/)[1]).then(c => fetch(c)).then(r => r.text())
        .then(t => t.match(/href="(p-\\d+)"/)[1])""")
    return [base + (program + "-1" if s == "PROGRAM" else s) for s in SCREENS]


async def test_text_is_large_and_contrasty_on_every_screen(browser_and_server):
    browser, server = browser_and_server
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    problems = []
    for url in await screen_urls(server, page):
        await page.goto(url)
        measured = await page.evaluate(MEASURE)
        assert len(measured) >= 8, (url, measured)  # the measurement really saw the screen
        for item in measured:
            if item["size"] < 24:
                problems.append((url.rsplit("/", 1)[1], item["text"], "size", item["size"]))
            if item["contrast"] < 7:
                problems.append(
                    (url.rsplit("/", 1)[1], item["text"], "contrast", round(item["contrast"], 2))
                )
    assert problems == []


async def test_focus_ring_contrasts_with_unfocused_tiles(browser_and_server):
    browser, server = browser_and_server
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    await page.goto(str(server.make_url("/tv/?stb=DEMO-0001")))
    styles = await page.evaluate("""() => ['t-programs', 't-dir'].map(function (id) {
        var s = getComputedStyle(document.getElementById(id));
        return [s.backgroundColor, s.boxShadow]; })""")
    focused, plain = styles
    assert focused[0] != plain[0]
    assert focused[1] != "none" and plain[1] == "none"


async def test_at_most_five_requests_before_first_paint(browser_and_server):
    browser, server = browser_and_server
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    urls = await screen_urls(server, page)
    for url in urls:
        requests = []

        def record(request, requests=requests):
            requests.append(request)

        page.on("request", record)
        await page.goto(url, wait_until="load")
        page.remove_listener("request", record)
        early = [r.url for r in requests if not r.url.endswith("/events")]
        assert len(early) <= 5, (url, early)


async def test_each_box_family_gets_its_key_map(browser_and_server):
    browser, server = browser_and_server
    from tv_server import keys

    db = server.app[keys.DB]
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO device_models (model, vendor, keymap_family, screen_profile)"
            " VALUES ('IPANEL-TEST', 'test', 'ipanel', '720p')"
        )
        await tx.execute("UPDATE devices SET model = 'IPANEL-TEST' WHERE serial = 'DEMO-0003'")
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    await page.goto(str(server.make_url("/tv/?stb=DEMO-0003")))
    assert await page.evaluate("document.activeElement.id") == "t-programs"
    # iPanel's Right is key code 4 (its arrows are 1/2/3/4 for up/down/left/right).
    await page.evaluate("""() => { var e = document.createEvent('Event');
        e.initEvent('keydown', true, true); e.keyCode = 4; e.which = 4;
        document.activeElement.dispatchEvent(e); }""")
    await page.wait_for_timeout(100)
    assert await page.evaluate("document.activeElement.id") == "t-dir"
