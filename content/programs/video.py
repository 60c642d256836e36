"""Programs' videos: probing an upload with ffprobe, the transcode job queue, and the FFmpeg
commands that make what boxes play (docs/content-format.md, "Video").

From one decode of the source, one FFmpeg run makes an HLS ladder (H.264 + AAC-LC, 2-second
segments aligned across renditions by forced key frames, a master playlist) and one progressive
720p MP4 (H.264 main, faststart) for boxes without HLS; the audio of both is normalised to
-24 LKFS (GY/T 282-2014) with two-pass `loudnorm` (the first pass only measures); then poster
candidates and a thumbnail strip for seeking are taken from the MP4. Renditions never
exceed the source, in size or in frame rate; a fast source (a 120 or 240 fps phone video) is
brought down to the frame-rate cap (`output_rate`). Outputs live under
DATA_DIR/video/<sha[:2]>/<sha>/, keyed by the source media's hash, and are written to a
temporary folder renamed into place when complete.

The queue is the `video_jobs` table (states queued → running → done | failed); the server's
runner (tv_server/video_tasks.py) claims jobs, and a job found `running` at start-up is queued
again. This module never imports aiohttp.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from storage import Database, Invalid
from storage.changes import BoundedCache

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
MIN_SECONDS = 1.0
DECODE_SECONDS = 5  # how far into a file the ingest looks for a frame that decodes
FIRST_FRAME_WIDTH = 1280  # the first frame kept for the editors' preview
TARGET_LKFS = -24.0
SEGMENT_SECONDS = 2
MP4_HEIGHT = 720
MP4_KBPS = 2000  # average; capped at MP4_MAX_KBPS
MP4_MAX_KBPS = 2500
AUDIO_KBPS = 128
POSTER_SHARES = (0.1, 0.35, 0.6, 0.85)  # where the candidate poster frames are taken
TAIL_LINES = 20  # FFmpeg's last lines kept for the editor when a job fails
DEFAULT_LADDER = "540:1200,720:2500,1080:5000,2160:15000"
DEFAULT_MAX_FPS = 60  # `video_max_fps`: renditions above 720p
SD_MAX_FPS = 30  # renditions of 720p and less and the MP4: what their bit rates assume
SMOOTH_FPS = 24  # a rate divided by a whole number stays at least this, else the cap is used
STATES = ("queued", "running", "done", "failed")
# 16:9 boxes the renditions fit in, by nominal height.
_BOX_WIDTH = {540: 960, 720: 1280, 1080: 1920, 1440: 2560, 2160: 3840}


# -- probing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    width: int
    height: int
    duration: float
    codec: str
    has_audio: bool
    fps: Fraction | None = None  # the average frame rate; None when ffprobe gives none


def _rate(text) -> Fraction | None:
    """ "30000/1001" → a frame rate; None for "0/0" and the like."""
    try:
        rate = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def probe(path: Path, *, max_seconds: float) -> Probe:
    """What ffprobe finds in a file; `Invalid` (video_*) for what cannot become a program video."""
    try:
        done = subprocess.run(
            [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
             str(path)],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Invalid("video_unreadable", str(exc)) from exc
    try:
        facts = json.loads(done.stdout or b"{}")
    except ValueError:
        facts = {}
    streams = facts.get("streams") or []
    if done.returncode != 0 or not facts.get("format"):
        raise Invalid("video_unreadable", done.stderr.decode("utf-8", "replace")[-300:])
    video = [
        s
        for s in streams
        if s.get("codec_type") == "video"
        and not (s.get("disposition") or {}).get("attached_pic")
        and s.get("width")
    ]
    if not video:
        raise Invalid("video_no_stream", "no video stream")
    stream = video[0]
    codec = str(stream.get("codec_name") or "")
    if codec not in decodable_codecs():  # ffprobe names it, but this FFmpeg has no decoder
        shown = codec if codec not in ("", "none") else "unknown"
        raise Invalid("video_codec", shown, codec=shown)
    duration = _number(facts["format"].get("duration")) or _number(stream.get("duration"))
    if duration < MIN_SECONDS:
        raise Invalid("video_too_short", f"{duration:.2f} s")
    if duration > max_seconds:
        raise Invalid("video_too_long", f"{duration:.0f} s", minutes=int(max_seconds // 60))
    width, height = int(stream["width"]), int(stream["height"])
    width = display_width(width, stream.get("sample_aspect_ratio"))
    rotation = _rotation(stream)
    if rotation in (90, 270):  # phones store portrait video as rotated landscape
        width, height = height, width
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    fps = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
    return Probe(width, height, duration, codec, has_audio, fps)


@functools.cache
def decodable_codecs() -> frozenset[str]:
    """The video codecs this machine's FFmpeg can decode (`ffmpeg -codecs`, flags "D.V…")."""
    try:
        done = subprocess.run(
            [FFMPEG, "-hide_banner", "-codecs"], capture_output=True, text=True, timeout=30,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    found = set()
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] == "D" and parts[0][2] == "V":
            found.add(parts[1])
    return frozenset(found)


def check_decodes(path: Path, frame_to: Path | None = None) -> None:
    """`Invalid("video_unreadable")` unless FFmpeg decodes a frame of the video stream within
    its first `DECODE_SECONDS` (a header that names a known codec may still hold something
    else, or nothing). Tolerant the way FFmpeg is: errors are concealed and ignored
    (`-err_detect ignore_err`), so a phone recording cut at the start or a stream with a few
    damaged packets passes on the first frame that decodes after them; FFmpeg's exit code
    (69 when most frames tried failed) is not the judge, the frame is. With `frame_to`, that
    first good frame is written there as a JPEG at most `FIRST_FRAME_WIDTH` wide (upright,
    square pixels): the editors' preview shows it while the transcode runs."""
    cmd = [FFMPEG, "-v", "error", "-nostdin", "-err_detect", "ignore_err",
           "-t", str(DECODE_SECONDS), "-i", str(path),
           "-map", "0:v:0", "-frames:v", "1", "-f", "framecrc", "-"]  # fmt: skip
    if frame_to is not None:
        cmd += [
            "-map", "0:v:0", "-frames:v", "1", "-q:v", "3", "-y",
            "-vf", f"scale='trunc(min({FIRST_FRAME_WIDTH},iw*sar)/2)*2':-2,setsar=1",
            "-f", "image2", "-update", "1", str(frame_to),
        ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Invalid("video_unreadable", str(exc)) from exc
    frames = [line for line in done.stdout.splitlines() if line and not line.startswith(b"#")]
    if not frames:
        raise Invalid("video_unreadable", done.stderr.decode("utf-8", "replace")[-300:])


def keep_first_frame(path: Path, data_dir: Path, sha: str) -> None:
    """Keep the first good frame of a stored video (`first_frame_rel`) unless it is kept
    already; a video where none decodes keeps none (blocking)."""
    target = Path(data_dir) / first_frame_rel(sha)
    if target.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".first-", suffix=".jpg")
    os.close(fd)
    try:
        check_decodes(path, Path(tmp))
        if Path(tmp).stat().st_size:
            os.replace(tmp, target)
    except Invalid:
        pass
    finally:
        Path(tmp).unlink(missing_ok=True)


def first_frame_rel(sha: str) -> str:
    """Where the first good frame of an upload is kept, relative to the data dir (served under
    /media/ like the transcode's outputs, beside its folder)."""
    return f"video/{sha[:2]}/{sha}-first.jpg"


def display_width(width: int, sar: str | None) -> int:
    """The width a picture is shown at: anamorphic sources (a sample aspect ratio other than
    1:1, e.g. DV or DVD video) are widened, so renditions with square pixels keep the aspect."""
    num, _, den = str(sar or "").partition(":")
    try:
        ratio = int(num) / int(den)
    except (ValueError, ZeroDivisionError):
        return width
    return max(2, round(width * ratio)) if ratio > 0 and 0.25 <= ratio <= 4 else width


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _rotation(stream: dict) -> int:
    raw = (stream.get("tags") or {}).get("rotate")
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            raw = side["rotation"]
    return int(abs(_number(raw))) % 360


# -- the ladder --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rung:
    height: int  # nominal: the 16:9 box the picture fits in
    kbps: int


@dataclass(frozen=True)
class Rendition:
    name: str  # "720p"
    width: int
    height: int
    kbps: int


def parse_ladder(text: str) -> list[Rung]:
    """ "540:1200,720:2500" → rungs (height:kbit/s), lowest first; ValueError when malformed."""
    rungs = []
    for item in text.split(","):
        if not item.strip():
            continue
        height, _, kbps = item.strip().partition(":")
        rung = Rung(int(height), int(kbps))
        if not (144 <= rung.height <= 4320 and 100 <= rung.kbps <= 100_000):
            raise ValueError(f"ladder rung out of range: {item!r}")
        rungs.append(rung)
    if not rungs:
        raise ValueError("empty ladder")
    return sorted(rungs, key=lambda r: r.height)


def _even(number: float) -> int:
    return max(2, int(round(number / 2)) * 2)


def fit(width: int, height: int, box_height: int) -> tuple[int, int] | None:
    """The size of a `width`×`height` picture in the 16:9 box of `box_height`, or None when the
    picture would have to be enlarged."""
    box_width = _BOX_WIDTH.get(box_height, box_height * 16 // 9)
    scale = min(box_width / width, box_height / height)
    if scale > 1.0:
        return None
    return _even(width * scale), _even(height * scale)


def renditions_for(width: int, height: int, ladder: list[Rung]) -> list[Rendition]:
    """The ladder's renditions for a source: none larger than the source; a source smaller than
    the lowest rung gets that rung at its own size."""
    out = []
    for rung in ladder:
        size = fit(width, height, rung.height)
        if size is not None and all(size != (r.width, r.height) for r in out):
            out.append(Rendition(f"{rung.height}p", *size, rung.kbps))
    if not out:
        out.append(Rendition(f"{ladder[0].height}p", _even(width), _even(height), ladder[0].kbps))
    return out


def max_fps_for(height: int, max_fps: int = DEFAULT_MAX_FPS) -> int:
    """The frame-rate cap of an output `height` pixels high: `video_max_fps` above 720p, at
    most 30 fps at 720p and below (the ladder's bit rates and most boxes assume that)."""
    cap = max(1, max_fps)
    return cap if height > MP4_HEIGHT else min(SD_MAX_FPS, cap)


def output_rate(source: Fraction | None, cap: int) -> Fraction | None:
    """The frame rate an output of a `source`-rate video gets under `cap`: the source's own
    when it is within the cap (or unknown: None); else the source's divided by the smallest
    whole number that brings it within the cap (every 2nd or 4th frame: 120 → 60 or 30,
    50 → 25, 59.94 → 29.97, even motion), unless that falls under 24 fps (35 → 17.5), when
    the cap itself (frames dropped unevenly). Timestamps are kept, so sound stays in sync."""
    if source is None or source <= cap:
        return source
    divided = source / math.ceil(source / cap)
    return divided if divided >= min(SMOOTH_FPS, cap) else Fraction(cap)


def _gop(rate: Fraction | None) -> int | None:
    """Frames in one segment's GOP at an output rate (key frames are forced every segment)."""
    return max(1, round(SEGMENT_SECONDS * rate)) if rate is not None else None


def mp4_size(width: int, height: int) -> tuple[int, int]:
    return fit(width, height, MP4_HEIGHT) or (_even(width), _even(height))


# -- storage ---------------------------------------------------------------------------------


def output_dir(data_dir: Path, sha: str) -> Path:
    return Path(data_dir) / "video" / sha[:2] / sha


def output_rel(sha: str) -> str:
    return f"video/{sha[:2]}/{sha}"


# -- FFmpeg ----------------------------------------------------------------------------------


def default_threads() -> int:
    """FFmpeg's threads when the setting leaves it to us: every CPU this process may use but
    one (which stays the server's), at least one."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


def thread_count(setting: int) -> int:
    """`video_ffmpeg_threads` as used: 0 (the default) is `default_threads()`; at least one."""
    return default_threads() if setting <= 0 else max(1, setting)


def global_threads(threads: int) -> list[str]:
    """Options before the first input: the filter graphs' threads and the decoder's."""
    return [
        "-filter_threads", str(threads), "-filter_complex_threads", str(threads),
        "-threads", str(threads),
    ]  # fmt: skip


def loudnorm_measure_cmd(source: Path, threads: int = 1) -> list[str]:
    return [
        FFMPEG, "-hide_banner", "-nostdin", *global_threads(threads), "-i", str(source),
        "-vn", "-sn", "-dn",
        "-af", f"loudnorm=I={TARGET_LKFS}:TP=-2:LRA=11:print_format=json", "-f", "null", "-",
    ]  # fmt: skip


def parse_loudnorm(stderr: str) -> dict[str, str] | None:
    """The measurement JSON the first loudnorm pass prints last on stderr."""
    start = stderr.rfind("{")
    end = stderr.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        facts = json.loads(stderr[start : end + 1])
    except ValueError:
        return None
    needed = ("input_i", "input_tp", "input_lra", "input_thresh", "target_offset")
    if not all(k in facts for k in needed):
        return None
    if not all(
        math.isfinite(_number(facts[k])) and facts[k] not in ("-inf", "inf") for k in needed
    ):
        return None
    return facts


def _loudnorm_filter(measured: dict[str, str] | None) -> str:
    base = f"loudnorm=I={TARGET_LKFS}:TP=-2:LRA=11"
    if measured is None:  # silence or unmeasurable: one-pass
        return base
    return (
        f"{base}:measured_I={measured['input_i']}:measured_TP={measured['input_tp']}"
        f":measured_LRA={measured['input_lra']}:measured_thresh={measured['input_thresh']}"
        f":offset={measured['target_offset']}:linear=true"
    )


def transcode_cmd(
    source: Path,
    out: Path,
    src: Probe,
    ladder: list[Rendition],
    measured: dict | None,
    threads: int = 1,
    max_fps: int = DEFAULT_MAX_FPS,
) -> list[str]:
    """One FFmpeg run: the HLS ladder under out/hls and out/video-720p.mp4, from one decode.
    `threads` bounds the decoder's, the filter graph's and each encoder's threads (x264 makes
    about 1.5 per core otherwise, for each rendition and the MP4). Each output's frame rate is
    capped (`output_rate`; `max_fps` is `video_max_fps`), its GOP is one 2-second segment."""
    n = len(ladder) + 1
    graph = [f"[0:v]split={n}" + "".join(f"[v{i}]" for i in range(n))]
    mp4_w, mp4_h = mp4_size(src.width, src.height)
    sizes = [(r.width, r.height) for r in ladder] + [(mp4_w, mp4_h)]
    rates = [output_rate(src.fps, max_fps_for(h, max_fps)) for _w, h in sizes]
    for i, (w, h) in enumerate(sizes):
        fps = f"fps={rates[i]}," if rates[i] != src.fps else ""
        graph.append(f"[v{i}]{fps}scale={w}:{h}:flags=bicubic,setsar=1,format=yuv420p[o{i}]")
    audio_in = "[0:a:0]" if src.has_audio else "[1:a]"
    graph.append(
        f"{audio_in}{_loudnorm_filter(measured) if src.has_audio else 'anull'},"
        f"aresample=48000,asplit={n}" + "".join(f"[a{i}]" for i in range(n))
    )
    # Damaged packets are concealed and skipped, as the ingest's check allowed (check_decodes):
    # FFmpeg would otherwise give up (exit 69) when most frames of a short damaged file fail.
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-y", "-max_error_rate", "1",
           *global_threads(threads), "-i", str(source)]  # fmt: skip
    if not src.has_audio:  # every rendition carries audio: silence for a silent source
        cmd += ["-f", "lavfi", "-t", f"{src.duration:.3f}", "-i", "anullsrc=r=48000:cl=stereo"]
    cmd += ["-filter_complex", ";".join(graph)]
    keyframes = f"expr:gte(t,n_forced*{SEGMENT_SECONDS})"
    for i, rendition in enumerate(ladder):
        cmd += ["-map", f"[o{i}]", "-map", f"[a{i}]"]
        high = rendition.height >= 720
        cmd += [
            f"-c:v:{i}", "libx264", f"-profile:v:{i}", "high" if high else "main",
            f"-b:v:{i}", f"{rendition.kbps}k", f"-maxrate:v:{i}", f"{int(rendition.kbps * 1.1)}k",
            f"-bufsize:v:{i}", f"{rendition.kbps * 2}k",
        ]  # fmt: skip
        if _gop(rates[i]) is not None:
            cmd += [f"-g:v:{i}", str(_gop(rates[i]))]
    cmd += [
        "-threads", str(threads),
        "-preset", "veryfast", "-sc_threshold", "0", "-force_key_frames", keyframes,
        "-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ac", "2",
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
        "-hls_segment_filename", str(out / "hls" / "%v" / "seg%04d.ts"),
        "-master_pl_name", "master.m3u8",
        "-var_stream_map", " ".join(f"v:{i},a:{i},name:{r.name}" for i, r in enumerate(ladder)),
        str(out / "hls" / "%v" / "index.m3u8"),
    ]  # fmt: skip
    m = len(ladder)
    if _gop(rates[m]) is not None:
        cmd += ["-g", str(_gop(rates[m]))]
    cmd += [
        "-map", f"[o{m}]", "-map", f"[a{m}]",
        "-c:v", "libx264", "-profile:v", "main", "-preset", "veryfast", "-threads", str(threads),
        "-b:v", f"{MP4_KBPS}k", "-maxrate", f"{MP4_MAX_KBPS}k", "-bufsize", f"{MP4_MAX_KBPS * 2}k",
        "-force_key_frames", keyframes, "-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ac", "2",
        "-movflags", "+faststart", str(out / "video-720p.mp4"),
        "-progress", "pipe:1", "-nostats",
    ]  # fmt: skip
    return cmd


def poster_cmds(mp4: Path, out: Path, duration: float, threads: int = 1) -> list[list[str]]:
    return [
        [FFMPEG, "-hide_banner", "-nostdin", "-y", *global_threads(threads), "-ss",
         f"{duration * share:.2f}", "-i", str(mp4), "-frames:v", "1", "-q:v", "3",
         str(out / f"poster-{i + 1}.jpg")]
        for i, share in enumerate(POSTER_SHARES)
    ]  # fmt: skip


THUMB_W, THUMB_H, THUMB_COLUMNS, THUMB_MAX = 160, 90, 10, 100  # the seek strip's pictures


def thumb_layout(duration: float) -> dict:
    """The thumbnail strip of a video: one 160×90 picture every `every` seconds (at least 2 s,
    at most 100 pictures), laid out 10 a row in one JPEG sprite."""
    every = max(2, math.ceil(duration / THUMB_MAX))
    count = max(1, min(THUMB_MAX, math.ceil(duration / every)))
    return {
        "file": "thumbs.jpg", "every": every, "count": count, "width": THUMB_W,
        "height": THUMB_H, "columns": THUMB_COLUMNS, "rows": math.ceil(count / THUMB_COLUMNS),
    }  # fmt: skip


def thumbs_cmd(mp4: Path, out: Path, layout: dict, threads: int = 1) -> list[str]:
    w, h = layout["width"], layout["height"]
    chain = (
        f"fps=1/{layout['every']},scale={w}:{h}:force_original_aspect_ratio=decrease,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,tile={layout['columns']}x{layout['rows']}"
    )
    return [FFMPEG, "-hide_banner", "-nostdin", "-y", *global_threads(threads), "-i", str(mp4),
            "-vf", chain, "-frames:v", "1", "-q:v", "5", str(out / layout["file"])]  # fmt: skip


_PROGRESS_TIME = re.compile(r"^out_time_(?:us|ms)=(\d+)$")


class Progress:
    """Follows FFmpeg's `-progress` lines: the share done and an estimate of the time left."""

    def __init__(self, duration: float, start: float = 0.0, span: float = 1.0) -> None:
        self.duration = max(duration, 0.001)
        self.start, self.span = start, span  # this run's part of the whole job
        self.began = time.monotonic()
        self.done = 0.0  # share of this run, 0..1

    def feed(self, line: str) -> bool:
        """Read one line; True when the share done changed."""
        match = _PROGRESS_TIME.match(line.strip())
        if match is None:
            if line.strip() == "progress=end":
                self.done = 1.0
                return True
            return False
        share = min(max(int(match.group(1)) / 1e6 / self.duration, 0.0), 1.0)
        changed = share != self.done
        self.done = share
        return changed

    @property
    def percent(self) -> float:
        return round(100 * (self.start + self.span * self.done), 1)

    @property
    def eta(self) -> int | None:
        if self.done <= 0.02:
            return None
        elapsed = time.monotonic() - self.began
        return int(elapsed / self.done * (1 - self.done))


def make_outputs(
    data_dir: Path,
    source: Path,
    sha: str,
    *,
    ladder: list[Rung],
    max_seconds: float,
    run: Callable[[list[str], Progress | None], tuple[int, list[str]]],
    threads: int | None = None,
    max_fps: int = DEFAULT_MAX_FPS,
) -> dict:
    """Transcode a source into its outputs (blocking; `run(cmd, progress)` runs one FFmpeg
    command and returns (exit code, last lines); each command uses at most `threads` threads
    per decoder, filter graph and encoder, `default_threads()` when None). Returns the facts
    stored with the job; raises `TranscodeFailed` with FFmpeg's last lines."""
    threads = default_threads() if threads is None else max(1, threads)
    src = probe(source, max_seconds=max_seconds)
    final = output_dir(data_dir, sha)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{sha[:8]}-"))
    try:
        measured = None
        if src.has_audio:
            code, lines = run(
                loudnorm_measure_cmd(source, threads), Progress(src.duration, 0.0, 0.1)
            )
            if code != 0:
                raise TranscodeFailed(lines)
            measured = parse_loudnorm("\n".join(lines))
        rungs = renditions_for(src.width, src.height, ladder)
        for rung in rungs:
            (work / "hls" / rung.name).mkdir(parents=True)
        cmd = transcode_cmd(source, work, src, rungs, measured, threads, max_fps)
        code, lines = run(cmd, Progress(src.duration, 0.1 if src.has_audio else 0.0, 0.85))
        if code != 0:
            raise TranscodeFailed(lines)
        posters = []
        shots = poster_cmds(work / "video-720p.mp4", work, src.duration, threads)
        for i, poster in enumerate(shots):
            code, _lines = run(poster, None)
            if code == 0 and (work / f"poster-{i + 1}.jpg").is_file():
                posters.append(f"poster-{i + 1}.jpg")
        layout = thumb_layout(src.duration)
        code, _lines = run(thumbs_cmd(work / "video-720p.mp4", work, layout, threads), None)
        thumbs = layout if code == 0 and (work / layout["file"]).is_file() else None
        mp4_w, mp4_h = mp4_size(src.width, src.height)

        def fps(height: int) -> float | None:
            rate = output_rate(src.fps, max_fps_for(height, max_fps))
            return round(float(rate), 3) if rate is not None else None

        facts = {
            "duration": round(src.duration, 3),
            "source": {
                "width": src.width,
                "height": src.height,
                "codec": src.codec,
                "fps": round(float(src.fps), 3) if src.fps is not None else None,
            },
            "renditions": [
                {
                    "name": r.name,
                    "width": r.width,
                    "height": r.height,
                    "kbps": r.kbps,
                    "fps": fps(r.height),
                }
                for r in rungs
            ],
            "mp4": {"width": mp4_w, "height": mp4_h, "kbps": MP4_MAX_KBPS, "fps": fps(mp4_h)},
            "posters": posters,
            "thumbs": thumbs,
            "loudness": {"target": TARGET_LKFS, "measured": measured},
        }
        (work / "video.json").write_text(json.dumps(facts), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
        return facts
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


class TranscodeFailed(Exception):
    def __init__(self, lines: list[str]) -> None:
        super().__init__("ffmpeg failed")
        self.lines = lines[-TAIL_LINES:]


class Runner:
    """Runs FFmpeg commands one after the other so that the TV stays fast, reading `-progress`
    lines as they come; `kill()` (from another thread) stops the current one.

    FFmpeg runs under the SCHED_IDLE policy (`chrt --idle 0`: it gets a CPU only when nothing
    else wants it; `nice -n 19` as well, which is all that is left without `chrt`) and bound
    to `threads` CPUs (`taskset`) when fewer than this process may use, so that even at
    nice 19 its threads never occupy the core the server needs when a request arrives; the
    commands' own thread counts follow `threads` too (`make_outputs`).

    FFmpeg dies with the server: `setpriv --pdeathsig KILL` (util-linux) asks the kernel to
    send it SIGKILL when the thread that started it ends, and the exec chain keeps that. The
    thread is the one that called this runner (a worker thread of `asyncio.to_thread`), which
    waits for FFmpeg to end, so it only ends before FFmpeg when the whole process dies (a
    leader killed with kill -9 or the OOM killer): the next leader's restart of the job does
    not race an orphan writing the same files."""

    def __init__(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        nice: bool = True,
        threads: int | None = None,
    ):
        self.on_progress = on_progress
        self.nice = nice
        self.threads = default_threads() if threads is None else max(1, threads)
        self.proc: subprocess.Popen | None = None
        self.killed = False

    def prefix(self) -> list[str]:
        """What runs FFmpeg: the low-priority wrappers found on this machine."""
        out = []
        if shutil.which("setpriv"):  # FFmpeg dies with this process, even when it is killed
            out += ["setpriv", "--pdeathsig", "KILL"]
        if not self.nice:
            return out
        if shutil.which("chrt"):
            out += ["chrt", "--idle", "0"]
        if shutil.which("nice"):
            out += ["nice", "-n", "19"]
        cpus = sorted(os.sched_getaffinity(0))
        if self.threads < len(cpus) and shutil.which("taskset"):
            out += ["taskset", "-c", ",".join(str(c) for c in cpus[-self.threads :])]
        return out

    def __call__(self, cmd: list[str], progress: Progress | None) -> tuple[int, list[str]]:
        if self.killed:
            return -9, ["stopped"]
        full = self.prefix() + cmd
        with (
            tempfile.TemporaryFile() as err,
            subprocess.Popen(
                full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err
            ) as proc,
        ):
            self.proc = proc
            assert proc.stdout is not None
            for raw in proc.stdout:
                if progress is not None and progress.feed(raw.decode("ascii", "replace")):
                    if self.on_progress is not None:
                        self.on_progress(progress)
            code = proc.wait()
            err.seek(0)
            text = err.read().decode("utf-8", "replace")
        return code, text.splitlines()[-200:]

    def kill(self) -> None:
        self.killed = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()


# -- the job queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    id: int
    media_id: int
    state: str
    percent: float
    eta_seconds: int | None
    error: str
    outputs: dict | None
    attempts: int


_JOB_SQL = (
    "SELECT id, media_id, state, percent, eta_seconds, error, outputs, attempts FROM video_jobs"
)


def _job(row) -> Job:
    return Job(
        row["id"],
        row["media_id"],
        row["state"],
        row["percent"],
        row["eta_seconds"],
        row["error"],
        json.loads(row["outputs"]) if row["outputs"] else None,
        row["attempts"],
    )


async def enqueue(tx, media_id: int, now: float | None = None) -> None:
    """Queue a video media for transcoding (inside the caller's transaction); a failed job is
    queued again, a queued, running or done one is left alone."""
    now = time.time() if now is None else now
    await tx.execute(
        "INSERT INTO video_jobs (media_id, state, created_at, updated_at)"
        " VALUES (?, 'queued', ?, ?)"
        " ON CONFLICT (media_id) DO UPDATE SET state = 'queued', percent = 0, error = '',"
        " eta_seconds = NULL, updated_at = excluded.updated_at WHERE video_jobs.state = 'failed'",
        (media_id, now, now),
    )


async def requeue_running(db: Database) -> int:
    """At start-up: jobs a stopped server left `running` are queued again (restarted)."""
    async with db.transaction() as tx:
        cursor = await tx.execute(
            "UPDATE video_jobs SET state = 'queued', percent = 0, eta_seconds = NULL,"
            " updated_at = ? WHERE state = 'running'",
            (time.time(),),
        )
        return cursor.rowcount


async def claim(db: Database) -> tuple[Job, str, str] | None:
    """Take the oldest queued job: (job, source file relative to the data dir, its sha256)."""
    if await db.fetchval("SELECT 1 FROM video_jobs WHERE state = 'queued' LIMIT 1") is None:
        return None  # the usual case, answered by a reader without taking the write lock
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT j.id, m.file, m.sha256 FROM video_jobs j JOIN media m ON m.id = j.media_id"
            " WHERE j.state = 'queued' ORDER BY j.created_at, j.id LIMIT 1"
        )
        if row is None:
            return None
        now = time.time()
        await tx.execute(
            "UPDATE video_jobs SET state = 'running', started_at = ?, updated_at = ?,"
            " attempts = attempts + 1, percent = 0, error = '' WHERE id = ?",
            (now, now, row["id"]),
        )
        job = _job(await tx.fetchone(f"{_JOB_SQL} WHERE id = ?", (row["id"],)))
    return job, row["file"], row["sha256"]


async def set_progress(db: Database, job_id: int, percent: float, eta: int | None) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE video_jobs SET percent = ?, eta_seconds = ?, updated_at = ?"
            " WHERE id = ? AND state = 'running'",
            (percent, eta, time.time(), job_id),
        )


async def finish(db: Database, job_id: int, sha: str, facts: dict) -> None:
    """A done job: its outputs are recorded and the programs using it get its duration (a
    "media" change)."""
    now = time.time()
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE video_jobs SET state = 'done', percent = 100, eta_seconds = 0, error = '',"
            " outputs = ?, finished_at = ?, updated_at = ? WHERE id = ?",
            (json.dumps({**facts, "dir": output_rel(sha)}), now, now, job_id),
        )
        # Screens may name the new renditions: every cache that shows media follows.
        row = await tx.fetchone("SELECT media_id FROM video_jobs WHERE id = ?", (job_id,))
        tx.emit("media", [row["media_id"]] if row is not None else ())


async def fail(db: Database, job_id: int, lines: list[str]) -> None:
    now = time.time()
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE video_jobs SET state = 'failed', eta_seconds = NULL, error = ?,"
            " finished_at = ?, updated_at = ? WHERE id = ?",
            ("\n".join(lines[-TAIL_LINES:])[-4000:], now, now, job_id),
        )


async def run_claimed(
    db: Database,
    data_dir: Path,
    job: Job,
    source_rel: str,
    sha: str,
    *,
    ladder: list[Rung],
    max_seconds: float,
    runner: Runner,
    max_fps: int = DEFAULT_MAX_FPS,
) -> str:
    """Transcode a claimed job in a worker thread and record how it ended ("done" or
    "failed"). Cancelled (the server stops): FFmpeg is killed and the job stays `running`, to
    be queued again at the next start."""
    try:
        facts = await asyncio.to_thread(
            make_outputs, Path(data_dir), Path(data_dir) / source_rel, sha,
            ladder=ladder, max_seconds=max_seconds, run=runner, threads=runner.threads,
            max_fps=max_fps,
        )  # fmt: skip
    except asyncio.CancelledError:
        runner.kill()
        raise
    except TranscodeFailed as exc:
        await fail(db, job.id, exc.lines)
        return "failed"
    except (Invalid, ValueError, OSError) as exc:
        await fail(db, job.id, [f"{type(exc).__name__}: {exc}"])
        return "failed"
    await finish(db, job.id, sha, facts)
    return "done"


async def run_next(
    db: Database,
    data_dir: Path,
    *,
    ladder: list[Rung],
    max_seconds: float,
    threads: int | None = None,
    max_fps: int = DEFAULT_MAX_FPS,
):
    """Claim and transcode the oldest queued job (for the CLI and tests); its final state, or
    None when nothing is queued."""
    claimed = await claim(db)
    if claimed is None:
        return None
    return await run_claimed(
        db, data_dir, *claimed, ladder=ladder, max_seconds=max_seconds,
        runner=Runner(threads=threads), max_fps=max_fps,
    )  # fmt: skip


async def job_for(db: Database, media_id: int) -> Job | None:
    row = await db.fetchone(f"{_JOB_SQL} WHERE media_id = ?", (media_id,))
    return _job(row) if row is not None else None


async def jobs_for(db, media_ids: list[int]) -> dict[int, Job]:
    if not media_ids:
        return {}
    marks = ",".join("?" * len(media_ids))
    rows = await db.fetchall(f"{_JOB_SQL} WHERE media_id IN ({marks})", media_ids)
    return {r["media_id"]: _job(r) for r in rows}


async def check_ready(db_or_tx, media_id: int | None) -> None:
    """`Invalid("video_not_ready")` while a program's video is still queued, transcoding or
    failed. A video without a job (stored before this pipeline) plays as uploaded."""
    if media_id is None:
        return
    row = await db_or_tx.fetchone("SELECT state FROM video_jobs WHERE media_id = ?", (media_id,))
    if row is not None and row["state"] != "done":
        raise Invalid("video_not_ready", row["state"], state=row["state"])


@dataclass(frozen=True)
class Unfinished:
    """A stored video whose transcode is queued, running or failed, as the editors' preview
    shows it: the job, the first good frame kept at upload (relative to the data dir; None for
    a video stored before it was kept) and whether browsers play the upload itself."""

    job: Job
    first_frame: str | None
    plays_as_is: bool


async def unfinished(db: Database, data_dir: Path, original: str | None) -> Unfinished | None:
    """The transcode of a stored video file while it is not done (None: done, no job — a video
    stored before this pipeline plays as uploaded — or no file). An upload browsers and boxes
    play as it is (`plays_in_browsers`) plays at once; a failed job never does."""
    if not original:
        return None
    row = await db.fetchone("SELECT id, sha256, mime FROM media WHERE file = ?", (original,))
    if row is None:
        return None
    job = await job_for(db, row["id"])
    if job is None or job.state == "done":
        return None
    frame = first_frame_rel(row["sha256"])
    kept = await asyncio.to_thread((Path(data_dir) / frame).is_file)
    plays = job.state != "failed" and row["mime"] == "video/mp4"
    if plays:
        plays = await asyncio.to_thread(plays_in_browsers, str(Path(data_dir) / original))
    return Unfinished(job, frame if kept else None, plays)


_BROWSER_PROFILES = {"Baseline", "Constrained Baseline", "Main", "High"}


@functools.lru_cache(maxsize=256)
def plays_in_browsers(path: str) -> bool:
    """Whether an MP4 is what every browser and box plays as it is: 8-bit 4:2:0 H.264
    (Baseline, Main or High) with AAC or MP3 sound or none. Files are content-addressed, so
    the answer is kept per path."""
    try:
        done = subprocess.run(
            [FFPROBE, "-v", "error", "-print_format", "json", "-show_streams", path],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        streams = json.loads(done.stdout or b"{}").get("streams") or []
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return False
    videos = [s for s in streams if s.get("codec_type") == "video"]
    sounds = [s for s in streams if s.get("codec_type") == "audio"]
    return (
        done.returncode == 0
        and len(videos) == 1
        and videos[0].get("codec_name") == "h264"
        and videos[0].get("profile") in _BROWSER_PROFILES
        and videos[0].get("pix_fmt") in ("yuv420p", "yuvj420p")
        and all(s.get("codec_name") in ("aac", "mp3") for s in sounds)
    )


@dataclass(frozen=True)
class Playable:
    """What the TV plays of a program's video."""

    mp4: str  # relative to the data dir: the 720p MP4, or the original upload
    hls: str | None  # the master playlist, when the ladder exists
    posters: list[str]
    duration: float | None
    thumbs: str | None = None  # the seek strip for the player: "URL EVERY WIDTH HEIGHT COLUMNS"


async def playable_file(db: Database, original: str | None) -> Playable:
    """What to play of a stored video file (its transcoded outputs once they exist)."""
    if not original:
        return Playable("", None, [], None)
    row = await db.fetchone(
        "SELECT j.state, j.outputs FROM media m JOIN video_jobs j ON j.media_id = m.id"
        " WHERE m.file = ?",
        (original,),
    )
    if row is None or row["state"] != "done" or not row["outputs"]:
        return Playable(original, None, [], None)
    outputs = json.loads(row["outputs"])
    base = outputs["dir"]
    strip = outputs.get("thumbs")
    return Playable(
        f"{base}/video-720p.mp4",
        f"{base}/hls/master.m3u8",
        [f"{base}/{p}" for p in outputs.get("posters", [])],
        outputs.get("duration"),
        f"/media/{base}/{strip['file']} {strip['every']} {strip['width']} {strip['height']}"
        f" {strip['columns']}"
        if strip
        else None,
    )


# -- resume positions and watching figures --------------------------------------------------


class Positions:
    """Where each box stopped watching each program's video, from the player's beacons. Kept in
    memory and written in one transaction per `flush()` (like usage records), so a beacon costs
    no database write; `furthest` (the furthest point reported) feeds the watching figures."""

    MAX_PENDING = 200_000  # beyond this, beacons wait for the next flush to make room

    def __init__(self, db: Database) -> None:
        self.db = db
        # (device, program) → (seconds, duration, at, furthest since the last flush)
        self._pending: dict[tuple[int, int], tuple[int, int, float, int]] = {}
        self._writing: dict[tuple[int, int], tuple[int, int, float, int]] = {}  # being flushed

    def record(
        self, device_id: int, program_id: int, seconds: int, duration: int, now: float | None = None
    ) -> bool:
        key = (device_id, program_id)
        before = self._pending.get(key)
        if before is None and len(self._pending) >= self.MAX_PENDING:
            return False
        furthest = max(seconds, before[3] if before else 0)
        self._pending[key] = (seconds, duration, time.time() if now is None else now, furthest)
        return True

    async def get(self, device_id: int, program_id: int) -> tuple[int, int] | None:
        """(seconds, duration) where the box stopped, flushed or not."""
        key = (device_id, program_id)
        pending = self._pending.get(key) or self._writing.get(key)  # not yet in the database
        if pending is not None:
            return pending[0], pending[1]
        row = await self.db.fetchone(
            "SELECT seconds, duration FROM video_positions WHERE device_id = ? AND program_id = ?",
            (device_id, program_id),
        )
        return (row["seconds"], row["duration"]) if row is not None else None

    def box_query(self, device_id: int) -> tuple[str, tuple]:
        """Every position this box has stored (one per program it watched), for a screen that
        reads it with its other facts in one trip; `position_from` picks one program's."""
        return (
            "SELECT program_id, seconds, duration FROM video_positions WHERE device_id = ?",
            (device_id,),
        )

    def position_from(self, device_id: int, program_id: int, rows) -> tuple[int, int] | None:
        """`get`'s answer from `box_query`'s rows (read before or after the pending beacons)."""
        key = (device_id, program_id)
        pending = self._pending.get(key) or self._writing.get(key)
        if pending is not None:
            return pending[0], pending[1]
        for row in rows:
            if row[0] == program_id:
                return row[1], row[2]
        return None

    async def flush(self) -> int:
        if not self._pending:
            return 0
        batch, self._pending = self._pending, {}
        self._writing = batch
        rows = [(d, p, s, far, dur, at, at) for (d, p), (s, dur, at, far) in batch.items()]
        try:
            async with self.db.transaction() as tx:
                await tx.executemany(
                    "INSERT INTO video_positions (device_id, program_id, seconds, furthest,"
                    " duration, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (device_id, program_id) DO UPDATE SET"
                    " seconds = excluded.seconds, duration = excluded.duration,"
                    " furthest = MAX(video_positions.furthest, excluded.furthest),"
                    " updated_at = excluded.updated_at",
                    rows,
                )
                # The watching figures of these programs (WatchingFigures) are out of date.
                tx.emit("viewing", sorted({p for (_d, p) in batch}))
        except BaseException:
            for key, value in batch.items():  # kept for the next attempt; newer ones win
                newer = self._pending.get(key)
                if newer is None:
                    self._pending[key] = value
                else:
                    self._pending[key] = (*newer[:3], max(newer[3], value[3]))
            raise
        finally:
            self._writing = {}
        return len(rows)


def _summary(shares: list[float], households: int) -> dict:
    starts = len(shares)
    return {
        "starts": starts,
        "households": households,
        "average_share": round(sum(shares) / starts, 3) if starts else 0.0,
        "completions": sum(1 for s in shares if s >= 0.9),
        "drop_off": [
            round(sum(1 for s in shares if s >= k / 10) / starts, 3) if starts else 0.0
            for k in range(1, 10)
        ],
    }


async def _watched(
    db: Database, program_id: int | None, since: float | None, until: float | None
) -> list:
    where, args = ["p.duration > 0"], []
    if program_id is not None:
        where.append("p.program_id = ?")
        args.append(program_id)
    if since is not None:
        where.append("p.started_at >= ?")
        args.append(since)
    if until is not None:
        where.append("p.started_at < ?")
        args.append(until)
    return await db.fetchall(
        "SELECT p.device_id, p.program_id, d.village_code, d.household_label,"
        " MIN(1.0, CAST(p.furthest AS REAL) / p.duration) AS share"
        " FROM video_positions p JOIN devices d ON d.id = p.device_id"
        " WHERE " + " AND ".join(where),
        tuple(args),
    )


def _household(row) -> tuple:
    """A household: its village and label when the installer wrote one, else the box itself."""
    label = (row["household_label"] or "").strip()
    return (row["village_code"], label) if label else ("box", row["device_id"])


async def figures(
    db: Database,
    program_id: int,
    *,
    regions: set[str] | None = None,
    since: float | None = None,
    until: float | None = None,
) -> dict:
    """Watching figures of a program's video from the flushed positions: boxes that started it
    (in [since, until) when given, from villages in `regions` when given), the distinct
    households among them, their average furthest share, completions (≥ 90 %) and the
    drop-off curve (share of starters still watching at 10 %, 20 %, … 90 %). A seek forward
    counts as watched: the figures are an upper bound. A box counts once per program (its
    first start), and a box without a village only in unscoped figures."""
    rows = await _watched(db, program_id, since, until)
    if regions is not None:
        rows = [r for r in rows if r["village_code"] in regions]
    return _summary([float(r["share"]) for r in rows], len({_household(r) for r in rows}))


async def views_by_region(
    db: Database, tree, since: float | None = None, until: float | None = None
) -> dict[str, tuple[int, int]]:
    """(video starts, completions ≥ 90 %) of every program's video per region code, villages and
    everything above them (`tree.chain`), for boxes that started in [since, until) — the coverage
    API's `video_starts` and `completions`."""
    out: dict[str, tuple[int, int]] = {}
    for row in await _watched(db, None, since, until):
        code = row["village_code"]
        if code is None or tree.get(code) is None:
            continue
        done = 1 if float(row["share"]) >= 0.9 else 0
        for region in tree.chain(code):
            views, completions = out.get(region.code, (0, 0))
            out[region.code] = (views + 1, completions + done)
    return out


class WatchingFigures:
    """The watching figures, computed once and then served from memory. An entry holds until
    positions of its program are flushed (the "viewing" change `Positions.flush` emits; the
    server's hub calls `forget`), a box's record changes (its village or household: the
    "box" change) or the day changes (the default period ends tonight): a program being
    watched is recomputed at most once per flush (`usage_flush_seconds`), whoever asks and
    however often. A computation overtaken by a `forget` is served but not kept."""

    MAX_ENTRIES = 2000  # program × region scope × period; the oldest goes first

    def __init__(self, db: Database, cache: BoundedCache) -> None:
        self.db = db
        self.cache = cache
        self.generation = 0  # forget() count: a result computed across one is not kept

    def forget(self, program_ids: tuple[str, ...] = ()) -> None:
        """Positions of these programs were flushed (every program's when empty)."""
        self.generation += 1
        if not program_ids:
            self.cache.clear()
            return
        doomed = {int(p) for p in program_ids}
        # The per-region views of every program count them too.
        self.cache.drop_where(lambda key, _v: key[0] == "regions" or key[1] in doomed)

    async def figures(
        self,
        program_id: int,
        *,
        regions: set[str] | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> dict:
        """`figures(...)`, from memory when nothing changed since it was computed."""
        scope = None if regions is None else frozenset(regions)
        key = ("program", program_id, scope, since, until)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        generation = self.generation
        found = await figures(self.db, program_id, regions=regions, since=since, until=until)
        if generation == self.generation:
            self.cache.put(key, found)
        return found

    async def by_region(
        self, tree, since: float | None = None, until: float | None = None
    ) -> dict[str, tuple[int, int]]:
        """`views_by_region(...)`, from memory when no position was flushed since."""
        key = ("regions", since, until)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        generation = self.generation
        found = await views_by_region(self.db, tree, since, until)
        if generation == self.generation:
            self.cache.put(key, found)
        return found
