"""Program language versions: a Mongolian box sees a program's Mongolian version where it has
one, else the Chinese program labelled 汉语; one program for figures; drafted until reviewed."""

import asyncio
import io
import re

from PIL import Image

from content.programs import live
from content.programs import versions as program_versions
from tests.helpers import enter, publish_subtitles
from tv_server import keys

MONGOLIAN = re.compile("[\u1800-\u18af]")


async def mn_box(client, serial="DEMO-0001") -> str:
    await client.get("/tv/", params={"stb": serial, "lang": "mn"})
    return await enter(client, serial)


async def pid_of(client, slug: str) -> int:
    return await client.app[keys.DB].fetchval("SELECT id FROM programs WHERE slug = ?", (slug,))


async def test_demo_has_three_drafted_mongolian_versions(client):
    db = client.app[keys.DB]
    rows = await db.fetchall("SELECT program_id, review, title FROM program_versions")
    assert len(rows) >= 3
    assert {r["review"] for r in rows} == {"drafted"}  # never presented as reviewed
    assert all(MONGOLIAN.search(r["title"]) for r in rows)


async def test_mongolian_box_sees_the_version_and_chinese_fallback_labelled(client):
    base = await mn_box(client)
    pid = await pid_of(client, "xianfa-gongmin-quanli")
    version = (await program_versions.get_versions(client.app[keys.DB], pid))["mn"]
    html = await (await client.get(base + f"p-{pid}-1")).text()
    assert version.title in html and version.pages[0].title in html
    assert "宪法与我们" not in html
    assert re.sub(r"<[^>]+>", "", html).count("1 / 2") == 1  # the version's own two pages
    assert 'class="tag zh-tag"' not in html
    # A program without a Mongolian version: the Chinese text, labelled 汉语.
    other = await client.app[keys.DB].fetchval(
        "SELECT id FROM programs WHERE id NOT IN (SELECT program_id FROM program_versions)"
        " AND status = 'published' AND EXISTS (SELECT 1 FROM program_pages WHERE program_id = id)"
        " ORDER BY id LIMIT 1"
    )
    html = await (await client.get(base + f"p-{other}-1")).text()
    assert '<span class="tag zh-tag" lang="zh">汉语</span>' in html
    # The category list: the Mongolian title where there is one.
    cat = await client.app[keys.DB].fetchval("SELECT category FROM programs WHERE id = ?", (pid,))
    html = await (await client.get(base + f"c-{cat}")).text()
    assert version.title in html


async def test_chinese_box_keeps_the_chinese_program_and_figures_are_one(client):
    base = await enter(client, "DEMO-0003")
    pid = await pid_of(client, "xianfa-gongmin-quanli")
    html = await (await client.get(base + f"p-{pid}-1")).text()
    assert "宪法与我们" in html and not MONGOLIAN.search(html.split("<main")[1].split("</main>")[0])
    mn_base = await mn_box(client, "DEMO-0004")
    viewed = await client.get(mn_base + f"p-{pid}-2")
    assert viewed.status == 200, await viewed.text()
    # The Mongolian view counts for the one program (figures per program id).
    box_id = await client.app[keys.DB].fetchval("SELECT id FROM devices WHERE serial = 'DEMO-0004'")
    for _ in range(20):  # the usage buffer may be being flushed to the database just now
        if await client.app[keys.USAGE].page_for(box_id, pid) == 2:
            break
        await asyncio.sleep(0.1)
    assert await client.app[keys.USAGE].page_for(box_id, pid) == 2
    assert (
        await client.app[keys.DB].fetchval(
            "SELECT COUNT(*) FROM program_versions WHERE program_id = ?", (pid,)
        )
        == 1
    )


async def test_version_validation_caps_what_is_stored(client):
    db = client.app[keys.DB]
    pid = await pid_of(client, "falv-yuanzhu")
    import pytest

    from storage import Invalid

    with pytest.raises(Invalid):
        await program_versions.save_version(db, pid, "mn", {"title": "", "pages": [("a", "b")]})
    with pytest.raises(Invalid):
        await program_versions.save_version(
            db, pid, "mn", {"title": "x" * 201, "pages": [("a", "b")]}
        )
    with pytest.raises(Invalid):
        await program_versions.save_version(db, pid, "fr", {"title": "t", "pages": [("a", "b")]})


async def test_editor_writes_previews_and_reviewer_reviews_the_mongolian_version(client, admin_as):
    from tests.helpers import csrf_of

    db = client.app[keys.DB]
    pid = await pid_of(client, "renmin-tiaojie")
    assert not await program_versions.get_versions(db, pid)
    await admin_as("editor")
    page = await client.get(f"/admin/programs/{pid}/mn")
    assert "尚无蒙古文版本" in await page.text()
    token = await csrf_of(client, f"/admin/programs/{pid}/mn")
    title = "\u182e\u1823\u1829\u182d\u1823\u182f \u182c\u1820\u1824\u182f\u1822"
    form = {"csrf_token": token, "action": "save", "title": title, "summary": "",
            "page_title_1": title, "page_text_1": title + " 12348", "page_title_2": "",
            "page_text_2": ""}  # fmt: skip
    response = await client.post(f"/admin/programs/{pid}/mn", data=form, allow_redirects=False)
    assert response.status == 303
    html = await (await client.get(f"/admin/programs/{pid}/mn")).text()
    assert "草稿，未经母语者审校" in html and 'id="version-mark-reviewed"' not in html
    # An empty title is refused with a Chinese message next to it; nothing changes.
    bad = await client.post(f"/admin/programs/{pid}/mn", data={**form, "title": ""})
    assert bad.status == 422 and "请填写这一项" in await bad.text()
    # The editor cannot mark it reviewed.
    denied = await client.post(
        f"/admin/programs/{pid}/mn", data={"csrf_token": token, "action": "review"}
    )
    assert denied.status == 403
    # The preview frame shows it as a Mongolian box does: vertical, with the served font.
    frame = await client.get(
        f"/admin/programs/{pid}/preview/frame", params={"profile": "720p", "lang": "mn"}
    )
    text = await frame.text()
    assert frame.status == 200 and '<html lang="mn">' in text and "/tv/font/mv-" in text
    assert title in text and '<span class="upr">12348</span>' in text
    # A Mongolian box sees it at once.
    base = await mn_box(client)
    tv = await (await client.get(base + f"p-{pid}-1")).text()
    assert title in tv
    # The reviewer marks it reviewed; the audit log has each step.
    await client.post("/admin/logout", data={"csrf_token": token})
    await admin_as("reviewer")
    token = await csrf_of(client, f"/admin/programs/{pid}/mn")
    response = await client.post(
        f"/admin/programs/{pid}/mn", data={"csrf_token": token, "action": "review"},
        allow_redirects=False,
    )  # fmt: skip
    assert response.status == 303
    assert (await program_versions.get_versions(db, pid))["mn"].review == "reviewed"
    actions = {
        r[0]
        for r in await db.fetchall("SELECT action FROM audit_log WHERE object_id = ?", (str(pid),))
    }
    assert {"program.version_save", "program.version_review"} <= actions


MI_IMAGE = re.compile(r'<img class="mi" src="(/tv/mi/[^"]+)"[^>]* alt="([^"]*)"')
MONGOLIAN_TEXT = re.compile(r">[^<]*[\u1800-\u18af][^<]*<")


async def test_editor_previews_the_mongolian_version_on_both_rendering_paths(client, admin_as):
    """The Mongolian preview showed only the font path; an editor sees the image path too (what
    a box whose browser cannot shape Mongolian gets): a switch on the preview page, and frames
    whose Mongolian is drawn images (alt: the Chinese) at the frame's profile, the video's too."""
    pid = await pid_of(client, "xianfa-gongmin-quanli")
    await admin_as("editor")
    page = await (await client.get(f"/admin/programs/{pid}/preview", params={"lang": "mn"})).text()
    switch = re.search(r'id="pv-path-images" href="([^"]+)"', page)
    assert switch and "mi=1" in switch[1] and "lang=mn" in switch[1], page
    on_images = await (await client.get(switch[1].replace("&amp;", "&"))).text()
    assert 'id="pv-path-font"' in on_images and 'id="pv-path-images"' not in on_images
    frames = re.findall(r'<iframe id="pv-(\w+)"[^>]* src="([^"]+)"', on_images)
    assert [name for name, _ in frames] == ["720p", "1080p", "2160p"]
    sizes = {}
    for name, src in frames:
        html = await (await client.get(src.replace("&amp;", "&"))).text()
        assert '<html lang="mn">' in html and "/tv/mi/mi-" in html and "/tv/font/" not in html
        assert not MONGOLIAN_TEXT.search(html), MONGOLIAN_TEXT.search(html)
        drawn = MI_IMAGE.findall(html)
        assert drawn and all(alt for _, alt in drawn), drawn
        assert "宪法与我们：公民的基本权利和义务" in {alt for _, alt in drawn}  # the title
        image = await client.get(drawn[0][0])
        assert image.status == 200 and image.content_type == "image/png"
        sizes[name] = Image.open(io.BytesIO(await image.read())).size[
            1
        ]  # the first text, in pixels
        # Its links stay on the image path.
        assert "mi=1" in re.search(r'href="(/admin/programs/[^"]+frame[^"]+)"', html)[1]
    assert sizes["720p"] < sizes["1080p"] < sizes["2160p"]  # drawn at each frame's profile
    # The video screen of the demo's video program, on the image path too.
    vid = await pid_of(client, "fang-dianxin-zhapian")
    video = await client.get(
        f"/admin/programs/{vid}/preview/frame",
        params={"profile": "720p", "page": "video", "lang": "mn", "mi": "1"},
    )
    html = await video.text()
    assert video.status == 200 and "<video" in html and MI_IMAGE.search(html)
    assert not MONGOLIAN_TEXT.search(html) and "/tv/mi/mi-" in html
    # On the font path the video screen is the Mongolian one too (it was the Chinese page's
    # stylesheet under lang="zh", with Mongolian text lying in horizontal lines).
    font_video = await client.get(
        f"/admin/programs/{vid}/preview/frame",
        params={"profile": "720p", "page": "video", "lang": "mn"},
    )
    html = await font_video.text()
    assert '<html lang="mn">' in html and "/tv/font/mv-" in html and "tv-player.css" not in html
    # The font path is the default, as before.
    font = await (await client.get(frames[0][1].replace("&amp;", "&").replace("&mi=1", ""))).text()
    assert "/tv/font/mv-" in font and 'img class="mi"' not in font


async def test_mongolian_versions_get_mongolian_title_cards(client):
    """The demo's versions have their own title cards (vertical Mongolian script), shown as
    the grid thumbnails on Mongolian boxes; Chinese boxes keep the Chinese cards."""
    db = client.app[keys.DB]
    pid = await pid_of(client, "falv-yuanzhu")
    mn_thumb = await db.fetchval(
        "SELECT file FROM program_version_covers WHERE program_id = ? AND profile = ?",
        (pid, "thumb-1080p"),
    )
    assert mn_thumb
    cat = await db.fetchval("SELECT category FROM programs WHERE id = ?", (pid,))
    html = await (await client.get(await mn_box(client) + f"c-{cat}")).text()
    assert f"/media/{mn_thumb}" in html
    zh = await (await client.get(await enter(client, "DEMO-0003") + f"c-{cat}")).text()
    zh_files = [r[0] for r in await db.fetchall(
        "SELECT file FROM program_covers WHERE program_id = ?", (pid,))]  # fmt: skip
    assert any(f"/media/{f}" in zh for f in zh_files) and mn_thumb not in zh
    card = await client.get(f"/media/{mn_thumb}")
    assert card.status == 200


POSTER = re.compile(r'<video[^>]* poster="([^"]+)"')


async def test_mongolian_video_poster_shows_the_mongolian_title(client, data_dir):
    """A Mongolian box opening a program with a video and a Mongolian version gets a poster of
    its own: the video's frame with the Mongolian title drawn over it, at the box's profile,
    drawn once and kept by content hash; a Chinese box keeps the Chinese poster."""
    import io

    from PIL import Image, ImageChops, ImageStat

    db = client.app[keys.DB]
    pid = await pid_of(client, "fang-dianxin-zhapian")  # the demo program with a video
    version = (await program_versions.get_versions(db, pid))["mn"]
    mn_html = await (await client.get(await mn_box(client) + f"v-{pid}")).text()
    zh_html = await (await client.get(await enter(client, "DEMO-0003") + f"v-{pid}")).text()
    mn_poster, zh_poster = POSTER.search(mn_html)[1], POSTER.search(zh_html)[1]
    assert mn_poster.startswith("/media/titlecards/mn-posters/") and mn_poster != zh_poster
    assert version.title in mn_html  # the heading, in Mongolian
    got = await client.get(mn_poster)
    assert got.status == 200 and got.headers["Content-Type"] == "image/jpeg"
    mn_img = Image.open(io.BytesIO(await got.read())).convert("L")
    zh_img = Image.open(io.BytesIO(await (await client.get(zh_poster)).read())).convert("L")
    assert mn_img.size == (1920, 1080)  # DEMO-0001's profile
    # The title's columns stand at the left: there the picture changed (shaded, white script
    # over it); the right of the frame is the Chinese poster's.
    zh_img = zh_img.resize(mn_img.size)
    left, right = (0, 0, 480, 1080), (1300, 0, 1920, 1080)
    diff = ImageChops.difference(mn_img, zh_img)
    assert ImageStat.Stat(diff.crop(left)).mean[0] > 20
    assert ImageStat.Stat(diff.crop(right)).mean[0] < 8
    white = sum(mn_img.crop(left).histogram()[230:])
    assert white > 2000  # the letters
    # Kept by content hash: asked again for the same frame, title and profile, the same file,
    # not drawn again; a new title (or frame, or profile) is a new file.
    path = data_dir / mn_poster.removeprefix("/media/")
    drawn_at = path.stat().st_mtime_ns
    poster_id = await db.fetchval("SELECT poster_media_id FROM programs WHERE id = ?", (pid,))
    frame = (await live.rendition_files(db, [poster_id], "cover-1080p"))[poster_id]
    draw = program_versions.poster_file
    same = await asyncio.to_thread(draw, data_dir, frame, version.title, "1080p")
    assert f"/media/{same}" == mn_poster and path.stat().st_mtime_ns == drawn_at
    other = await asyncio.to_thread(draw, data_dir, frame, version.title + " ᠠ", "1080p")
    assert f"/media/{other}" != mn_poster
    four_k = await (await client.get(await mn_box(client, "DEMO-0004") + f"v-{pid}")).text()
    assert POSTER.search(four_k)[1].endswith("-2160p.jpg")  # DEMO-0004's profile


async def test_mongolian_subtitles_come_with_their_letters_or_as_chinese_on_the_image_path(
    client,
):
    """Mongolian subtitles, drawn by the player as text: on the font path their letters join
    the screen's font subset (they arrive after the page, by XHR); a box that cannot shape
    Mongolian (the image path) is given the Chinese track instead of unreadable text."""
    import io

    from fontTools.ttLib import TTFont

    db = client.app[keys.DB]
    pid = await pid_of(client, "fang-dianxin-zhapian")
    rare = "\u1839\u1820\u1837\u1824"  # ᠹᠠᠷᠤ: a letter (f) no screen of the demo uses
    for lang, text in (("zh", "不要转账"), ("mn", f"ᠮᠥᠩᠭᠦ {rare}")):
        await publish_subtitles(client.app, pid, f"0:01 - 0:02 {text}", lang)
    # The font path.
    html = await (await client.get(await mn_box(client) + f"v-{pid}")).text()
    assert re.search(r'data-subs="[^"]+-mn-[0-9a-f]{16}\.vtt"', html)
    font_css = re.search(r'href="/tv/font/(mv-[0-9a-f]+)\.css"', html)[1]
    woff = await client.get(f"/tv/font/{font_css}.woff")
    assert woff.status == 200
    cmap = TTFont(io.BytesIO(await woff.read())).getBestCmap()
    assert all(ord(c) in cmap for c in rare)
    # The image path: no Mongolian text for a browser that cannot shape it.
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO device_models (model, vendor, keymap_family, screen_profile,"
            " mongolian_text) VALUES ('IPANEL-OLD', 'test', 'ipanel', '720p', 0)"
        )
        await tx.execute("UPDATE devices SET model = 'IPANEL-OLD' WHERE serial = 'DEMO-0004'")
    html = await (await client.get(await mn_box(client, "DEMO-0004") + f"v-{pid}")).text()
    assert re.search(r'data-subs="[^"]+-zh-[0-9a-f]{16}\.vtt"', html)
    assert not MONGOLIAN.search(html)
