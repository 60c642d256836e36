"""Changes emitted by the domain writes themselves (storage.changes), with no server: a finished
rendition or burned-in copy is a "media" change, a program going live in another process reaches
the server's hub through change_log (formerly the scheduler's updated_at watcher and hand
publishing in tv_server.video_tasks)."""

from __future__ import annotations

import pytest

from content.programs import subtitles, video, workflow
from content.programs.revisions import Fields
from storage.changelog import ChangeLogFollower
from storage.changes import Change
from tests.helpers import test_database


async def new_program(db, data_dir) -> int:
    fields = Fields(
        title="赡养老人是法定义务", summary="子女不能以任何理由拒绝赡养父母。",
        category=next(iter(await workflow.category_titles(db))), tags="赡养", language="zh",
        regions=("1506",), body="# 赡养义务\n\n成年子女对父母有赡养扶助的义务。\n",
    )  # fmt: skip
    return await workflow.create_program(
        db, data_dir, fields, region_exists=lambda code: True, max_bytes=10**7, author="ed"
    )


def _heard(db, kind: str) -> list[Change]:
    heard: list[Change] = []
    db.changes.subscribe([kind], heard.append)
    return heard


async def test_a_finished_transcode_is_a_media_change_and_a_failed_one_none(db):
    heard = _heard(db, "media")
    media_id = await db.fetchval("SELECT id FROM media ORDER BY id LIMIT 1")
    async with db.transaction() as tx:
        await video.enqueue(tx, media_id)
    job, _file, sha = await video.claim(db)
    await video.fail(db, job.id, ["ffmpeg said no"])
    assert heard == []
    await video.finish(db, job.id, sha, {"duration": 3})
    assert heard == [Change.of("media", [media_id])]


async def test_a_burned_in_copy_done_is_a_media_change_and_a_failed_one_none(db):
    heard = _heard(db, "media")
    track = subtitles.Track(7, "zh", "WEBVTT", 1, "ab" * 32, True, "running", "", "")
    await subtitles.burn_done(db, track, None, "ffmpeg said no")
    assert heard == []
    await subtitles.burn_done(db, track, "media/out/burn.mp4")
    assert heard == [Change.of("media", [7])]


@pytest.mark.sqlite_only("change_log carries changes between processes on SQLite")
async def test_a_program_going_live_in_another_process_reaches_the_server_hub(db, data_dir):
    """The scheduler no longer watches programs' updated_at for other processes' writes: the
    go-live emits its change, and change_log carries it to the serving process."""
    server = test_database(data_dir)
    await server.open()
    try:
        heard = _heard(server, "program")
        follower = ChangeLogFollower(server, interval=60)
        await follower.start()
        pid = await new_program(db, data_dir)
        rev = (await workflow.get_state(db, pid)).draft.id
        await workflow.submit(db, pid, revision=rev, actor="ed")
        await workflow.approve(
            db, pid, revision=rev, actor="rv", role="reviewer", go_live_at=2000.0,
            expire_at=3000.0, now=1000.0,
        )  # fmt: skip
        await follower.poll()
        heard.clear()
        assert await workflow.publish_due(db, now=2000.0) == [pid]
        assert heard == []  # another process: nothing until the server reads the log
        await follower.poll()
        assert Change.of("program", [pid]) in heard
    finally:
        await server.close()
