"""Video ingest (issue 12): any common video — MP4/MOV/MKV/WebM with H.264/H.265/VP9/AV1, any
frame rate and aspect — is judged by its bytes and by ffprobe, refused with a clear Chinese
message when it cannot become a program video, and transcoded into the H.264 ladder and MP4;
videos in content packages are queued like uploads and round-trip through export; the editor
picks the poster among the transcode's frames or uploads one."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from aiohttp import FormData
from PIL import Image, ImageChops, ImageStat

from content.programs import export, package_import, uploads, video, workflow
from storage import Invalid
from tests.helpers import (
    CATALOG,
    act_on_program,
    create,
    csrf_of,
    enter,
    login,
    make_settings,
    save_with_video,
)
from tests.video_samples import (
    audio_only,
    damaged_start,
    garbage_after_header,
    sample,
    unknown_codec,
)
from tv_server import keys
from tv_server.app import create_app

FULL_LADDER = video.parse_ladder(video.DEFAULT_LADDER)


def streams(path: Path, kind: str = "v") -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-select_streams",
         f"{kind}:0", str(path)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout)["streams"][0]


# -- judged by the bytes -----------------------------------------------------------------------


def test_containers_are_sniffed_from_the_bytes_not_the_name(tmp_path):
    assert uploads.sniff_file(sample("hevc_mov")) == "mov"
    assert uploads.sniff_file(sample("vp9_webm")) == "webm"
    assert uploads.sniff_file(sample("av1_mkv")) == "mkv"
    assert uploads.sniff_file(audio_only()) == "mp4"
    # A QuickTime file of the time before `ftyp` starts with another atom.
    data = sample("hevc_mov").read_bytes()
    old = tmp_path / "old.mov"
    old.write_bytes(data[int.from_bytes(data[:4], "big") :])
    assert uploads.sniff_file(old) == "mov"
    assert uploads.check_video(old) == "mov"
    assert uploads.sniff(b"\x1a\x45\xdf\xa3" + b"\x00" * 20) == "mkv"
    # Within videos the bytes decide; a video is never taken under a picture's name.
    assert uploads.name_matches("clip.mp4", "mkv") and uploads.name_matches("a.webm", "webm")
    assert not uploads.name_matches("photo.jpg", "webm")
    with pytest.raises(Invalid) as caught:
        uploads.check_video(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    assert caught.value.code == "upload_not_mp4"
    with pytest.raises(Invalid) as caught:  # an MP4 cut before its moov box
        uploads.check_video(audio_only().read_bytes()[:40])
    assert caught.value.code in ("upload_truncated", "upload_not_mp4")


# -- refused, with a clear message -------------------------------------------------------------


async def xhr_upload(client, path: Path, name: str):
    token = await csrf_of(client, "/admin/media")
    data = FormData()
    data.add_field("kind", "video")
    raw = await asyncio.to_thread(path.read_bytes)
    data.add_field("file", raw, filename=name, content_type="application/octet-stream")
    return await client.post("/admin/media", data=data, headers={"X-CSRF-Token": token})


async def test_what_cannot_become_a_program_video_is_refused_in_chinese(front_client, data_dir):
    client = await front_client(create_app(make_settings(data_dir, video_max_seconds=1)))
    assert (await login(client, "editor")).status == 303
    cases = [
        (audio_only(), "sound.mp4", "video_no_stream", "没有视频画面"),
        (sample("short_webm"), "short.webm", "video_too_short", "至少要1秒"),
        (sample("vp9_webm"), "long.webm", "video_too_long", "视频太长"),  # 1.5 s > 1 s
        (unknown_codec(), "odd.mkv", "video_codec", "无法解码"),
    ]
    for path, name, code, text in cases:
        response = await xhr_upload(client, path, name)
        body = await response.json()
        assert response.status == 400 and body["error"]["code"] == code, (name, body)
        assert text in body["error"]["message"], body
    assert await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM video_jobs") == 0
    assert await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM media WHERE kind = 'video'")


def _strict_first_frame(path: Path) -> subprocess.CompletedProcess:
    """FFmpeg reading a file's first frame and stopping at the first error (`-xerror`)."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-xerror", "-i", str(path), "-map", "0:v:0",
         "-frames:v", "1", "-f", "framecrc", "-"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip


async def test_a_video_whose_opening_packets_are_damaged_is_taken_and_transcoded(
    front_client, data_dir
):
    """A phone recording whose first packets are damaged: FFmpeg's strict reading of its first
    frame fails, yet pictures decode from the key frame at 1 s. The upload takes it (keeping
    that first good frame for the preview) and the transcode completes; a file whose header is
    valid but where nothing decodes is still refused with the clear message."""
    damaged = damaged_start()
    strict = await asyncio.to_thread(_strict_first_frame, damaged)
    assert strict.returncode != 0 and b"NAL" in strict.stderr  # the sample is damaged indeed
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    assert (await login(client, "editor")).status == 303
    response = await xhr_upload(client, damaged, "手机录的.mp4")
    body = await response.json()
    assert response.status == 200, body
    # The first good frame (the key frame at 1 s: its big "1") is kept for the preview.
    first = data_dir / video.first_frame_rel(body["sha256"])
    with Image.open(first) as frame:
        assert frame.format == "JPEG" and frame.size == (320, 180)
        kept = frame.convert("RGB")
    clean = await asyncio.to_thread(
        subprocess.run,
        ["ffmpeg", "-v", "error", "-ss", "1", "-i", str(damaged), "-frames:v", "1", "-f",
         "image2pipe", "-c:v", "png", "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    with Image.open(io.BytesIO(clean.stdout)) as one_second:
        diff = ImageStat.Stat(ImageChops.difference(one_second.convert("RGB"), kept)).mean
    assert max(diff) < 6, diff  # the same picture, give or take JPEG
    # The transcode then completes, from the first good frame to the end.
    ladder = video.parse_ladder("540:1200")
    assert await video.run_next(db, data_dir, ladder=ladder, max_seconds=7200) == "done"
    job = await video.job_for(db, body["id"])
    mp4 = data_dir / job.outputs["dir"] / "video-720p.mp4"
    made = streams(mp4)
    assert made["codec_name"] == "h264" and float(made["duration"]) >= 2.9, made
    assert streams(mp4, "a")["codec_name"] == "aac"
    # Garbage after a valid header: ffprobe names an H.264 stream, FFmpeg decodes nothing.
    garbage = garbage_after_header()
    assert video.probe(garbage, max_seconds=60).codec == "h264"
    response = await xhr_upload(client, garbage, "坏文件.mp4")
    body = await response.json()
    assert response.status == 400 and body["error"]["code"] == "video_unreadable", body
    assert "无法读取这个视频文件" in body["error"]["message"]
    assert await db.fetchval("SELECT COUNT(*) FROM video_jobs") == 1
    refused_sha = hashlib.sha256(garbage.read_bytes()).hexdigest()
    assert not (data_dir / video.first_frame_rel(refused_sha)).exists()


# -- every container and codec becomes the H.264 ladder ------------------------------------------


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, tuple[Path, dict, video.Probe]]:
    root = tmp_path_factory.mktemp("ingest")
    out = {}
    for name in ("hevc_mov", "vp9_webm", "av1_mkv", "anamorphic_mp4"):
        src = sample(name)
        facts = video.make_outputs(
            root, src, name * 4, ladder=FULL_LADDER, max_seconds=7200, run=video.Runner()
        )
        out[name] = (video.output_dir(root, name * 4), facts, video.probe(src, max_seconds=60))
    return out


def test_h265_vp9_and_av1_sources_become_h264_renditions_never_above_the_source(made):
    for name, (folder, facts, src) in made.items():
        assert (src.codec, name) in {("hevc", "hevc_mov"), ("vp9", "vp9_webm"), ("av1", "av1_mkv"),
                                     ("h264", "anamorphic_mp4")}  # fmt: skip
        sizes = []
        for rendition in facts["renditions"]:
            info = streams(folder / "hls" / rendition["name"] / "seg0000.ts")
            assert info["codec_name"] == "h264" and info["pix_fmt"] == "yuv420p", (name, info)
            size = (info["width"], info["height"])
            assert size == (rendition["width"], rendition["height"])
            assert size[0] % 2 == 0 and size[1] % 2 == 0, (name, size)  # H.264 4:2:0
            sizes.append(size)
        mp4 = streams(folder / "video-720p.mp4")
        assert mp4["codec_name"] == "h264" and mp4["profile"] == "Main"
        assert mp4["width"] % 2 == 0 and mp4["height"] % 2 == 0
        assert streams(folder / "video-720p.mp4", "a")["codec_name"] == "aac"  # silence too
        assert len(facts["posters"]) == len(video.POSTER_SHARES)
        if name == "hevc_mov":  # 1280×720 at 50 fps: 540p and 720p, no 1080p
            assert sizes == [(960, 540), (1280, 720)]
            assert (mp4["width"], mp4["height"]) == (1280, 720)
        else:  # smaller than the lowest rung: one rendition at its own size, made even
            assert len(sizes) == 1
            w, h = sizes[0]
            assert abs(w - src.width) <= 1 and abs(h - src.height) <= 1
    portrait = made["av1_mkv"][1]["renditions"][0]
    assert portrait["height"] > portrait["width"]  # an upright phone video stays upright
    assert (made["vp9_webm"][1]["renditions"][0]["width"], made["vp9_webm"][2].width) == (160, 161)


def _packets(path: Path, kind: str) -> list[dict]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-select_streams", f"{kind}:0",
         "-show_entries", "packet=pts_time,duration_time,flags", str(path)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout)["packets"]


def test_a_120_fps_phone_video_plays_at_30_fps_in_sync_with_two_second_gops(tmp_path, made):
    """A slow-motion phone video (120 fps) is not sent to boxes at 120 fps: its 540p/720p
    renditions and the MP4 keep every 4th frame (30 fps), the sound stays in sync, and each
    2-second segment still starts with a key frame (one GOP per segment at 30 fps)."""
    src = sample("fps120_mp4")
    assert video.probe(src, max_seconds=60).fps == 120
    facts = video.make_outputs(
        tmp_path, src, "c" * 64, ladder=FULL_LADDER, max_seconds=7200, run=video.Runner()
    )
    folder = video.output_dir(tmp_path, "c" * 64)
    assert facts["source"]["fps"] == 120 and facts["mp4"]["fps"] == 30
    outputs = [folder / "video-720p.mp4"]
    for rendition in facts["renditions"]:
        assert rendition["fps"] == 30
        playlist = (folder / "hls" / rendition["name"] / "index.m3u8").read_text()
        assert re.findall(r"#EXTINF:([\d.]+)", playlist)[:2] == ["2.000000", "2.000000"]
        segments = sorted((folder / "hls" / rendition["name"]).glob("seg*.ts"))
        assert len(segments) == 3
        for segment in segments:
            assert _packets(segment, "v")[0]["flags"].startswith("K"), segment
        outputs.append(segments[0])
    for path in outputs:
        assert streams(path)["avg_frame_rate"] == "30/1", path
    mp4 = folder / "video-720p.mp4"
    frames = _packets(mp4, "v")
    assert abs(len(frames) - 4.2 * 30) <= 1  # every 4th of 504 frames
    keys_at = sorted(round(float(p["pts_time"]), 2) for p in frames if p["flags"].startswith("K"))
    assert keys_at == [0.0, 2.0, 4.0], keys_at
    sound = _packets(mp4, "a")
    video_end = max(float(p["pts_time"]) + float(p["duration_time"]) for p in frames)
    audio_end = max(float(p["pts_time"]) + float(p["duration_time"]) for p in sound)
    assert abs(video_end - audio_end) < 0.1 and abs(video_end - 4.2) < 0.1
    # A 720p50 phone video: its 540p and 720p renditions at 25 fps (every 2nd frame).
    hevc_folder, hevc_facts, _src = made["hevc_mov"]
    assert [r["fps"] for r in hevc_facts["renditions"]] == [25, 25]
    assert streams(hevc_folder / "hls" / "720p" / "seg0000.ts")["avg_frame_rate"] == "25/1"


def test_the_frame_rate_cap_divides_by_a_whole_number_where_it_can():
    def rate(source, height, cap=60):
        source = Fraction(source) if source is not None else None
        return video.output_rate(source, video.max_fps_for(height, cap))

    assert (rate(120, 1080), rate(120, 720), rate(240, 2160), rate(240, 540)) == (60, 30, 60, 30)
    assert (rate(50, 1080), rate(50, 720), rate(25, 540), rate(24, 720)) == (50, 25, 25, 24)
    assert rate("60000/1001", 720) == Fraction(30000, 1001)  # NTSC 59.94 → 29.97
    assert rate(35, 720) == 30  # 17.5 would be too few: the cap, frames dropped unevenly
    assert rate(90, 2160) == 45 and rate(120, 1080, cap=30) == 30 and rate(None, 720) is None
    # One GOP per 2-second segment at each output's own rate.
    src = video.Probe(1920, 1080, 60.0, "h264", True, Fraction(120))
    ladder = video.renditions_for(1920, 1080, FULL_LADDER)
    cmd = video.transcode_cmd(Path("in.mp4"), Path("out"), src, ladder, None, 1)
    gops = {arg: cmd[i + 1] for i, arg in enumerate(cmd) if arg.startswith("-g")}
    assert gops == {"-g:v:0": "60", "-g:v:1": "60", "-g:v:2": "120", "-g": "60"}
    assert "fps=60,scale=1920:1080" in cmd[cmd.index("-filter_complex") + 1]


def test_anamorphic_pictures_are_shown_at_their_display_aspect(made):
    folder, facts, src = made["anamorphic_mp4"]
    assert (src.width, src.height) == (213, 90)  # 160 pixels of 4:3 width
    info = streams(folder / "hls" / facts["renditions"][0]["name"] / "seg0000.ts")
    assert (info["width"], info["height"]) == (212, 90)
    assert info.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1")  # square pixels now
    assert video.display_width(720, "64:45") == 1024  # 16:9 PAL DVD
    assert video.display_width(640, "1:1") == 640
    assert video.display_width(640, "0:1") == 640 and video.display_width(640, None) == 640


# -- the program editor takes them --------------------------------------------------------------


async def test_editor_uploads_a_webm_without_a_poster_and_picks_a_frame(front_client, data_dir):
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    assert (await login(client, "admin")).status == 303
    pid = await create(client)
    saved = await save_with_video(client, pid, sample("vp9_webm"), "手机视频.webm")
    assert saved.status == 303, await saved.text()
    state = await workflow.get_state(db, pid)
    media = await uploads.media_info(db, state.draft.content.video_media_id)
    assert media["mime"] == "video/webm" and media["file"].endswith(".webm")
    assert state.draft.content.duration_seconds == 2  # 1.5 s, from ffprobe (no mvhd in WebM)
    assert state.draft.content.poster_media_id is None  # no longer required with a video
    page = await (await client.get(f"/admin/programs/{pid}")).text()
    assert 'id="poster-picker"' in page and "转码完成后，可以从视频画面中挑选海报" in page
    # Before the transcode there is no frame to pick.
    token = await csrf_of(client, f"/admin/programs/{pid}")
    early = await client.post(
        f"/admin/programs/{pid}/poster",
        data={"csrf_token": token, "revision": str(state.draft.id), "candidate": "1"},
    )
    assert early.status == 400 and "请选一张视频画面" in await early.text()
    ladder = video.parse_ladder("540:1200,720:2500")
    assert await video.run_next(db, data_dir, ladder=ladder, max_seconds=7200) == "done"
    page = await (await client.get(f"/admin/programs/{pid}")).text()
    frames = re.findall(r'name="candidate" value="(\d)"[^>]*><img src="([^"]+)"', page)
    assert [n for n, _ in frames] == ["1", "2", "3", "4"]
    for _n, url in frames:
        assert (await client.get(url)).status == 200
    # Pick the third frame: a new revision of the working copy, audited.
    token = await csrf_of(client, f"/admin/programs/{pid}")
    picked = await client.post(
        f"/admin/programs/{pid}/poster",
        data={"csrf_token": token, "revision": str(state.draft.id), "candidate": "3"},
        allow_redirects=False,
    )
    assert picked.status == 303, await picked.text()
    after = await workflow.get_state(db, pid)
    assert after.draft.id != state.draft.id and after.workflow.state == "draft"
    poster = await uploads.media_info(db, after.draft.content.poster_media_id)
    assert poster["kind"] == "image" and poster["mime"] == "image/jpeg"
    with Image.open(data_dir / poster["file"]) as stored:  # re-encoded without its metadata
        kept = stored.convert("RGB")

    def distance(url: str) -> float:
        with Image.open(data_dir / url.removeprefix("/media/")) as frame:
            return sum(ImageStat.Stat(ImageChops.difference(frame.convert("RGB"), kept)).mean)

    distances = [distance(url) for _n, url in frames]
    assert min(distances) == distances[2], distances  # the third frame
    assert "cover-720p" in poster["renditions"]  # through the image pipeline
    audit = await db.fetchone(
        "SELECT username, detail FROM audit_log WHERE action = 'program.poster' AND object_id = ?",
        (str(pid),),
    )
    assert audit["username"] == "admin" and json.loads(audit["detail"])["candidate"] == 3
    # A stale revision is refused (no lost update); a frame that does not exist too.
    stale = await client.post(
        f"/admin/programs/{pid}/poster",
        data={"csrf_token": token, "revision": str(state.draft.id), "candidate": "1"},
    )
    assert stale.status == 409
    token = await csrf_of(client, f"/admin/programs/{pid}")
    missing = await client.post(
        f"/admin/programs/{pid}/poster",
        data={"csrf_token": token, "revision": str(after.draft.id), "candidate": "9"},
    )
    assert missing.status == 400
    # Or upload a picture: sniffed (a video named .jpg is refused) and then used.
    for name, raw, status in (
        ("p.jpg", sample("vp9_webm").read_bytes(), 400),
        ("p.jpg", (CATALOG / "fang-dianxin-zhapian/media/poster.jpg").read_bytes(), 303),
    ):
        token = await csrf_of(client, f"/admin/programs/{pid}")
        current = await workflow.get_state(db, pid)
        data = FormData()
        data.add_field("csrf_token", token)
        data.add_field("revision", str(current.draft.id))
        data.add_field("poster", raw, filename=name, content_type="image/jpeg")
        response = await client.post(
            f"/admin/programs/{pid}/poster", data=data, allow_redirects=False
        )
        assert response.status == status, await response.text()
    uploaded = await workflow.get_state(db, pid)
    chosen = uploaded.draft.content.poster_media_id
    assert chosen != after.draft.content.poster_media_id
    # Reviewed like any edit: the reviewer sees the poster; once live, it is what the TV shows.
    review = await (await client.get(f"/admin/programs/{pid}/review")).text()
    thumb = await uploads.rendition_url(db, chosen, "thumb-720p")
    assert re.search(rf'<img class="review-cover" src="{re.escape(thumb)}" alt="修改后的视频海报"',
                     review), review  # fmt: skip
    assert (await act_on_program(client, pid, "submit")).status == 303
    assert (await act_on_program(client, pid, "approve")).status == 303
    base = await enter(client, "DEMO-0001")
    html = await (await client.get(f"{base}v-{pid}")).text()
    shown = re.search(r'<video[^>]* poster="([^"]+)"', html).group(1)
    covers = await db.fetchall(
        "SELECT file FROM renditions WHERE media_id = ? AND spec LIKE 'cover-%'", (chosen,)
    )
    assert shown in {f"/media/{r['file']}" for r in covers}, shown


# -- content packages ---------------------------------------------------------------------------


def _package(tmp_path: Path, video_file: Path | None) -> Path:
    """The demo's video program as a package, its video replaced by `video_file`."""
    pkg = tmp_path / "pkg"
    shutil.copytree(CATALOG / "fang-dianxin-zhapian", pkg / "fang-dianxin-zhapian")
    shutil.copy(CATALOG / "categories.toml", pkg)
    folder = pkg / "fang-dianxin-zhapian"
    if video_file is not None:
        (folder / "media" / "video.mp4").unlink()
        shutil.copy(video_file, folder / "media" / f"video{video_file.suffix}")
        toml = folder / "program.toml"
        text = toml.read_text("utf-8").replace("media/video.mp4", f"media/video{video_file.suffix}")
        toml.write_text(re.sub(r"(?m)^duration_seconds = \d+\n", "", text), "utf-8")
    return pkg


async def test_a_package_video_is_queued_and_goes_live_only_once_transcoded(
    front_client, data_dir, tmp_path
):
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    pkg = _package(tmp_path, sample("hevc_mov"))
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = 'fang-dianxin-zhapian'")
    live_before = await db.fetchval("SELECT live_revision_id FROM program_workflow"
                                     " WHERE program_id = ?", (pid,))  # fmt: skip
    result = await package_import.import_package(db, data_dir, pkg, publish_updates=True)
    # Asked to publish, but an H.265 MOV cannot play on boxes before its transcode.
    assert [p.outcome for p in result.programs] == ["video_pending"]
    state = await workflow.get_state(db, pid)
    assert state.live.id == live_before
    media_id = state.draft.content.video_media_id
    assert (await video.job_for(db, media_id)).state == "queued"
    stored = await uploads.media_info(db, media_id)
    assert stored["mime"] == "video/quicktime"
    # Its first good frame is kept for the editors' preview while the transcode runs.
    assert (data_dir / video.first_frame_rel(stored["sha256"])).is_file()
    assert (await login(client, "admin")).status == 303
    refused = await act_on_program(client, pid, "submit")
    assert "视频处理好之后才能提交审核" in await refused.text()
    ladder = video.parse_ladder("540:1200,720:2500")
    assert await video.run_next(db, data_dir, ladder=ladder, max_seconds=7200) == "done"
    # Imported again once ready, it is published; the export carries the original MOV.
    again = await package_import.import_package(db, data_dir, pkg, publish_updates=True)
    assert [p.outcome for p in again.programs] == ["published"]
    out = tmp_path / "out"
    await export.export_programs(db, data_dir, [pid], out)
    exported = out / "fang-dianxin-zhapian"
    assert (exported / "media" / "video.mov").read_bytes() == sample("hevc_mov").read_bytes()
    assert 'video = "media/video.mov"' in (exported / "program.toml").read_text("utf-8")


async def test_a_package_video_is_checked_like_an_upload(front_client, data_dir, tmp_path):
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    before = await db.fetchval("SELECT COUNT(*) FROM program_revisions")
    pkg = _package(tmp_path, audio_only())
    with pytest.raises(package_import.PackageError) as caught:
        await package_import.import_package(db, data_dir, pkg)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "program.toml" in text and "'video': has no video stream" in text, text
    (pkg / "fang-dianxin-zhapian/media/video.mp4").write_bytes(b"not a video at all" * 10)
    with pytest.raises(package_import.PackageError) as caught:
        await package_import.import_package(db, data_dir, pkg)
    assert "not a video file" in "\n".join(str(p) for p in caught.value.problems)
    assert await db.fetchval("SELECT COUNT(*) FROM program_revisions") == before
    assert await db.fetchval("SELECT COUNT(*) FROM video_jobs") == 0


async def test_the_poster_route_needs_its_csrf_token_and_caps_pictures(front_client, data_dir):
    client = await front_client(
        create_app(make_settings(data_dir, video_jobs_concurrency=0, upload_max_bytes=20_000))
    )
    db = client.app[keys.DB]
    assert (await login(client, "admin")).status == 303
    pid = await create(client)
    assert (await save_with_video(client, pid, sample("h264_mkv"), "v.mkv")).status == 303
    state = await workflow.get_state(db, pid)
    revisions = await db.fetchval("SELECT COUNT(*) FROM program_revisions")
    forged = await client.post(
        f"/admin/programs/{pid}/poster", data={"revision": str(state.draft.id), "candidate": "1"}
    )
    assert forged.status == 403 and "页面已过期" in await forged.text()
    token = await csrf_of(client, f"/admin/programs/{pid}")
    data = FormData()
    data.add_field("csrf_token", token)
    data.add_field("revision", str(state.draft.id))
    big = (CATALOG / "fang-dianxin-zhapian/media/poster.jpg").read_bytes()
    assert len(big) > 20_000
    data.add_field("poster", big, filename="p.jpg", content_type="image/jpeg")
    response = await client.post(f"/admin/programs/{pid}/poster", data=data)
    assert response.status == 413 and "文件太大" in await response.text()
    assert await db.fetchval("SELECT COUNT(*) FROM program_revisions") == revisions
    assert (await workflow.get_state(db, pid)).draft.content.poster_media_id is None


async def test_admin_package_upload_queues_the_video_and_waits_to_publish(
    front_client, data_dir, tmp_path
):
    for name in ("media", "renditions", "titlecards"):  # the shared ones are links
        (data_dir / name).unlink()
        (data_dir / name).mkdir()
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    assert (await login(client, "admin")).status == 303
    pkg = _package(tmp_path, sample("av1_mkv"))
    files = {
        str(path.relative_to(pkg)): path.read_bytes() for path in pkg.rglob("*") if path.is_file()
    }
    body = FormData()
    body.add_field("csrf_token", await csrf_of(client, "/admin/packages"))
    body.add_field("publish", "1")
    body.add_field("file", export.zip_files(files), filename="bao.zip",
                   content_type="application/zip")  # fmt: skip
    response = await client.post("/admin/packages/import", data=body)
    html = await response.text()
    assert response.status == 200 and "视频转码完成后才能上线" in html, html
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = 'fang-dianxin-zhapian'")
    media_id = (await workflow.get_state(db, pid)).draft.content.video_media_id
    assert (await video.job_for(db, media_id)).state == "queued"
    assert (await uploads.media_info(db, media_id))["mime"] == "video/x-matroska"
