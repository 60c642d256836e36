"""Everyday use of the programs admin by editors and reviewers, through the real app: reading
never writes, a submit sends what the form holds, every mistake is shown at once next to its
field, the review page speaks in names, and the home page lists my own work."""

from __future__ import annotations

import re
import sqlite3

from content import workflow
from tests.admin.test_programs import act, create, form, switch
from tests.conftest import csrf_of
from tv_server import keys

ROLES = ("admin", "editor", "reviewer", "staff", "dsq_editor", "viewer")
# Written on every request by design, not by reading a program.
NOT_CONTENT = {"audit_log", "usage_events"}


def snapshot(path) -> dict[str, list]:
    """Every row of every table (but sessions and the like), as read by a second connection."""
    con = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if r[0] not in NOT_CONTENT and not r[0].startswith("sqlite_")
        ]
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}"))) for t in tables}  # noqa: S608
    finally:
        con.close()


async def program_pages(client, pid: int) -> list[str]:
    return [
        f"/admin/programs/{pid}",
        f"/admin/programs/{pid}/review",
        f"/admin/programs/{pid}/history",
        f"/admin/programs/{pid}/preview",
        f"/admin/programs/{pid}/preview/frame",
    ]


async def test_reading_programs_writes_nothing_for_any_role(client, admin_as, settings):
    db = client.app[keys.DB]
    # A program imported outside the workflow (as `content import` into a running server does)
    # is shown as it is live, and stays unrecorded until someone changes it.
    legacy = await db.fetchval("SELECT id FROM programs WHERE title = '草场流转合同怎么签'")
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM program_workflow WHERE program_id = ?", (legacy,))
        await tx.execute("DELETE FROM program_revisions WHERE program_id = ?", (legacy,))
    ids = [r[0] for r in await db.fetchall("SELECT id FROM programs ORDER BY id")]
    for role in ROLES:
        await switch(client, admin_as, role)
        before = snapshot(settings.db_path)
        for path in ["/admin/", "/admin/programs", "/admin/programs/review"]:
            await client.get(path)
        for pid in ids:
            for path in await program_pages(client, pid):
                response = await client.get(path)
                assert response.status in (200, 403), (role, path, response.status)
        assert snapshot(settings.db_path) == before, role
    # The first change records the program: its first revision, noted in Chinese and dated when
    # the program last changed, then the edit on top of it.
    await switch(client, admin_as, "editor")
    page = await (await client.get(f"/admin/programs/{legacy}")).text()
    assert 'name="revision" value="0"' in page
    updated = await db.fetchval("SELECT updated_at FROM programs WHERE id = ?", (legacy,))
    state = await workflow.get_state(db, legacy)
    token = await csrf_of(client, f"/admin/programs/{legacy}")
    data = {**form(title="草场流转合同怎么签（新）"), "csrf_token": token, "revision": "0"}
    response = await client.post(f"/admin/programs/{legacy}", data=data, allow_redirects=False)
    assert response.status == 303, await response.text()
    revs = await workflow.list_revisions(db, legacy)
    assert [r.note for r in revs][-1] == workflow.IMPORTED_NOTE
    assert revs[-1].created_at == updated and revs[-1].content == state.draft.content
    assert revs[0].content.title == "草场流转合同怎么签（新）"


async def test_demo_programs_have_a_chinese_first_revision(client, admin_as):
    db = client.app[keys.DB]
    rows = await db.fetchall(
        "SELECT r.note, r.created_at, p.updated_at FROM program_revisions r"
        " JOIN programs p ON p.id = r.program_id"
    )
    assert rows and all(r[0] == workflow.IMPORTED_NOTE for r in rows)
    assert all(r[1] == r[2] for r in rows)
    await admin_as("viewer")
    pid = await db.fetchval("SELECT id FROM programs WHERE title = '草场流转合同怎么签'")
    history = await (await client.get(f"/admin/programs/{pid}/history")).text()
    assert "导入时的版本" in history and "imported" not in history
