"""Video bench: transcoding speed as a multiple of real time (content/programs/video.py).

Makes a 60 s 1080p25 source with FFmpeg (testsrc2 under film grain, so the encoder works as on
camera footage, and a 440 Hz tone), then runs the server's whole pipeline on it once: the
loudness measurement pass, one FFmpeg run making the default HLS ladder (540p, 720p, 1080p; no
2160p above a 1080p source) and the 720p progressive MP4, and the poster frames, all as the
server runs them: SCHED_IDLE and nice 19, bound to `video_ffmpeg_threads` CPUs (by default
every CPU but one) with as many threads per decoder, filter graph and encoder (`--threads`
to compare another count). Speed = source seconds / wall seconds (above 1× the
transcode keeps up with real time). The CPU seconds of FFmpeg and the load average are recorded
too: the machine is shared, and other work slows the nice'd FFmpeg down.

Then the TV while a transcode runs, as production sends it: signed launches of distinct boxes,
each once, and the home each is sent to (bench/launch_bench.py's load, `wrk`), for LOAD_SECONDS
idle and again while the same pipeline transcodes the source the same way (the busy run
starts on boxes the idle run never reached); the ratio of the two request rates must stay
>= 0.7. Beside it, one program page requested over and over (bench/loadgen.py): that row
measures the fast lane's cache, not the fleet, and is kept only for comparison.

    .venv/bin/python -m bench.video_bench [--seconds 60] [--threads N] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import common, launch_bench
from bench.common import fmt
from content.programs import video

SECONDS = 60
LOAD_SECONDS = 8
LOAD_CONNECTIONS = 8
FLEET_BOXES = 40_000  # more than two runs of launches can reach: no box launches twice
TARGET_RATIO = 0.7
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


def _rate(url: str, seconds: float) -> dict:
    """Requests per second a load generator (its own process) gets from `url`."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", url, "-c", str(LOAD_CONNECTIONS), "-d",
         str(seconds)], capture_output=True, text=True, check=True, cwd=common.ROOT,
        timeout=seconds + 60,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def tv_while_transcoding(
    source: Path, seconds: float = LOAD_SECONDS, threads: int | None = None
) -> dict:
    """The TV's request rate idle and while the pipeline transcodes `source` as the server
    would (`threads`: video_ffmpeg_threads)."""
    work = Path(tempfile.mkdtemp(prefix="legaltv-video-tv-"))
    data_dir = common.prepare_demo_dir(str(work))
    port = common.free_port()
    argv = [sys.executable, "-m", "tv_server.cli", "serve", "--demo", "--allow-unsigned",
            "--data-dir", str(data_dir), "--host", common.HOST, "--port", str(port)]  # fmt: skip
    env = {"PYTHONPATH": str(common.ROOT), "LEGALTV_VIDEO_JOBS_CONCURRENCY": "0"}
    launch_bench.add_boxes(data_dir, FLEET_BOXES + 1)
    script = launch_bench.lua_script(launch_bench.launch_urls(data_dir, FLEET_BOXES)[1:], work)
    server = common.start_server(argv, port, "legaltv", work, "/healthz", env)

    def fleet(start: int) -> dict:
        return launch_bench.load(server.base, script, seconds, LOAD_CONNECTIONS, start)

    try:
        url = common.discover(server.base).url("p")
        idle = _rate(url, seconds)
        fleet_idle = fleet(0)
        done = threading.Event()
        outcome: dict = {}

        def transcode() -> None:
            try:
                runner = video.Runner(threads=threads)
                outcome["facts"] = video.make_outputs(
                    work, source, "c" * 64, ladder=video.parse_ladder(video.DEFAULT_LADDER),
                    max_seconds=7200, run=runner, threads=runner.threads,
                )  # fmt: skip
            finally:
                done.set()

        thread = threading.Thread(target=transcode, daemon=True)
        thread.start()
        time.sleep(1.0)  # past the loudness pass's start: FFmpeg is busy
        load_busy = os.getloadavg()
        fleet_busy = fleet(FLEET_BOXES // 2)
        busy = _rate(url, seconds)
        busy["transcoding_all_along"] = not done.is_set()
        thread.join()
        return {
            "fleet_idle_rps": fleet_idle["rps"],
            "fleet_busy_rps": fleet_busy["rps"],
            "fleet_idle_p99_ms": fleet_idle["p99_ms"],
            "fleet_busy_p99_ms": fleet_busy["p99_ms"],
            "fleet_errors": (fleet_idle["errors"] or 0) + (fleet_busy["errors"] or 0),
            "fleet_ratio": fleet_busy["rps"] / fleet_idle["rps"] if fleet_idle["rps"] else None,
            "url_kind": "program page (p-ID-1)",
            "idle_rps": idle["rps"],
            "busy_rps": busy["rps"],
            "idle_p99_ms": idle["p99_ms"],
            "busy_p99_ms": busy["p99_ms"],
            "ratio": busy["rps"] / idle["rps"] if idle["rps"] else None,
            "transcoding_all_along": busy["transcoding_all_along"],
            "tool": idle["tool"],
            "load_during": load_busy,
        }
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(seconds: int = SECONDS, threads: int | None = None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="legaltv-video-bench-"))
    try:
        source = work / "source.mp4"
        make_source(source, seconds)
        load_before = os.getloadavg()[0]
        cpu0, wall0 = _children_cpu(), time.perf_counter()
        runner = video.Runner(threads=threads)
        facts = video.make_outputs(
            work, source, "b" * 64,
            ladder=video.parse_ladder(video.DEFAULT_LADDER), max_seconds=7200,
            run=runner, threads=runner.threads,
        )  # fmt: skip
        wall = time.perf_counter() - wall0
        cpu = _children_cpu() - cpu0
        tv = tv_while_transcoding(source, threads=runner.threads)
        return {
            "threads": runner.threads,
            "tv": tv,
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
            f"source; on {r['threads']} idle core(s) that is about "
            f"{fmt(r['source_seconds'] / (r['cpu_seconds'] / r['threads']), 1)}× real "
            "time (an estimate from the CPU time, not a measurement).",
            "",
            f"FFmpeg runs as in the server: SCHED_IDLE and nice 19, bound to {r['threads']} of "
            f"{len(os.sched_getaffinity(0))} CPUs with {r['threads']} thread(s) per decoder, "
            "filter graph and encoder (`video_ffmpeg_threads`). On this shared machine the "
            "other engineers' work (see the load average) takes the CPU first: the speed is a "
            "lower bound of what an idle machine does; CPU seconds ÷ source seconds is the "
            "steadier figure.",
            "",
            *_tv_markdown(r.get("tv")),
        ]
    )


def _tv_markdown(tv: dict | None) -> list[str]:
    if not tv:
        return []
    ratio = tv["fleet_ratio"]
    ok = (
        ratio is not None
        and ratio >= TARGET_RATIO
        and tv["fleet_errors"] == 0
        and tv["transcoding_all_along"]
    )
    return [
        "**The TV while a transcode runs**: signed launches of distinct boxes, each once, and "
        f"their homes (`wrk`, {LOAD_CONNECTIONS} connections, {LOAD_SECONDS} s; "
        f"{fmt(FLEET_BOXES)} boxes, the transcoding run starting where the idle run could not "
        "reach), first idle, then while the pipeline above transcodes the same source (FFmpeg "
        "as above). Beside it, for comparison only, one program page requested over and "
        f"over ({tv['tool']}): the fast lane's cache, not what a fleet sends. Load average "
        f"(1, 5, 15 min) as the transcoding run began: {_loads(tv.get('load_during'))}.",
        "",
        "| load | idle req/s | transcoding req/s | idle p99 ms | transcoding p99 ms | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| launches + homes, distinct boxes | {fmt(tv['fleet_idle_rps'], 0)} | "
        f"{fmt(tv['fleet_busy_rps'], 0)} | {fmt(tv['fleet_idle_p99_ms'], 1)} | "
        f"{fmt(tv['fleet_busy_p99_ms'], 1)} | {fmt(ratio, 2)}× |",
        f"| one program page, repeated (cache) | {fmt(tv['idle_rps'], 0)} | "
        f"{fmt(tv['busy_rps'], 0)} | {fmt(tv['idle_p99_ms'], 1)} | {fmt(tv['busy_p99_ms'], 1)} "
        f"| {fmt(tv['ratio'], 2)}× |",
        "",
        f"Distinct boxes: {fmt(ratio, 2)}× of idle, {tv['fleet_errors']} errors "
        f"(target ≥ {TARGET_RATIO}×): {common.verdict(ok)}"
        + ("" if tv["transcoding_all_along"] else " (the transcode ended before the load did)"),
    ]


def _loads(loads) -> str:
    return " ".join(fmt(x, 2) for x in loads) if loads else "—"


def add_section(text: str, result: dict, machine: dict) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    intro = f"Run {when} on `{machine['uname']}`, {machine['nproc']} × {machine['cpu']}."
    return common.put_section(
        text, START, END, "Video: transcoding speed (60 s 1080p source)", intro, markdown(result)
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=SECONDS)
    p.add_argument(
        "--threads", type=int, default=None, help="video_ffmpeg_threads (default: CPUs - 1)"
    )
    p.add_argument("--write", action="store_true", help="record the result in bench/RESULTS.md")
    a = p.parse_args()
    result = run(a.seconds, a.threads)
    print(markdown(result))
    if a.write:
        text = RESULTS.read_text() if RESULTS.exists() else "# LegalTV bench results\n"
        RESULTS.write_text(add_section(text, result, common.machine_info()))


if __name__ == "__main__":
    main()
