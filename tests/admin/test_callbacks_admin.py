"""The staff's callback queue: scope, claiming, attempts, notes to the household, reveal audit,
figures and exports."""

import io

from openpyxl import load_workbook

from accounts.users import find_user
from callbacks import lifecycle
from callbacks import requests as box_requests
from tests.helpers import act_on_callback, csrf_of, login, new_request
from tv_server import keys


async def outside_request(client) -> tuple[str, int]:
    """A request of a demo box outside 东胜区 (150602), whose section may be off: made through
    the domain, as the hotline would."""
    db = client.app[keys.DB]
    rows = await db.fetchall("SELECT id, village_code FROM devices WHERE village_code IS NOT NULL")
    device_id, village = next((i, v) for i, v in rows if not v.startswith("150602"))
    chain = [r.code for r in client.app[keys.REGIONS].chain(village)]
    draft = box_requests.validate("legal_aid", "13900139000", "evening", "outside" * 3)
    req, _ = await lifecycle.submit(db, lifecycle.Policy(), device_id, draft, chain, max_open=3)
    return req.ref, req.id


async def test_scoped_staff_see_only_their_regions_requests(client, admin_as):
    _box, ref_in, _ = await new_request(client)
    ref_out, cid_out = await outside_request(client)
    await admin_as("staff")
    html = await (await client.get("/admin/callbacks")).text()
    assert ref_in in html and ref_out not in html
    assert "138****8000" in html and "13800138000" not in html
    response = await client.get(f"/admin/callbacks/{cid_out}")
    assert response.status == 403


async def test_viewer_cannot_open_the_queue(client, admin_as):
    await admin_as("viewer")
    assert (await client.get("/admin/callbacks")).status == 403


async def test_claim_attempt_and_note_for_household_shows_on_the_tv(client, admin_as):
    box, ref, cid = await new_request(client)
    await admin_as("staff")
    response = await act_on_callback(client, cid, action="claim")
    assert response.status == 303
    response = await act_on_callback(
        client, cid, action="attempt", outcome="answered", note="talked"
    )
    assert response.status == 303
    response = await act_on_callback(
        client, cid, action="note", note="律师明天上午再联系您", for_household="1"
    )
    assert response.status == 303
    html = await (await client.get(box + "mine")).text()
    assert "律师明天上午再联系您" in html and "正在帮您办" in html  # in plain words
    html = await (await client.get(f"/admin/callbacks/{cid}")).text()
    assert "已接通" in html and "认领" in html


async def test_a_second_claim_gets_a_clear_message(client, admin_as):
    _box, _ref, cid = await new_request(client)
    await admin_as("staff")
    assert (await act_on_callback(client, cid, action="claim")).status == 303
    await login(client, "admin")
    response = await act_on_callback(client, cid, action="claim")
    assert response.status == 409
    assert "刚被其他工作人员认领" in await response.text()


async def test_only_the_assignee_reveals_the_number_and_each_reveal_is_audited(client, admin_as):
    _box, ref, cid = await new_request(client)
    await admin_as("staff")
    html = await (await client.get(f"/admin/callbacks/{cid}")).text()
    assert "显示完整号码" not in html  # not claimed yet
    await act_on_callback(client, cid, action="claim")
    response = await act_on_callback(client, cid, action="reveal")
    assert response.status == 200 and "13800138000" in await response.text()
    db = client.app[keys.DB]
    staff = await find_user(db, "staff")
    logged = await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'callback.reveal_phone'"
        " AND user_id = ? AND object_id = ?",
        (staff.id, ref),
    )
    assert logged == 1
    await login(client, "admin")
    response = await act_on_callback(client, cid, action="reveal")
    assert response.status == 409 and "13800138000" not in await response.text()


async def test_staff_cancel_needs_a_reason_and_keeps_the_form(client, admin_as):
    _box, _ref, cid = await new_request(client)
    await admin_as("staff")
    response = await act_on_callback(client, cid, action="cancel", reason="")
    assert response.status == 400 and "请填写取消原因" in await response.text()
    assert (await act_on_callback(client, cid, action="cancel", reason="重复申请")).status == 303
    html = await (await client.get(f"/admin/callbacks/{cid}")).text()
    assert "重复申请" in html and "已取消" in html


async def test_bulk_reassign_moves_requests_to_another_person(client, admin_as):
    ids = [(await new_request(client, phone=p))[2] for p in ("13800138000", "13900139000")]
    await admin_as("admin")
    db = client.app[keys.DB]
    staff = await find_user(db, "staff")
    token = await csrf_of(client, "/admin/callbacks")
    response = await client.post(
        "/admin/callbacks/bulk",
        data=[
            ("csrf_token", token),
            ("ids", str(ids[0])),
            ("ids", str(ids[1])),
            ("assignee", str(staff.id)),
            ("reason", "load"),
        ],
        allow_redirects=False,
    )
    assert response.status == 303
    rows = await db.fetchall(
        "SELECT status, assignee_id FROM callback_requests WHERE id IN (?, ?)", ids
    )
    assert [tuple(r) for r in rows] == [("assigned", staff.id)] * 2


async def test_figures_export_as_csv_and_xlsx(client, admin_as):
    await new_request(client)
    await admin_as("admin")
    html = await (await client.get("/admin/callbacks/figures")).text()
    assert "按期回电比例" in html
    response = await client.get("/admin/callbacks/figures?format=csv")
    assert response.status == 200
    text = (await response.read()).decode("utf-8-sig")
    assert "服务,法律咨询," in text
    response = await client.get("/admin/callbacks/figures?format=xlsx")
    book = load_workbook(io.BytesIO(await response.read()))
    values = [tuple(r) for r in book.active.iter_rows(values_only=True)]
    assert ("分类", "项目", "数量") in values and any(r[0] == "合计" for r in values)
