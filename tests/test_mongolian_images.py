"""The image path of the Mongolian TV: a box whose model cannot shape Mongolian gets the same
screens with every Mongolian text block as a vertical image (Chinese as alt), at its profile."""

import io
import re

from PIL import Image

from tv_server import keys

from .conftest import enter

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
