"""Small real videos in the containers and codecs editors send (made once per test session with
the machine's FFmpeg, then shared): 1–2 s, tiny frames, so the pipeline runs in seconds."""

from __future__ import annotations

import atexit
import json
import random
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import pytest

_ENCODERS: set[str] | None = None


def encoders() -> set[str]:
    global _ENCODERS
    if _ENCODERS is None:
        out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True,
                             text=True, check=True, timeout=30).stdout  # fmt: skip
        _ENCODERS = {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1}
    return _ENCODERS


def _av1() -> list[str]:
    found = encoders()
    if "libaom-av1" in found:
        return ["-c:v", "libaom-av1", "-cpu-used", "8", "-b:v", "150k"]
    if "libsvtav1" in found:
        return ["-c:v", "libsvtav1", "-preset", "12"]
    if "librav1e" in found:
        return ["-c:v", "librav1e", "-speed", "10"]
    pytest.skip("this FFmpeg has no AV1 encoder")


# name → (file name, size, frame rate, seconds, video codec options, audio options)
SAMPLES = {
    # An H.265 phone-style MOV at 720p50 (the ladder must stop at 720p).
    "hevc_mov": ("hevc.mov", "1280x720", "50", 1.2,
                 lambda: ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                          "log-level=error", "-tag:v", "hvc1"], ["-c:a", "aac"]),
    # VP9 (4:4:4, profile 1) + Opus in WebM at an odd size and 30 fps.
    "vp9_webm": ("odd.webm", "161x91", "30", 1.5,
                 lambda: ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
                          "-b:v", "200k", "-pix_fmt", "yuv444p"], ["-c:a", "libopus"]),
    # AV1 in Matroska, portrait (a phone held upright), 29.97 fps, no sound.
    "av1_mkv": ("portrait.mkv", "90x160", "30000/1001", 1.5, _av1, None),
    # H.264 in Matroska at 25 fps.
    "h264_mkv": ("h264.mkv", "160x90", "25", 1.5,
                 lambda: ["-c:v", "libx264", "-preset", "ultrafast"], ["-c:a", "aac"]),
    # Anamorphic H.264 (pixels 4:3 wide, as DV and DVD video store them).
    "anamorphic_mp4": ("dv.mp4", "160x90", "25", 1.2,
                       lambda: ["-c:v", "libx264", "-preset", "ultrafast", "-vf", "setsar=4/3"],
                       None),
    # A phone's slow-motion H.264 MP4 at 120 fps, 4.2 s (two whole segments and a bit).
    "fps120_mp4": ("phone120.mp4", "160x90", "120", 4.2,
                   lambda: ["-c:v", "libx264", "-preset", "ultrafast"], ["-c:a", "aac"]),
    # Too short.
    "short_webm": ("short.webm", "160x90", "25", 0.4,
                   lambda: ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
                   None),
}  # fmt: skip
NEEDS = {"hevc_mov": "libx265", "vp9_webm": "libvpx-vp9", "short_webm": "libvpx-vp9"}


@cache
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="legaltv-video-samples-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@cache
def sample(name: str) -> Path:
    """The sample's file, made on first use."""
    if NEEDS.get(name) and NEEDS[name] not in encoders():
        pytest.skip(f"this FFmpeg has no {NEEDS[name]} encoder")
    filename, size, rate, seconds, video, audio = SAMPLES[name]
    path = _folder() / filename
    # testsrc (RGB) keeps odd sizes, which testsrc2 (4:2:0) rounds down.
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
           f"testsrc=size={size}:rate={rate}:duration={seconds}"]  # fmt: skip
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    options = video()
    if "-pix_fmt" not in options:
        options += ["-pix_fmt", "yuv420p"]
    cmd += [*options, *(audio or ["-an"]), str(path)]
    subprocess.run(cmd, check=True, timeout=180)
    return path


@cache
def audio_only() -> Path:
    """An MP4 (ftyp and all) holding sound and no picture."""
    path = _folder() / "sound.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=2",
                    "-c:a", "aac", str(path)], check=True, timeout=60)  # fmt: skip
    return path


@cache
def unknown_codec() -> Path:
    """A Matroska file whose video track names a codec no FFmpeg knows."""
    data = sample("h264_mkv").read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    path = _folder() / "unknown.mkv"
    path.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/AVC"))
    return path


def _video_packets(path: Path) -> list[tuple[int, int]]:
    """(byte offset, size) of each packet of the first video stream, as ffprobe reads them."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=pos,size", "-of", "json", str(path)],
                         capture_output=True, check=True, timeout=60).stdout  # fmt: skip
    return [(int(p["pos"]), int(p["size"])) for p in json.loads(out)["packets"]]


@cache
def damaged_start() -> Path:
    """A phone-like H.264 + AAC MP4 (4 s, a key frame every second) whose first ten video
    packets (0.4 s) are overwritten at their start: FFmpeg cannot split them into NAL units,
    and the pictures after them lack their reference until the key frame at 1 s."""
    clean = _folder() / "clean-start.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=320x180:rate=25:duration=4", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000:duration=4", "-c:v", "libx264",
                    "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    str(clean)], check=True, timeout=120)  # fmt: skip
    data = bytearray(clean.read_bytes())
    for pos, size in _video_packets(clean)[:10]:
        n = min(size, 64)
        data[pos : pos + n] = bytes((k * 37 + 11) & 0xFF for k in range(n))
    path = _folder() / "damaged-start.mp4"
    path.write_bytes(bytes(data))
    return path


@cache
def garbage_after_header() -> Path:
    """An MP4 whose header (ftyp, moov: an H.264 track of 3 s) is intact and whose every
    video packet is garbage: ffprobe names the stream, nothing decodes."""
    clean = _folder() / "clean-garbage.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=320x180:rate=25:duration=3", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(clean)],
                   check=True, timeout=120)  # fmt: skip
    data = bytearray(clean.read_bytes())
    noise = random.Random(5)
    for pos, size in _video_packets(clean):
        data[pos : pos + size] = bytes(noise.randrange(256) for _ in range(size))
    path = _folder() / "garbage.mp4"
    path.write_bytes(bytes(data))
    return path
