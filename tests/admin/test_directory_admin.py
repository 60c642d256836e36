"""The directory admin: editing a point shows on the TV at once; region scope, permissions,
CSRF and optimistic locking; create and delete; organizations; CSV import (dry-run report,
apply, encodings) and export; every change audited with its before and after."""

from __future__ import annotations

import io
import json
import re

from aiohttp import FormData

from content.directory import csv_io as directory_io
from content.directory import points as directory
from tests.helpers import csrf_of, enter
from tv_server import keys

LIST = "/admin/directory"
IMPORT = "/admin/directory/import"


def db_of(client):
    return client.app[keys.DB]


async def point(client, code: str) -> directory.ServicePoint:
    return await directory.get_point(db_of(client), code)


def form_of(p: directory.ServicePoint, token: str, **changes) -> FormData:
    """The edit form as the browser would post it, with `changes` typed in."""
    values = {**p.snapshot(), "version": p.version, **changes}
    data = FormData()
    data.add_field("csrf_token", token)
    for name in (
        "name",
        "kind",
        "region_code",
        "region_served",
        "organization",
        "address",
        "hours",
        "phone",
        "description",
        "version",
    ):
        data.add_field(name, str(values[name]))
    for name in ("latitude", "longitude"):
        data.add_field(name, "" if values[name] is None else str(values[name]))
    for name in ("services", "languages"):
        for item in values[name]:
            data.add_field(name, item)
    if values["phone_is_sample"]:
        data.add_field("phone_is_sample", "1")
    if "code" in changes:
        data.add_field("code", changes["code"])
    return data


async def audit(client, action: str, outcome: str = "ok") -> list[dict]:
    rows = await db_of(client).fetchall(
        "SELECT * FROM audit_log WHERE action = ? AND outcome = ? ORDER BY id", (action, outcome)
    )
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


async def box_banner_centre(client) -> directory.ServicePoint:
    village = await db_of(client).fetchval(
        "SELECT village_code FROM devices WHERE serial = 'DEMO-0001'"
    )
    return await point(client, f"sp-{village[:6]}")


async def test_editor_edits_a_point_and_the_tv_shows_it_at_once(client, admin_as):
    box = await enter(client, "DEMO-0001")
    centre = await box_banner_centre(client)
    assert centre.name in await (await client.get(box + "dir")).text()  # now cached
    await admin_as("editor")
    url = f"{LIST}/points/{centre.id}"
    token = await csrf_of(client, url)

    response = await client.post(
        url,
        data=form_of(
            centre,
            token,
            name="东胜区公共法律服务中心（新址）",
            hours="周一至周六 9:00—17:00",
            services=["consultation", "legal_aid"],
            languages=["zh", "mn"],
        ),
        allow_redirects=False,
    )

    assert response.status == 303, await response.text()
    screen = await (await client.get(box + "dir")).text()
    assert "东胜区公共法律服务中心（新址）" in screen
    detail = await (await client.get(box + f"o-{centre.id}")).text()
    assert "周一至周六 9:00—17:00" in detail and "蒙古语" in detail
    after = await point(client, centre.code)
    assert after.version == centre.version + 1
    entry = (await audit(client, "directory.point.update"))[-1]
    assert entry["username"] == "editor" and entry["object_id"] == centre.code
    assert entry["detail"]["before"]["name"] == centre.name
    assert entry["detail"]["after"]["name"] == "东胜区公共法律服务中心（新址）"
    assert "address" not in entry["detail"]["after"]  # only what changed


async def test_scoped_editor_cannot_see_or_edit_a_point_outside_their_area(client, admin_as):
    await admin_as("dsq_editor")
    elsewhere = await point(client, "sp-150603")
    listing = await (await client.get(LIST + "?q=sp-1506")).text()
    assert "sp-150602" in listing and "sp-150603<" not in listing

    assert (await client.get(f"{LIST}/points/{elsewhere.id}")).status == 403
    token = await csrf_of(client, LIST + "/points/new")
    response = await client.post(
        f"{LIST}/points/{elsewhere.id}", data=form_of(elsewhere, token, name="改掉")
    )
    assert response.status == 403
    assert (await point(client, "sp-150603")).name == elsewhere.name
    denied = await audit(client, "directory.edit", outcome="denied")
    assert denied and denied[-1]["username"] == "dsq_editor"
    assert denied[-1]["detail"]["region"] == "150603"


async def test_scoped_editor_cannot_move_a_point_out_of_their_area(client, admin_as):
    await admin_as("dsq_editor")
    mine = await point(client, "sp-150602")
    url = f"{LIST}/points/{mine.id}"
    response = await client.post(
        url, data=form_of(mine, await csrf_of(client, url), region_code="150603")
    )
    assert response.status == 400
    assert "不在您负责的范围内" in await response.text()
    assert (await point(client, "sp-150602")).region_code == "150602"


async def test_a_stale_form_is_refused_with_a_clear_message_and_nothing_overwritten(
    client, admin_as
):
    await admin_as("editor")
    centre = await point(client, "sp-150602")
    url = f"{LIST}/points/{centre.id}"
    token = await csrf_of(client, url)
    first = await client.post(
        url, data=form_of(centre, token, name="第一位编辑的名字"), allow_redirects=False
    )
    assert first.status == 303

    second = await client.post(url, data=form_of(centre, token, name="第二位编辑的名字"))

    assert second.status == 409
    html = await second.text()
    assert "已被别人修改" in html and "第二位编辑的名字" in html  # what they typed stays
    assert (await point(client, "sp-150602")).name == "第一位编辑的名字"


async def test_viewer_gets_403(client, admin_as):
    await admin_as("viewer")
    for path in (LIST, LIST + "/organizations", IMPORT, LIST + "/export.csv"):
        assert (await client.get(path)).status == 403, path


async def test_a_post_without_csrf_token_is_refused(client, admin_as):
    await admin_as("editor")
    centre = await point(client, "sp-150602")
    data = form_of(centre, "", name="没有令牌")
    response = await client.post(f"{LIST}/points/{centre.id}", data=data)
    assert response.status == 403
    assert (await point(client, "sp-150602")).name == centre.name


async def test_bad_input_rerenders_with_messages_and_keeps_what_was_typed(client, admin_as):
    await admin_as("editor")
    centre = await point(client, "sp-150602")
    url = f"{LIST}/points/{centre.id}"
    response = await client.post(
        url,
        data=form_of(
            centre,
            await csrf_of(client, url),
            phone="0477-555",
            latitude="91",
            longitude="100",
            address="新地址123号",
        ),
    )
    assert response.status == 400
    html = await response.text()
    assert "请填写正确的手机号" in html and "纬度在-90到90之间" in html
    assert 'value="新地址123号"' in html and 'value="0477-555"' in html
    assert (await point(client, "sp-150602")).address == centre.address


async def test_create_then_delete_with_confirmation(client, admin_as):
    await admin_as("dsq_editor")
    new = LIST + "/points/new"
    token = await csrf_of(client, new)
    template = await point(client, "sp-150602")
    response = await client.post(
        new,
        data=form_of(
            template,
            token,
            code="sp-test-room",
            name="测试村法律服务室",
            kind="village_room",
            region_code="150602001001",
            region_served="",
            organization="",
            phone="13800138000",
            phone_is_sample=False,
            latitude="39.81",
            longitude="109.98",
        ),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    created = await point(client, "sp-test-room")
    assert (created.organization, created.region_served, created.latitude) == (
        "org-test-room",
        "150602001001",
        39.81,
    )
    assert (await audit(client, "directory.point.create"))[-1]["detail"]["after"]["code"] == (
        "sp-test-room"
    )

    confirm = await client.get(f"{LIST}/points/{created.id}/delete")
    assert confirm.status == 200 and "确定删除" in await confirm.text()
    response = await client.post(
        f"{LIST}/points/{created.id}/delete",
        data={"csrf_token": token, "version": str(created.version)},
        allow_redirects=False,
    )
    assert response.status == 303
    assert (
        await db_of(client).fetchval(
            "SELECT COUNT(*) FROM service_points WHERE code = 'sp-test-room'"
        )
        == 0
    )
    entry = (await audit(client, "directory.point.delete"))[-1]
    assert entry["detail"]["before"]["name"] == "测试村法律服务室"


async def test_list_filters_by_region_kind_and_text(client, admin_as):
    await admin_as("editor")
    html = await (await client.get(LIST + "?region=150602&kind=township_station")).text()
    codes = set(re.findall(r"<code>(sp-[0-9]+)</code>", html))
    assert codes and all(c.startswith("sp-150602") and len(c) == 12 for c in codes)
    html = await (await client.get(LIST + "?q=12348")).text()
    assert "12348公共法律服务热线" in html


async def test_organization_edit_is_audited(client, admin_as):
    await admin_as("editor")
    db = db_of(client)
    org_id = await db.fetchval("SELECT id FROM organizations WHERE code = 'org-150602'")
    url = f"{LIST}/organizations/{org_id}"
    html = await (await client.get(url)).text()
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    response = await client.post(
        url,
        data={
            "csrf_token": await csrf_of(client, url),
            "name": "东胜区司法局",
            "kind": "banner_centre",
            "region_code": "150602",
            "description": "区司法局",
            "version": version,
        },
        allow_redirects=False,
    )
    assert response.status == 303
    org = await directory.get_organization(db, org_id)
    assert (org.name, org.description) == ("东胜区司法局", "区司法局")
    entry = (await audit(client, "directory.organization.update"))[-1]
    assert entry["detail"]["after"] == {"name": "东胜区司法局", "description": "区司法局"}
    listing = await (await client.get(LIST + "/organizations?q=org-150602")).text()
    assert "东胜区司法局" in listing


def upload(token: str, body: bytes, name: str = "points.csv") -> FormData:
    data = FormData()
    data.add_field("csrf_token", token)
    data.add_field("file", io.BytesIO(body), filename=name, content_type="text/csv")
    return data


async def test_csv_upload_reports_bad_rows_and_writes_nothing(client, admin_as):
    await admin_as("editor")
    exported = await (await client.get(LIST + "/export.csv")).read()
    text = exported.decode("utf-8-sig").replace(",banner_centre,150602,", ",centre,150602,", 1)
    text = text.replace("0477-5550002", "12345", 1)
    before = await db_of(client).fetchall("SELECT * FROM service_points ORDER BY id")

    response = await client.post(
        IMPORT, data=upload(await csrf_of(client, IMPORT), text.encode("utf-8"))
    )

    assert response.status == 400
    html = await response.text()
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td></tr>", html)
    assert {(int(line), "没有这个类型" in msg or "手机号" in msg) for line, msg in rows} == {
        (int(rows[0][0]), True),
        (int(rows[1][0]), True),
    }
    assert len(rows) == 2
    assert [tuple(r) for r in before] == [
        tuple(r) for r in await db_of(client).fetchall("SELECT * FROM service_points ORDER BY id")
    ]


async def test_a_gbk_save_that_lost_the_mongolian_names_is_refused_row_by_row(client, admin_as):
    """Excel saving the export as GBK turns the Mongolian names into "?": every such row is
    reported (with what to do: save as UTF-8) and nothing is written."""
    await admin_as("editor")
    exported = (await (await client.get(LIST + "/export.csv")).read()).decode("utf-8-sig")
    with_mongolian = sum(
        1 for line in exported.splitlines()[1:] if re.search("[\u1800-\u18af]", line)
    )
    assert with_mongolian > 0  # the demo's pastoral banners have drafted Mongolian names
    before = await db_of(client).fetchall("SELECT * FROM service_points ORDER BY id")
    gbk = exported.encode("gbk", errors="replace")  # what the lossy save leaves
    response = await client.post(IMPORT, data=upload(await csrf_of(client, IMPORT), gbk))
    assert response.status == 400
    html = await response.text()
    lost = re.findall(r"<tr><td>(\d+)</td><td>([^<]*蒙古文变成了问号[^<]*)</td></tr>", html)
    assert len(lost) == with_mongolian
    assert "UTF-8" in lost[0][1]
    assert [tuple(r) for r in before] == [
        tuple(r) for r in await db_of(client).fetchall("SELECT * FROM service_points ORDER BY id")
    ]


async def test_csv_upload_dry_run_then_apply(client, admin_as):
    box = await enter(client, "DEMO-0001")
    centre = await box_banner_centre(client)
    await client.get(box + "dir")
    await admin_as("editor")
    exported = await (await client.get(LIST + "/export.csv")).read()
    assert exported.startswith(b"\xef\xbb\xbf")
    text = exported.decode("utf-8-sig").replace(centre.name, "导入后的新名字")

    response = await client.post(
        IMPORT, data=upload(await csrf_of(client, IMPORT), text.encode("gb18030"))
    )
    assert response.status == 200
    html = await response.text()
    assert "修改 1 个" in html and f"<code>{centre.code}</code>" in html
    assert (await point(client, centre.code)).name == centre.name  # the dry run wrote nothing

    payload = re.search(r'name="payload" value="([^"]+)"', html).group(1)
    response = await client.post(
        IMPORT + "/apply",
        data={
            "csrf_token": await csrf_of(client, IMPORT),
            "payload": payload,
            "name": "points.csv",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    assert (await point(client, centre.code)).name == "导入后的新名字"
    assert "导入后的新名字" in await (await client.get(box + "dir")).text()
    entry = (await audit(client, "directory.point.import"))[-1]
    assert entry["detail"]["after"] == {"name": "导入后的新名字"}
    assert (await audit(client, "directory.import"))[-1]["detail"]["updated"] == 1


async def test_scoped_editor_exports_only_their_area(client, admin_as):
    await admin_as("dsq_editor")
    response = await client.get(LIST + "/export.csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    text = (await response.read()).decode("utf-8-sig")
    codes = [line.split(",")[0] for line in text.splitlines()[1:] if line]
    assert codes and all(c.startswith("sp-150602") for c in codes)
    assert text.splitlines()[0] == ",".join(directory_io.COLUMNS)


async def test_an_oversized_upload_gets_413_with_a_message(client, admin_as):
    await admin_as("editor")
    body = b"code,name\r\n" + b"x" * (directory_io.MAX_BYTES + 10)
    response = await client.post(IMPORT, data=upload(await csrf_of(client, IMPORT), body))
    assert response.status == 413
    assert "文件太大" in await response.text()


async def test_a_scoped_edit_keeps_an_organization_from_outside_the_area(client, admin_as):
    db = db_of(client)
    regions = client.app[keys.REGIONS].by_code
    station = await point(client, "sp-150602001")
    await directory.update_point(
        db,
        station.id,
        {**station.snapshot(), "organization": "org-1506"},
        expected_version=station.version,
        known_regions=regions,
    )
    station = await point(client, "sp-150602001")
    await admin_as("dsq_editor")
    url = f"{LIST}/points/{station.id}"
    html = await (await client.get(url)).text()
    assert '<option value="org-1506" selected>' in html

    response = await client.post(
        url, data=form_of(station, await csrf_of(client, url), name="新名字"), allow_redirects=False
    )
    assert response.status == 303
    after = await point(client, "sp-150602001")
    assert (after.name, after.organization) == ("新名字", "org-1506")
