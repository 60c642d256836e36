"""The legal basis on the TV, measured in the real browser: on every page that shows one it is
whole in the footer line of the 1280x720 canvas (never cut off; the pager stays whole, with the
demo's announcement shown too), its text ≥ 24 px with contrast ≥ 7:1. Screenshots of the
register, a flagged program and a TV page with its basis (720p and 4K) go to test-artifacts/."""

from __future__ import annotations

import pytest

from content.laws import register as laws
from tests.helpers import ARTIFACTS, DEMO_PASSWORD, MEASURE, make_settings
from tv_server import keys
from tv_server.app import create_app

pytestmark = pytest.mark.browser

# The basis lies whole inside the footer and the canvas; the pager stays whole above it.
GEOMETRY = """() => {
  var b = document.getElementById('basis'), pager = document.querySelector('.pager'),
      main = document.getElementById('main'), hints = document.getElementById('hints'),
      canvas = document.getElementById('canvas');
  if (!b) { return null; }
  var rb = b.getBoundingClientRect(), rp = pager.getBoundingClientRect(),
      rm = main.getBoundingClientRect(), rh = hints.getBoundingClientRect(),
      rc = canvas.getBoundingClientRect();
  return {text: b.textContent, in_footer: rb.top >= rh.top && rb.bottom <= rh.bottom + 1
          && rb.right <= rh.right, inside: rb.bottom <= rc.bottom,
          pager_whole: rp.bottom <= rm.bottom + 1};
}"""


@pytest.fixture
async def browser_and_server(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    return chromium, server


async def _box_base(page, server) -> str:
    await page.goto(str(server.make_url("/tv/?stb=DEMO-0001")))
    return page.url.rsplit("/", 1)[0] + "/"


async def test_every_cited_page_shows_its_whole_basis_readably(browser_and_server):
    browser, server = browser_and_server
    db = server.app[keys.DB]
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    base = await _box_base(page, server)
    rows = await db.fetchall(
        "SELECT p.id, p.slug, COUNT(pp.number) FROM programs p"
        " JOIN program_pages pp ON pp.program_id = p.id GROUP BY p.id ORDER BY p.slug"
    )
    problems, shown = [], 0
    for pid, slug, pages in rows:
        for n in range(1, pages + 1):
            await page.goto(f"{base}p-{pid}-{n}")
            found = await page.evaluate(GEOMETRY)
            if found is None:
                continue
            shown += 1
            bad = [k for k in ("in_footer", "inside", "pager_whole") if not found[k]]
            if bad:
                problems.append((slug, n, bad, found["text"]))
            for item in await page.evaluate(MEASURE):
                if item["text"].startswith("依据") and (item["size"] < 24 or item["contrast"] < 7):
                    problems.append((slug, n, "readability", item))
    assert shown >= 40  # most pages of the demo cite something
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("size", [(1280, 720), (3840, 2160)], ids=["720p", "2160p"])
async def test_screenshots_of_the_register_a_flagged_program_and_the_tv_basis(
    browser_and_server, size
):
    browser, server = browser_and_server
    db = server.app[keys.DB]
    ARTIFACTS.mkdir(exist_ok=True)
    law = await laws.get_law(db, "civil-code")
    await laws.save_law(
        db, {**law.values(), "status": "amended", "amended_on": "2026-12-01"},
        create=False, actor="admin",
    )  # fmt: skip
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = 'hunyin-jiating'")
    label = f"{size[0]}x{size[1]}"
    tv = await browser.new_page(viewport={"width": size[0], "height": size[1]})
    base = await _box_base(tv, server)
    await tv.goto(f"{base}p-{pid}-4")
    assert "依据：《中华人民共和国民法典》" in await tv.inner_text("#basis")
    await tv.screenshot(path=str(ARTIFACTS / f"legal-basis-tv-{label}.png"))

    admin = await browser.new_page(viewport={"width": size[0], "height": size[1]})
    await admin.goto(str(server.make_url("/admin/login")))
    await admin.fill("input[name=username]", "admin")
    await admin.fill("input[name=password]", DEMO_PASSWORD)
    async with admin.expect_navigation():
        await admin.click("button[type=submit]")
    await admin.goto(str(server.make_url("/admin/laws")))
    assert "已废止" in await admin.inner_text("#laws")
    await admin.screenshot(path=str(ARTIFACTS / f"legal-register-{label}.png"), full_page=True)
    await admin.goto(str(server.make_url(f"/admin/programs/{pid}/legal")))
    assert "需法律复核" in await admin.inner_text("#legal-flag")
    await admin.screenshot(path=str(ARTIFACTS / f"legal-flagged-{label}.png"), full_page=True)
    await admin.goto(str(server.make_url(f"/admin/programs/{pid}")))
    assert "已于 2026-12-01 修改" in await admin.inner_text("#legal-flag")
    await admin.screenshot(path=str(ARTIFACTS / f"legal-flagged-edit-{label}.png"))
