"""The registry slice of the admin: pending boxes accepted/rejected in bulk (audited, region
scoped), the auto-accept rule, a box's page with replacement, and the CSV upload report."""

from __future__ import annotations

import aiohttp

from device_registry import admission, inventory
from tests.helpers import csrf_of
from tv_server import keys

HEADER = "serial,mac,model,firmware,village_code,household_label,installed_at,state"


async def _audit(client, action: str) -> list:
    return await client.app[keys.DB].fetchall(
        "SELECT object_id, outcome FROM audit_log WHERE action = ? ORDER BY id", (action,)
    )


async def _village(client, prefix: str = "150602") -> str:
    return await client.app[keys.DB].fetchval(
        "SELECT code FROM regions WHERE level = 'village' AND code LIKE ? ORDER BY code LIMIT 1",
        (prefix + "%",),
    )


async def test_staff_accepts_and_rejects_pending_boxes_in_bulk(client, admin_as):
    db = client.app[keys.DB]
    for serial in ("NEW-BOX-01", "NEW-BOX-02", "NEW-BOX-03"):
        await admission.register_pending(db, serial)
    await admin_as("admin")
    assert "3 台待审核" in await (await client.get("/admin/registry")).text()
    page = await (await client.get("/admin/registry?state=pending")).text()
    assert "NEW-BOX-02" in page and "机顶盒" in page
    village = await _village(client)
    token = await csrf_of(client, "/admin/registry")
    response = await client.post(
        "/admin/registry/decide",
        data={
            "csrf_token": token,
            "serials": ["NEW-BOX-01", "NEW-BOX-02"],
            "decision": "accept",
            "village_code": village,
        },
        allow_redirects=False,
    )
    assert response.status == 303
    response = await client.post(
        "/admin/registry/decide",
        data={
            "csrf_token": token,
            "serials": "NEW-BOX-03",
            "decision": "reject",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    assert (await inventory.device_details(db, "NEW-BOX-01"))["state"] == "installed"
    assert (await inventory.device_details(db, "NEW-BOX-02"))["village_code"] == village
    assert (await inventory.device_details(db, "NEW-BOX-03"))["state"] == "rejected"
    assert [r[0] for r in await _audit(client, "device.accept")] == ["NEW-BOX-01", "NEW-BOX-02"]
    assert [r[0] for r in await _audit(client, "device.reject")] == ["NEW-BOX-03"]


async def test_bad_decisions_rerender_with_a_message(client, admin_as):
    await admission.register_pending(client.app[keys.DB], "NEW-BOX-09")
    await admin_as("admin")
    token = await csrf_of(client, "/admin/registry")
    response = await client.post(
        "/admin/registry/decide", data={"csrf_token": token, "decision": "accept"}
    )
    assert response.status == 400
    assert "请先勾选机顶盒" in await response.text()
    response = await client.post(
        "/admin/registry/decide",
        data={
            "csrf_token": token,
            "serials": "NEW-BOX-09",
            "decision": "accept",
            "village_code": "99999",
        },
    )
    assert response.status == 400
    text = await response.text()
    assert "有效的村" in text and 'value="99999"' in text
    assert (await inventory.device_details(client.app[keys.DB], "NEW-BOX-09"))["state"] == "pending"


async def test_scoped_staff_sees_only_their_banner_and_cannot_decide_elsewhere(client, admin_as):
    db = client.app[keys.DB]
    outside = await _village(client, "150621")
    await admission.register_pending(db, "FAR-BOX-01", outside)
    await admin_as("staff")  # scoped to 东胜区 150602
    page = await (await client.get("/admin/registry")).text()
    assert "FAR-BOX-01" not in page
    assert "DEMO-0001" in page  # a 东胜区 box
    token = await csrf_of(client, "/admin/registry")
    response = await client.post(
        "/admin/registry/decide",
        data={"csrf_token": token, "serials": "FAR-BOX-01", "decision": "accept"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert (await inventory.device_details(db, "FAR-BOX-01"))["state"] == "pending"
    assert (await _audit(client, "registry.edit"))[-1][1] == "denied"
    far = await db.fetchval(
        "SELECT serial FROM devices WHERE village_code NOT LIKE '150602%' AND serial LIKE 'DEMO%'"
    )
    assert (await client.get(f"/admin/registry/box/{far}")).status == 403


async def test_auto_accept_rule(client, admin_as):
    village = await _village(client)
    await admin_as("admin")
    token = await csrf_of(client, "/admin/registry")
    response = await client.post(
        "/admin/registry/auto-accept",
        data={"csrf_token": token, "village_code": village, "on": "1"},
        allow_redirects=False,
    )
    assert response.status == 303
    db = client.app[keys.DB]
    assert await admission.auto_accept_villages(db) == [village]
    assert await admission.register_pending(db, "AUTO-BOX-1", village) == "installed"
    response = await client.post(
        "/admin/registry/auto-accept",
        data={"csrf_token": token, "village_code": "150602", "on": "1"},
    )
    assert response.status == 400
    assert [r[0] for r in await _audit(client, "device.auto_accept")] == [village]


async def test_box_page_and_replacement(client, admin_as):
    await admin_as("staff")
    page = await (await client.get("/admin/registry/box/DEMO-0001")).text()
    assert "DEMO-0001" in page and "换机" in page
    token = await csrf_of(client, "/admin/registry/box/DEMO-0001")
    response = await client.post(
        "/admin/registry/box/DEMO-0001/replace",
        data={"csrf_token": token, "new_serial": "DEMO-0001"},
    )
    assert response.status == 400
    assert "不能是同一台" in await response.text()
    response = await client.post(
        "/admin/registry/box/DEMO-0001/replace",
        data={"csrf_token": token, "new_serial": "NEW-4K-0100"},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await (await client.get(response.headers["Location"])).text()
    assert "NEW-4K-0100" in page and "DEMO-0001" in page and "已退役" in page
    assert (await inventory.device_details(client.app[keys.DB], "DEMO-0001"))["state"] == "retired"
    assert [r[0] for r in await _audit(client, "device.replace")] == ["DEMO-0001"]
    assert (await client.get("/admin/registry/box/NOPE-0001")).status == 404


def _form(token: str, text: bytes, dry_run: bool = False) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    if dry_run:
        form.add_field("dry_run", "1")
    form.add_field("file", text, filename="boxes.csv", content_type="text/csv")
    return form


async def test_upload_reports_bad_lines_then_imports(client, admin_as):
    db = client.app[keys.DB]
    village = await _village(client)
    await admin_as("admin")
    token = await csrf_of(client, "/admin/registry/import")
    bad = f"{HEADER}\nUP-0001,bad-mac,,,{village},,,\nUP-0002,,,,000,,,\n".encode("gbk")
    response = await client.post("/admin/registry/import", data=_form(token, bad))
    assert response.status == 400
    text = await response.text()
    assert "有 2 行需要修改" in text and "<td>3</td>" in text
    assert "MAC 地址格式不正确：bad-mac" in text and "不认识的村代码：000" in text
    good = ("\ufeff" + f"{HEADER}\nUP-0001,,,,{village},李家,,\n").encode("utf-8")
    response = await client.post("/admin/registry/import", data=_form(token, good, True))
    assert response.status == 200 and "检查通过" in await response.text()
    assert await db.fetchval("SELECT COUNT(*) FROM devices WHERE serial = 'UP-0001'") == 0
    response = await client.post(
        "/admin/registry/import", data=_form(token, good), allow_redirects=False
    )
    assert response.status == 303
    assert (await inventory.device_details(db, "UP-0001"))["household_label"] == "李家"
    assert len(await _audit(client, "device.import")) == 1
    response = await client.post("/admin/registry/import", data=_form(token, b"\xff\xfe\x00"))
    assert response.status == 400


async def test_viewer_cannot_open_the_registry(client, admin_as):
    await admin_as("viewer")
    assert (await client.get("/admin/registry")).status == 403


async def test_household_totals_upload(client, admin_as):
    from device_registry import households

    village = await _village(client)
    await admin_as("admin")
    token = await csrf_of(client, "/admin/registry/import")
    form = _form(token, b"village_code,households\n999,5\n")
    response = await client.post("/admin/registry/households", data=form)
    assert response.status == 400
    text = await response.text()
    assert "有 1 行需要修改" in text and "不认识的村代码：999" in text
    form = _form(token, f"village_code,households\n{village},321\n".encode("gbk"))
    response = await client.post("/admin/registry/households", data=form, allow_redirects=False)
    assert response.status == 303
    assert (await households.totals(client.app[keys.DB]))[village] == 321
    assert len(await _audit(client, "households.import")) == 1


async def test_scoped_staff_cannot_import(client, admin_as):
    await admin_as("staff")
    token = await csrf_of(client, "/admin/registry/import")
    form = _form(token, f"{HEADER}\n".encode())
    assert (await client.post("/admin/registry/import", data=form)).status == 403


async def test_household_record_on_the_box_page(client, admin_as):
    db = client.app[keys.DB]
    await admin_as("staff")
    token = await csrf_of(client, "/admin/registry/box/DEMO-0001")
    url = "/admin/registry/box/DEMO-0001/household"
    response = await client.post(url, data={"csrf_token": token, "label": "", "address": "二社"})
    assert response.status == 400
    text = await response.text()
    assert "请填写户名" in text and 'value="二社"' in text
    response = await client.post(
        url,
        data={
            "csrf_token": token,
            "label": "巴图家",
            "address": "二社 5 号",
            "contact": "13912345678",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    page = await (await client.get("/admin/registry/box/DEMO-0001")).text()
    assert "139****5678" in page and "13912345678" not in page
    details = await inventory.device_details(db, "DEMO-0001")
    assert details["household_label"] == "巴图家"
    assert [r[0] for r in await _audit(client, "household.assign")] == ["DEMO-0001"]
