"""Program videos through the real pipeline: FFmpeg-made sources (testsrc2 with noise, a sine
tone) are probed, queued, transcoded by the server's runner and checked with ffprobe: the HLS
ladder (no rendition above the source, profiles, bit rates, 2-second aligned segments), the
720p progressive MP4 (main profile, faststart), loudness at -24 LKFS, posters; then served to
boxes by their model's capability, with a resume position for the home screen."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import FormData

from content.programs import video
from tests.helpers import csrf_of, enter, login, make_settings
from tv_server import keys
from tv_server.app import create_app

FULL_LADDER = video.parse_ladder(video.DEFAULT_LADDER)


def make_video(path: Path, size: str, seconds: float, *, kbps: int = 8000, audio=True) -> Path:
    """A test source: moving colour bars with grain (so the encoder has work to do) and a
    440 Hz tone at about -21 LUFS."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
           f"testsrc2=size={size}:rate=25:duration={seconds}"]  # fmt: skip
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    cmd += ["-vf", "noise=alls=12:allf=t", "-c:v", "libx264", "-preset", "ultrafast",
            "-b:v", f"{kbps}k", "-pix_fmt", "yuv420p"]  # fmt: skip
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "128k"]
    subprocess.run([*cmd, str(path)], check=True, timeout=120)
    return path


def ffprobe(path: Path, *args: str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", *args, str(path)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout)


def stream(path: Path, kind: str = "v") -> dict:
    return ffprobe(path, "-show_streams", "-select_streams", f"{kind}:0")["streams"][0]


def loudness(path: Path) -> float:
    out = subprocess.run(
        ["ffmpeg", "-nostats", "-i", str(path), "-vn", "-af", "ebur128", "-f", "null", "-"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", out.stderr)[-1])


@pytest.fixture(scope="module")
def transcoded(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """The slow part, done once: a 1080p landscape and a 720×1280 portrait source, each through
    the whole default ladder."""
    root = tmp_path_factory.mktemp("video")
    out = {}
    for name, size, seconds in (("landscape", "1920x1080", 8), ("portrait", "720x1280", 6)):
        src = make_video(root / f"{name}.mp4", size, seconds)
        sha = name * 8
        facts = video.make_outputs(
            root, src, sha, ladder=FULL_LADDER, max_seconds=7200, run=video.Runner()
        )
        out[name] = (video.output_dir(root, sha), facts)
    return out


# -- outputs -----------------------------------------------------------------------------------


def test_the_ladder_never_exceeds_the_source_and_has_a_master_playlist(transcoded):
    folder, facts = transcoded["landscape"]
    master = (folder / "hls" / "master.m3u8").read_text()
    assert master.count("#EXT-X-STREAM-INF") == 3
    assert [r["name"] for r in facts["renditions"]] == ["540p", "720p", "1080p"]  # no 2160p
    for rendition in facts["renditions"]:
        first = folder / "hls" / rendition["name"] / "seg0000.ts"
        info = stream(first)
        assert (info["width"], info["height"]) == (rendition["width"], rendition["height"])
        assert info["profile"] == ("Main" if rendition["height"] < 720 else "High")
        assert stream(first, "a")["profile"] == "LC"
        assert f"{rendition['name']}/index.m3u8" in master
    # A portrait phone video: every rendition fits inside 720×1280, scaled down, never up.
    folder, facts = transcoded["portrait"]
    sizes = [(r["width"], r["height"]) for r in facts["renditions"]]
    assert sizes and all(w <= 720 and h <= 1280 for w, h in sizes), sizes
    assert all(h > w for w, h in sizes)  # still portrait
    for rendition in facts["renditions"]:
        info = stream(folder / "hls" / rendition["name"] / "seg0000.ts")
        assert (info["width"], info["height"]) == (rendition["width"], rendition["height"])


def _segments(playlist: Path) -> list[tuple[float, str]]:
    lines = playlist.read_text().splitlines()
    return [
        (float(line.split(":")[1].rstrip(",")), lines[i + 1])
        for i, line in enumerate(lines)
        if line.startswith("#EXTINF:")
    ]


def test_segments_are_two_seconds_and_aligned_across_renditions(transcoded):
    folder, facts = transcoded["landscape"]
    lists = [_segments(folder / "hls" / r["name"] / "index.m3u8") for r in facts["renditions"]]
    durations = [[round(d, 2) for d, _ in one] for one in lists]
    assert all(d == durations[0] for d in durations), durations
    assert durations[0][:-1] == [2.0] * (len(durations[0]) - 1) and len(durations[0]) == 4
    for rendition, segments in zip(facts["renditions"], lists, strict=True):
        starts = []
        for _duration, name in segments:
            packets = ffprobe(
                folder / "hls" / rendition["name"] / name,
                "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
                "-read_intervals", "%+#1",
            )["packets"]  # fmt: skip
            assert packets[0]["flags"].startswith("K"), (rendition["name"], name)
            starts.append(round(float(packets[0]["pts_time"]), 1))
        assert [s - starts[0] for s in starts] == [0.0, 2.0, 4.0, 6.0], starts


def _video_kbps(folder: Path, name: str, seconds: float) -> float:
    """Video bit rate of a rendition from its segments' video packets."""
    total = 0
    for _duration, segment in _segments(folder / "hls" / name / "index.m3u8"):
        packets = ffprobe(
            folder / "hls" / name / segment,
            "-select_streams", "v:0", "-show_entries", "packet=size",
        )["packets"]  # fmt: skip
        total += sum(int(p["size"]) for p in packets)
    return total * 8 / seconds / 1000


def test_bit_rates_are_within_a_fifth_of_the_ladder(transcoded):
    folder, facts = transcoded["landscape"]
    for rendition in facts["renditions"]:
        kbps = _video_kbps(folder, rendition["name"], facts["duration"])
        assert 0.8 * rendition["kbps"] <= kbps <= 1.2 * rendition["kbps"], (rendition, kbps)


def test_progressive_mp4_is_720p_main_faststart_and_within_the_cap(transcoded):
    folder, facts = transcoded["landscape"]
    mp4 = folder / "video-720p.mp4"
    info = stream(mp4)
    assert (info["codec_name"], info["profile"], info["height"]) == ("h264", "Main", 720)
    assert int(info["bit_rate"]) <= video.MP4_MAX_KBPS * 1000
    data = mp4.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable while downloading
    assert abs(float(ffprobe(mp4, "-show_format")["format"]["duration"]) - 8) < 0.2
    portrait = stream(transcoded["portrait"][0] / "video-720p.mp4")
    assert portrait["height"] == 720 and portrait["width"] < 720  # never upscaled


def test_audio_is_normalised_to_minus_24_lkfs(transcoded):
    folder, facts = transcoded["landscape"]
    assert abs(loudness(folder / "video-720p.mp4") + 24) <= 1.0
    assert abs(loudness(folder / "hls" / "720p" / "seg0001.ts") + 24) <= 1.5  # one 2 s piece
    assert float(facts["loudness"]["measured"]["input_i"]) > -23  # the source was louder


def test_posters_and_duration(transcoded):
    folder, facts = transcoded["landscape"]
    assert facts["duration"] == pytest.approx(8, abs=0.1)
    assert len(facts["posters"]) == len(video.POSTER_SHARES)
    for name in facts["posters"]:
        assert stream(folder / name)["codec_name"] == "mjpeg"


def test_thumbnail_strip_is_a_sprite_with_its_index(transcoded):
    from PIL import Image, ImageStat

    folder, facts = transcoded["landscape"]  # 8 s: a picture every 2 s, four of them
    strip = facts["thumbs"]
    assert strip == {"file": "thumbs.jpg", "every": 2, "count": 4, "width": 160, "height": 90,
                     "columns": 10, "rows": 1}  # fmt: skip
    sprite = Image.open(folder / "thumbs.jpg").convert("L")
    assert sprite.size == (1600, 90)
    # Four pictures of the video (0, 2, 4, 6 s), then the rest of the row is empty (black).
    means = [
        ImageStat.Stat(sprite.crop((160 * n, 0, 160 * n + 160, 90))).mean[0] for n in range(10)
    ]
    assert all(m > 40 for m in means[:4]) and all(m < 5 for m in means[4:]), means
    # Long videos: at most 100 pictures, 10 a row.
    long = video.thumb_layout(7200)
    assert (long["every"], long["count"], long["rows"]) == (72, 100, 10)
    # A portrait video's pictures keep their shape (black bars at the sides).
    folder, facts = transcoded["portrait"]
    sprite = Image.open(folder / "thumbs.jpg").convert("L")
    side = ImageStat.Stat(sprite.crop((0, 0, 50, 90))).mean[0]
    middle = ImageStat.Stat(sprite.crop((60, 0, 100, 90))).mean[0]
    assert side < 5 and middle > 40, (side, middle)


def test_ladder_setting_is_parsed_and_checked():
    assert [r.height for r in video.parse_ladder("1080:5000, 540:1200")] == [540, 1080]
    for bad in ("", "720", "720:abc", "100000:5"):
        with pytest.raises(ValueError):
            video.parse_ladder(bad)


CHILD_FACTS = (
    "import os, sys; print(os.sched_getscheduler(0) == os.SCHED_IDLE,"
    " len(os.sched_getaffinity(0)), os.nice(0), file=sys.stderr)"
)


def test_ffmpeg_runs_idle_on_the_cpus_it_is_given_and_leaves_the_server_a_core():
    """What the runner starts gets a CPU only when nothing else wants one (SCHED_IDLE, nice
    19), on at most `video_ffmpeg_threads` CPUs: the server keeps a core during a transcode."""
    cpus = len(os.sched_getaffinity(0))
    assert video.thread_count(0) == max(1, cpus - 1)  # the setting's default
    assert video.thread_count(3) == 3 and video.thread_count(-2) == max(1, cpus - 1)
    code, lines = video.Runner(threads=1)([sys.executable, "-c", CHILD_FACTS], None)
    assert code == 0
    idle, allowed, nice = lines[-1].split()
    assert (idle, int(allowed), int(nice)) == ("True", 1, 19)
    # Every decoder, filter graph and encoder of the one-decode run is bounded too.
    src = video.Probe(1920, 1080, 60.0, "h264", True)
    ladder = video.renditions_for(1920, 1080, FULL_LADDER)
    cmd = video.transcode_cmd(Path("in.mp4"), Path("out"), src, ladder, None, 1)
    assert cmd[cmd.index("-i") - 1] == "1" and cmd[cmd.index("-i") - 2] == "-threads"
    assert cmd.count("-threads") == 3  # the decoder, the HLS encoders, the MP4 encoder
    for option in ("-filter_threads", "-filter_complex_threads"):
        assert cmd[cmd.index(option) + 1] == "1"
    assert all(cmd[i + 1] == "1" for i, arg in enumerate(cmd) if arg == "-threads")


def test_progress_lines_give_percent_and_time_left():
    progress = video.Progress(10.0, 0.1, 0.85)
    assert not progress.feed("frame=12")
    assert progress.feed("out_time_us=5000000") and progress.percent == pytest.approx(52.5)
    assert progress.eta is not None and progress.eta >= 0
    assert progress.feed("progress=end") and progress.percent == pytest.approx(95.0)


# -- ingest through the admin -------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return {
        "short": make_video(root / "short.mp4", "320x180", 0.5, kbps=300),
        "small": make_video(root / "small.mp4", "640x360", 3, kbps=800),
        "silent": make_video(root / "silent.mp4", "640x360", 2, kbps=800, audio=False),
    }


async def upload(client, path: Path, name: str = "clip.mp4"):
    token = await csrf_of(client, "/admin/media")
    data = FormData()
    data.add_field("kind", "video")
    raw = await asyncio.to_thread(path.read_bytes)
    data.add_field("file", raw, filename=name, content_type="video/mp4")
    return await client.post("/admin/media", data=data, headers={"X-CSRF-Token": token})


async def wait_for(db, media_id: int, states=("done", "failed"), seconds: float = 90):
    for _ in range(int(seconds * 10)):
        job = await video.job_for(db, media_id)
        if job is not None and job.state in states:
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job of media {media_id} still {job}")


async def test_refusals_are_clear_and_in_chinese(front_client, data_dir, clips):
    client = await front_client(create_app(make_settings(data_dir, video_max_seconds=2)))
    assert (await login(client, "editor")).status == 303
    response = await upload(client, clips["short"])
    body = await response.json()
    assert response.status == 400 and body["error"]["code"] == "video_too_short"
    assert "至少要1秒" in body["error"]["message"]
    response = await upload(client, clips["small"])  # 3 s > video_max_seconds = 2
    body = await response.json()
    assert response.status == 400 and body["error"]["code"] == "video_too_long"
    assert "视频太长" in body["error"]["message"]
    assert await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM video_jobs") == 0


async def test_upload_is_queued_transcoded_and_shown_on_the_tv(front_client, data_dir, clips):
    client = await front_client(create_app(make_settings(data_dir)))
    db = client.app[keys.DB]
    assert (await login(client, "editor")).status == 303
    response = await upload(client, clips["silent"])
    assert response.status == 200, await response.text()
    media_id = (await response.json())["id"]
    job = await wait_for(db, media_id)
    assert job.state == "done", job.error
    assert [r["height"] for r in job.outputs["renditions"]] == [360]  # 540p rung > source
    folder = data_dir / job.outputs["dir"]
    assert stream(folder / "hls" / "540p" / "seg0000.ts", "a")["codec_name"] == "aac"  # silence
    # Served with long cache lifetimes, and the MP4 with Range.
    base = f"/media/{job.outputs['dir']}"
    master = await client.get(f"{base}/hls/master.m3u8")
    assert master.status == 200 and "immutable" in master.headers["Cache-Control"]
    assert master.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    segment = await client.get(f"{base}/hls/540p/seg0000.ts")
    assert segment.headers["Content-Type"] == "video/mp2t"
    ranged = await client.get(f"{base}/video-720p.mp4", headers={"Range": "bytes=0-99"})
    assert ranged.status == 206 and len(await ranged.read()) == 100


async def test_a_job_left_running_is_restarted_and_a_failure_keeps_ffmpeg_lines(
    front_client, data_dir, clips
):
    # First server: nothing transcodes (concurrency 0); two uploads wait in the queue.
    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    assert (await login(client, "editor")).status == 303
    good = (await (await upload(client, clips["small"])).json())["id"]
    bad = (await (await upload(client, clips["silent"], "broken.mp4")).json())["id"]
    assert (await video.job_for(db, good)).state == "queued"
    async with db.transaction() as tx:  # as a server killed mid-transcode leaves it
        await tx.execute("UPDATE video_jobs SET state = 'running' WHERE media_id = ?", (good,))
    broken = data_dir / await db.fetchval("SELECT file FROM media WHERE id = ?", (bad,))
    data = broken.read_bytes()
    broken.unlink()  # a new inode: the stored original is damaged after its checks passed
    broken.write_bytes(data[: len(data) // 3])
    await client.close()
    # The next server queues the interrupted job again and runs both.
    client = await front_client(create_app(make_settings(data_dir)))
    db = client.app[keys.DB]
    assert (await wait_for(db, good)).state == "done"
    failed = await wait_for(db, bad)
    assert failed.state == "failed" and failed.error.strip()
    assert (await video.job_for(db, good)).attempts == 1


# -- review waits for the video; the TV plays what its model can ----------------------------------


async def test_review_waits_for_the_video_and_boxes_get_hls_or_mp4(front_client, data_dir, clips):
    from content.programs import workflow
    from tests.helpers import act_on_program, create, form

    client = await front_client(create_app(make_settings(data_dir, video_jobs_concurrency=0)))
    db = client.app[keys.DB]
    assert (await login(client, "admin")).status == 303
    pid = await create(client)
    state = await workflow.get_state(db, pid)
    token = await csrf_of(client, f"/admin/programs/{pid}")
    data = FormData()
    for key, value in {"csrf_token": token, "revision": str(state.draft.id), **form()}.items():
        data.add_field(key, value)
    data.add_field("video", clips["small"].read_bytes(), filename="v.mp4", content_type="video/mp4")
    poster = Path(__file__).parent.parent / "content/catalog/fang-dianxin-zhapian/media"
    data.add_field("poster", (poster / "poster.jpg").read_bytes(), filename="p.jpg",
                   content_type="image/jpeg")  # fmt: skip
    saved = await client.post(f"/admin/programs/{pid}", data=data, allow_redirects=False)
    assert saved.status == 303, await saved.text()
    page = await (await client.get(f"/admin/programs/{pid}")).text()
    assert 'id="video-status"' in page and "排队等待转码" in page
    status = await (await client.get(f"/admin/programs/{pid}/video.json")).json()
    assert status["state"] == "queued"
    refused = await act_on_program(client, pid, "submit")
    assert "视频处理好之后才能提交审核" in await refused.text()
    assert (await workflow.get_state(db, pid)).workflow.state == "draft"
    # Transcode it (the runner's own code path), then review and publish.
    ladder = video.parse_ladder("540:1200,720:2500")
    assert await video.run_next(db, data_dir, ladder=ladder, max_seconds=7200) == "done"
    status = await (await client.get(f"/admin/programs/{pid}/video.json")).json()
    assert status["state"] == "done" and status["percent"] == 100
    await act_on_program(client, pid, "submit")
    await act_on_program(client, pid, "approve")
    # A model that plays HLS natively gets the master playlist; the others the 720p MP4.
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE device_models SET hls = 1 WHERE model = (SELECT model FROM devices"
            " WHERE serial = 'DEMO-0001')"
        )
    other = await db.fetchval(
        "SELECT d.serial FROM devices d JOIN device_models m ON m.model = d.model"
        " WHERE m.hls = 0 AND d.serial LIKE 'DEMO-%' AND d.village_code ="
        " (SELECT village_code FROM devices WHERE serial = 'DEMO-0001') ORDER BY d.serial LIMIT 1"
    )
    for serial, suffix in (("DEMO-0001", "/hls/master.m3u8"), (other, "/video-720p.mp4")):
        base = await enter(client, serial)
        html = await (await client.get(f"{base}v-{pid}")).text()
        src = re.search(r'<video[^>]* src="([^"]+)"', html).group(1)
        assert src.endswith(suffix), (serial, src)
        assert (await client.get(src)).status == 200


async def test_position_beacons_feed_continue_watching_and_the_watching_figures(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval(
        "SELECT id FROM programs WHERE video_media_id IS NOT NULL AND status = 'published'"
        " ORDER BY id LIMIT 1"
    )
    assert (await client.get(f"{box}v-{pid}")).status == 200
    assert (await client.get(f"{box}v-{pid}/at?s=75&d=300")).status == 204
    assert (await client.get(f"{box}v-{pid}/at?s=-1&d=300")).status == 400
    assert (await client.get(f"{box}v-{pid}/at?s=99999999&d=3")).status == 400
    html = await (await client.get(f"{box}home")).text()
    assert "继续观看" in html and "看到 1:15" in html
    assert re.search(rf'href="v-{pid}\?t=75"', html), html
    # Beacons are batched: written by the flush task, the furthest point kept.
    assert (await client.get(f"{box}v-{pid}/at?s=280&d=300")).status == 204
    assert (await client.get(f"{box}v-{pid}/at?s=20&d=300")).status == 204
    for _ in range(50):
        row = await db.fetchone(
            "SELECT seconds, furthest FROM video_positions WHERE program_id = ?", (pid,)
        )
        if row is not None and row["seconds"] == 20:
            break
        await asyncio.sleep(0.1)
    assert (row["seconds"], row["furthest"]) == (20, 280)
    # Two more households: one stops at 5 %, one at 50 %.
    for serial, at in (("DEMO-0002", 15), ("DEMO-0003", 150)):
        other = await enter(client, serial)
        assert (await client.get(f"{other}v-{pid}/at?s={at}&d=300")).status == 204
    await client.app[keys.VIDEO_POSITIONS].flush()
    figures = await video.figures(db, pid)
    assert figures["starts"] == 3 and figures["completions"] == 1
    assert figures["average_share"] == pytest.approx((280 + 15 + 150) / 900, abs=0.001)
    assert figures["drop_off"][0] == pytest.approx(2 / 3, abs=0.001)  # 10 %: two of three
    assert figures["drop_off"][8] == pytest.approx(1 / 3, abs=0.001)  # 90 %: one
    assert (await login(client, "admin")).status == 303
    page = await (await client.get(f"/admin/programs/{pid}")).text()
    assert "3 台机顶盒开始观看" in page and "1 台看完" in page
    status = await (await client.get(f"/admin/programs/{pid}/video.json")).json()
    assert status["figures"]["starts"] == 3


async def test_a_position_being_flushed_is_still_what_home_reads(client, box):
    """Between taking a batch and committing it, the position is in neither the batch nor the
    database: the home screen must still see it (it showed 0:00 under load before)."""
    db = client.app[keys.DB]
    pid = await db.fetchval(
        "SELECT id FROM programs WHERE video_media_id IS NOT NULL AND status = 'published'"
        " ORDER BY id LIMIT 1"
    )
    device = await db.fetchval("SELECT id FROM devices WHERE serial = 'DEMO-0001'")
    positions = video.Positions(db)
    positions.record(device, pid, 0, 16)
    await positions.flush()
    positions.record(device, pid, 5, 16)
    flushing = asyncio.create_task(positions.flush())
    await asyncio.sleep(0)  # the flush has taken its batch and waits for the database
    assert await positions.get(device, pid) == (5, 16)
    await flushing
    assert await positions.get(device, pid) == (5, 16)


async def test_the_end_offers_the_next_program_of_the_category(client, box):
    db = client.app[keys.DB]
    pid, category = await db.fetchone(
        "SELECT id, category FROM programs WHERE slug = 'fang-dianxin-zhapian'"
    )
    # The last of its category (the newest first): nothing after it.
    assert 'id="next"' not in await (await client.get(f"{box}v-{pid}")).text()
    async with db.transaction() as tx:  # another program moved to it, older than it
        await tx.execute(
            "UPDATE programs SET category = ?, published_at = '2000-01-01' WHERE id ="
            " (SELECT MIN(id) FROM programs WHERE id <> ? AND status = 'published')",
            (category, pid),
        )
    client.app[keys.SCREENS].clear()
    listing = await (await client.get(f"{box}c-{category}")).text()
    order = [int(n) for n in re.findall(r'id="prog-(\d+)"', listing)]
    assert order.index(pid) + 1 < len(order)
    html = await (await client.get(f"{box}v-{pid}")).text()
    link = re.search(r'<a class="f btn" id="next" href="([^"]+)">下一个：', html)
    assert link and link.group(1) == f"p-{order[order.index(pid) + 1]}"


def _processes_naming(text: str) -> list[int]:
    """The processes whose command line names `text` (FFmpeg names its input file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text.encode() in raw and state != "Z":
            found.append(int(entry.name))
    return found


def test_ffmpeg_dies_with_a_leader_killed_with_kill_9(data_dir, tmp_path):
    """A real `legaltv serve` transcoding a queued video is killed with SIGKILL (a crash, the
    OOM killer): its FFmpeg is gone within seconds instead of racing the next leader's restart
    of the job on the same files."""
    from tests.helpers import ROOT, TEST_SECRET, free_port, write_in

    (data_dir / "video").mkdir()
    source = data_dir / "video" / "orphan-check-source.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=320x180:rate=25:duration=300", "-f", "lavfi", "-i",
         "sine=frequency=440:sample_rate=48000:duration=300", "-c:v", "libx264", "-preset",
         "ultrafast", "-crf", "35", "-pix_fmt", "yuv420p", "-c:a", "aac", str(source)],
        check=True, timeout=300,
    )  # fmt: skip
    write_in(
        data_dir,
        "INSERT INTO media (sha256, kind, mime, file, bytes, created_at)"
        " VALUES (?, 'video', 'video/mp4', ?, ?, 0)",
        [("ab" * 32, "video/orphan-check-source.mp4", source.stat().st_size)],
    )
    write_in(
        data_dir,
        "INSERT INTO video_jobs (media_id, state, created_at, updated_at)"
        " SELECT id, 'queued', 0, 0 FROM media WHERE sha256 = ?",
        [("ab" * 32,)],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGALTV_")}
    env.update({
        "LEGALTV_LAUNCH_SECRET": TEST_SECRET, "LEGALTV_VIDEO_JOBS_CONCURRENCY": "1",
        "LEGALTV_SECRET_KEY": "orphan-session-key-" + "k" * 20,
        "LEGALTV_DEVICE_TOKEN_SECRET": "orphan-device-key-" + "d" * 20,
    })  # fmt: skip
    if os.environ.get("LEGALTV_DATABASE_URL"):
        env["LEGALTV_DATABASE_URL"] = os.environ["LEGALTV_DATABASE_URL"]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tv_server.cli", "serve", "--demo", "--allow-unsigned",
         "--data-dir", str(data_dir), "--port", str(free_port())],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not _processes_naming(str(source)):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no FFmpeg started"
            time.sleep(0.2)
        time.sleep(1.0)  # FFmpeg is at work, not just started
        assert _processes_naming(str(source))
        server.kill()
        server.wait(10)
        deadline = time.monotonic() + 5
        while _processes_naming(str(source)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = _processes_naming(str(source))
        for pid in left:  # the old code's orphan: do not leave it running on the machine
            os.kill(pid, signal.SIGKILL)
        assert not left, "FFmpeg outlived its server"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        log.close()
