"""Subtitles of program videos through the real app: an editor types a cue list or uploads an
.srt/.vtt (refused with a Chinese message naming the line when malformed, capped in size) into
the program's working copy; once a reviewer publishes it, the box gets a WebVTT track in its
language to draw over the video, switches subtitles off and on (remembered per box); a model
that cannot draw over a playing video gets the MP4 with the subtitles burned in (FFmpeg's
subtitles filter), checked frame by frame."""

from __future__ import annotations

import asyncio
import re
import subprocess

import pytest
from aiohttp import FormData

from content.programs import subtitle_edits, subtitles, video, workflow
from storage import Invalid
from tests.helpers import act_on_program, csrf_of, enter, login, make_settings
from tv_server import keys, video_tasks
from tv_server.app import create_app

SLUG = "fang-dianxin-zhapian"  # the demo program with a video


async def demo_program(db) -> tuple[int, int]:
    row = await db.fetchone(
        "SELECT id, video_media_id FROM programs WHERE slug = ? AND status = 'published'", (SLUG,)
    )
    return row["id"], row["video_media_id"]


async def post_subs(client, pid: int, *, lang="zh", cues="", file=None, burn=False, remove=False):
    token = await csrf_of(client, f"/admin/programs/{pid}")
    data = FormData()
    data.add_field("csrf_token", token)
    data.add_field("lang", lang)
    data.add_field("cues", cues)
    if burn:
        data.add_field("burn", "1")
    if remove:
        data.add_field("remove", "1")
    if file is not None:
        name, raw = file
        data.add_field("file", raw, filename=name, content_type="application/octet-stream")
    return await client.post(f"/admin/programs/{pid}/subtitles", data=data, allow_redirects=False)


async def draft_track(db, pid: int, lang: str = "zh") -> subtitles.Track | None:
    """The working copy's track in a language (what the program page shows)."""
    state = await workflow.get_state(db, pid)
    return (await subtitle_edits.draft_tracks(db, pid, state.draft.content)).get(lang)


async def publish(client, pid: int, editor: str = "editor") -> None:
    """The editor submits the working copy, a reviewer approves it; the editor is back."""
    assert (await act_on_program(client, pid, "submit")).status == 303
    await approve(client, pid, editor)


async def approve(client, pid: int, editor: str = "editor", shows: str = "") -> None:
    client.session.cookie_jar.clear()
    assert (await login(client, "reviewer")).status == 303
    if shows:
        review = await (await client.get(f"/admin/programs/{pid}/review")).text()
        assert "字幕" in review and shows in review, review
    approved = await act_on_program(client, pid, "approve")
    assert approved.status == 303 and "program_published" in approved.headers["Location"]
    client.session.cookie_jar.clear()
    assert (await login(client, editor)).status == 303


# -- parsing -----------------------------------------------------------------------------------


def test_srt_vtt_and_the_cue_list_give_the_same_cues():
    srt = (
        "1\r\n00:00:01,000 --> 00:00:03,500\r\n<i>电信诈骗</i>\r\n第二行\r\n\r\n"
        "2\r\n00:00:04,000 --> 00:00:06,000\r\n不要转账\r\n"
    )
    vtt = (
        "WEBVTT\n\nNOTE 注释\n\n00:01.000 --> 00:03.500 align:center\n电信诈骗\n第二行\n\n"
        "00:04.000 --> 00:06.000\n不要转账\n"
    )
    cues = subtitles.parse(subtitles.decode(srt.encode("gb18030")))  # a GBK .srt
    assert cues == subtitles.parse(vtt)
    assert cues[0] == subtitles.Cue(1.0, 3.5, "电信诈骗\n第二行")
    typed = subtitles.to_list(cues)
    assert typed.splitlines() == ["0:01 - 0:03.5 电信诈骗 第二行", "0:04 - 0:06 不要转账"]
    assert [c.text for c in subtitles.parse(typed)] == ["电信诈骗 第二行", "不要转账"]
    text = subtitles.to_vtt(subtitles.parse("0:01 - 0:02 a < b & c"))
    assert text.startswith("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\na &lt; b &amp; c")


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ("0:01 - 0:02 好\n0:03 到 0:04 不好", "subtitle_bad_line", 2),
        ("0:05 - 0:02 倒着", "subtitle_bad_time", 1),
        ("0:01 - 0:75 秒数", "subtitle_bad_time", 1),
        ("0:01 - 0:02 " + "长" * 201, "subtitle_cue_too_long", 1),
        ("\n\n", "subtitle_empty", None),
    ],
)
def test_malformed_cues_are_refused_naming_the_line(text, code, line):
    with pytest.raises(Invalid) as caught:
        subtitles.parse(text)
    assert caught.value.code == code
    assert caught.value.params.get("line") == line


def test_sizes_are_capped():
    many = "\n".join(f"{i // 60}:{i % 60:02d} - {i // 60}:{i % 60:02d}.5 字" for i in range(3001))
    with pytest.raises(Invalid, match="subtitle_too_many"):
        subtitles.parse(many)
    with pytest.raises(Invalid, match="subtitle_too_large"):
        subtitles.decode(b"a" * (subtitles.MAX_BYTES + 1))
    with pytest.raises(Invalid, match="subtitle_not_text"):
        subtitles.decode(b"\x00\x01WEBVTT")


# -- the editor and the box ------------------------------------------------------------------------


async def test_typed_subtitles_reach_the_box_once_published_and_it_turns_them_off_and_on(client):
    db = client.app[keys.DB]
    pid, _media_id = await demo_program(db)
    base = await enter(client, "DEMO-0001")
    before = await (await client.get(f"{base}v-{pid}")).text()
    assert "data-subs=" not in before and 'id="subs-btn"' not in before
    assert (await login(client, "editor")).status == 303
    saved = await post_subs(client, pid, cues="0:01 - 0:04 不要相信陌生电话\n0:05 - 0:08 拨打12348")
    assert saved.status == 303, await saved.text()
    page = await (await client.get(saved.headers["Location"])).text()
    assert "字幕已存入待审核的版本" in page and "0:05 - 0:08 拨打12348" in page and "2 条" in page
    entry = await db.fetchone(
        "SELECT username, detail FROM audit_log WHERE action = 'program.subtitles' ORDER BY id DESC"
    )
    assert entry["username"] == "editor" and '"cues": 2' in entry["detail"]
    assert '"revision": ' in entry["detail"]
    # A draft: the box does not show them yet; the reviewer sees them in the changes.
    assert "data-subs=" not in await (await client.get(f"{base}v-{pid}")).text()
    state = await workflow.get_state(db, pid)
    assert state.workflow.state == "draft" and state.draft.content.subtitles["zh"]["cues"] == 2
    assert (await act_on_program(client, pid, "submit")).status == 303
    await approve(client, pid, shows="zh 2 · ")  # the reviewer sees the change under 字幕
    # The box's video screen names the track and shows the switch; the track is WebVTT.
    html = await (await client.get(f"{base}v-{pid}")).text()
    url = re.search(r'data-subs="([^"]+)"', html).group(1)
    assert 'data-subs-on="1"' in html and re.search(r'id="subs-btn"[^>]*>字幕：开<', html)
    track = await client.get(url)
    assert track.status == 200 and track.content_type == "text/vtt"
    assert "immutable" in track.headers["Cache-Control"]
    assert "00:00:05.000 --> 00:00:08.000\n拨打12348" in await track.text()
    assert (await client.get(url.replace(".vtt", "0.vtt"))).status == 404
    assert (await client.get(url[:-8] + "00000000.vtt")).status == 404  # wrong hash
    # Off with the colour key: remembered for this box (and only this one), on again.
    assert (await client.get(f"{base}v-{pid}/subs?on=0")).status == 204
    html = await (await client.get(f"{base}v-{pid}")).text()
    assert 'data-subs-on="0"' in html and re.search(r'id="subs-btn"[^>]*>字幕：关<', html)
    other = await enter(client, "DEMO-0003")
    assert 'data-subs-on="1"' in await (await client.get(f"{other}v-{pid}")).text()
    assert (await client.get(f"{base}v-{pid}/subs?on=maybe")).status == 400
    assert (await client.get(f"{base}v-{pid}/subs?on=1")).status == 204
    assert 'data-subs-on="1"' in await (await client.get(f"{base}v-{pid}")).text()
    # Removed: a draft too; the box offers them until that draft is published.
    assert (await post_subs(client, pid, remove=True)).status == 303
    assert await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'program.subtitles_remove'"
    )
    assert "data-subs=" in await (await client.get(f"{base}v-{pid}")).text()
    assert await draft_track(db, pid) is None
    await publish(client, pid)
    assert "data-subs=" not in await (await client.get(f"{base}v-{pid}")).text()
    assert await subtitles.live_refs(db, pid) == {}


async def test_uploaded_srt_and_refusals_next_to_the_form(client):
    db = client.app[keys.DB]
    pid, _media_id = await demo_program(db)
    assert (await login(client, "editor")).status == 303
    srt = "1\n00:00:02,000 --> 00:00:03,000\n你好\n".encode("gb18030")
    assert (await post_subs(client, pid, file=("a.srt", srt))).status == 303
    assert (await draft_track(db, pid)).cues == 1
    refused = await post_subs(client, pid, cues="0:01 - 0:02 好\n这一行没有时间")
    text = await refused.text()
    assert refused.status == 400
    assert "第2行看不懂" in text and "这一行没有时间" in text  # the typed text is kept
    assert (await draft_track(db, pid)).cues == 1  # unchanged
    big = await post_subs(client, pid, file=("big.vtt", b"WEBVTT\n\n" + b"x" * 600_000))
    assert big.status == 413 and "字幕文件太大" in await big.text()
    bad_lang = await post_subs(client, pid, lang="en", cues="0:01 - 0:02 hi")
    assert bad_lang.status == 400 and "不支持这种字幕语言" in await bad_lang.text()


async def test_a_mongolian_box_gets_the_mongolian_track(client):
    db = client.app[keys.DB]
    pid, _media_id = await demo_program(db)
    assert (await login(client, "editor")).status == 303
    assert (await post_subs(client, pid, cues="0:01 - 0:02 中文")).status == 303
    assert (await post_subs(client, pid, lang="mn", cues="0:01 - 0:02 ᠮᠣᠩᠭᠣᠯ")).status == 303
    await publish(client, pid)
    async with db.transaction() as tx:
        await tx.execute("UPDATE devices SET language = 'mn' WHERE serial = 'DEMO-0002'")
    for serial, lang in (("DEMO-0001", "zh"), ("DEMO-0002", "mn")):
        base = await enter(client, serial)
        html = await (await client.get(f"{base}v-{pid}")).text()
        assert re.search(rf'data-subs="[^"]+-{lang}-[0-9a-f]{{16}}\.vtt"', html), serial


async def test_a_viewer_cannot_change_subtitles(client):
    pid, _media_id = await demo_program(client.app[keys.DB])
    assert (await login(client, "viewer")).status == 303
    response = await post_subs(client, pid, cues="0:01 - 0:02 不行")
    assert response.status == 403


# -- burned in, for models that cannot draw over the video -------------------------------------


def _mean_luma(path, at: float) -> float:
    """Mean brightness of the bottom fifth of a frame (where subtitles are drawn)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1",
         "-vf", "crop=iw:ih/5:0:ih*4/5,format=gray", "-f", "rawvideo", "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return sum(out.stdout) / len(out.stdout)


async def test_burned_in_copy_for_a_model_without_overlay(front_client, data_dir):
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    pid, media_id = await demo_program(db)
    # The demo video (a new dark source in this test's copy) goes through the pipeline.
    clip = data_dir / "src" / "black.mp4"
    clip.parent.mkdir()
    await asyncio.to_thread(  # a dark picture: white subtitles stand out
        subprocess.run,
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=640x360:d=3",
         "-f", "lavfi", "-i", "sine=d=3", "-c:v", "libx264", "-c:a", "aac", "-shortest",
         str(clip)], check=True, timeout=60,
    )  # fmt: skip
    async with db.transaction() as tx:
        await tx.execute("UPDATE media SET file = 'src/black.mp4' WHERE id = ?", (media_id,))
    async with db.transaction() as tx:
        await video.enqueue(tx, media_id)
    ladder = video.parse_ladder("540:1200")
    assert await video.run_next(db, data_dir, ladder=ladder, max_seconds=7200) == "done"
    assert (await login(client, "editor")).status == 303
    saved = await post_subs(client, pid, cues="0:00.5 - 0:02.5 烧录的字幕文字很长很长", burn=True)
    assert saved.status == 303
    assert "等待烧录进视频" in await (await client.get(f"/admin/programs/{pid}")).text()
    assert await subtitles.run_next_burn(db, data_dir) == "done"
    track = await draft_track(db, pid)
    assert track.burn_state == "done" and track.burn_file.endswith(".mp4")
    burned = data_dir / track.burn_file
    clean = burned.parent / "video-720p.mp4"
    assert _mean_luma(burned, 1.5) > _mean_luma(clean, 1.5) + 3  # white text at the bottom
    assert abs(_mean_luma(burned, 2.8) - _mean_luma(clean, 2.8)) <= 2  # after the cue: none
    await publish(client, pid)
    # A model that draws over the video gets the track; one that cannot gets the burned MP4,
    # and the clean one when its household turned subtitles off.
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE device_models SET subtitle_overlay = 0 WHERE model ="
            " (SELECT model FROM devices WHERE serial = 'DEMO-0001')"
        )
    base = await enter(client, "DEMO-0001")
    html = await (await client.get(f"{base}v-{pid}")).text()
    assert "data-subs=" not in html and 'data-subs-burned="1"' in html
    assert re.search(r'<video[^>]* src="([^"]+)"', html).group(1) == f"/media/{track.burn_file}"
    assert (await client.get(f"/media/{track.burn_file}")).status == 200
    await client.get(f"{base}v-{pid}/subs?on=0")
    html = await (await client.get(f"{base}v-{pid}")).text()
    assert re.search(r'<video[^>]* src="([^"]+)"', html).group(1).endswith("/video-720p.mp4")
    await client.get(f"{base}v-{pid}/subs?on=1")
    # Changing the text queues a new burn for the draft; boxes keep the published one meanwhile.
    # Saved again before it ran: still one burn to run.
    assert (await post_subs(client, pid, cues="0:01 - 0:02 旧的", burn=True)).status == 303
    assert (await post_subs(client, pid, cues="0:01 - 0:02 新的", burn=True)).status == 303
    assert (await draft_track(db, pid)).burn_state == "queued"
    queued = "SELECT COUNT(*) FROM subtitle_burns WHERE state = 'queued'"
    assert await db.fetchval(queued) == 1
    assert await subtitles.run_next_burn(db, data_dir) == "done"
    assert burned.exists()
    html = await (await client.get(f"{base}v-{pid}")).text()
    assert re.search(r'<video[^>]* src="([^"]+)"', html).group(1) == f"/media/{track.burn_file}"
    await publish(client, pid)
    html = await (await client.get(f"{base}v-{pid}")).text()
    newer = (await draft_track(db, pid)).burn_file
    assert newer != track.burn_file
    assert re.search(r'<video[^>]* src="([^"]+)"', html).group(1) == f"/media/{newer}"
    # The first copy: no draft or published track shows it any more, the leader's sweep deletes
    # it (row and MP4); the one boxes are shown stays.
    assert burned.exists()
    assert await video_tasks.prune_once(client.app) == 1
    assert not burned.exists() and (data_dir / newer).is_file()
    assert (await client.get(f"/media/{track.burn_file}")).status == 404
    burns = "SELECT COUNT(*) FROM subtitle_burns WHERE file = ?"
    assert await db.fetchval(burns, (track.burn_file,)) == 0
    assert await db.fetchval(burns, (newer,)) == 1
    html = await (await client.get(f"{base}v-{pid}")).text()
    assert re.search(r'<video[^>]* src="([^"]+)"', html).group(1) == f"/media/{newer}"
    assert await video_tasks.prune_once(client.app) == 0
    # Burned for a draft that is not published yet: kept too.
    assert (await post_subs(client, pid, cues="0:01 - 0:02 草稿的", burn=True)).status == 303
    assert await subtitles.run_next_burn(db, data_dir) == "done"
    draft_file = data_dir / (await draft_track(db, pid)).burn_file
    assert await video_tasks.prune_once(client.app) == 0
    assert draft_file.is_file() and (data_dir / newer).is_file()


async def test_the_preview_shows_the_subtitles(client):
    pid, _media_id = await demo_program(client.app[keys.DB])
    assert (await login(client, "editor")).status == 303
    assert (await post_subs(client, pid, cues="0:01 - 0:02 预览里也有")).status == 303
    frame = await client.get(f"/admin/programs/{pid}/preview/frame?page=video&profile=720p")
    html = await frame.text()
    assert frame.status == 200, html[:300]
    url = re.search(r'data-subs="([^"]+)"', html).group(1)
    assert "预览里也有" in await (await client.get(url)).text()
