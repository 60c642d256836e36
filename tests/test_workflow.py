"""The editorial workflow without the web layer: drafts never touch what the TV reads, every
change is one transaction, scheduled go-live and expiry, and rollback."""

from __future__ import annotations

import pytest

from content.programs import live as programs
from content.programs import video as video_domain
from content.programs import workflow
from content.programs.revisions import Fields, parse_body
from storage import Conflict, Invalid
from tests.helpers import ROOT

FIELDS = Fields(
    title="赡养老人是法定义务",
    summary="子女不能以任何理由拒绝赡养父母。",
    category="jiating-hunyin",
    tags="赡养，老人",
    language="zh",
    regions=("1506",),
    body=(
        "# 赡养义务\n\n成年子女对父母有赡养扶助的义务。\n\n"
        "# 怎么办\n\n可以找村调解委员会，或拨打12348。"
    ),
)


async def new_program(db, data_dir, **changes) -> int:
    cats = await workflow.category_titles(db)
    fields = Fields(**{**FIELDS.__dict__, "category": next(iter(cats)), **changes})
    return await workflow.create_program(
        db, data_dir, fields, region_exists=lambda code: True, max_bytes=10**7, author="ed"
    )


async def visible(db, pid: int) -> bool:
    try:
        await programs.get_program(db, pid, None)
    except Exception:
        return False
    return True


async def test_body_splits_into_pages_at_each_title_line():
    pages = parse_body("# 一\n\n甲\n\n# 二\n乙\n")
    assert [(p.title, p.markdown) for p in pages] == [("一", "甲"), ("二", "乙")]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", "body_required"),
        ("没有标题的开头\n# 一\n甲", "body_no_title"),
        ("# 一\n", "page_empty"),
        ("# 一\n甲\n#\n乙", "page_title_empty"),
        ("# 一\n" + "字" * 401, "page_too_long"),
    ],
)
async def test_bad_bodies_are_refused_with_a_stable_code(body, code):
    with pytest.raises(Invalid) as caught:
        parse_body(body)
    assert caught.value.code == code


async def test_publishing_copies_the_revision_and_drafts_never_reach_the_tv(db, data_dir):
    pid = await new_program(db, data_dir)
    assert not await visible(db, pid)
    state = await workflow.get_state(db, pid)
    await workflow.submit(db, pid, revision=state.draft.id, actor="ed")
    outcome = await workflow.approve(db, pid, revision=state.draft.id, actor="rv", role="reviewer")
    assert outcome == "published"
    detail = await programs.get_program(db, pid, None)
    assert [p.title for p in detail.pages] == ["赡养义务", "怎么办"]
    # A saved edit is a new revision; the TV keeps the approved one.
    edited = Fields(**{**FIELDS.__dict__, "category": detail.card.category, "title": "新标题"})
    await workflow.save_draft(
        db, data_dir, pid, edited, base_revision=state.draft.id,
        region_exists=lambda code: True, max_bytes=10**7, author="ed",
    )  # fmt: skip
    assert (await programs.get_program(db, pid, None)).card.title == "赡养老人是法定义务"
    # The form shown before that save is stale now.
    with pytest.raises(Conflict):
        await workflow.save_draft(
            db, data_dir, pid, edited, base_revision=state.draft.id,
            region_exists=lambda code: True, max_bytes=10**7, author="ed",
        )  # fmt: skip


async def test_schedule_and_expiry_run_when_due(db, data_dir):
    pid = await new_program(db, data_dir)
    rev = (await workflow.get_state(db, pid)).draft.id
    await workflow.submit(db, pid, revision=rev, actor="ed")
    with pytest.raises(Invalid):
        await workflow.approve(db, pid, revision=rev, actor="rv", role="reviewer",
                               go_live_at=2000.0, expire_at=1500.0, now=1000.0)  # fmt: skip
    outcome = await workflow.approve(
        db, pid, revision=rev, actor="rv", role="reviewer", go_live_at=2000.0, expire_at=3000.0,
        now=1000.0,
    )  # fmt: skip
    assert outcome == "scheduled"
    assert await workflow.publish_due(db, now=1999.0) == []
    assert await workflow.publish_due(db, now=2000.0) == [pid]
    assert await visible(db, pid)
    assert await workflow.publish_due(db, now=3000.0) == [pid]
    assert not await visible(db, pid)
    assert (await workflow.get_state(db, pid)).status == "unpublished"


async def test_revert_puts_an_earlier_live_version_back(db, data_dir):
    pid = await new_program(db, data_dir)
    first = (await workflow.get_state(db, pid)).draft
    await workflow.submit(db, pid, revision=first.id, actor="ed")
    await workflow.approve(db, pid, revision=first.id, actor="rv", role="reviewer")
    cat = first.content.category
    second = await workflow.save_draft(
        db, data_dir, pid, Fields(**{**FIELDS.__dict__, "category": cat, "title": "第二版"}),
        base_revision=first.id, region_exists=lambda code: True, max_bytes=10**7, author="ed",
    )  # fmt: skip
    await workflow.submit(db, pid, revision=second, actor="ed")
    await workflow.approve(db, pid, revision=second, actor="rv", role="reviewer")
    assert (await programs.get_program(db, pid, None)).card.title == "第二版"
    await workflow.revert(db, pid, first.id, actor="rv")
    assert (await programs.get_program(db, pid, None)).card.title == "赡养老人是法定义务"
    state = await workflow.get_state(db, pid)
    assert state.workflow.state == "current" and state.draft.id == first.id


async def test_imported_programs_get_their_live_version_as_first_revision(db):
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = 'caoyuan-chengbao'")
    live = await programs.get_program(db, pid, None)
    state = await workflow.get_state(db, pid)
    assert state.workflow.state == "current" and state.live.id == state.draft.id
    assert [p.title for p in state.draft.content.pages] == [p.title for p in live.pages]
    assert state.draft.content.images == live.images


DEMO_VIDEO = ROOT / "content/catalog/fang-dianxin-zhapian/media/video.mp4"
DEMO_POSTER = ROOT / "content/catalog/fang-dianxin-zhapian/media/poster.jpg"


@pytest.mark.parametrize(
    ("submitter", "author", "actor", "role", "allowed"),
    [
        ("ed", "ed", "ed", "reviewer", False),  # wrote and submitted it
        ("ed", "ed", "ed", "admin", True),  # admins may
        ("ed", "ed", "rv", "reviewer", True),  # someone else
        ("rv", "ed", "rv", "reviewer", False),  # submitted someone's work: still theirs
        ("ed", "rv", "rv", "reviewer", False),  # wrote the revision under review
    ],
)
async def test_nobody_approves_their_own_work_unless_admin(
    db, data_dir, submitter, author, actor, role, allowed
):
    pid = await new_program(db, data_dir)
    state = await workflow.get_state(db, pid)
    rev = state.draft.id
    async with db.transaction() as tx:  # who wrote the revision under review
        await tx.execute("UPDATE program_revisions SET author = ? WHERE id = ?", (author, rev))
    await workflow.submit(db, pid, revision=rev, actor=submitter)
    if allowed:
        assert await workflow.approve(db, pid, revision=rev, actor=actor, role=role)
        assert await visible(db, pid)
        return
    with pytest.raises(Conflict) as caught:
        await workflow.approve(db, pid, revision=rev, actor=actor, role=role)
    assert caught.value.code == "approve_own_work"
    after = await workflow.get_state(db, pid)
    assert after.workflow.state == "in_review" and not await visible(db, pid)


async def test_video_with_poster_goes_live_with_its_revision(db, data_dir):
    pid = await new_program(db, data_dir)
    first = (await workflow.get_state(db, pid)).draft
    video = workflow.Upload("zhapian.mp4", DEMO_VIDEO.read_bytes())
    poster = workflow.Upload("poster.jpg", DEMO_POSTER.read_bytes())
    fields = Fields(**{**FIELDS.__dict__, "category": first.content.category})
    save = dict(region_exists=lambda code: True, max_bytes=10**7, author="ed")
    # A video without a poster is taken (tests/test_video_ingest.py): the editor picks a frame.
    with pytest.raises(Invalid) as caught:  # not a video
        await workflow.save_draft(db, data_dir, pid, fields, base_revision=first.id,
                                  video=poster, poster=poster, **save)  # fmt: skip
    assert caught.value.code == "upload_not_mp4"
    with pytest.raises(Invalid) as caught:
        small = {**save, "max_bytes": 100_000}
        await workflow.save_draft(db, data_dir, pid, fields, base_revision=first.id,
                                  video=video, poster=poster, **small)  # fmt: skip
    assert caught.value.code == "upload_too_large"
    rev = await workflow.save_draft(db, data_dir, pid, fields, base_revision=first.id,
                                    video=video, poster=poster, **save)  # fmt: skip
    content = (await workflow.get_revision(db, pid, rev)).content
    assert content.video_media_id and content.poster_media_id
    assert content.duration_seconds and content.duration_seconds > 0
    with pytest.raises(Invalid) as caught:  # queued for transcoding: not ready for review
        await workflow.submit(db, pid, revision=rev, actor="ed")
    assert caught.value.code == "video_not_ready"
    ladder = video_domain.parse_ladder("540:1200")
    assert await video_domain.run_next(db, data_dir, ladder=ladder, max_seconds=7200) == "done"
    await workflow.submit(db, pid, revision=rev, actor="ed")
    await workflow.approve(db, pid, revision=rev, actor="rv", role="reviewer")
    detail = await programs.get_program(db, pid, None)
    assert detail.video_file and (data_dir / detail.video_file).read_bytes() == video.data
    assert detail.poster_media_id == content.poster_media_id
    # Removing the video is a revision too; once approved the TV has no video any more.
    rev2 = await workflow.save_draft(db, data_dir, pid, fields, base_revision=rev,
                                     remove_video=True, **save)  # fmt: skip
    await workflow.submit(db, pid, revision=rev2, actor="ed")
    await workflow.approve(db, pid, revision=rev2, actor="rv", role="reviewer")
    assert (await programs.get_program(db, pid, None)).video_file is None
    row = await db.fetchone("SELECT video_media_id, poster_media_id FROM programs WHERE id = ?",
                            (pid,))  # fmt: skip
    assert tuple(row) == (None, None)
