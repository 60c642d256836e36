"""Roles and region scope on the law register and legal re-review: only admins change the register
(form and CSV) or withdraw a flagged program; reviewers clear flags only on programs inside their
region; a banner editor can neither clear a flag nor change another banner's citations. Every
refusal is audited and changes nothing."""

from __future__ import annotations

import pytest
from aiohttp import FormData

from accounts import users
from content.laws import register as laws
from content.laws.citations import Citation
from content.programs import workflow
from tests.helpers import DEMO_PASSWORD, csrf_of, login
from tv_server import keys

CITY_WIDE = "jiaotong-shigu"  # regions ["1506"]: every banner's boxes see it


def _db(client):
    return client.server.app[keys.DB]


async def _as(client, username: str):
    assert (await login(client, username)).status == 303


async def _pid(client, slug: str) -> int:
    return await _db(client).fetchval("SELECT id FROM programs WHERE slug = ?", (slug,))


async def _flag_road_law(client) -> None:
    db = _db(client)
    law = await laws.get_law(db, "road-traffic-safety-law")
    await laws.save_law(db, {**law.values(), "amended_on": "2026-10-01"}, create=False, actor="t")


async def _flags(client) -> int:
    return await _db(client).fetchval("SELECT COUNT(*) FROM legal_flags")


async def _denials(client) -> int:
    return await _db(client).fetchval("SELECT COUNT(*) FROM audit_log WHERE outcome = 'denied'")


async def _post_legal(client, pid: int, **data):
    token = await csrf_of(client, f"/admin/programs/{pid}/legal")
    return await client.post(
        f"/admin/programs/{pid}/legal", data={"csrf_token": token, **data}, allow_redirects=False
    )


@pytest.mark.parametrize("username", ["editor", "reviewer", "staff", "viewer", "dsq_editor"])
async def test_only_admins_change_the_register(client, username):
    await _as(client, username)
    before = await laws.list_laws(_db(client))
    token = await csrf_of(client, "/admin/laws")
    civil = (await laws.get_law(_db(client), "civil-code")).values()
    denied = await _denials(client)
    edits = [
        ("/admin/laws/civil-code", {**civil, "status": "repealed", "repealed_on": "2026-01-01"}),
        ("/admin/laws/new", {**civil, "code": "fake-law"}),
    ]
    for path, form in edits:
        response = await client.post(
            path, data={"csrf_token": token, **form}, allow_redirects=False
        )
        assert response.status == 403
    upload = FormData()
    upload.add_field("csrf_token", token)
    upload.add_field("file", b"code,name\r\n", filename="x.csv", content_type="text/csv")
    assert (await client.post("/admin/laws/import", data=upload)).status == 403
    assert (await client.get("/admin/laws/new")).status == 403
    assert (await client.get("/admin/laws/import")).status == 403
    assert await laws.list_laws(_db(client)) == before
    assert await _flags(client) == 0
    assert await _denials(client) == denied + 5
    # Reading the register and its CSV is open to every role.
    assert (await client.get("/admin/laws")).status == 200
    assert (await client.get("/admin/laws/export.csv")).status == 200


async def test_an_admin_changes_the_register(client):
    await _as(client, "admin")
    token = await csrf_of(client, "/admin/laws/new")
    form = {
        "csrf_token": token, "code": "labor-dispute-law",
        "name": "中华人民共和国劳动争议调解仲裁法",
        "issuer": "全国人民代表大会常务委员会", "promulgated_on": "2007-12-29",
        "effective_on": "2008-05-01", "status": "in_force",
    }  # fmt: skip
    response = await client.post("/admin/laws/new", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    assert (await laws.get_law(_db(client), "labor-dispute-law")).effective_on == "2008-05-01"


async def test_the_register_needs_a_login(client):
    response = await client.get("/admin/laws", allow_redirects=False)
    assert response.status in (302, 303)
    assert "/admin/login" in response.headers["Location"]


@pytest.mark.parametrize("username", ["editor", "dsq_editor", "viewer", "staff"])
async def test_only_reviewers_and_admins_clear_a_flag(client, username):
    await _flag_road_law(client)
    pid = await _pid(client, CITY_WIDE)
    live = (await workflow.get_state(_db(client), pid)).workflow.live_revision_id
    await _as(client, username)
    response = await _post_legal(client, pid, action="reapprove", revision=live)
    assert response.status == 403
    assert await _flags(client) == 1


async def test_a_banner_reviewer_cannot_clear_a_flag_beyond_the_banner(client):
    db = _db(client)
    await users.create_user(db, "dsq_reviewer", DEMO_PASSWORD, "reviewer", region_code="150602")
    await _flag_road_law(client)
    pid = await _pid(client, CITY_WIDE)
    live = (await workflow.get_state(db, pid)).workflow.live_revision_id
    await _as(client, "dsq_reviewer")
    assert (await client.get(f"/admin/programs/{pid}/legal")).status == 200  # may look
    response = await _post_legal(client, pid, action="reapprove", revision=live)
    assert response.status == 403
    assert await _flags(client) == 1
    row = await db.fetchone(
        "SELECT username, detail FROM audit_log WHERE outcome = 'denied' ORDER BY id DESC"
    )
    assert row["username"] == "dsq_reviewer" and "/legal" in row["detail"]


async def test_a_banner_reviewer_clears_a_flag_of_an_own_banner_program(client):
    db = _db(client)
    await users.create_user(db, "dsq_reviewer", DEMO_PASSWORD, "reviewer", region_code="150602")
    pid = await _pid(client, CITY_WIDE)
    # Aim the program at the banner alone (a new revision, approved), then flag it.
    state = await workflow.get_state(db, pid)
    content = state.draft.content.with_changes(regions=["150602"])
    async with db.transaction() as tx:
        rev = await workflow.new_draft(tx, pid, content, state="draft", author="e", note="", now=1)
    await workflow.submit(db, pid, revision=rev, actor="editor")
    await workflow.approve(db, pid, revision=rev, actor="reviewer", role="reviewer")
    await _flag_road_law(client)
    await _as(client, "dsq_reviewer")
    response = await _post_legal(client, pid, action="reapprove", revision=rev)
    assert response.status == 303, await response.text()
    assert await _flags(client) == 0


async def test_a_banner_editor_cannot_change_the_citations_of_a_city_wide_program(client):
    db = _db(client)
    pid = await _pid(client, CITY_WIDE)
    state = await workflow.get_state(db, pid)
    await _as(client, "dsq_editor")
    response = await _post_legal(
        client, pid, action="citations", revision=state.draft.id, law="civil-code", articles="1"
    )
    assert response.status == 403
    assert (await workflow.get_state(db, pid)).draft.id == state.draft.id


@pytest.mark.parametrize("username", ["reviewer", "editor"])
async def test_only_admins_withdraw_a_flagged_program(client, box, username):
    await _flag_road_law(client)
    pid = await _pid(client, CITY_WIDE)
    await _as(client, username)
    assert (await _post_legal(client, pid, action="withdraw")).status == 403
    assert (await client.get(f"{box}p-{pid}-1")).status == 200


async def test_a_forged_picker_row_cannot_store_unbounded_text(client):
    db = _db(client)
    pid = await _pid(client, CITY_WIDE)
    state = await workflow.get_state(db, pid)
    await _as(client, "editor")
    response = await _post_legal(
        client, pid, action="citations", revision=state.draft.id, law="x" * 5000,
        articles="1" * 5000,
    )  # fmt: skip
    assert response.status == 400
    assert (await workflow.get_state(db, pid)).draft.content.citations == [
        Citation("road-traffic-safety-law", [70, 76])
    ]
