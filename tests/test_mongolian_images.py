"""The image path of the Mongolian TV: a box whose model cannot shape Mongolian gets the same
screens with every Mongolian text block as a vertical image (Chinese as alt), at its profile."""

import io
import re

from PIL import Image

from tests.helpers import enter
from tv_server import keys

MONGOLIAN = re.compile("[\u1800-\u18af]")
IMG = re.compile(
    r'<img class="mi" src="(/tv/mi/[0-9a-f]{20}\.png)" width="(\d+)" height="(\d+)"'
    r' alt="([^"]*)">'
)


async def image_box(client, serial="DEMO-0001", profile="720p") -> str:
    db = client.app[keys.DB]
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO device_models (model, vendor, keymap_family, screen_profile,"
            " mongolian_text) VALUES ('IPANEL-OLD', 'test', 'ipanel', ?, 0)",
            (profile,),
        )
        await tx.execute("UPDATE devices SET model = 'IPANEL-OLD' WHERE serial = ?", (serial,))
    response = await client.get("/tv/", params={"stb": serial, "lang": "mn"})
    assert response.status == 200
    return await enter(client, serial)


async def test_image_path_screens_hold_no_mongolian_text_and_their_images_load(client):
    base = await image_box(client)
    for screen in ("home", "programs", "dir", "cb", "mine"):
        response = await client.get(base + screen)
        html = await response.text()
        assert response.status == 200, screen
        assert not MONGOLIAN.search(html), (screen, MONGOLIAN.search(html))
        assert '<html lang="mn">' in html
        assert "/tv/font/" not in html  # no font: the box could not use it
        images = IMG.findall(html)
        assert images, screen
        for src, width, height, alt in images[:6]:
            got = await client.get(src)
            assert got.status == 200
            assert got.headers["Content-Type"] == "image/png"
            assert "immutable" in got.headers["Cache-Control"]
            png = Image.open(io.BytesIO(await got.read()))
            assert png.size == (int(width), int(height))  # 720p: one image pixel per canvas px
            assert alt and not MONGOLIAN.search(alt)
    home = await (await client.get(base + "home")).text()
    alts = [alt for *_, alt in IMG.findall(home)]
    assert "普法节目" in alts and "服务指南" in alts  # the Chinese as alt


async def test_image_path_draws_at_the_box_profile(client):
    base = await image_box(client, "DEMO-0002", profile="2160p")
    html = await (await client.get(base + "home")).text()
    src, width, height, _alt = IMG.findall(html)[0]
    png = Image.open(io.BytesIO(await (await client.get(src)).read()))
    # the 4K canvas is zoomed 3x: three image pixels per canvas px (rounded)
    assert abs(png.width - int(width) * 3) <= 2 and abs(png.height - int(height) * 3) <= 2


async def test_font_path_boxes_keep_mongolian_text(client):
    await client.get("/tv/", params={"stb": "DEMO-0003", "lang": "mn"})
    base = await enter(client, "DEMO-0003")
    html = await (await client.get(base + "home")).text()
    assert MONGOLIAN.search(html) and 'class="mi"' not in html and "/tv/font/" in html


async def test_unknown_image_is_404(client):
    assert (await client.get("/tv/mi/" + "0" * 20 + ".png")).status == 404
    assert (await client.get("/tv/mi/../../etc.png")).status == 404


async def test_numbers_in_vertical_text_follow_mlreq(client):
    """The font path: the 12348 hotline upright digit under digit, short numbers side by side
    upright (tate-chu-yoko), in the screen's stylesheet too; on the image path the same."""
    from tv_server import tvfont
    from tv_server.mongol_image import BlockStyle, render_block

    await client.get("/tv/", params={"stb": "DEMO-0003", "lang": "mn"})
    base = await enter(client, "DEMO-0003")
    html = await (await client.get(base + "home")).text()
    assert '<span class="upr">12348</span>' in html
    css_url = re.search(r'href="(/tv/font/mv-[0-9a-f]+\.css)"', html)[1]
    css = await (await client.get(css_url)).text()
    assert ".upr{" in css.replace(" ", "") and "text-orientation:upright" in css.replace(" ", "")
    assert tvfont.vertical_digits("<p>第 2 页 / 2026 年 12348</p><script>var a=12348</script>") == (
        '<p>第 <span class="tcy">2</span> 页 / 2026 年 <span class="upr">12348</span></p>'
        "<script>var a=12348</script>"
    )
    font = tvfont.find_font()
    style = BlockStyle(30, 1000)
    upright = render_block("12348", font, style, 1.0)
    short = render_block("12", font, style, 1.0)
    sideways = render_block("2026", font, style, 1.0)
    assert upright.height >= 5 * 0.8 * 30  # one digit under the other
    assert short.height <= 1.6 * 30  # both digits in one upright cell
    assert 30 < sideways.height < upright.height  # turned like Latin: about half an em each
    # A Chinese name inside Mongolian text stands upright: one em per character.
    han = render_block("东胜区", font, style, 1.0)
    assert abs(han.height - 3 * 30) <= 12


# What a text node's Chinese may be besides a whole source: a source inside marks of the layout
# (◀ 上一页, · 本村（嘎查）), a message with its placeholders filled, sources joined by 、.
DECORATION = re.compile(r"^[\s◀▶▼·]+|[\s◀▶▼·]+$")


async def test_image_path_alt_is_the_chinese_source_of_each_text(client):
    """The alt of each drawn text is that text's Chinese: a program's title, page title and body,
    a service point's name and description are the zh version's own text (never the catalog
    read backwards word by word: the title 宪法与我们 once came out as 电话 or empty); a UI
    string's alt is its msgid."""
    from content.programs import package
    from tv_ui import i18n

    base = await image_box(client)
    db = client.app[keys.DB]
    cat, pid, title = await db.fetchone(
        "SELECT category, id, title FROM programs WHERE slug = 'xianfa-gongmin-quanli'"
    )
    pages = await db.fetchall(
        "SELECT title, markdown FROM program_pages WHERE program_id = ? ORDER BY number", (pid,)
    )
    point = await db.fetchone(  # the city centre: its Mongolian name drawn
        "SELECT id, name FROM service_points WHERE name_mn != '' AND name LIKE '鄂尔多斯市%'"
    )
    named = {r[0] for r in await db.fetchall("SELECT name FROM service_points WHERE name_mn != ''")}
    content = {r[0] for r in await db.fetchall("SELECT title FROM programs")}
    content |= {r[0] for r in await db.fetchall("SELECT name FROM service_points")}
    content |= {r[0] for r in await db.fetchall("SELECT description FROM service_points")}
    content |= {r[0] for r in await db.fetchall("SELECT name FROM regions")}
    content |= {r[0] for r in await db.fetchall("SELECT title FROM program_pages")}
    msgids = set(i18n.catalog_pairs("mn"))
    templates = [
        re.compile(re.sub(r"%\\\(\w+\\\)[sd]", ".+", re.escape(m))) for m in msgids if "%(" in m
    ]

    def a_source(alt: str) -> bool:
        alt = DECORATION.sub("", alt)
        if alt in msgids or alt in content:
            return True
        if all(part in msgids or part in content for part in alt.split("、")):
            return True
        if alt.startswith("依据：") and "依据：" in msgids:  # the page's legal basis, in Chinese
            return bool(re.fullmatch(r"(《[^《》]+》[^；]*；?)+", alt[3:]))
        return any(t.fullmatch(alt) for t in templates)

    alts = {}
    for screen in (f"c-{cat}", f"p-{pid}-1", f"p-{pid}-2", "dir", f"o-{point[0]}"):
        html = await (await client.get(base + screen)).text()
        alts[screen] = [alt for *_, alt in IMG.findall(html)]
        wrong = [a for a in alts[screen] if not a_source(a)]
        if screen.startswith("p-"):  # the body's paragraphs: the Chinese page's
            number = int(screen.rsplit("-", 1)[1])
            page_title, markdown = pages[number - 1]
            assert page_title in alts[screen], (screen, alts[screen])
            body = [
                " ".join(t.split())
                for t in re.split(r"<[^>]*>", package.render_markdown(markdown))
                if t.strip()
            ]
            drawn_body = [a for a in alts[screen] if a in body or a == "".join(body)]
            assert drawn_body, (screen, body, alts[screen])
            wrong = [a for a in wrong if a not in body and a != "".join(body)]
        assert wrong == [], (screen, wrong)
        assert "" not in alts[screen], (screen, alts[screen])
    assert title in alts[f"c-{cat}"] and title in alts[f"p-{pid}-1"]
    assert point[1] in alts[f"o-{point[0]}"] and point[1] in alts["dir"]
    assert len(named & set(alts["dir"])) >= 2
    assert "◀ 上一页" in alts[f"p-{pid}-1"] and "下一页 ▶" in alts[f"p-{pid}-1"]
