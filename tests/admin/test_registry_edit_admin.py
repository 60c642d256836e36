"""Correcting a box's registry fields and inventory attributes on its admin page: posted as a
browser posts the form, validated with Chinese messages that keep what was typed, audited with
before/after, refused when stale (409), outside the staff member's region (403) or by viewers."""

from __future__ import annotations

import json

import pytest

from device_registry import enrolment, inventory
from tests.helpers import changed, device_token_key, form_pairs
from tv_server import keys
from tv_server.api.devices import HEARTBEATS

BOX = "DEMO-0001"  # active, in 东胜区 (the demo staff account's banner)
PAGE = f"/admin/registry/box/{BOX}"
EDIT = PAGE + "/edit"


def with_new_attributes(pairs, *rows: tuple[str, str]) -> list[tuple[str, str]]:
    """Fill the empty new-attribute rows in order."""
    out, rows, value_of_row = [], list(rows), None
    for name, value in pairs:
        if name == "new_key" and rows:
            key, value_of_row = rows.pop(0)
            out.append(("new_key", key))
        elif name == "new_value" and value_of_row is not None:
            out.append(("new_value", value_of_row))
            value_of_row = None
        else:
            out.append((name, value))
    return out


async def _page(client, path: str = PAGE) -> str:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return await response.text()


async def _audit(client, action: str = "device.update") -> list:
    return await client.app[keys.DB].fetchall(
        "SELECT username, object_id, outcome, detail FROM audit_log WHERE action = ? ORDER BY id",
        (action,),
    )


async def test_staff_corrects_fields_and_attributes(client, admin_as):
    db = client.app[keys.DB]
    await admin_as("staff")
    html = await _page(client)
    assert "修改登记信息" in html and 'name="version"' in html
    pairs = changed(
        form_pairs(html),
        model="Huawei EC6110",
        mac="ac-db-48-00-01-23",
        firmware="V100R005",
        screen_profile="2160p",
        keymap_family="ipanel",
        installed_at="2026-05-01",
        activated_at="2026-05-02T09:30",
    )
    pairs = with_new_attributes(pairs, ("Antenna", "锅盖天线"), ("tv.size", "55"))
    response = await client.post(EDIT, data=pairs, allow_redirects=False)
    assert response.status == 303, await response.text()
    page = await _page(client, response.headers["Location"])
    assert "机顶盒信息已保存" in page and "锅盖天线" in page
    box = await inventory.device_details(db, BOX)
    assert box["model"] == "Huawei EC6110" and box["mac"] == "AC:DB:48:00:01:23"
    assert box["screen_profile"] == "2160p" and box["keymap_family"] == "ipanel"
    assert box["installed_at"] == "2026-05-01" and box["activated_at"] is not None
    assert box["attributes"] == {"antenna": "锅盖天线", "tv.size": "55"}
    # The TV follows the box's own key map at once.
    view = await client.app[keys.BOXES].get(BOX)
    assert view.box.keymap_family == "ipanel" and view.box.screen_profile == "2160p"
    [(username, serial, outcome, detail)] = await _audit(client)
    detail = json.loads(detail)
    assert (username, serial, outcome) == ("staff", BOX, "ok")
    assert detail["before"]["model"] == "Desktop browser (test)"
    assert detail["after"]["keymap_family"] == "ipanel"
    assert detail["before"]["attributes"] == {"antenna": None, "tv.size": None}
    assert set(detail["after"]) == {
        "model",
        "mac",
        "firmware",
        "screen_profile",
        "keymap_family",
        "installed_at",
        "activated_at",
        "attributes",
    }


async def test_attributes_are_changed_and_removed(client, admin_as):
    db = client.app[keys.DB]
    await inventory.set_attributes(db, BOX, {"antenna": "dish", "shelf": "A3", "tv.size": "42"})
    await admin_as("admin")
    pairs = form_pairs(await _page(client))
    out = []
    for name, value in pairs:
        if name == "attr_value" and value == "42":
            value = "65"  # change tv.size
        if name == "attr_value" and value == "A3":
            value = ""  # an emptied value removes the key
        out.append((name, value))
    out.append(("attr_remove", "antenna"))
    response = await client.post(EDIT, data=out, allow_redirects=False)
    assert response.status == 303, await response.text()
    assert (await inventory.device_details(db, BOX))["attributes"] == {"tv.size": "65"}
    detail = json.loads((await _audit(client))[-1][3])
    assert detail["before"] == {"attributes": {"antenna": "dish", "shelf": "A3", "tv.size": "42"}}
    assert detail["after"] == {"attributes": {"antenna": None, "shelf": None, "tv.size": "65"}}
    # The unchanged form saves nothing and says so.
    response = await client.post(EDIT, data=form_pairs(await _page(client)))
    assert "没有需要保存的修改" in await response.text()
    assert len(await _audit(client)) == 1


BAD = [
    ({"mac": "zz:zz"}, (), 400, "MAC 地址格式不正确", "zz:zz"),
    ({"mac": "02:4C:54:56:00:02"}, (), 409, "已属于另一台机顶盒", "02:4C:54:56:00:02"),
    ({"firmware": "V 1"}, (), 400, "固件版本只能用", "V 1"),
    ({"installed_at": "2999-01-01"}, (), 400, "安装日期要写成", "2999-01-01"),
    (
        {"installed_at": "2026-05-01", "activated_at": "2026-04-01T08:00"},
        (),
        400,
        "激活时间不能早于安装日期",
        "2026-04-01T08:00",
    ),
    ({"activated_at": "yesterday"}, (), 400, "激活时间格式不对", None),
    ({"model": "Nope 3000"}, (), 400, "请选择一个已登记的型号", None),
    ({"screen_profile": "4k"}, (), 400, "画面规格只能是", None),
    ({"keymap_family": "sony"}, (), 400, "请选择遥控器键位类型", None),
    ({"state": "pending"}, (), 409, "状态不能从“活跃”改为“待审核”", None),
    ({}, (("Bad Key", "x"),), 400, "属性名“bad key”不对", "Bad Key"),
    ({}, (("note", "字" * 201),), 400, "的值最多 200 个字", "字" * 201),
    ({}, (("note", "two\rlines"),), 400, "只能写一行", None),
    ({}, (("note", ""),), 400, "请填写属性“note”的值", None),
    ({}, (("", "orphan"),), 400, "请给新属性填写属性名", "orphan"),
    ({}, (("shelf", "B1"),), 400, "属性“shelf”已经有了", "B1"),
    ({}, (("a.b", "1"), ("a.b", "2")), 400, "属性“a.b”已经有了", None),
]


@pytest.mark.parametrize(
    ("fields", "rows", "status", "message", "kept"), BAD, ids=[str(b[:2])[:40] for b in BAD]
)
async def test_bad_input_is_explained_in_chinese_and_nothing_is_written(
    client, admin_as, fields, rows, status, message, kept
):
    db = client.app[keys.DB]
    await inventory.set_attributes(db, BOX, {"shelf": "A3"})
    before = await inventory.device_details(db, BOX)
    await admin_as("staff")
    pairs = with_new_attributes(changed(form_pairs(await _page(client)), **fields), *rows)
    response = await client.post(EDIT, data=pairs)
    text = await response.text()
    assert response.status == status, text
    assert message in text
    if kept is not None:
        assert f'value="{kept}"' in text  # what was typed is still there
    assert await inventory.device_details(db, BOX) == before
    assert await _audit(client) == []


async def test_a_stale_form_is_refused_with_409_and_can_be_saved_after_review(client, admin_as):
    db = client.app[keys.DB]
    await admin_as("staff")
    pairs = changed(form_pairs(await _page(client)), firmware="V100R009")
    # Meanwhile another staff member (or the box's heartbeat) changes the record.
    await inventory.set_attributes(db, BOX, {"shelf": "B2"})
    response = await client.post(EDIT, data=pairs)
    assert response.status == 409
    text = await response.text()
    assert "没有保存：这台机顶盒刚被修改过" in text
    assert 'value="V100R009"' in text and "B2" in text  # typed kept, latest shown
    box = await inventory.device_details(db, BOX)
    assert box["firmware"] != "V100R009" and box["attributes"] == {"shelf": "B2"}
    # The re-rendered form carries the latest version: saving it now is deliberate.
    response = await client.post(EDIT, data=form_pairs(text), allow_redirects=False)
    assert response.status == 303
    box = await inventory.device_details(db, BOX)
    assert box["firmware"] == "V100R009" and box["attributes"] == {"shelf": "B2"}


async def test_staff_outside_the_region_and_viewers_cannot_edit(client, admin_as):
    db = client.app[keys.DB]
    far = await db.fetchval(
        "SELECT serial FROM devices WHERE village_code NOT LIKE '150602%' AND serial LIKE 'DEMO%'"
    )
    await admin_as("admin")
    far_pairs = changed(
        form_pairs(await _page(client, f"/admin/registry/box/{far}")), firmware="X1"
    )
    await admin_as("staff")  # scoped to 东胜区 150602
    token = dict(form_pairs(await _page(client)))["csrf_token"]
    far_pairs = changed(far_pairs, csrf_token=token)
    response = await client.post(f"/admin/registry/box/{far}/edit", data=far_pairs)
    assert response.status == 403
    assert (await inventory.device_details(db, far))["firmware"] != "X1"
    village = (await inventory.device_details(db, far))["village_code"]
    denied = await db.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'registry.edit' AND outcome = 'denied'"
        " ORDER BY id DESC"
    )
    assert json.loads(denied)["region"] == village
    await admin_as("viewer")
    response = await client.post(EDIT, data=changed(far_pairs, firmware="X2"))
    assert response.status == 403
    assert (await inventory.device_details(db, BOX))["firmware"] != "X2"


async def test_the_form_needs_its_csrf_token(client, admin_as):
    await admin_as("admin")
    pairs = [(k, v) for k, v in form_pairs(await _page(client)) if k != "csrf_token"]
    response = await client.post(EDIT, data=changed(pairs, firmware="X3"))
    assert response.status == 403
    assert (await inventory.device_details(client.app[keys.DB], BOX))["firmware"] != "X3"


async def test_retiring_closes_the_fields_but_not_the_attributes(client, admin_as):
    db = client.app[keys.DB]
    await enrolment.issue_token(db, BOX, key=device_token_key(client.app))
    await admin_as("staff")
    html = await _page(client)
    assert 'value="retired"' in html and 'value="pending"' not in html  # allowed moves only
    response = await client.post(
        EDIT, data=changed(form_pairs(html), state="retired"), allow_redirects=False
    )
    assert response.status == 303
    box = await inventory.device_details(db, BOX)
    assert box["state"] == "retired" and box["retired_at"] is not None
    assert (
        await db.fetchval("SELECT COUNT(*) FROM device_tokens WHERE device_id = ?", (box["id"],))
        == 0
    )
    html = await _page(client)
    assert "只能修改其他属性" in html
    pairs = form_pairs(html)
    assert not {"model", "firmware", "state"} & {k for k, _v in pairs}  # disabled fieldset
    response = await client.post(
        EDIT, data=with_new_attributes(pairs, ("returned", "旗仓库")), allow_redirects=False
    )
    assert response.status == 303
    assert (await inventory.device_details(db, BOX))["attributes"] == {"returned": "旗仓库"}


async def test_a_box_retired_in_the_admin_is_refused_on_its_next_heartbeat(client, admin_as):
    """The device API caches a box's record and verified token for 10 s; a registry change in
    the admin must reach it at once, not after that cache expires."""
    db = client.app[keys.DB]
    token = await enrolment.issue_token(db, BOX, key=device_token_key(client.app))
    beat = f"/api/v1/devices/{BOX}/heartbeat"
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.post(beat, json={"uptime": 10}, headers=auth)).status == 202
    assert (await client.post(beat, json={"uptime": 11}, headers=auth)).status == 202  # cached
    # The beats activate the box when the batch is written; write it now, so the form below
    # is opened on the record the staff member really edits (else the save is a 409 conflict).
    await client.app[HEARTBEATS].flush()
    await admin_as("staff")
    html = await _page(client)
    response = await client.post(
        EDIT, data=changed(form_pairs(html), state="retired"), allow_redirects=False
    )
    assert response.status == 303
    refused = await client.post(beat, json={"uptime": 12}, headers=auth)
    assert refused.status == 410
    assert (await refused.json())["error"]["code"] == "device_retired"
