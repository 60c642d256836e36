"""The editors' preview: three frames rendered by the TV's own templates, the saved draft (not
what is live), links kept inside the preview, frame-only framing headers, region scope."""

from __future__ import annotations

import re

import pytest

from content.programs import workflow
from content.programs.revisions import Fields
from tv_server import keys

IFRAME = re.compile(r'<iframe id="pv-(\w+)"[^>]* src="([^"]+)" width="(\d+)" height="(\d+)"')
HREF = re.compile(r'href="([^"]*)"')
IMG_SRC = re.compile(r'<img [^>]*src="([^"]+)"')


async def program_with_image(client) -> tuple[int, int]:
    row = await client.app[keys.DB].fetchone(
        "SELECT program_id, number FROM program_pages WHERE markdown LIKE '%![%'"
        " ORDER BY program_id, number LIMIT 1"
    )
    return row[0], row[1]


async def first_page(client, pid: int) -> tuple[str, str, int]:
    db = client.app[keys.DB]
    row = await db.fetchone(
        "SELECT title, markdown FROM program_pages WHERE program_id = ? AND number = 1", (pid,)
    )
    total = await db.fetchval("SELECT COUNT(*) FROM program_pages WHERE program_id = ?", (pid,))
    return row["title"], row["markdown"], total


def frame_url(pid: int, **query) -> str:
    return f"/admin/programs/{pid}/preview/frame?" + "&".join(f"{k}={v}" for k, v in query.items())


async def test_preview_page_holds_three_frames_at_their_real_sizes(client, admin_as):
    await admin_as("editor")
    response = await client.get("/admin/programs/1/preview")
    assert response.status == 200
    html = await response.text()
    frames = {m[0]: m[1:] for m in IFRAME.findall(html)}
    assert {k: v[1:] for k, v in frames.items()} == {
        "720p": ("1280", "720"),
        "1080p": ("1920", "1080"),
        "2160p": ("3840", "2160"),
    }
    for profile, (src, *_size) in frames.items():
        assert f"profile={profile}" in src
        assert "page=1" in src
    assert "/static/preview." in html
    # The admin page itself may still not be framed by anyone.
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_frame_is_the_tv_page_with_links_kept_in_the_preview(client, admin_as):
    await admin_as("editor")
    title, markdown, total = await first_page(client, 1)
    response = await client.get(frame_url(1, profile="2160p", page=1))
    assert response.status == 200
    html = await response.text()
    assert "data-pager" in html
    assert title in html
    assert markdown.split("\n")[0][:12] in html
    assert f"1 / {total}" in html
    assert "/static/tv." in html  # the box's own script: arrows work inside the frame
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp
    assert "frame-ancestors 'none'" not in csp
    links = [
        h.replace("&amp;", "&")
        for h in HREF.findall(html)
        if h and not h.startswith(("/static/", "/tv/css/", "data:"))
    ]
    assert links
    assert all(h.startswith("/admin/programs/1/preview/frame?") for h in links), links
    assert any("page=2" in h and "profile=2160p" in h for h in links)
    assert 'data-back-force="1"' in html


async def test_frame_records_no_usage(client, admin_as):
    await admin_as("editor")
    db = client.app[keys.DB]
    before = await db.fetchval("SELECT COUNT(*) FROM usage_events")
    await client.get(frame_url(1, profile="720p", page=2))
    await client.app[keys.USAGE].flush()
    assert await db.fetchval("SELECT COUNT(*) FROM usage_events") == before


@pytest.mark.parametrize(
    ("profile", "webp", "spec", "suffix"),
    [
        ("720p", "0", "page-720p", ".jpg"),
        ("2160p", "0", "page-2160p", ".jpg"),
        ("1080p", "1", "page-1080p-webp", ".webp"),
    ],
)
async def test_frame_images_are_the_profile_renditions(
    client, admin_as, profile, webp, spec, suffix
):
    await admin_as("editor")
    pid, number = await program_with_image(client)
    html = await (await client.get(frame_url(pid, profile=profile, page=number, webp=webp))).text()
    expected = await client.app[keys.DB].fetchall(
        "SELECT r.file FROM renditions r JOIN program_media pm ON pm.media_id = r.media_id"
        " WHERE pm.program_id = ? AND r.spec = ?",
        (pid, spec),
    )
    sources = IMG_SRC.findall(html)
    assert sources
    for src in sources:
        assert src.endswith(suffix)
        assert src.removeprefix("/media/") in {r[0] for r in expected}


async def test_preview_shows_the_saved_draft_while_the_tv_keeps_the_live_text(
    client, admin_as, box, data_dir
):
    await admin_as("editor")
    db = client.app[keys.DB]
    state = await workflow.get_state(db, 1)
    live_rev = state.draft.id
    fields = Fields.of(state.draft.content)
    body = (
        "# 新的第一页\n\n这是编辑刚刚保存、还没有审核的文字。\n\n" + fields.body.split("\n", 1)[1]
    )
    draft_rev = await workflow.save_draft(
        db, data_dir, 1, Fields(**{**fields.__dict__, "body": body}),
        base_revision=live_rev, region_exists=lambda code: True, max_bytes=10**7, author="editor",
    )  # fmt: skip
    assert draft_rev != live_rev
    draft = await (await client.get(frame_url(1, profile="1080p", page=1))).text()
    assert "这是编辑刚刚保存" in draft
    old = await (await client.get(frame_url(1, profile="1080p", page=1, rev=live_rev))).text()
    assert "这是编辑刚刚保存" not in old
    tv = await (await client.get(f"{box}p-1-1")).text()
    assert "这是编辑刚刚保存" not in tv
    page = await (await client.get("/admin/programs/1/preview")).text()
    assert f"rev={draft_rev}" in page


async def test_video_frame_uses_the_tv_video_screen(client, admin_as):
    await admin_as("editor")
    pid = await client.app[keys.DB].fetchval(
        "SELECT id FROM programs WHERE video_media_id IS NOT NULL ORDER BY id LIMIT 1"
    )
    response = await client.get(frame_url(pid, profile="2160p", page="video"))
    assert response.status == 200
    html = await response.text()
    assert "<video" in html
    assert re.search(r'poster="/media/renditions/[^"]*cover-2160p', html), html
    page = await (await client.get(f"/admin/programs/{pid}/preview")).text()
    assert "page=video" in page


async def test_viewer_may_preview(client, admin_as):
    await admin_as("viewer")
    assert (await client.get("/admin/programs/1/preview")).status == 200
    assert (await client.get(frame_url(1, profile="720p", page=1))).status == 200


async def test_scoped_editor_previews_what_their_region_sees_and_nothing_else(
    client, admin_as, data_dir
):
    db = client.app[keys.DB]
    # Program 1 reaches the whole city, so boxes in 东胜区 show it: the scoped editor may look.
    await admin_as("dsq_editor")
    for path in ("/admin/programs/1/preview", frame_url(1, profile="720p", page=1)):
        assert (await client.get(path)).status == 200
    # Aimed at 乌审旗 only, no box of 东胜区 shows it: refused and audited.
    fields = Fields.of((await workflow.get_state(db, 1)).draft.content)
    pid = await workflow.create_program(
        db, data_dir,
        Fields(**{**fields.__dict__, "regions": ("150626",), "body": "# 一\n\n乌审旗的节目。"}),
        region_exists=lambda code: True, max_bytes=10**7, author="editor",
    )  # fmt: skip
    for path in (f"/admin/programs/{pid}/preview", frame_url(pid, profile="720p", page=1)):
        assert (await client.get(path)).status == 403
    denied = await db.fetchall(
        "SELECT username FROM audit_log WHERE outcome = 'denied' AND action = 'view'"
    )
    assert len(denied) == 2 and denied[0][0] == "dsq_editor"


@pytest.mark.parametrize(
    "query",
    [
        {"profile": "4320p", "page": 1},
        {"profile": "720p", "page": 99},
        {"profile": "720p", "page": "video"},
    ],
)
async def test_bad_frame_requests_are_404(client, admin_as, query):
    await admin_as("editor")
    pid = await client.app[keys.DB].fetchval(
        "SELECT id FROM programs WHERE video_media_id IS NULL ORDER BY id LIMIT 1"
    )
    assert (await client.get(frame_url(pid, **query))).status == 404


async def test_preview_needs_a_login(client):
    response = await client.get("/admin/programs/1/preview", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/admin/login")
