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
