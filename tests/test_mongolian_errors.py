"""Mongolian notice and error pages that every box can read. Before the box is known (a bad or
expired launch signature, an unknown serial) a page asked for in Mongolian comes on the image
path — no Mongolian text for the browser to shape, no font — with the Chinese text too; once the
box is known, its error pages take its own path (a model that cannot shape Mongolian gets
images), even a 404 no handler answered."""

import io
import re
import time

from PIL import Image

from tests.helpers import TEST_SECRET, enter
from tv_server import keys
from tv_server.boxauth import launch_signature

MONGOLIAN = re.compile("[\u1800-\u18af]")
IMG = re.compile(
    r'<img class="mi" src="(/tv/mi/[0-9a-f]{20}\.png)" width="(\d+)" height="(\d+)"'
    r' alt="([^"]*)">'
)


def lang_of(html: str) -> str:
    return re.search(r'<html lang="(\w+)"', html)[1]


async def assert_readable_without_the_font(client, html: str) -> list[tuple]:
    """No Mongolian character left for the browser to shape, no font, and every Mongolian block
    an image that loads (drawn at the size the page gives it, or sharper)."""
    assert lang_of(html) == "mn"
    assert not MONGOLIAN.search(html), MONGOLIAN.search(html)
    assert "/tv/font/" not in html
    assert re.search(r'href="/tv/mi/mi-[0-9a-f]+\.css"', html)  # tv.css + the image path's
    images = IMG.findall(html)
    assert len(images) >= 4  # title, message, hotline line, button, hints…
    for src, width, height, alt in images:
        got = await client.get(src)
        assert got.status == 200 and got.headers["Content-Type"] == "image/png"
        png = Image.open(io.BytesIO(await got.read()))
        assert png.width >= int(width) and png.height >= int(height)
        assert alt and not MONGOLIAN.search(alt)  # the Chinese, for a box that shows no image
    return images


async def image_model(client, serial: str, profile: str = "720p") -> None:
    """The box's model cannot shape Mongolian (an old iPanel browser)."""
    async with client.app[keys.DB].transaction() as tx:
        await tx.execute(
            "INSERT INTO device_models (model, vendor, keymap_family, screen_profile,"
            " mongolian_text) VALUES ('IPANEL-OLD', 'test', 'ipanel', ?, 0)",
            (profile,),
        )
        await tx.execute("UPDATE devices SET model = 'IPANEL-OLD' WHERE serial = ?", (serial,))


async def test_bad_launch_signature_in_mongolian_is_readable_on_any_box(client):
    params = {
        "stb": "DEMO-0001",
        "ts": str(int(time.time())),
        "lang": "mn",
        "sig": "0" * 64,  # forged
    }
    response = await client.get("/tv/launch", params=params)
    assert response.status == 403
    html = await response.text()
    images = await assert_readable_without_the_font(client, html)
    # The Chinese text too: the language of a forged request is not verified, and the
    # household's helpers and the 12348 hotline read Chinese.
    assert '<div class="zh-twin" lang="zh">' in html
    assert "无法识别这台机顶盒，请回到电视首页重新进入法律服务专区。" in html
    alts = [alt for *_, alt in images]
    assert "无法识别这台机顶盒，请回到电视首页重新进入法律服务专区。" in alts  # its Mongolian
    # Drawn for 4K, the boxes the rollout installs: three image pixels per canvas pixel.
    src, width, _height, _alt = images[0]
    png = Image.open(io.BytesIO(await (await client.get(src)).read()))
    assert abs(png.width - 3 * int(width)) <= 3
    # Nothing was remembered from a forged URL.
    box = await client.app[keys.DB].fetchval(
        "SELECT language FROM devices WHERE serial = 'DEMO-0001'"
    )
    assert box is None


async def test_stale_launch_and_unknown_serial_in_mongolian(client):
    ts = int(time.time()) - 3600
    stale = {
        "stb": "DEMO-0001",
        "ts": str(ts),
        "lang": "mn",
        "sig": launch_signature(TEST_SECRET, "DEMO-0001", ts, "mn"),
    }
    response = await client.get("/tv/launch", params=stale)
    assert response.status == 403
    html = await response.text()
    await assert_readable_without_the_font(client, html)
    assert "页面已过期" in html
    # An unknown serial on the demo entry: recorded as pending, told so in both languages.
    response = await client.get("/tv/", params={"stb": "NEW-HERDER-BOX", "lang": "mn"})
    html = await response.text()
    await assert_readable_without_the_font(client, html)
    assert "法律服务专区还没有在您家的机顶盒开通。" in html
    # Its next visit: a pending box now, still not vouched for (its model unknown): the same.
    response = await client.get("/tv/", params={"stb": "NEW-HERDER-BOX", "lang": "mn"})
    html = await response.text()
    await assert_readable_without_the_font(client, html)
    assert "法律服务专区还没有在您家的机顶盒开通。" in html
    # Without lang=mn the page stays Chinese, as before.
    html = await (await client.get("/tv/", params={"stb": "NEW-HERDER-BOX-2"})).text()
    assert lang_of(html) == "zh" and 'class="mi"' not in html and "zh-twin" not in html


async def test_known_image_path_box_gets_its_errors_as_images(client):
    """A box whose model cannot shape Mongolian: a 404 raised by a handler and a 404 of a
    route no handler answers both come on its image path, at its profile, Mongolian only."""
    await image_model(client, "DEMO-0001")
    await client.get("/tv/", params={"stb": "DEMO-0001", "lang": "mn"})
    base = await enter(client, "DEMO-0001")
    assert (await client.get(base + "home")).status == 200
    for path in ("p-999999-1", "no-such-screen"):
        response = await client.get(base + path)
        assert response.status == 404, path
        html = await response.text()
        images = await assert_readable_without_the_font(client, html)
        assert "zh-twin" not in html  # the box is known: its language only
        assert 'id="go-home"' in html
        src, width, _height, _alt = images[0]
        png = Image.open(io.BytesIO(await (await client.get(src)).read()))
        assert abs(png.width - int(width)) <= 1  # its 720p profile: one pixel per canvas px


async def test_known_font_path_box_keeps_the_font_and_notices_speak_its_language(client):
    await client.get("/tv/", params={"stb": "DEMO-0003", "lang": "mn"})
    base = await enter(client, "DEMO-0003")
    html = await (await client.get(base + "no-such-screen")).text()
    assert lang_of(html) == "mn" and MONGOLIAN.search(html) and "/tv/font/" in html
    # A household that chose Mongolian whose village is not live yet: "coming soon" in it.
    db = client.app[keys.DB]
    serial = await db.fetchval("SELECT serial FROM devices WHERE serial = 'DEMO-0240'")
    async with db.transaction() as tx:
        await tx.execute("UPDATE devices SET language = 'mn' WHERE serial = ?", (serial,))
    later = await enter(client, serial)
    html = await (await client.get(later + "home")).text()
    assert lang_of(html) == "mn" and MONGOLIAN.search(html)
    assert "法律服务专区即将在您所在的地区开通" not in html
