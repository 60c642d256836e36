"""Everyday use of the programs admin by editors and reviewers, through the real app: reading
never writes, a submit sends what the form holds, every mistake is shown at once next to its
field, the review page speaks in names, and the home page lists my own work."""

from __future__ import annotations

import re
import sqlite3

from content.programs import workflow
from tests.helpers import act_on_program, create, csrf_of, form, switch
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


def picture(color=(30, 90, 160)) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 200), color).save(out, "PNG")
    return out.getvalue()


def multipart(data: dict, files: dict):
    from aiohttp import FormData

    body = FormData()
    for name, value in data.items():
        for v in value if isinstance(value, list) else [value]:
            body.add_field(name, str(v))
    for name, (filename, content, ctype) in files.items():
        body.add_field(name, content, filename=filename, content_type=ctype)
    return body


async def test_submit_sends_what_the_form_holds(client, admin_as):
    await admin_as("editor")
    pid = await create(client)
    db = client.app[keys.DB]
    state = await workflow.get_state(db, pid)
    token = await csrf_of(client, f"/admin/programs/{pid}")
    typed = form(body="# 第一页标题\n\n刚刚输入、还没保存的内容。\n")
    data = {**typed, "csrf_token": token, "revision": state.draft.id, "then": "submit"}
    response = await client.post(f"/admin/programs/{pid}", data=data, allow_redirects=False)
    assert response.status == 303 and "program_submitted" in response.headers["Location"]
    state = await workflow.get_state(db, pid)
    assert state.workflow.state == "in_review"
    assert "刚刚输入、还没保存的内容" in state.draft.content.body()
    page = await (await client.get(f"/admin/programs/{pid}")).text()
    assert 'form="program-form" name="then" value="submit"' not in page  # locked in review
    assert "data-dirty-guard" in page


async def test_every_mistake_is_shown_at_once_next_to_its_field(client, admin_as):
    await admin_as("editor")
    token = await csrf_of(client, "/admin/programs/new")
    bad = form(title="", summary="", category="", body="没有页标题", regions="", slug="Bad Slug")
    bad.pop("regions")
    response = await client.post(
        "/admin/programs/new", data={**bad, "csrf_token": token}, allow_redirects=False
    )
    assert response.status == 400
    page = await response.text()
    for name in ("title", "summary", "category", "regions", "body", "slug"):
        assert f'id="err-{name}"' in page, name
    assert "请填写标题" in page and "请填写简介" in page and "请选择栏目" in page
    assert "请至少选择一个播出地区" in page and "正文第一行必须是页标题" in page
    assert "有6处需要修改" in page


async def test_a_refused_form_keeps_the_chosen_files(client, admin_as):
    await admin_as("editor")
    token = await csrf_of(client, "/admin/programs/new")
    body = "# 第一页\n\n![合同](../images/hetong.png)\n"
    data = {**form(title="", body=body), "csrf_token": token}
    files = {
        "images": ("hetong.png", picture(), "image/png"),
        "cover": ("fengmian.png", picture((200, 60, 40)), "image/png"),
    }
    response = await client.post("/admin/programs/new", data=multipart(data, files))
    assert response.status == 400
    page = await response.text()
    assert 'id="err-title"' in page and "err-body" not in page  # the picture was there
    images = re.findall(r'name="staged_images" value="([^"]+)"', page)
    cover = re.findall(r'name="staged_cover" value="([^"]+)"', page)
    assert images and images[0].startswith("images/hetong.png:") and cover
    # Sent again without choosing the files: the program gets both.
    again = {**form(body=body), "csrf_token": token, "staged_images": images,
             "staged_cover": cover[0]}  # fmt: skip
    response = await client.post("/admin/programs/new", data=multipart(again, {}),
                                 allow_redirects=False)  # fmt: skip
    assert response.status == 303, await response.text()
    pid = int(re.search(r"/programs/(\d+)", response.headers["Location"]).group(1))
    state = await workflow.get_state(client.app[keys.DB], pid)
    assert "images/hetong.png" in state.draft.content.images
    assert not state.draft.content.covers["720p"].startswith("titlecards/")


async def test_insert_image_gives_markdown_without_knowing_paths(client, admin_as):
    await admin_as("editor")
    token = await csrf_of(client, "/admin/programs/new")
    response = await client.post(
        "/admin/programs/images",
        data=multipart({"csrf_token": token}, {"image": ("合同 样本.PNG", picture(), "image/png")}),
    )
    assert response.status == 200
    answer = await response.json()
    assert answer["markdown"] == f"![图片说明](../{answer['path']})"
    assert answer["token"].startswith(answer["path"] + ":")
    response = await client.post(
        "/admin/programs/images",
        data=multipart({"csrf_token": token}, {"image": ("x.png", b"not a picture", "image/png")}),
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "upload_not_image"
    await switch(client, admin_as, "viewer")
    token = await csrf_of(client, "/admin/")
    response = await client.post(
        "/admin/programs/images",
        data=multipart({"csrf_token": token}, {"image": ("a.png", picture(), "image/png")}),
    )
    assert response.status == 403


async def test_slug_comes_from_the_title_and_regions_from_the_village_picker(client, admin_as):
    await admin_as("editor")
    page = await (await client.get("/admin/programs/new")).text()
    assert "按住Ctrl" not in page and 'id="wv-tree"' in page and "/wave_picker." in page
    assert "鄂尔多斯市（全市）" in page
    pid = await create(client, title="草场流转新规定")
    slug = await client.app[keys.DB].fetchval("SELECT slug FROM programs WHERE id = ?", (pid,))
    assert slug == "cao-chang-liu-zhuan-xin-gui-ding"
    pid = await create(client, title="草场流转新规定")
    slug = await client.app[keys.DB].fetchval("SELECT slug FROM programs WHERE id = ?", (pid,))
    assert slug == "cao-chang-liu-zhuan-xin-gui-ding-2"


async def test_review_page_shows_names_and_marks_changes_in_the_text(client, admin_as):
    db = client.app[keys.DB]
    await admin_as("editor")
    pid = await db.fetchval("SELECT id FROM programs WHERE title = '草场流转合同怎么签'")
    state = await workflow.get_state(db, pid)
    live = state.live.content
    body = live.body().replace("书面合同", "正式的书面合同", 1)
    assert body != live.body()
    token = await csrf_of(client, f"/admin/programs/{pid}")
    data = {**form(title=live.title, summary=live.summary, category=live.category,
                   regions="150602", body=body, language="mn"),
            "csrf_token": token, "revision": state.draft.id, "then": "submit"}  # fmt: skip
    response = await client.post(f"/admin/programs/{pid}", data=data, allow_redirects=False)
    assert response.status == 303, await response.text()
    await switch(client, admin_as, "reviewer")
    page = await (await client.get(f"/admin/programs/{pid}/review")).text()
    assert "东胜区" in page and '<td class="new">150602' not in page
    assert "蒙古语" in page and ">mn<" not in page
    assert "<ins>正式的</ins>" in page
    assert "+ " not in page.split('id="body-diff"')[1].split("</div>")[0]


async def test_home_lists_my_drafts_in_review_and_returned(client, admin_as):
    await admin_as("editor")
    draft = await create(client, title="我的草稿节目")
    sent = await create(client, title="我送审的节目")
    back = await create(client, title="被退回的节目")
    assert (await act_on_program(client, sent, "submit")).status == 303
    assert (await act_on_program(client, back, "submit")).status == 303
    await switch(client, admin_as, "reviewer")
    assert (
        await act_on_program(client, back, "request_changes", comment="第二页写错了")
    ).status == 303
    await switch(client, admin_as, "editor")
    page = await (await client.get("/admin/")).text()
    mine = page.split('id="my-work"')[1]
    assert "我的稿件" in page
    for title in ("我的草稿节目", "我送审的节目", "被退回的节目", "第二页写错了"):
        assert title in mine
    assert mine.index("被退回的节目") < mine.index("我的草稿节目") < mine.index("我送审的节目")
    assert f"/admin/programs/{draft}" in mine
    await switch(client, admin_as, "reviewer")
    assert 'id="my-work"' not in await (await client.get("/admin/")).text()
