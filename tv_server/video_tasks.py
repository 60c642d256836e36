"""The server's video transcode runner: takes queued jobs from the database
(content/programs/video.py) and runs FFmpeg at low CPU priority (SCHED_IDLE, nice 19, on at most
`video_ffmpeg_threads` CPUs), `video_jobs_concurrency` jobs at a time, writing the progress
FFmpeg reports so the program page can show it. A job left `running` by a stopped server is
queued again at start-up; stopping the server kills the FFmpeg it started. When no transcode
waits, the same slots burn subtitles into the 720p MP4 for the models that need it; a sweep at
start-up and every hour deletes the burned-in copies that no program's draft or live revision
shows any more (`subtitle_edits.prune_burns`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiohttp import web

from content.programs import subtitle_edits, subtitles, video
from tv_server import caches, keys

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
PROGRESS_EVERY = 1.0  # seconds between progress writes of one job
PRUNE_SECONDS = 3600.0  # between two sweeps of the burned-in copies no program shows


async def run_job(app: web.Application, job: video.Job, source_rel: str, sha: str) -> str:
    """Transcode one claimed job to its end; returns its final state."""
    settings = app[keys.SETTINGS]
    db = app[keys.DB]
    loop = asyncio.get_running_loop()
    last_write = [0.0]

    def on_progress(progress: video.Progress) -> None:  # in the worker thread
        now = time.monotonic()
        if now - last_write[0] < PROGRESS_EVERY:
            return
        last_write[0] = now
        with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
            asyncio.run_coroutine_threadsafe(
                video.set_progress(db, job.id, progress.percent, progress.eta), loop
            )

    try:
        ladder = video.parse_ladder(settings.video_ladder)
    except ValueError as exc:
        await video.fail(db, job.id, [f"video_ladder: {exc}"])
        return "failed"
    state = await video.run_claimed(
        db, settings.data_path, job, source_rel, sha, ladder=ladder,
        max_seconds=settings.video_max_seconds,
        runner=video.Runner(on_progress, threads=video.thread_count(settings.video_ffmpeg_threads)),
        max_fps=settings.video_max_fps,
    )  # fmt: skip
    return state  # a done job emitted its "media" change (video.finish)


async def run_burn(app: web.Application, track: subtitles.Track) -> str:
    """Burn one claimed subtitle track into its video's 720p MP4; returns its final state."""
    settings = app[keys.SETTINGS]
    runner = video.Runner(threads=video.thread_count(settings.video_ffmpeg_threads))
    # a done burn emits its "media" change (subtitles.burn_done)
    return await subtitles.run_claimed_burn(app[keys.DB], settings.data_path, track, runner)


async def run_forever(app: web.Application) -> None:
    settings = app[keys.SETTINGS]
    db = app[keys.DB]
    slots = max(0, settings.video_jobs_concurrency)
    if slots == 0:
        return
    restarted = await video.requeue_running(db) + await subtitles.requeue_running_burns(db)
    if restarted:
        log.info("video: %d interrupted transcode(s) queued again", restarted)
    running: set[asyncio.Task] = set()
    try:
        while True:
            while len(running) < slots:
                try:
                    claimed = await video.claim(db)
                except Exception:
                    log.exception("video: claiming a job failed")
                    claimed = None
                if claimed is None:
                    try:  # no transcode waiting: a subtitle burn, if one is
                        burn = await subtitles.claim_burn(db)
                    except Exception:
                        log.exception("video: claiming a subtitle burn failed")
                        burn = None
                    if burn is None:
                        break
                    task = asyncio.create_task(run_burn(app, burn))
                    running.add(task)
                    task.add_done_callback(running.discard)
                    continue
                task = asyncio.create_task(run_job(app, *claimed))
                running.add(task)
                task.add_done_callback(running.discard)
            await asyncio.sleep(POLL_SECONDS)
    finally:
        for task in list(running):
            task.cancel()
        for task in list(running):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def prune_once(app: web.Application) -> int:
    """Delete the burned-in copies no program shows (rows and MP4s); how many videos lost one."""
    media_ids = await subtitle_edits.prune_burns(app[keys.DB], app[keys.SETTINGS].data_path)
    if media_ids:
        log.info("video: unused burned-in subtitle copies deleted for %d video(s)", len(media_ids))
        await caches.changed(app, "media", media_ids)
    return len(media_ids)


async def prune_forever(app: web.Application) -> None:
    """The leader's sweep of burned-in copies, at start-up and every `PRUNE_SECONDS`."""
    while True:
        try:
            await prune_once(app)
        except Exception:
            log.exception("video: pruning burned-in subtitle copies failed")
        await asyncio.sleep(PRUNE_SECONDS)
