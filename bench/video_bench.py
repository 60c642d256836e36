"""Video bench: transcoding speed as a multiple of real time (content/programs/video.py).

Makes a 60 s 1080p25 source with FFmpeg (testsrc2 under film grain, so the encoder works as on
camera footage, and a 440 Hz tone), then runs the server's whole pipeline on it once: the
loudness measurement pass, one FFmpeg run making the default HLS ladder (540p, 720p, 1080p; no
2160p above a 1080p source) and the 720p progressive MP4, and the poster frames, all at
`nice -n 19` as the server runs them. Speed = source seconds / wall seconds (above 1× the
transcode keeps up with real time). The CPU seconds of FFmpeg and the load average are recorded
too: the machine is shared, and other work slows the nice'd FFmpeg down.

    .venv/bin/python -m bench.video_bench [--seconds 60] [--write]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench import common
from bench.common import fmt
from content.programs import video

SECONDS = 60
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- video:start -->", "<!-- video:end -->"


def make_source(path: Path, seconds: int) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-vf", "noise=alls=12:allf=t", "-c:v", "libx264", "-preset", "ultrafast",
         "-b:v", "12000k", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", str(path)],
        check=True,
    )  # fmt: skip


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(seconds: int = SECONDS) -> dict:
    work = Path(tempfile.mkdtemp(prefix="legaltv-video-bench-"))
    try:
        source = work / "source.mp4"
        make_source(source, seconds)
        load_before = os.getloadavg()[0]
        cpu0, wall0 = _children_cpu(), time.perf_counter()
        facts = video.make_outputs(
            work, source, "b" * 64,
            ladder=video.parse_ladder(video.DEFAULT_LADDER), max_seconds=7200,
            run=video.Runner(),
        )  # fmt: skip
        wall = time.perf_counter() - wall0
        cpu = _children_cpu() - cpu0
        return {
            "source_seconds": seconds,
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "speed": seconds / wall,
            "renditions": [r["name"] for r in facts["renditions"]],
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def markdown(r: dict) -> str:
    return "\n".join(
        [
            "| source | outputs | wall s | FFmpeg CPU s | speed (× real time) "
            "| load avg before / after |",
            "| --- | --- | ---: | ---: | ---: | --- |",
            f"| {r['source_seconds']} s 1080p25 H.264 + AAC | HLS {', '.join(r['renditions'])} "
            f"+ 720p MP4 + loudness pass + posters | {fmt(r['wall_seconds'], 1)} | "
            f"{fmt(r['cpu_seconds'], 1)} | {fmt(r['speed'], 2)}× | "
            f"{fmt(r['load_before'], 1)} / {fmt(r['load_after'], 1)} |",
            "",
            f"CPU cost: {fmt(r['cpu_seconds'] / r['source_seconds'], 2)} CPU-seconds per second of "
            f"source; on {os.cpu_count()} idle cores that is about "
            f"{fmt(r['source_seconds'] / (r['cpu_seconds'] / (os.cpu_count() or 1)), 1)}× real "
            "time (an estimate from the CPU time, not a measurement).",
            "",
            "FFmpeg runs at `nice -n 19` (as in the server), so on this shared 2-core machine the "
            "other engineers' work (see the load average) takes the CPU first: the speed is a "
            "lower bound of what an idle machine does; CPU seconds ÷ source seconds is the "
            "steadier figure.",
        ]
    )


def add_section(text: str, result: dict, machine: dict) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    intro = f"Run {when} on `{machine['uname']}`, {machine['nproc']} × {machine['cpu']}."
    return common.put_section(
        text, START, END, "Video: transcoding speed (60 s 1080p source)", intro, markdown(result)
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=SECONDS)
    p.add_argument("--write", action="store_true", help="record the result in bench/RESULTS.md")
    a = p.parse_args()
    result = run(a.seconds)
    print(markdown(result))
    if a.write:
        text = RESULTS.read_text() if RESULTS.exists() else "# LegalTV bench results\n"
        RESULTS.write_text(add_section(text, result, common.machine_info()))


if __name__ == "__main__":
    main()
