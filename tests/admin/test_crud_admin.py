"""The declared CRUD screens (tv_server/admin/crud.py) for service points, organizations and
village advisers: region scope checked on the record as the write transaction reads it (a record
moved out of the editor's area in between is refused and nothing is written), on every region of
a record spanning several (an adviser's villages), the shared list layout with its pager, the
delete confirmation, and the advisers' streamed photo with its consent in the audit log."""

from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image

from advisers import advisers
from content.directory import points as directory
from storage import OutOfScope
from tests.helpers import File, csrf_of, form_data
from tv_server import keys

OWN = "150602"  # 东胜区
FAR = "150603"  # another banner


def own_area(code: str) -> bool:
    return code.startswith(OWN)


async def test_a_point_moved_out_of_the_area_meanwhile_is_neither_changed_nor_deleted(client):
    """The handler checked the point's region when the request came in; by the time its
    transaction runs, somebody has moved the point into another banner."""
    db = client.app[keys.DB]
    regions = client.app[keys.REGIONS].by_code
    moved = await directory.get_point(db, f"sp-{FAR}")
    form = {**moved.snapshot(), "region_code": OWN, "region_served": "", "name": "改掉"}
    with pytest.raises(OutOfScope):
        await directory.update_point(
            db, moved.id, form, expected_version=moved.version, known_regions=regions,
            allowed=own_area,
        )  # fmt: skip
    with pytest.raises(OutOfScope):
        await directory.delete_point(db, moved.id, expected_version=moved.version, allowed=own_area)
    assert await directory.get_point(db, moved.code) == moved


async def test_an_organization_moved_out_of_the_area_meanwhile_is_not_changed(client):
    db = client.app[keys.DB]
    regions = client.app[keys.REGIONS].by_code
    (org,), _total = await directory.list_organizations(db, regions=[FAR], q=f"org-{FAR}")
    form = {**org.snapshot(), "region_code": OWN, "name": "改掉"}
    with pytest.raises(OutOfScope):
        await directory.update_organization(
            db, org.id, form, expected_version=org.version, known_regions=regions,
            allowed=own_area,
        )  # fmt: skip
    assert await directory.get_organization(db, org.id) == org


@pytest.mark.parametrize(
    ("path", "per_page_marker"),
    [("/admin/directory", "admin/directory/points/"), ("/admin/directory/organizations",
                                                       "admin/directory/organizations/")],
)  # fmt: skip
async def test_both_lists_page_through_the_whole_directory(client, admin_as, path, per_page_marker):
    await admin_as("editor")
    first = await (await client.get(path)).text()
    total = int(re.search(r"共 (\d+) 个", first).group(1))
    pages = -(-total // 50)
    assert pages > 1 and f"1 / {pages}" in first and "page=2" in first and "上一页" not in first
    last = await (await client.get(f"{path}?page={pages}")).text()
    assert f"{pages} / {pages}" in last and "上一页" in last and "下一页" not in last
    shown = len(set(re.findall(rf'href="/{per_page_marker}(\d+)"', last)))
    assert shown == total - 50 * (pages - 1)


# -- the village advisers, declared with the same helper ------------------------------------------


async def village_of(db, banner: str) -> str:
    return await db.fetchval(
        "SELECT code FROM regions WHERE level = 'village' AND code LIKE ? ORDER BY code LIMIT 1",
        (banner + "%",),
    )


async def own_adviser(db) -> advisers.Adviser:
    adviser_id = await db.fetchval(
        "SELECT MIN(adviser_id) FROM adviser_villages WHERE village_code LIKE ?", (OWN + "%",)
    )
    return await advisers.get(db, adviser_id)


async def last_audit(db, action: str, object_id: int) -> tuple[str, dict]:
    row = await db.fetchone(
        "SELECT outcome, detail FROM audit_log WHERE action = ? AND object_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (action, str(object_id)),
    )
    return row[0], json.loads(row[1])


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 80), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


async def test_an_adviser_with_one_village_outside_the_banner_is_not_the_staffs(client, admin_as):
    """The scope check sees every village of the adviser, not the first: one village in
    another banner makes the adviser the city's, refused (403, audited) and left as it was."""
    db = client.app[keys.DB]
    own, far = await village_of(db, OWN), await village_of(db, FAR)
    both = await advisers.save(db, {"code": "adv-both", "name": "两地律师", "firm": "",
                                    "office_code": None, "phone": "", "languages": ["zh"],
                                    "services": [], "villages": [own, far], "sittings": "",
                                    "place": "", "description": ""})  # fmt: skip
    await admin_as("staff")
    token = await csrf_of(client, "/admin/advisers/new")
    for path in (f"/admin/advisers/{both.id}", f"/admin/advisers/{both.id}/delete"):
        assert (await client.get(path)).status == 403
    posted = await client.post(f"/admin/advisers/{both.id}/delete", data={"csrf_token": token})
    assert posted.status == 403
    renamed = await client.post(
        f"/admin/advisers/{both.id}", data=form_data(token, {"name": "改名", "villages": own})
    )
    assert renamed.status == 403
    assert await advisers.get(db, both.id) == both
    denied = await db.fetchall(
        "SELECT detail FROM audit_log WHERE outcome = 'denied' AND action = 'advisers.edit'"
    )
    assert sum(json.loads(d[0]).get("adviser") == "adv-both" for d in denied) == 4


async def test_deleting_an_adviser_asks_first_then_deletes_and_audits(client, admin_as):
    db = client.app[keys.DB]
    adviser = await own_adviser(db)
    await admin_as("staff")
    edit = await (await client.get(f"/admin/advisers/{adviser.id}")).text()
    assert f'href="/admin/advisers/{adviser.id}/delete"' in edit
    ask = await client.get(f"/admin/advisers/{adviser.id}/delete")
    page = await ask.text()
    assert ask.status == 200 and adviser.name in page and "确定删除" in page
    assert await advisers.get(db, adviser.id) == adviser  # asking deleted nothing
    token = await csrf_of(client, f"/admin/advisers/{adviser.id}/delete")
    done = await client.post(
        f"/admin/advisers/{adviser.id}/delete", data={"csrf_token": token}, allow_redirects=False
    )
    assert done.status == 303 and done.headers["Location"] == "/admin/advisers?ok=adviser_deleted"
    assert "已删除。" in await (await client.get(done.headers["Location"])).text()
    assert await db.fetchval("SELECT COUNT(*) FROM advisers WHERE id = ?", (adviser.id,)) == 0
    outcome, detail = await last_audit(db, "adviser.delete", adviser.id)
    assert outcome == "ok" and detail == {"before": adviser.audit()}


async def test_a_new_photo_and_its_removal_record_who_recorded_the_consent(client, admin_as):
    db = client.app[keys.DB]
    adviser = await own_adviser(db)
    await admin_as("staff")
    path = f"/admin/advisers/{adviser.id}"
    token = await csrf_of(client, path)
    fields = {"name": adviser.name, "villages": " ".join(adviser.villages),
              "sittings": adviser.sittings}  # fmt: skip

    async def post(**more):
        response = await client.post(
            path, data=form_data(token, {**fields, **more}), allow_redirects=False
        )
        assert response.status == 303, await response.text()
        assert response.headers["Location"] == f"{path}?ok=saved"
        return await last_audit(db, "adviser.update", adviser.id)

    _ok, detail = await post(photo=File("new.jpg", jpeg(), "image/jpeg"), consent="1")
    changed = await advisers.get(db, adviser.id)
    assert changed.photo_media_id not in (None, adviser.photo_media_id)
    assert changed.photo_consent_by == "staff" and detail["photo_consent_by"] == "staff"
    assert detail["before"] == adviser.audit() and detail["after"] == changed.audit()
    _ok, detail = await post(firm="改过的律师事务所")
    assert "photo_consent_by" not in detail and detail["after"]["firm"] == "改过的律师事务所"
    _ok, detail = await post(remove_photo="1")
    assert (await advisers.get(db, adviser.id)).photo_media_id is None
    assert detail["photo_consent_by"] == ""


async def test_a_photo_refused_while_it_streams_shows_the_stored_form(client, admin_as):
    db = client.app[keys.DB]
    adviser = await own_adviser(db)
    await admin_as("staff")
    path = f"/admin/advisers/{adviser.id}"
    token = await csrf_of(client, path)
    fields = {"name": "不该保存", "villages": " ".join(adviser.villages), "consent": "1",
              "photo": File("me.jpg", b"not a picture at all", "image/jpeg")}  # fmt: skip
    response = await client.post(path, data=form_data(token, fields))
    body = await response.text()
    assert response.status == 400 and "请上传 JPEG、PNG 或 WebP 图片" in body
    assert f'value="{adviser.name}"' in body and "不该保存" not in body
    assert await advisers.get(db, adviser.id) == adviser
