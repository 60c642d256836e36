"""TV screens over HTTP: content, caching (ETag/304, gzip), static assets, errors, weight."""

import gzip
import re

from tests.helpers import enter, linked_code_bytes
from tv_server import keys


async def first_link(client, url, pattern):
    html = await (await client.get(url)).text()
    match = re.search(pattern, html)
    assert match, f"no link matching {pattern} in {url}"
    return match.group(1)


async def test_home_has_the_four_tiles_hotline_and_announcement(client, box):
    html = await (await client.get(box + "home")).text()
    for tile_id in ("t-programs", "t-dir", "t-cb", "t-mine"):
        assert f'id="{tile_id}"' in html
    assert "12348" in html
    assert "冬季草场流转合同" in html  # the demo announcement for all of Ordos
    assert 'name="page-view-size" content="1280*720"' in html


async def test_programs_by_category_then_pages_with_indicator(client, box):
    category = await first_link(client, box + "programs", r'href="(c-[a-z-]+)"')
    program = await first_link(client, box + category, r'href="(p-\d+)"')
    response = await client.get(box + program)  # resumes at page 1 for a new box
    assert re.search(r"/p-\d+-1$", str(response.url))
    html = await response.text()
    assert re.search(r'id="indicator">1 / \d+<', html)
    assert 'rel="next"' in html and "data-pager" in html


async def test_page_images_are_renditions_for_the_box_profile(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval(
        "SELECT program_id FROM program_pages WHERE markdown LIKE '%images/%' LIMIT 1"
    )
    number = await db.fetchval(
        "SELECT number FROM program_pages WHERE program_id = ? AND markdown LIKE '%images/%'",
        (pid,),
    )
    html = await (await client.get(f"{box}p-{pid}-{number}")).text()
    src = re.search(r'<img src="(/media/renditions/[^"]+)"', html).group(1)
    assert "page-1080p" in src  # the demo test model is a 1080p box
    image = await client.get(src)
    assert image.status == 200 and image.headers["Content-Type"] == "image/jpeg"


async def test_continue_where_you_stopped(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE video_media_id IS NULL LIMIT 1")
    await client.get(f"{box}p-{pid}-3")
    html = await (await client.get(box + "home")).text()
    assert 'id="t-resume"' in html and f'href="p-{pid}-3"' in html
    response = await client.get(f"{box}p-{pid}")
    assert str(response.url).endswith(f"p-{pid}-3")


async def test_views_and_launches_are_recorded_in_batches(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs LIMIT 1")
    await client.get(f"{box}p-{pid}-1")
    await client.get(f"{box}p-{pid}-2")
    await client.app[keys.USAGE].flush()
    kinds = await db.fetchall(
        "SELECT kind, program_id, page FROM usage_events e JOIN devices d ON d.id = e.device_id"
        " WHERE d.serial = 'DEMO-0001' ORDER BY e.id"
    )
    assert [tuple(r) for r in kinds] == [("launch", None, None), ("view", pid, 1), ("view", pid, 2)]
    seen = await db.fetchval("SELECT last_seen FROM devices WHERE serial = 'DEMO-0001'")
    assert seen is not None


async def test_cached_screen_answers_304_and_gzip(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs LIMIT 1")
    url = f"{box}p-{pid}-1"
    first = await client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    etag = first.headers["ETag"]
    cached_screens = len(client.app[keys.SCREENS])
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status == 304
    third = await client.get(url, headers={"Accept-Encoding": "gzip"})
    assert third.headers["ETag"] == etag
    assert len(client.app[keys.SCREENS]) == cached_screens  # served again, not rendered again


async def test_screens_are_shared_between_boxes_of_the_same_kind(client, box):
    other = await enter(client, "DEMO-0002")
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs LIMIT 1")
    a = await client.get(f"{box}p-{pid}-1")
    b = await client.get(f"{other}p-{pid}-1")
    assert a.headers["ETag"] == b.headers["ETag"]
    assert box.split("/")[3] not in await b.text()  # no box token inside a shared screen


async def test_static_assets_have_hashed_urls_cached_forever(client, box):
    html = await (await client.get(box + "home")).text()
    # The screen's own stylesheet: the rules of tv.css it uses, named by their hash.
    css = re.search(r'href="(/tv/css/zs-[0-9a-f]{20}\.css)"', html).group(1)
    js = re.search(r'src="(/static/tv\.[0-9a-f]{10}\.js)"', html).group(1)
    whole = client.app[keys.STATIC].url("tv.css")
    for url in (css, js, whole):
        response = await client.get(url)
        assert response.status == 200
        assert "immutable" in response.headers["Cache-Control"]
    assert (await client.get("/static/tv.0000000000.css")).status == 404
    # A sheet named by a screen rendered before a restart: the whole stylesheet, not kept, so
    # that page still looks right (a 404 would leave it unstyled).
    unknown = await client.get("/tv/css/zs-00000000000000000000.css")
    assert unknown.status == 200 and unknown.headers["Cache-Control"] == "no-store"
    whole_css = await client.get(whole, headers={"Accept-Encoding": "identity"})
    assert await unknown.read() == await whole_css.read()
    assert (await client.get("/tv/css/zs-not-a-sheet.css")).status == 404
    plain = await client.get(css, headers={"Accept-Encoding": "identity"})
    zipped = await client.get(css, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await zipped.read()) == await plain.read()


async def test_screen_weight_budget(client, box):
    """≤ 30 KB of HTML+CSS+JS per screen before compression (images apart)."""
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs LIMIT 1")
    screens = ("home", "programs", "dir", "cb", "cb-topic?svc=mediation", "mine", f"p-{pid}-1")
    for screen in screens:
        page = await (
            await client.get(box + screen, headers={"Accept-Encoding": "identity"})
        ).read()
        static = await linked_code_bytes(client, page.decode())
        assert len(page) + static <= 30 * 1024, (screen, len(page), static)


async def test_tv_errors_are_chinese_screens_with_a_way_home(client, box):
    response = await client.get(box + "p-999999-1")
    assert response.status == 404
    html = await response.text()
    assert "没有找到这个节目" in html
    assert 'href="/tv/b/' in html and "回到首页" in html


async def test_api_errors_are_json_with_a_code(client):
    response = await client.get("/api/v1/nothing-here")
    assert response.status == 404
    body = await response.json()
    assert body["error"]["code"] == "not_found"
    assert body["error"]["message"]


async def test_healthz_reports_version_and_database(client):
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok" and body["version"] and body["database"]["status"] == "ok"


async def test_video_is_served_with_range_support(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE video_media_id IS NOT NULL")
    html = await (await client.get(f"{box}v-{pid}")).text()
    src = re.search(r'<video[^>]* src="([^"]+)"', html).group(1)
    poster = re.search(r'poster="([^"]+)"', html).group(1)
    assert (await client.get(poster)).status == 200
    whole = await client.get(src)
    size = int(whole.headers["Content-Length"])
    part = await client.get(src, headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{size}"
    assert len(await part.read()) == 100


async def test_media_path_traversal_is_refused(client):
    for path in ("/media/../legaltv.sqlite3", "/media/launch_secret", "/media/media/../../x"):
        assert (await client.get(path)).status == 404


async def test_directory_starts_with_the_box_own_chain(client, box):
    html = await (await client.get(box + "dir")).text()
    order = [
        html.index(name)
        for name in ("吉劳庆社区", "交通街道", "东胜区", "鄂尔多斯市公共法律服务中心")
    ]
    assert order == sorted(order)
    assert "12348" in html
    assert 'href="dir-1506"' in html  # other regions


async def test_service_point_has_details_qr_and_callback(client, box):
    point = await first_link(client, box + "dir", r'href="(o-\d+)"')
    html = await (await client.get(box + point)).text()
    assert "<svg" in html  # the QR code, inline: no extra request
    assert "示例号码" in html  # demo phones are marked as samples
    assert re.search(r'href="cb\?sp=sp-\d+"', html)


async def test_browsing_other_regions(client, box):
    html = await (await client.get(box + "dir-1506")).text()
    assert "达拉特旗" in html
    html = await (await client.get(box + "dir-150621")).text()
    assert "达拉特旗公共法律服务中心" in html
    assert (await client.get(box + "dir-999")).status == 404


async def test_repeat_visits_still_count_as_views(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs LIMIT 1")
    for _ in range(3):
        assert (await client.get(f"{box}p-{pid}-2")).status == 200
    await client.app[keys.USAGE].flush()
    views = await db.fetchval(
        "SELECT SUM(n) FROM usage_events WHERE kind = 'view' AND program_id = ? AND page = 2",
        (pid,),
    )
    assert views == 3


async def test_publishing_reaches_a_box_that_saw_the_page_before(client, box):
    """A repeat request must not outlive an invalidation (the fast lane checks the cache)."""
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs LIMIT 1")
    url = f"{box}p-{pid}-1"
    before = await (await client.get(url)).text()
    await (await client.get(url)).text()
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE program_pages SET title = '新标题已更新' WHERE program_id = ? AND number = 1",
            (pid,),
        )
    client.app[keys.PROGRAMS].pop(pid, None)
    client.app[keys.SCREENS].invalidate(f"program:{pid}")
    after = await (await client.get(url)).text()
    assert "新标题已更新" not in before and "新标题已更新" in after


async def test_retired_box_loses_the_fast_lane(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs LIMIT 1")
    url = f"{box}p-{pid}-1"
    assert (await client.get(url)).status == 200
    async with db.transaction() as tx:
        await tx.execute("UPDATE devices SET state = 'retired' WHERE serial = 'DEMO-0001'")
    client.app[keys.BOXES].forget()  # as after the directory's 15 s TTL
    response = await client.get(url)
    assert "还没有在您家的机顶盒开通" in await response.text()


async def test_concurrent_requests_share_one_build_and_a_stale_build_is_not_kept():
    import asyncio

    from tv_server.screencache import ScreenCache

    cache = ScreenCache()
    builds = 0
    release = asyncio.Event()

    async def build():
        nonlocal builds
        builds += 1
        await release.wait()
        return f"<p>build {builds}</p>"

    waiting = [
        asyncio.create_task(cache.get_or_build("k", ["program:1"], build)) for _ in range(10)
    ]
    await asyncio.sleep(0)
    cache.invalidate("program:1")  # a publish lands while the first build runs
    release.set()
    screens = await asyncio.gather(*waiting)
    assert builds == 2  # one shared build, redone once because it overlapped the publish
    assert {s.body for s in screens} == {b"<p>build 2</p>"}
    assert cache.holds("k", screens[0])
