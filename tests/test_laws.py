"""The law register and legal re-review, through the real app and the demo catalog: marking a law
changed flags exactly the programs citing it, re-approval clears the flag, withdrawal takes a
program off the TV (its cached screens too), the overdue list by date, the weekly digest, the
CSV import, and the legal basis on the TV page."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import tomllib

import pytest

from callbacks import webhooks
from content.laws import citations as cites
from content.laws import register as laws
from content.laws.citations import Citation
from content.programs import workflow
from tests.helpers import csrf_of
from tv_server import keys
from tv_server.demo import catalog_root

CST = dt.timezone(dt.timedelta(hours=8))


def _catalog_citing(code: str) -> set[str]:
    """Slugs of the bundled programs whose program.toml cites the law (read independently)."""
    out = set()
    for toml in catalog_root().glob("*/program.toml"):
        data = tomllib.loads(toml.read_text(encoding="utf-8"))
        if any(c["law"] == code for c in data.get("citations", [])):
            out.add(data["slug"])
    return out


def _db(client):
    return client.server.app[keys.DB]


async def _pid(client, slug: str) -> int:
    return await _db(client).fetchval("SELECT id FROM programs WHERE slug = ?", (slug,))


async def _flagged(client) -> set[str]:
    rows = await _db(client).fetchall(
        "SELECT DISTINCT p.slug FROM legal_flags f JOIN programs p ON p.id = f.program_id"
    )
    return {r[0] for r in rows}


async def _edit_law(client, code: str, **changes):
    law = await laws.get_law(_db(client), code)
    form = {**law.values(), **changes, "csrf_token": await csrf_of(client, f"/admin/laws/{code}")}
    return await client.post(f"/admin/laws/{code}", data=form, allow_redirects=False)


async def _legal_action(client, pid: int, action: str, **extra):
    token = await csrf_of(client, f"/admin/programs/{pid}/legal")
    data = {"csrf_token": token, "action": action, **extra}
    return await client.post(f"/admin/programs/{pid}/legal", data=data, allow_redirects=False)


async def _live_revision(client, pid: int) -> int:
    return (await workflow.get_state(_db(client), pid)).workflow.live_revision_id


# -- the demo register and catalog ----------------------------------------------------------------


async def test_every_demo_program_cites_laws_of_the_register(client):
    db = _db(client)
    register = {law.code: law for law in await laws.list_laws(db)}
    programs = await db.fetchall("SELECT id, slug FROM programs")
    assert len(programs) == 15
    for pid, slug in programs:
        cited = await cites.read_live(db, pid)
        assert cited, slug
        assert all(c.law in register and register[c.law].status != "repealed" for c in cited)
    civil = register["civil-code"]
    assert (civil.promulgated_on, civil.effective_on, civil.status) == (
        "2020-05-28",
        "2021-01-01",
        "in_force",
    )
    for old in ("marriage-law", "contract-law", "inheritance-law"):
        law = register[old]
        assert (law.status, law.repealed_on, law.replaced_by) == (
            "repealed",
            "2021-01-01",
            "civil-code",
        )
    assert register["anti-telecom-fraud-law"].effective_on == "2022-12-01"
    assert register["legal-aid-law"].promulgated_on == "2021-08-20"


@pytest.mark.parametrize(
    "number, text",
    [(1, "一"), (4, "四"), (10, "十"), (15, "十五"), (33, "三十三"), (110, "一百一十"),
     (1007, "一千零七"), (1079, "一千零七十九"), (1100, "一千一百"), (1260, "一千二百六十")],
)  # fmt: skip
def test_article_numbers_read_as_chinese_laws_write_them(number, text):
    assert cites.chinese_number(number) == text


def test_a_run_of_articles_reads_from_to():
    assert cites.wording("民法典", [1139, 1133, 1134, 1135, 1079]) == (
        "《民法典》第一千零七十九条、第一千一百三十三条至第一千一百三十五条、第一千一百三十九条"
    )


def test_a_citation_of_a_page_that_is_gone_becomes_the_whole_programs():
    kept = [Citation("civil-code", [1079], 2), Citation("civil-code", [1084], 5), Citation("x")]
    assert cites.fit(kept, 3) == [
        Citation("civil-code", [1079], 2),
        Citation("civil-code", [1084], None),
        Citation("x"),
    ]


# -- flags ----------------------------------------------------------------------------------------


async def test_marking_a_law_amended_flags_exactly_the_programs_citing_it(client, admin_as):
    await admin_as("admin")
    expected = _catalog_citing("rural-land-contract-law")
    assert expected == {"caochang-liuzhuan", "caoyuan-chengbao", "nongcun-tudi-chengbao"}
    response = await _edit_law(client, "rural-land-contract-law", amended_on="2026-11-30")
    assert response.status == 303, await response.text()
    assert await _flagged(client) == expected
    # A program citing only other laws is not flagged.
    assert "jiaotong-shigu" not in await _flagged(client)
    # Editors see why in the list, on the program and in the re-review worklist.
    listing = await (await client.get("/admin/programs")).text()
    assert listing.count("需法律复核") >= 3
    page = await (
        await client.get(f"/admin/programs/{await _pid(client, 'caochang-liuzhuan')}")
    ).text()
    assert "《中华人民共和国农村土地承包法》已于 2026-11-30 修改" in page
    worklist = await (await client.get("/admin/legal")).text()
    assert all(f'id="legal-{slug}"' in worklist for slug in expected)
    queue = await (await client.get("/admin/programs/review")).text()
    assert all(f'id="queue-legal-{slug}"' in queue for slug in expected)
    assert "《中华人民共和国农村土地承包法》已于 2026-11-30 修改" in queue
    rows = await _db(client).fetchall(
        "SELECT detail FROM audit_log WHERE action = 'law.update' AND object_id = ?",
        ("rural-land-contract-law",),
    )
    assert len(rows) == 1 and "amended_on" in rows[0][0]


async def test_marking_a_law_repealed_flags_its_programs_and_names_the_replacement(
    client, admin_as
):
    await admin_as("admin")
    expected = _catalog_citing("anti-domestic-violence-law")
    assert expected == {"fan-jiating-baoli"}
    await _edit_law(client, "anti-domestic-violence-law", status="repealed",
                    repealed_on="2026-12-01", replaced_by="civil-code")  # fmt: skip
    assert await _flagged(client) == expected
    pid = await _pid(client, "fan-jiating-baoli")
    page = await (await client.get(f"/admin/programs/{pid}/legal")).text()
    assert "已于 2026-12-01 废止，由《中华人民共和国民法典》取代" in page
    # Re-approving unchanged content that still cites a repealed law is refused.
    response = await _legal_action(
        client, pid, "reapprove", revision=await _live_revision(client, pid)
    )
    assert response.status == 409
    assert "仍引用已废止" in await response.text()
    assert await _flagged(client) == expected


async def test_editing_only_the_note_flags_nothing(client, admin_as):
    await admin_as("admin")
    await _edit_law(
        client, "civil-code", note="2020年5月28日第十三届全国人民代表大会第三次会议通过"
    )
    assert await _flagged(client) == set()


async def test_reapproval_clears_the_flag_and_is_audited(client, admin_as):
    await admin_as("admin")
    await _edit_law(client, "road-traffic-safety-law", amended_on="2026-10-01")
    assert await _flagged(client) == {"jiaotong-shigu"}
    await admin_as("reviewer")
    pid = await _pid(client, "jiaotong-shigu")
    response = await _legal_action(
        client, pid, "reapprove", revision=await _live_revision(client, pid)
    )
    assert response.status == 303, await response.text()
    assert await _flagged(client) == set()
    row = await _db(client).fetchone(
        "SELECT username, detail FROM audit_log WHERE action = 'program.legal_reapprove'"
    )
    assert row["username"] == "reviewer" and "road-traffic-safety-law:amended" in row["detail"]


async def test_approving_a_new_revision_clears_the_flag(client, admin_as):
    db = _db(client)
    await laws.save_law(db, {**(await laws.get_law(db, "people-mediation-law")).values(),
                             "status": "amended", "amended_on": "2026-09-01"},
                        create=False, actor="t")  # fmt: skip
    pid = await _pid(client, "renmin-tiaojie")
    assert await _flagged(client) == {"renmin-tiaojie"}
    state = await workflow.get_state(db, pid)
    rev = await laws.save_citations(db, pid, [Citation("people-mediation-law", [33], 3)],
                                    base_revision=state.draft.id, author="editor")  # fmt: skip
    await workflow.submit(db, pid, revision=rev, actor="editor")
    await workflow.approve(db, pid, revision=rev, actor="reviewer", role="reviewer")
    assert await _flagged(client) == set()
    assert await cites.read_live(db, pid) == [Citation("people-mediation-law", [33], 3)]


async def test_a_new_effective_date_flags_when_it_arrives(client):
    db = _db(client)
    now = dt.datetime(2026, 12, 5, 12, tzinfo=CST).timestamp()
    law = await laws.get_law(db, "legal-aid-law")
    _saved, flagged = await laws.save_law(
        db, {**law.values(), "status": "amended", "amended_on": "2026-12-01",
             "effective_on": "2027-01-01"}, create=False, actor="t", now=now,
    )  # fmt: skip
    assert flagged  # marked amended: flagged at once
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM legal_flags")
    assert await laws.flag_effective(db, now + 86400) == []  # 2026-12-06: not yet
    pid = await _pid(client, "falv-yuanzhu")
    assert await laws.flag_effective(db, dt.datetime(2027, 1, 1, 0, 1, tzinfo=CST).timestamp()) == [
        pid
    ]
    found = await laws.flags(db, [pid])
    assert [(f.kind, f.on_date) for f in found[pid]] == [("effective", "2027-01-01")]
    assert await laws.flag_effective(db, dt.datetime(2027, 1, 2, tzinfo=CST).timestamp()) == []


# -- withdrawal -----------------------------------------------------------------------------------


async def test_withdrawal_takes_the_program_off_the_tv_until_it_is_reapproved(
    client, box, admin_as
):
    pid = await _pid(client, "jiaotong-shigu")
    first = await client.get(f"{box}p-{pid}-1")
    assert first.status == 200  # now cached
    listing = await (await client.get(f"{box}c-shenghuo-weiquan")).text()
    assert f"p-{pid}" in listing
    await admin_as("admin")
    await _edit_law(client, "road-traffic-safety-law", amended_on="2026-10-01")
    # Flagged but kept live meanwhile (the default): the TV still shows it.
    assert (await client.get(f"{box}p-{pid}-1")).status == 200
    response = await _legal_action(client, pid, "withdraw")
    assert response.status == 303, await response.text()
    assert (await client.get(f"{box}p-{pid}-1")).status == 404
    assert f"p-{pid}" not in await (await client.get(f"{box}c-shenghuo-weiquan")).text()
    worklist = await (await client.get("/admin/legal")).text()
    assert "复核期间已下线" in worklist
    # The reviewer re-approves: flag cleared, back on the TV.
    await admin_as("reviewer")
    response = await _legal_action(
        client, pid, "reapprove", revision=await _live_revision(client, pid)
    )
    assert response.status == 303
    assert (await client.get(f"{box}p-{pid}-1")).status == 200
    assert await _flagged(client) == set()


async def test_an_admin_can_put_a_withdrawn_program_back_while_it_waits(client, box, admin_as):
    pid = await _pid(client, "jiaotong-shigu")
    await admin_as("admin")
    await _edit_law(client, "road-traffic-safety-law", amended_on="2026-10-01")
    await _legal_action(client, pid, "withdraw")
    assert (await client.get(f"{box}p-{pid}-1")).status == 404
    assert (await _legal_action(client, pid, "keep")).status == 303
    assert (await client.get(f"{box}p-{pid}-1")).status == 200
    assert await _flagged(client) == {"jiaotong-shigu"}  # still waits for its review


async def test_an_unflagged_program_cannot_be_withdrawn_this_way(client, admin_as):
    await admin_as("admin")
    pid = await _pid(client, "gongzheng")
    assert (await _legal_action(client, pid, "withdraw")).status == 409


# -- periodic review ------------------------------------------------------------------------------


async def test_the_overdue_list_follows_the_review_date(client):
    db = _db(client)
    pid = await _pid(client, "gongzheng")
    reviewed = dt.datetime(2025, 6, 1, 10, tzinfo=CST).timestamp()
    async with db.transaction() as tx:
        await cites.mark_reviewed(tx, pid, "reviewer", reviewed)

    def at(y, m, d):
        return dt.datetime(y, m, d, 12, tzinfo=CST).timestamp()

    state = await laws.legal_state(db, pid, now=at(2026, 5, 31), review_days=365)
    assert (state.reviewed_on, state.review_by, state.overdue) == (
        "2025-06-01",
        "2026-06-01",
        False,
    )
    assert not (await laws.legal_state(db, pid, now=at(2026, 6, 1), review_days=365)).overdue
    assert (await laws.legal_state(db, pid, now=at(2026, 6, 2), review_days=365)).overdue
    assert not (await laws.legal_state(db, pid, now=at(2026, 6, 2), review_days=400)).overdue
    overdue = [s.slug for s in await laws.legal_states(db, now=at(2026, 6, 2), review_days=365)
               if s.overdue]  # fmt: skip
    assert overdue == ["gongzheng"]  # the others were approved when the demo was loaded
    await laws.reapprove(db, pid, revision=(await workflow.get_state(db, pid)).workflow
                         .live_revision_id, actor="reviewer", now=at(2026, 6, 2))  # fmt: skip
    state = await laws.legal_state(db, pid, now=at(2026, 6, 2), review_days=365)
    assert (state.review_by, state.overdue) == ("2027-06-02", False)


async def test_the_weekly_digest_goes_out_once_a_week_through_the_outbox(client):
    db = _db(client)
    await webhooks.add_endpoint(db, "office", "https://im.example.org/hook")
    law = await laws.get_law(db, "consumer-rights-law")
    await laws.save_law(db, {**law.values(), "amended_on": "2026-11-01"}, create=False, actor="t")
    monday = dt.datetime(2026, 12, 7, 9, tzinfo=CST).timestamp()
    assert await laws.weekly_digest(db, now=monday, review_days=365) == 1
    assert await laws.weekly_digest(db, now=monday + 3 * 86400, review_days=365) is None
    row = await db.fetchone("SELECT event_type, payload, delivery_id FROM webhook_outbox")
    assert row["event_type"] == "legal.review_digest"
    assert row["delivery_id"] == "legal-digest-2026-W50-ep-1"
    body = json.loads(row["payload"])
    assert body["week"] == "2026-W50"
    assert [p["slug"] for p in body["flagged"]] == ["nongzi-weiquan"]
    assert body["flagged"][0]["laws"][0]["change"] == "amended"
    assert body["overdue"] == []
    # A year on, everything is overdue.
    later = monday + 400 * 86400
    assert await laws.weekly_digest(db, now=later, review_days=365) == 1
    last = json.loads(
        await db.fetchval("SELECT payload FROM webhook_outbox ORDER BY id DESC LIMIT 1")
    )
    assert len(last["overdue"]) == 15


# -- the TV ---------------------------------------------------------------------------------------


async def test_the_tv_page_shows_its_legal_basis(client, box):
    pid = await _pid(client, "hunyin-jiating")
    html = await (await client.get(f"{box}p-{pid}-1")).text()
    basis = re.search(r'<span class="basis" id="basis">([^<]*)</span>', html).group(1)
    assert (
        basis
        == "依据：《中华人民共和国民法典》第一千零四十六条、第一千零四十七条、第一千零四十九条"
    )
    last = await (await client.get(f"{box}p-{pid}-5")).text()
    # The last page adds what the whole program rests on, one entry per law.
    assert (
        "依据：《中华人民共和国民法典》第一千零四十一条、第一千零八十四条至第一千零八十六条</span>"
        in last
    )
    assert len(html.encode()) < 30 * 1024


async def test_renaming_a_law_reaches_the_cached_tv_page(client, box, admin_as):
    pid = await _pid(client, "jiaotong-shigu")
    assert "道路交通安全法" in await (await client.get(f"{box}p-{pid}-4")).text()
    await admin_as("admin")
    await _edit_law(client, "road-traffic-safety-law", name="道路交通安全法（测试名）")
    assert "《道路交通安全法（测试名）》" in await (await client.get(f"{box}p-{pid}-4")).text()


# -- editing citations ---------------------------------------------------------------------------


async def test_editors_pick_citations_from_the_register_as_a_new_draft(client, box, admin_as):
    await admin_as("editor")
    pid = await _pid(client, "gongzheng")
    state = await workflow.get_state(_db(client), pid)
    picker = await (await client.get(f"/admin/programs/{pid}/legal")).text()
    assert '<option value="notarization-law" selected>' in picker
    response = await _legal_action(
        client, pid, "citations", revision=state.draft.id,
        law=["notarization-law", "civil-code", ""], articles=["", "1139, 第1142条", ""],
        page=["", "4", ""],
    )  # fmt: skip
    assert response.status == 303, await response.text()
    after = await workflow.get_state(_db(client), pid)
    assert after.draft.content.citations == [
        Citation("notarization-law"),
        Citation("civil-code", [1139, 1142], 4),
    ]
    assert after.workflow.state == "draft"
    # The TV still shows the reviewed citations.
    assert "第一千一百三十九条" not in await (await client.get(f"{box}p-{pid}-4")).text()


@pytest.mark.parametrize(
    "law, articles, page, shown",
    [
        ("no-such-law", "", "", "法规库中没有这部法律"),
        ("civil-code", "一千", "", "条文号应为数字"),
        ("civil-code", "1079", "9", "节目没有第 9 页"),
    ],
)
async def test_bad_citations_are_refused_with_the_reason(client, admin_as, law, articles, page,
                                                         shown):  # fmt: skip
    await admin_as("editor")
    pid = await _pid(client, "gongzheng")
    state = await workflow.get_state(_db(client), pid)
    response = await _legal_action(client, pid, "citations", revision=state.draft.id,
                                   law=[law], articles=[articles], page=[page])  # fmt: skip
    assert response.status == 400
    assert shown in await response.text()
    assert (await workflow.get_state(_db(client), pid)).draft.id == state.draft.id


# -- CSV ------------------------------------------------------------------------------------------


async def _import(client, raw: bytes):
    token = await csrf_of(client, "/admin/laws/import")
    from aiohttp import FormData

    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", raw, filename="laws.csv", content_type="text/csv")
    return await client.post("/admin/laws/import", data=form, allow_redirects=False)


async def test_the_register_csv_round_trips_and_imports_gbk(client, admin_as):
    await admin_as("admin")
    exported = await (await client.get("/admin/laws/export.csv")).read()
    assert exported.startswith(b"\xef\xbb\xbf")
    assert (await _import(client, exported)).status == 303
    assert await _flagged(client) == set()  # nothing changed
    text = exported.decode("utf-8-sig").replace(
        "people-mediation-law,中华人民共和国人民调解法,全国人民代表大会常务委员会,2010-08-28,"
        "2011-01-01,in_force,,",
        "people-mediation-law,中华人民共和国人民调解法,全国人民代表大会常务委员会,2010-08-28,"
        "2011-01-01,已修改,2026-11-11,",
    )
    text += (
        "labor-dispute-law,中华人民共和国劳动争议调解仲裁法,全国人民代表大会常务委员会,"
        "2007-12-29,2008-05-01,现行有效,,,,\r\n"
    )
    response = await _import(client, text.encode("gb18030"))
    assert response.status == 303, await response.text()
    assert (await laws.get_law(_db(client), "labor-dispute-law")).issuer.startswith("全国")
    assert await _flagged(client) == {"renmin-tiaojie"}


async def test_a_csv_with_bad_rows_lists_each_with_its_line_and_writes_nothing(client, admin_as):
    await admin_as("admin")
    before = await laws.list_laws(_db(client))
    raw = (
        "code,name,issuer,promulgated_on,effective_on,status,amended_on,repealed_on,replaced_by,note\r\n"
        "new-law,新法,全国人大常委会,2026-01-01,2026-07-01,in_force,,,,\r\n"
        "Bad Code,名字,机关,2020-01-01,2020-02-01,in_force,,,,\r\n"
        "civil-code,中华人民共和国民法典,全国人民代表大会,2020-05-28,2021-01-01,repealed,,,,\r\n"
        "x-law,某法,机关,2020-13-01,2019-01-01,in_force,,,,\r\n"
        "y-law,某法,机关,2020-01-01,2020-01-02,repealed,,2021-01-01,no-such-law,\r\n"
        "short,row\r\n"
    ).encode()
    response = await _import(client, raw)
    assert response.status == 400
    html = await response.text()
    lines = [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", html)]
    assert sorted(set(lines)) == [3, 4, 5, 6, 7]
    assert "没有导入任何内容" in html
    assert await laws.list_laws(_db(client)) == before


async def test_an_unreadable_encoding_is_reported(client, admin_as):
    await admin_as("admin")
    response = await _import(client, b"\xff\xfe\x00c\x00o\x00d\x00e" + bytes(range(128, 160)))
    assert response.status == 400
    assert "文件编码无法识别" in await response.text()


async def test_the_register_page_lists_laws_with_their_status(client, admin_as):
    await admin_as("viewer")
    html = await (await client.get("/admin/laws")).text()
    assert 'id="law-marriage-law" class="law-repealed"' in html
    assert "《中华人民共和国民法典》" in html
    assert "添加法律" not in html  # only admins edit


def test_review_days_setting_is_documented():
    from tv_server.settings import SETTINGS

    assert any(s.name == "legal_review_days" and s.default == 365 for s in SETTINGS)
    assert time.time() > 0


# -- packages -------------------------------------------------------------------------------------


async def test_new_citations_travel_in_a_package_and_back(client, tmp_path):
    from content.programs import export, package_import
    from tests.helpers import open_db

    db = _db(client)
    pid = await _pid(client, "gongzheng")
    state = await workflow.get_state(db, pid)
    new = [Citation("notarization-law", [11]), Citation("civil-code", [1139, 1142], 4)]
    await laws.save_citations(db, pid, new, base_revision=state.draft.id, author="editor")
    data_dir = client.server.app[keys.SETTINGS].data_path
    await export.export_programs(db, data_dir, [pid], tmp_path / "pkg", latest=True)
    toml = (tmp_path / "pkg" / "gongzheng" / "program.toml").read_text(encoding="utf-8")
    assert toml.endswith(
        'citations = [\n  { law = "notarization-law", articles = [11] },\n'
        '  { law = "civil-code", articles = [1139, 1142], page = 4 },\n]\n'
    )
    fresh = await open_db(tmp_path / "fresh")
    try:
        await package_import.import_package(fresh, tmp_path / "fresh", tmp_path / "pkg")
        fid = await fresh.fetchval("SELECT id FROM programs WHERE slug = 'gongzheng'")
        assert await cites.read_live(fresh, fid) == new
        await export.export_programs(fresh, tmp_path / "fresh", [fid], tmp_path / "again")
    finally:
        await fresh.close()
    again = (tmp_path / "again" / "gongzheng" / "program.toml").read_text(encoding="utf-8")
    assert again == toml


@pytest.mark.parametrize(
    "line, message",
    [
        ('citations = [{ law = "no-such-law" }]', "law 'no-such-law' is not in the law register"),
        ('citations = [{ law = "civil-code", page = 9 }]', "page 9 of a program of 4 pages"),
        ('citations = [{ law = "civil-code", articles = ["一"] }]', "list of article numbers"),
        ('citations = [{ law = "civil-code", clause = 1 }]', "unknown key(s) clause"),
    ],
)
async def test_a_package_with_bad_citations_names_the_line_and_writes_nothing(
    client, tmp_path, line, message
):
    import shutil

    from content.programs import package_import
    from content.programs.package import PackageError

    db = _db(client)
    pkg = tmp_path / "pkg"
    shutil.copytree(catalog_root() / "gongzheng", pkg / "gongzheng")
    shutil.copy(catalog_root() / "categories.toml", pkg / "categories.toml")
    toml = pkg / "gongzheng" / "program.toml"
    text = toml.read_text(encoding="utf-8")
    text = text[: text.index("citations = [")] + line + "\n"
    toml.write_text(text, encoding="utf-8")
    before = await db.fetchval("SELECT COUNT(*) FROM program_revisions")
    with pytest.raises(PackageError) as caught:
        await package_import.import_package(db, tmp_path / "media", pkg)
    shown = [str(p) for p in caught.value.problems]
    assert any(message in p and "program.toml:9" in p for p in shown), shown
    assert await db.fetchval("SELECT COUNT(*) FROM program_revisions") == before


def test_cli_exports_the_register_and_imports_it_all_or_nothing(data_dir, tmp_path):
    from tests.helpers import legaltv

    out = tmp_path / "laws.csv"
    done = legaltv("laws", "export", str(out), data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    text = out.read_bytes().decode("utf-8-sig")
    assert "civil-code,中华人民共和国民法典,全国人民代表大会,2020-05-28,2021-01-01,in_force" in text
    bad = tmp_path / "bad.csv"
    bad.write_text(text + "x,,,,,,,,,\r\n", encoding="utf-8")
    done = legaltv("laws", "import", str(bad), data_dir=data_dir)
    assert done.returncode == 2
    assert "nothing was written" in done.stderr and f"line {text.count(chr(10)) + 1}" in done.stderr
    changed = tmp_path / "changed.csv"
    changed.write_text(
        text.replace(
            "2010-08-28,2011-01-01,in_force,,", "2010-08-28,2011-01-01,amended,2026-11-11,"
        ),
        encoding="gb18030",
    )
    done = legaltv("laws", "import", str(changed), data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert "0 added, 1 changed" in done.stdout and "1 programs flagged" in done.stdout
