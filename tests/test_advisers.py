"""The village's legal adviser: the TV card and page, a callback asked of the adviser, the staff's
forms, CSV import/export and figures — through the real app over HTTP."""

from __future__ import annotations

import datetime as dt
import io
import re

from PIL import Image

from accounts import users
from advisers import advisers
from callbacks import lifecycle
from storage import clock
from tests.helpers import File, ask_adviser, box_village, csrf_of, form_data
from tv_server import keys

OWN = "150602"


async def test_home_card_shows_the_boxs_own_adviser_and_its_page(client, box):
    db = client.app[keys.DB]
    adviser = await advisers.for_village(db, await box_village(client))
    assert adviser is not None
    home = await (await client.get(box + "home")).text()
    card = home[home.index('id="adv-card"') :]
    assert "我村法律顾问" in card and adviser.name in card
    assert f"cb-phone?svc=consultation&amp;a={adviser.id}" in card
    assert 'class="adv-photo"' in card  # consent recorded for the demo portraits
    start, end = advisers.next_sitting(adviser.sittings)  # the next sitting, China time
    when = re.search(r'class="adv-when">([^<]+)<', card).group(1)
    first, last = clock.local(start), clock.local(end)
    assert f"{first.month}月{first.day}日" in when
    assert f"{first:%H:%M}-{last:%H:%M}" in when
    page = await (await client.get(box + "adv")).text()
    assert adviser.firm in page and 'id="adv-next"' in page and "<svg" in page
    assert "法律援助" in page  # what they can help with


async def test_a_village_without_adviser_shows_no_card(client, box):
    db = client.app[keys.DB]
    await db.execute("DELETE FROM adviser_villages")
    home = await (await client.get(box + "home")).text()
    assert 'id="adv-card"' not in home
    assert (await client.get(box + "adv")).status == 404


async def test_asking_the_adviser_files_a_callback_for_their_office(client, box):
    db = client.app[keys.DB]
    adviser = await advisers.for_village(db, await box_village(client))
    phone = await (await client.get(box + f"cb-phone?svc=consultation&a={adviser.id}")).text()
    assert adviser.name in phone and "adv#adv-call" in phone  # Back returns to the adviser
    ref = await ask_adviser(client, box, adviser.id)
    row = await db.fetchone(
        "SELECT adviser_id, office_code, service FROM callback_requests WHERE ref = ?", (ref,)
    )
    assert tuple(row) == (adviser.id, adviser.office_code, "consultation")
    receipt = await (await client.get(box + f"r-{ref}")).text()
    assert adviser.name in receipt


async def test_another_villages_adviser_cannot_be_asked(client, box):
    db = client.app[keys.DB]
    mine = await advisers.for_village(db, await box_village(client))
    other = await db.fetchval("SELECT MIN(id) FROM advisers WHERE id != ?", (mine.id,))
    for url in (f"cb-phone?svc=consultation&a={other}", "cb-phone?svc=consultation&a=x1"):
        response = await client.get(box + url)
        assert response.status == 400
    response = await client.post(
        box + "cb-phone", data={"svc": "consultation", "a": str(other), "phone": "13800138000"}
    )
    assert response.status == 400
    assert await db.fetchval("SELECT COUNT(*) FROM callback_drafts") == 0


# -- staff ----------------------------------------------------------------------------------------


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 80), (10, 120, 60)).save(out, "JPEG")
    return out.getvalue()


async def own_villages(client, n=2) -> list[str]:
    rows = await client.app[keys.DB].fetchall(
        "SELECT r.code FROM regions r WHERE r.level = 'village' AND r.code LIKE ?"
        " AND r.code NOT IN (SELECT village_code FROM adviser_villages) ORDER BY r.code LIMIT ?",
        (OWN + "%", n),
    )
    return [r[0] for r in rows]


async def test_staff_create_an_adviser_with_a_photo_only_with_consent(client, admin_as):
    await admin_as("staff")
    db = client.app[keys.DB]
    villages = await own_villages(client)
    token = await csrf_of(client, "/admin/advisers/new")
    fields = {
        "code": "adv-new",
        "name": "测试律师",
        "firm": "测试所",
        "phone": "0477-8512345",
        "villages": " ".join(villages),
        "sittings": "周三 09:00-11:30",
        "services": "consultation",
        "photo": File("me.jpg", jpeg(), "image/jpeg"),
    }
    response = await client.post("/admin/advisers/new", data=form_data(token, fields))
    assert response.status == 400
    assert "本人已同意" in await response.text()
    assert await db.fetchval("SELECT COUNT(*) FROM advisers WHERE code = 'adv-new'") == 0
    fields["photo"] = File("me.jpg", jpeg(), "image/jpeg")
    fields["consent"] = "1"
    response = await client.post(
        "/admin/advisers/new", data=form_data(token, fields), allow_redirects=False
    )
    assert response.status == 303, await response.text()
    made = await db.fetchone(
        "SELECT id, photo_media_id, photo_consent_at, photo_consent_by, sittings FROM advisers"
        " WHERE code = 'adv-new'"
    )
    assert made[1] and made[2] and made[3] == "staff" and made[4] == "周三 09:00-11:30"
    assert sorted((await advisers.get(db, made[0])).villages) == villages
    audit = await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'adviser.create' AND object_id = ?",
        (str(made[0]),),
    )
    assert audit == 1


async def test_bad_sittings_and_unknown_village_are_shown_beside_the_form(client, admin_as):
    await admin_as("staff")
    token = await csrf_of(client, "/admin/advisers/new")
    fields = {"code": "adv-x", "name": "律师", "villages": "999999999999", "sittings": "周八 9点"}
    response = await client.post("/admin/advisers/new", data=form_data(token, fields))
    body = await response.text()
    assert response.status == 400
    assert "周二 09:00-12:00" in body and "没有这个村的代码" in body


def adviser_csv(rows: list[list[str]], header=None) -> str:
    header = header or ["code", "name", "firm", "office_code", "phone", "languages", "services",
                        "villages", "sittings", "place", "description"]  # fmt: skip
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return "\n".join(lines) + "\n"


async def post_csv(client, raw: bytes):
    token = await csrf_of(client, "/admin/advisers/import")
    return await client.post(
        "/admin/advisers/import", data=form_data(token, {"file": File("a.csv", raw, "text/csv")})
    )


async def test_csv_import_reports_every_bad_row_and_writes_nothing(client, admin_as):
    await admin_as("admin")
    db = client.app[keys.DB]
    v1, v2 = await own_villages(client)
    before = await db.fetchval("SELECT COUNT(*) FROM advisers")
    text = adviser_csv(
        [
            ["c-1", "甲律师", "", "", "", "zh", "consultation", v1, "周一 09:00-10:00", "", ""],
            ["c-2", "", "", "", "123", "xx", "nothing", "000", "明天", "", ""],
            ["c-3", "丙律师", "", "no-such-point", "", "zh", "", v1, "", "", ""],
            ["c-1", "丁律师", "", "", "", "zh", "", v2, "", "", ""],
        ]
    )
    response = await post_csv(client, text.encode("utf-8"))
    body = await response.text()
    assert response.status == 400
    report = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td></tr>", body)
    lines = {int(line) for line, _ in report}
    assert lines == {3, 4, 5}
    assert any("服务指南里没有" in m for _, m in report)
    assert any("坐班时间" in m for line, m in report if line == "3")
    assert await db.fetchval("SELECT COUNT(*) FROM advisers") == before


async def test_csv_import_takes_gbk_and_round_trips_the_export(client, admin_as):
    await admin_as("admin")
    db = client.app[keys.DB]
    (v1,) = await own_villages(client, 1)
    text = adviser_csv([["gbk-1", "乌兰律师", "草原所", "", "", "zh;mn", "mediation", v1,
                         "周五 14:00-16:00", "嘎查", "=说明"]])  # fmt: skip
    response = await post_csv(client, text.encode("gb18030"))
    assert response.status == 200, await response.text()
    made = await advisers.for_village(db, v1)
    assert made.name == "乌兰律师" and made.languages == ("zh", "mn")
    export = await (await client.get("/admin/advisers/export.csv")).read()
    assert export.startswith(b"\xef\xbb\xbf") and "'=说明".encode() in export
    count = await db.fetchval("SELECT COUNT(*) FROM advisers")
    response = await post_csv(client, export)  # the export imports back unchanged
    assert response.status == 200, await response.text()
    assert await db.fetchval("SELECT COUNT(*) FROM advisers") == count
    assert (await advisers.for_village(db, v1)).description == "=说明"


async def test_staff_import_with_a_row_outside_their_banner_writes_nothing(client, admin_as):
    await admin_as("staff")
    db = client.app[keys.DB]
    (v1,) = await own_villages(client, 1)
    far = await db.fetchval(
        "SELECT code FROM regions WHERE level = 'village' AND code LIKE '150621%' LIMIT 1"
    )
    text = adviser_csv([["s-1", "甲", "", "", "", "zh", "", v1, "", "", ""],
                        ["s-2", "乙", "", "", "", "zh", "", far, "", "", ""]])  # fmt: skip
    response = await post_csv(client, text.encode())
    assert response.status == 400
    assert "不在您负责的范围内" in await response.text()
    assert await db.fetchval("SELECT COUNT(*) FROM advisers WHERE code LIKE 's-%'") == 0


async def test_figures_match_independent_counts(client, admin_as, box):
    db = client.app[keys.DB]
    adviser = await advisers.for_village(db, await box_village(client))
    ref = await ask_adviser(client, box, adviser.id)
    staff = await users.find_user(db, "staff")
    ticket = await lifecycle.get_by_ref(db, ref)
    await lifecycle.claim(db, ticket.id, staff.id)
    await lifecycle.complete(db, ticket.id, staff.id, "已电话解答")
    await ask_adviser(client, box, adviser.id)
    await admin_as("viewer")
    page = await (await client.get("/admin/advisers/figures")).text()
    # Independent count: villages of each banner minus the served ones, straight from SQL.
    for county, name in await db.fetchall("SELECT code, name FROM regions WHERE level = 'county'"):
        total = await db.fetchval(
            "SELECT COUNT(*) FROM regions WHERE level = 'village' AND code LIKE ?", (county + "%",)
        )
        served = await db.fetchval(
            "SELECT COUNT(*) FROM adviser_villages WHERE village_code LIKE ?", (county + "%",)
        )
        row = re.search(
            rf'<tr data-code="{county}"><td>{name}</td><td>(\d+)</td><td>(\d+)</td>'
            r'<td class="without">(\d+)</td>',
            page,
        )
        assert row and tuple(map(int, row.groups())) == (total, served, total - served)
    row = re.search(
        rf'<tr data-code="{adviser.code}"><td>[^<]+</td><td class="total">(\d+)</td>'
        r"<td>(\d+)</td><td>(\d+)</td>",
        page,
    )
    assert row and tuple(map(int, row.groups())) == (2, 1, 1)
    # The period is the filing day (China time): today's requests, none from tomorrow on.
    today, tomorrow = clock.today(), clock.today() + dt.timedelta(days=1)
    for since, expected in ((today, 2), (tomorrow, None)):
        page = await (
            await client.get(f"/admin/advisers/figures?since={since}&until={tomorrow}")
        ).text()
        row = re.search(
            rf'<tr data-code="{adviser.code}"><td>[^<]+</td><td class="total">(\d+)<', page
        )
        assert (int(row.group(1)) if row else None) == expected
    xlsx = await client.get("/admin/advisers/figures?format=xlsx")
    assert xlsx.status == 200 and (await xlsx.read())[:2] == b"PK"


async def test_staff_list_and_open_only_their_banners_advisers(client, admin_as):
    db = client.app[keys.DB]
    await admin_as("staff")
    page = await (await client.get("/admin/advisers")).text()
    own = await db.fetchval(
        "SELECT MIN(adviser_id) FROM adviser_villages WHERE village_code LIKE '150602%'"
    )
    far = await db.fetchval(
        "SELECT MIN(adviser_id) FROM adviser_villages WHERE village_code LIKE '150621%'"
    )
    assert f"/admin/advisers/{own}" in page and f"/admin/advisers/{far}" not in page
    edit = await client.get(f"/admin/advisers/{own}")
    assert edit.status == 200 and "本人已同意展示（demo 记录）" in await edit.text()
    assert (await client.get(f"/admin/advisers/{far}")).status == 403
