"""The directory in Mongolian: Mongolian names and descriptions of service points (admin form,
CSV column), points serving in Mongolian marked and listed first on Mongolian boxes, and
callbacks of Mongolian-speaking households routed to offices serving in Mongolian."""

import re

from callbacks import routing
from content.directory import csv_io as directory_io
from content.directory import points as directory
from tests.helpers import GOOD, csv_text, enter
from tv_server import keys

MONGOLIAN = re.compile("[\u1800-\u18af]")
NAME_MN = "\u182c\u1820\u1824\u182f\u1822 \u1836\u1822\u1828 \u182a\u1820\u1822\u1837\u1820"


async def test_csv_takes_a_mongolian_name_column_and_old_files_still_import(client):
    db = client.app[keys.DB]
    known = set(client.app[keys.REGIONS].by_code)
    row = {**GOOD, "name_mn": NAME_MN, "description_mn": NAME_MN + " 12348"}
    await directory_io.import_csv(db, csv_text([row]), known)
    point = await directory.get_point(db, "sp-test-1")
    assert (point.name_mn, point.description_mn) == (NAME_MN, NAME_MN + " 12348")
    assert "name_mn" in directory_io.COLUMNS  # exported, so the round trip keeps it
    # A file from before the column: accepted, the name left as it is in the file (empty).
    old = [c for c in directory_io.COLUMNS if c not in ("name_mn", "description_mn")]
    row = {k: v for k, v in GOOD.items() if k in old}
    await directory_io.import_csv(db, csv_text([{**row, "code": "sp-test-2"}], old), known)
    assert (await directory.get_point(db, "sp-test-2")).name_mn == ""


async def test_admin_form_saves_the_mongolian_name(client, admin_as):
    from tests.helpers import csrf_of

    db = client.app[keys.DB]
    point = (await db.fetchall("SELECT id, code FROM service_points ORDER BY id LIMIT 1"))[0]
    await admin_as("admin")
    html = await (await client.get(f"/admin/directory/points/{point['id']}")).text()
    assert 'name="name_mn"' in html
    form = dict(re.findall(r'<input name="(\w+)"[^>]*value="([^"]*)"', html))
    p = await directory.get_point(db, point["code"])
    data = {**{k: str(v) for k, v in p.snapshot().items() if not isinstance(v, list)}}
    data.update(form)
    data.update({"csrf_token": await csrf_of(client, f"/admin/directory/points/{point['id']}"),
                 "name_mn": NAME_MN, "version": str(p.version),
                 "latitude": "" if p.latitude is None else str(p.latitude),
                 "longitude": "" if p.longitude is None else str(p.longitude)})  # fmt: skip
    body = [(k, v) for k, v in data.items()]
    body += [("services", s) for s in p.services] + [("languages", x) for x in p.languages]
    response = await client.post(
        f"/admin/directory/points/{point['id']}", data=body, allow_redirects=False
    )
    assert response.status in (302, 303), await response.text()
    assert (await directory.get_point(db, point["code"])).name_mn == NAME_MN


async def test_mongolian_box_sees_mongolian_names_and_mongolian_points_first(client):
    db = client.app[keys.DB]
    await client.get("/tv/", params={"stb": "DEMO-0001", "lang": "mn"})
    base = await enter(client, "DEMO-0001")
    village = await db.fetchval("SELECT village_code FROM devices WHERE serial = 'DEMO-0001'")
    known = set(client.app[keys.REGIONS].by_code)
    zh_only = {**GOOD, "code": "sp-a-zh", "name": "甲汉语服务室", "region_code": village,
               "languages": "zh"}  # fmt: skip
    with_mn = {**GOOD, "code": "sp-b-mn", "name": "乙蒙汉服务室", "region_code": village,
               "languages": "zh;mn", "name_mn": NAME_MN}  # fmt: skip
    await directory_io.import_csv(db, csv_text([zh_only, with_mn]), known)
    client.app[keys.SCREENS].invalidate("directory")
    html = await (await client.get(base + "dir")).text()
    assert NAME_MN in html and "乙蒙汉服务室" not in html  # its Mongolian name
    assert html.index(NAME_MN) < html.index("甲汉语服务室")  # serving in Mongolian: first
    assert '<span class="tag mn-tag" lang="mn">' in html
    # A Chinese box: Chinese names, the file's order, no mark.
    zh = await (await client.get(await enter(client, "DEMO-0003") + "dir")).text()
    assert 'class="tag mn-tag"' not in zh


async def test_callbacks_of_mongolian_households_go_to_offices_serving_in_mongolian(client):
    db = client.app[keys.DB]
    tree = client.app[keys.REGIONS]
    village = await db.fetchval("SELECT village_code FROM devices WHERE serial = 'DEMO-0001'")
    chain = [r.code for r in tree.chain(village)]
    township = chain[1]
    known = set(tree.by_code)
    rows = [
        {**GOOD, "code": "aa-station-zh", "name": "汉语工作站", "kind": "township_station",
         "region_code": township, "languages": "zh"},
        {**GOOD, "code": "zz-station-mn", "name": "蒙汉双语工作站", "kind": "township_station",
         "region_code": township, "languages": "zh;mn"},
    ]  # fmt: skip
    async with db.transaction() as tx:  # the township's own station: Chinese only
        await tx.execute(
            "UPDATE service_points SET languages = '[\"zh\"]' WHERE region_code = ?", (township,)
        )
    await directory_io.import_csv(db, csv_text(rows), known)
    zh = await routing.route(db, "consultation", None, chain)
    mn = await routing.route(db, "consultation", None, chain, language="mn")
    assert mn == "zz-station-mn"
    assert zh != "zz-station-mn"
    kind = (await directory.get_point(db, zh)).kind
    assert kind == "township_station"  # the rule's kind either way


async def test_demo_points_of_the_pastoral_banners_have_drafted_mongolian_names(client):
    """The demo's Mongolian directory shows Mongolian names: every point of the pastoral
    banners, the city centre and the hotline have one (drafts, docs/translation.md)."""
    db = client.app[keys.DB]
    rows = await db.fetchall(
        "SELECT code, name, name_mn FROM service_points"
        " WHERE substr(region_code, 1, 6) IN ('150623', '150624', '150625', '150626')"
        " OR code IN ('sp-1506', 'sp-12348')"
    )
    assert len(rows) > 50 and [r["code"] for r in rows if not MONGOLIAN.search(r["name_mn"])] == []
    await client.get("/tv/", params={"stb": "DEMO-0001", "lang": "mn"})
    base = await enter(client, "DEMO-0001")
    banner = await (await client.get(base + "dir-150624")).text()  # 鄂托克旗, from another banner
    centre = {r["code"]: r for r in rows}["sp-150624"]
    assert centre["name_mn"] in banner and centre["name"] not in banner
    own = await (await client.get(base + "dir")).text()  # the household's chain: the city centre
    city = {r["code"]: r for r in rows}["sp-1506"]
    assert city["name_mn"] in own and city["name"] not in own
    # A Chinese box keeps the Chinese names.
    await client.get("/tv/", params={"stb": "DEMO-0002", "lang": "zh"})
    zh = await (await client.get(await enter(client, "DEMO-0002") + "dir-150624")).text()
    assert centre["name"] in zh and centre["name_mn"] not in zh
