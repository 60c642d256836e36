"""The programs slice as editors and reviewers use it: drafts that do not reach the TV, review,
publishing, scheduling, unpublishing and putting an earlier version back."""

from __future__ import annotations

import asyncio
import re
import time

from content.programs import workflow
from tests.helpers import act_on_program, create, csrf_of, form, switch
from tv_server import keys
from tv_server.admin import programs as slice_


async def tv_category(client, box) -> str:
    return await (await client.get(f"{box}c-caoyuan-tudi")).text()


async def test_draft_stays_off_the_tv_until_a_reviewer_approves(client, box, admin_as):
    await admin_as("editor")
    pid = await create(client)
    assert "草场流转新规定" not in await tv_category(client, box)
    page = await (await client.get(f"/admin/programs/{pid}")).text()
    assert "草稿" in page and "未上线" in page
    assert (await act_on_program(client, pid, "submit")).status == 303
    # Editors cannot approve their own work.
    assert (await act_on_program(client, pid, "approve")).status == 403
    await switch(client, admin_as, "reviewer")
    queue = await (await client.get("/admin/programs/review")).text()
    assert "草场流转新规定" in queue
    review = await (await client.get(f"/admin/programs/{pid}/review")).text()
    assert "有纠纷先找村调解委员会" in review
    response = await act_on_program(client, pid, "approve")
    assert response.status == 303 and "ok=program_published" in response.headers["Location"]
    assert "草场流转新规定" in await tv_category(client, box)
    pages = await (await client.get(f"{box}p-{pid}-2")).text()
    assert "有纠纷先找村调解委员会" in pages


async def test_edits_to_a_live_program_wait_for_review_and_can_be_rolled_back(
    client, box, admin_as
):
    await admin_as("editor")
    pid = await create(client)
    await act_on_program(client, pid, "submit")
    await switch(client, admin_as, "reviewer")
    await act_on_program(client, pid, "approve")
    await switch(client, admin_as, "editor")
    state = await workflow.get_state(client.app[keys.DB], pid)
    token = await csrf_of(client, f"/admin/programs/{pid}")
    response = await client.post(
        f"/admin/programs/{pid}",
        data={"csrf_token": token, "revision": state.draft.id, **form(title="改过的标题")},
        allow_redirects=False,
    )
    assert response.status == 303
    tv = await tv_category(client, box)
    assert "草场流转新规定" in tv and "改过的标题" not in tv
    await act_on_program(client, pid, "submit")
    await switch(client, admin_as, "reviewer")
    response = await act_on_program(client, pid, "request_changes", comment="")
    assert response.status == 400 and "退回时请写明" in await response.text()
    await act_on_program(client, pid, "request_changes", comment="标题太口语化")
    await switch(client, admin_as, "editor")
    page = await (await client.get(f"/admin/programs/{pid}")).text()
    assert "标题太口语化" in page and "退回修改" in page
    await act_on_program(client, pid, "submit")
    await switch(client, admin_as, "reviewer")
    await act_on_program(client, pid, "approve")
    assert "改过的标题" in await tv_category(client, box)
    # Put the first published version back at once.
    first = (await workflow.list_revisions(client.app[keys.DB], pid))[-1]
    token = await csrf_of(client, f"/admin/programs/{pid}/history")
    response = await client.post(
        f"/admin/programs/{pid}/history",
        data={"csrf_token": token, "action": "revert", "revision": first.id},
        allow_redirects=False,
    )
    assert response.status == 303
    tv = await tv_category(client, box)
    assert "草场流转新规定" in tv and "改过的标题" not in tv


async def test_unpublish_takes_it_off_and_republish_brings_it_back(client, box, admin_as):
    await admin_as("admin")
    pid = await create(client)
    await act_on_program(client, pid, "submit")
    await act_on_program(client, pid, "approve")
    assert "草场流转新规定" in await tv_category(client, box)
    assert (await act_on_program(client, pid, "unpublish")).status == 303
    assert "草场流转新规定" not in await tv_category(client, box)
    assert (await client.get(f"{box}p-{pid}-1")).status == 404
    assert (await act_on_program(client, pid, "republish")).status == 303
    assert "草场流转新规定" in await tv_category(client, box)
    log = await (await client.get("/admin/audit?object_type=program")).text()
    for action in ("program.create", "program.approve", "program.unpublish"):
        assert action in log


async def test_scheduled_program_goes_live_at_its_time(client, box, admin_as):
    await admin_as("admin")
    pid = await create(client)
    await act_on_program(client, pid, "submit")
    response = await act_on_program(client, pid, "approve", go_live_at="2099-01-01T08:00")
    assert "ok=program_scheduled" in response.headers["Location"]
    assert "草场流转新规定" not in await tv_category(client, box)
    assert await slice_.tick(client.app) == []
    db = client.app[keys.DB]
    async with db.transaction() as tx:  # the clock moves on to the go-live time
        await tx.execute(
            "UPDATE program_workflow SET go_live_at = ? WHERE program_id = ?",
            (time.time() - 1, pid),
        )
    assert await slice_.tick(client.app) == [pid]
    assert "草场流转新规定" in await tv_category(client, box)


async def test_bad_form_is_shown_again_with_a_chinese_message(client, admin_as):
    await admin_as("editor")
    token = await csrf_of(client, "/admin/programs/new")
    long_page = "# 太长\n\n" + "字" * 500
    response = await client.post(
        "/admin/programs/new", data={"csrf_token": token, **form(body=long_page)}
    )
    text = await response.text()
    assert response.status == 400
    assert "第1页有500个字" in text and "草场流转新规定" in text
    response = await client.post(
        "/admin/programs/new",
        data={"csrf_token": token, **form(body="# 页\n\n![](../images/nope.jpg) 文字")},
    )
    assert response.status == 400 and "还没有上传" in await response.text()


async def test_stale_form_does_not_overwrite_a_newer_draft(client, admin_as):
    await admin_as("editor")
    pid = await create(client)
    state = await workflow.get_state(client.app[keys.DB], pid)
    token = await csrf_of(client, f"/admin/programs/{pid}")
    for title, expected in (("第一次修改", 303), ("第二次修改", 409)):
        response = await client.post(
            f"/admin/programs/{pid}",
            data={"csrf_token": token, "revision": state.draft.id, **form(title=title)},
            allow_redirects=False,
        )
        assert response.status == expected
    text = await response.text()
    assert "别人刚刚保存了这个节目" in text and "第二次修改" in text  # what was typed is kept
    now = await workflow.get_state(client.app[keys.DB], pid)
    assert now.draft.content.title == "第一次修改"


async def test_scoped_editor_cannot_aim_at_the_whole_city(client, admin_as):
    await admin_as("dsq_editor")
    token = await csrf_of(client, "/admin/programs/new")
    response = await client.post(
        "/admin/programs/new", data={"csrf_token": token, **form()}, allow_redirects=False
    )
    assert response.status == 403
    pid = await create(client, regions="150602")
    listing = await (await client.get("/admin/programs")).text()
    assert f"/admin/programs/{pid}" in listing


async def test_uploaded_image_is_used_by_a_page_and_shown_on_the_tv(client, box, admin_as):
    import io

    from aiohttp import FormData
    from PIL import Image

    await admin_as("admin")
    picture = io.BytesIO()
    Image.new("RGB", (960, 540), (30, 90, 160)).save(picture, "PNG")
    token = await csrf_of(client, "/admin/programs/new")
    data = FormData()
    body = "# 合同样本\n\n![合同样本](../images/hetong.png)\n\n签合同前看清楚条款。\n"
    for key, value in {"csrf_token": token, **form(body=body)}.items():
        data.add_field(key, value)
    data.add_field("images", picture.getvalue(), filename="hetong.png", content_type="image/png")
    response = await client.post("/admin/programs/new", data=data, allow_redirects=False)
    assert response.status == 303, await response.text()
    pid = int(re.search(r"/programs/(\d+)", response.headers["Location"]).group(1))
    edit = await (await client.get(f"/admin/programs/{pid}")).text()
    assert "../images/hetong.png" in edit
    await act_on_program(client, pid, "submit")
    await act_on_program(client, pid, "approve")
    page = await (await client.get(f"{box}p-{pid}-1")).text()
    src = re.search(r'<img src="([^"]+)" alt="合同样本"', page).group(1)
    assert (await client.get(src)).status == 200


async def test_scoped_editor_views_city_wide_programs_but_cannot_change_them(client, admin_as):
    db = client.app[keys.DB]
    city_wide = await db.fetchval("SELECT id FROM programs WHERE slug = 'caoyuan-chengbao'")
    await admin_as("admin")
    elsewhere = await create(client, title="乌审旗的节目", regions="150626")
    await switch(client, admin_as, "dsq_editor")
    listing = await (await client.get("/admin/programs")).text()
    # Boxes in 东胜区 see the city-wide program: the editor sees it too, marked read-only.
    assert "caoyuan-chengbao" in listing and "仅可查看" in listing
    assert "乌审旗的节目" not in listing  # no box of 东胜区 sees that one
    page = await client.get(f"/admin/programs/{city_wide}")
    text = await page.text()
    assert page.status == 200 and 'id="scope-read-only"' in text
    assert "<fieldset disabled>" in text and 'value="submit"' not in text
    for path in (f"/admin/programs/{city_wide}/preview",
                 f"/admin/programs/{city_wide}/preview/frame?profile=720p&page=1",
                 f"/admin/programs/{city_wide}/history"):  # fmt: skip
        assert (await client.get(path)).status == 200, path
    state = await workflow.get_state(db, city_wide)
    token = await csrf_of(client, f"/admin/programs/{city_wide}")
    response = await client.post(
        f"/admin/programs/{city_wide}",
        data={"csrf_token": token, "revision": state.draft.id, **form(title="改不了")},
        allow_redirects=False,
    )
    assert response.status == 403
    assert (await act_on_program(client, city_wide, "submit")).status == 403
    assert (await workflow.get_state(db, city_wide)).draft.content.title != "改不了"
    for path in (f"/admin/programs/{elsewhere}", f"/admin/programs/{elsewhere}/preview"):
        assert (await client.get(path)).status == 403, path
    denied = await db.fetchall(
        "SELECT action FROM audit_log WHERE outcome = 'denied' AND username = 'dsq_editor'"
    )
    assert len(denied) == 4


async def test_a_reviewer_cannot_approve_what_they_wrote_unless_admin(client, admin_as):
    from accounts import users
    from tests.helpers import login

    db = client.app[keys.DB]
    writer = await users.create_user(db, "writer1", "Caoyuan-2026-writer", "editor")

    assert (await login(client, "writer1", "Caoyuan-2026-writer")).status == 303
    pid = await create(client)
    await act_on_program(client, pid, "submit")
    # The writer becomes a reviewer (a new job): still not the one to approve their own work.
    await users.update_user(db, writer.id, role="reviewer", region_code=None,
                            display_name="writer1")  # fmt: skip
    client.session.cookie_jar.clear()
    assert (await login(client, "writer1", "Caoyuan-2026-writer")).status == 303
    review = await (await client.get(f"/admin/programs/{pid}/review")).text()
    assert 'id="own-work"' in review and 'value="approve"' not in review
    response = await act_on_program(client, pid, "approve")
    text = await response.text()
    assert response.status == 403 and "不能审核通过自己编写或提交的节目" in text
    assert (await workflow.get_state(db, pid)).status == "draft"
    row = await db.fetchone(
        "SELECT username, outcome FROM audit_log WHERE action = 'program.approve'"
        " AND object_id = ? ORDER BY id DESC",
        (str(pid),),
    )
    assert tuple(row) == ("writer1", "denied")
    # An admin may approve their own program.
    await switch(client, admin_as, "admin")
    own = await create(client, title="管理员自己的节目")
    await act_on_program(client, own, "submit")
    response = await act_on_program(client, own, "approve")
    assert "ok=program_published" in response.headers["Location"]


async def test_program_video_with_poster_plays_on_the_tv(client, box, admin_as):
    from aiohttp import FormData

    from tests.helpers import ROOT

    demo = ROOT / "content/catalog/fang-dianxin-zhapian/media"
    video, poster = (demo / "video.mp4").read_bytes(), (demo / "poster.jpg").read_bytes()
    await admin_as("admin")
    pid = await create(client)

    async def save(files: dict, **extra):
        state = await workflow.get_state(client.app[keys.DB], pid)
        token = await csrf_of(client, f"/admin/programs/{pid}")
        data = FormData()
        fields = {"csrf_token": token, "revision": str(state.draft.id), **form(), **extra}
        for key, value in fields.items():
            data.add_field(key, value)
        for key, (name, raw, mime) in files.items():
            data.add_field(key, raw, filename=name, content_type=mime)
        return await client.post(f"/admin/programs/{pid}", data=data, allow_redirects=False)

    # A poster is optional with a video: the editor may pick a frame later (test_video_ingest).
    response = await save({"video": ("fa.mp4", poster, "video/mp4"),
                           "poster": ("p.jpg", poster, "image/jpeg")})  # fmt: skip
    assert response.status == 400 and "MP4" in await response.text()
    response = await save({"video": ("fa.mp4", video, "video/mp4"),
                           "poster": ("p.jpg", poster, "image/jpeg")})  # fmt: skip
    assert response.status == 303, await response.text()
    edit = await (await client.get(f"/admin/programs/{pid}")).text()
    assert "fa.mp4" in edit and 'name="remove_video"' in edit
    # The server transcodes the upload in the background; review waits for it.
    for _ in range(600):
        status = await (await client.get(f"/admin/programs/{pid}/video.json")).json()
        if status["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    assert status["state"] == "done", status
    await act_on_program(client, pid, "submit")
    await act_on_program(client, pid, "approve")
    screen = await client.get(f"{box}v-{pid}")
    html = await screen.text()
    assert screen.status == 200
    src = re.search(r'<video[^>]* src="([^"]+)"', html) or re.search(r'<source src="([^"]+)"', html)
    played = await client.get(src.group(1))
    # The box (no HLS) plays the transcoded 720p MP4.
    assert src.group(1).endswith("/video-720p.mp4"), src.group(1)
    assert played.status == 200 and (await played.read())[4:8] == b"ftyp"
    assert re.search(r'poster="/media/renditions/[^"]*cover-1080p', html)  # the box is 1080p
    # Taking the video off is reviewed like any change, then the TV has no video screen.
    assert (await save({}, remove_video="1")).status == 303
    await act_on_program(client, pid, "submit")
    await act_on_program(client, pid, "approve")
    assert (await client.get(f"{box}v-{pid}")).status == 404


async def test_a_viewer_trying_to_publish_is_refused_and_audited(client, box, admin_as):
    """The issue's case: a viewer trying to publish → 403, written to the audit log."""
    from tv_server import keys

    await admin_as("editor")
    pid = await create(client)
    assert (await act_on_program(client, pid, "submit")).status == 303
    await switch(client, admin_as, "viewer")
    response = await act_on_program(client, pid, "approve")
    assert response.status == 403
    assert "没有权限" in await response.text()
    denied = await client.app[keys.DB].fetchall(
        "SELECT username, outcome FROM audit_log WHERE outcome = 'denied' AND username = 'viewer'"
    )
    assert denied
    assert "草场流转新规定" not in await tv_category(client, box)
