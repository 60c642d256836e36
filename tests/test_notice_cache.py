"""Notices rendered once per rendering, key-map family and kind (tv_server.tv.common.notice):
every box's copy is what rendering the notice for that box would give, byte for byte, body and
gzip alike, with 知道了 leading to the box's own entry."""

import gzip
import re

from aiohttp.test_utils import make_mocked_request

from tests.helpers import enter
from tv_server import keys
from tv_server.tv.common import NOTICES, render_notice_page, rendering_for
from tv_ui.keymaps import keymap_json


async def _coming_soon_serials(client, count: int) -> list[str]:
    """Enrolled demo boxes of regions not started yet, `count` of them."""
    rows = await client.app[keys.DB].fetchall(
        "SELECT serial FROM devices WHERE state = 'active' ORDER BY serial"
    )
    found = []
    for row in rows:
        view = await client.app[keys.BOXES].get(row["serial"])
        if view is not None and view.box.admitted and not view.entitled:
            found.append(row["serial"])
        if len(found) == count:
            break
    assert len(found) == count, "the demo has boxes in regions not started yet"
    return found


def _fresh(client, serial_view, home: str) -> bytes:
    """The notice as rendered for this box alone, without the cache (the code before it)."""
    request = make_mocked_request("GET", home, app=client.app)
    html = render_notice_page(
        request,
        "tv/notice.html",
        rendering_for(request, serial_view),
        {
            "static": client.app[keys.STATIC].url,
            "keymap": keymap_json(serial_view.box.keymap_family),
            "hotline": client.app[keys.SETTINGS].hotline,
            "announcements": [],
            "kind": "coming_soon",
            "again": "home",
        },
    )
    return html.encode()


async def test_coming_soon_homes_are_each_boxs_own_notice(client):
    serials = ["DEMO-0240", *(await _coming_soon_serials(client, 3))][:3]
    serials = list(dict.fromkeys(serials))
    # DEMO-0240's household chose Chinese; the others of its banner speak Mongolian.
    await client.get("/tv/", params={"stb": "DEMO-0240", "lang": "zh"})
    seen, renderings, etags = [], set(), set()
    for serial in serials * 2:  # the first of each kind renders, the rest splice
        home = await enter(client, serial) + "home"
        plain = await client.get(home, headers={"Accept-Encoding": "identity"})
        zipped = await client.get(home, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
        body = await plain.read()
        assert plain.status == zipped.status == 200
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(await zipped.read()) == body
        assert plain.headers["Cache-Control"] == "no-store"
        assert plain.headers["Content-Security-Policy"] == zipped.headers["Content-Security-Policy"]
        assert re.search(rb'id="n-ok" href="home"', body)
        view = await client.app[keys.BOXES].get(serial)
        assert body == _fresh(client, view, home)
        seen.append(body)
        etag = plain.headers["ETag"]
        assert zipped.headers["ETag"] == etag
        assert (await client.get(home, headers={"If-None-Match": etag})).status == 304
        etags.add((body, etag))
        renderings.add(rendering_for(make_mocked_request("GET", home, app=client.app), view))
    assert {r.lang for r in renderings} == {"zh", "mn"}, renderings  # both languages covered
    assert client.app[NOTICES].hits > 0
    metrics = await (await client.get("/metrics")).text()
    assert re.search(r'cache="tv_notices"[^\n]* [1-9]', metrics), "counted on /metrics"
    assert seen[:3] == seen[3:]  # the same box: the same page, from the cache
    assert len({e for _b, e in etags}) == len({b for b, _e in etags})  # an ETag per page
