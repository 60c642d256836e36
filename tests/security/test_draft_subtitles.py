"""A draft's subtitles stay with the editors. A subtitle text is named on the TV by a 64-bit
prefix of its hash (`/tv/subs/…-zh-<16 hex>.vtt`, no box check: the player fetches it); anyone
who learns that name (a log line, a shared preview link, a screenshot of the network panel) must
not read an unreviewed draft's text through it. The TV URL serves only the texts a published
program shows; the editors' preview serves a revision's own tracks under the admin, to users who
may preview the program, never cached."""

from __future__ import annotations

import re

from content.programs import subtitle_edits, workflow
from tests.helpers import act_on_program, csrf_of, login
from tv_server import keys

SLUG = "fang-dianxin-zhapian"  # the demo program with a video
SECRET_LINE = "尚未审核的字幕内容"


async def _save_draft_subtitles(client, pid: int) -> None:
    token = await csrf_of(client, f"/admin/programs/{pid}")
    saved = await client.post(
        f"/admin/programs/{pid}/subtitles",
        data={"csrf_token": token, "lang": "zh", "cues": f"0:01 - 0:04 {SECRET_LINE}"},
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()


async def test_a_drafts_subtitles_are_served_only_to_its_editors_until_published(client):
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = ?", (SLUG,))
    assert (await login(client, "editor")).status == 303
    await _save_draft_subtitles(client, pid)
    state = await workflow.get_state(db, pid)
    track = (await subtitle_edits.draft_tracks(db, pid, state.draft.content))["zh"]
    media_id = track.media_id or 0
    tv_url = f"/tv/subs/{media_id}-zh-{track.sha[:16]}.vtt"

    # The editors' preview names its own URL, and serves the draft's text to the editor.
    frame = await client.get(f"/admin/programs/{pid}/preview/frame?page=video&profile=720p")
    assert frame.status == 200
    preview_url = re.search(r'data-subs="([^"]+)"', await frame.text()).group(1)
    assert preview_url.startswith(f"/admin/programs/{pid}/preview/subs/")
    served = await client.get(preview_url.replace("&amp;", "&"))
    assert served.status == 200 and served.content_type == "text/vtt"
    assert SECRET_LINE in await served.text()
    assert "no-store" in served.headers["Cache-Control"]
    wrong = preview_url.replace(track.sha[:16], "0" * 16).replace("&amp;", "&")
    assert (await client.get(wrong)).status == 404

    # Anyone else, knowing both names: the TV's URL does not know a draft, the admin's wants a
    # login.
    client.session.cookie_jar.clear()
    anonymous_tv = await client.get(tv_url)
    assert anonymous_tv.status == 404 and SECRET_LINE not in await anonymous_tv.text()
    anonymous_admin = await client.get(preview_url.replace("&amp;", "&"), allow_redirects=False)
    assert anonymous_admin.status != 200
    assert SECRET_LINE not in await anonymous_admin.text()

    # Published: the boxes get it; withdrawn: gone again.
    assert (await login(client, "editor")).status == 303
    assert (await act_on_program(client, pid, "submit")).status == 303
    client.session.cookie_jar.clear()
    assert (await login(client, "reviewer")).status == 303
    assert (await act_on_program(client, pid, "approve")).status == 303
    published = await client.get(tv_url)
    assert published.status == 200 and SECRET_LINE in await published.text()
    assert (await act_on_program(client, pid, "unpublish")).status == 303
    client.session.cookie_jar.clear()
    assert (await client.get(tv_url)).status == 404
