"""The editorial workflow without the web layer: drafts never touch what the TV reads, every
change is one transaction, scheduled go-live and expiry, and rollback."""

from __future__ import annotations

import pytest

from content import programs, workflow
from content.revisions import Fields, parse_body
from storage import Conflict, Database, Invalid
from tv_server.migrations import MIGRATIONS

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


@pytest.fixture
async def db(data_dir):
    database = Database(data_dir / "legaltv.sqlite3")
    await database.open()
    await database.migrate(MIGRATIONS)
    yield database
    await database.close()


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
    assert await workflow.approve(db, pid, revision=state.draft.id, actor="rv") == "published"
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
        await workflow.approve(db, pid, revision=rev, actor="rv", go_live_at=2000.0,
                               expire_at=1500.0, now=1000.0)  # fmt: skip
    outcome = await workflow.approve(
        db, pid, revision=rev, actor="rv", go_live_at=2000.0, expire_at=3000.0, now=1000.0
    )
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
    await workflow.approve(db, pid, revision=first.id, actor="rv")
    cat = first.content.category
    second = await workflow.save_draft(
        db, data_dir, pid, Fields(**{**FIELDS.__dict__, "category": cat, "title": "第二版"}),
        base_revision=first.id, region_exists=lambda code: True, max_bytes=10**7, author="ed",
    )  # fmt: skip
    await workflow.submit(db, pid, revision=second, actor="ed")
    await workflow.approve(db, pid, revision=second, actor="rv")
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
