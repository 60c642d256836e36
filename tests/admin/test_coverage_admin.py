"""The coverage dashboard and its JSON API: exact figures for a known registry, drill-down,
sorting, exports (CSV, XLSX read back with openpyxl), scoping, snapshots, readiness and
proposals, one box's timeline, and the API's key checks; staff changes shown at once, imported
totals below the registry flagged, and the first request after a start answered from the kept
figures (marked stale) or from figures computed before the server listens."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time

import aiohttp
import pytest
from openpyxl import load_workbook

from accounts import apikeys
from device_registry import coverage
from device_registry.regions import RegionTree
from tests.helpers import csrf_of, enter, login, make_settings, test_database
from tv_server import coverage_tasks, keys
from tv_server.app import create_app
from tv_server.migrations import MIGRATIONS

DAY = 86400.0


async def empty_township(client) -> tuple[str, list[str]]:
    """A township outside 东胜区 whose villages hold no demo box, and its first villages."""
    db, tree = client.app[keys.DB], client.app[keys.REGIONS]
    used = {r[0] for r in await db.fetchall("SELECT DISTINCT village_code FROM devices")}
    for region in tree.by_code.values():
        if region.level != "township" or region.code.startswith("150602"):
            continue
        kids = [v.code for v in tree.kids(region.code)]
        if len(kids) >= 3 and not used & set(kids):
            return region.code, kids[:3]
    raise AssertionError("no empty township")


async def known_registry(client, villages: list[str]) -> dict[str, dict]:
    """Insert boxes, usage and callbacks with known timestamps; return the expected figures of
    each village, counted here by hand."""
    db = client.app[keys.DB]
    now = time.time()
    spec = {
        # village index: [(serial, household, state, last seen days ago or None)]
        0: [
            ("K-A1", "甲", "active", 1),
            ("K-A2", "甲", "active", 3),
            ("K-A3", "乙", "active", 8),
            ("K-A4", "丙", "inactive", 40),
            ("K-A5", "丁", "planned", None),
            ("K-A6", "", "installed", 2),
            ("K-A7", "戊", "pending", 1),
        ],
        1: [("K-B1", "甲", "installed", None), ("K-B2", "乙", "activated", 29)],
        2: [],
    }
    serial_ids = {}
    async with db.transaction() as tx:
        for index, rows in spec.items():
            for serial, household, state, days in rows:
                serial_ids[serial] = await tx.insert(
                    "INSERT INTO devices (serial, village_code, household_label, state,"
                    " last_seen, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        serial,
                        villages[index],
                        household,
                        state,
                        None if days is None else now - days * DAY,
                        now - 90 * DAY,
                    ),
                )
        events = [
            ("K-A1", "launch", 2),
            ("K-A1", "view", 2),
            ("K-A1", "view", 3),
            ("K-A2", "view", 12),
            ("K-B2", "launch", 5),
            ("K-A3", "launch", 40),
        ]
        await tx.executemany(
            "INSERT INTO usage_events (device_id, kind, at) VALUES (?, ?, ?)",
            [(serial_ids[s], k, now - d * DAY) for s, k, d in events],
        )
        calls = [("K-A1", 1), ("K-A2", 50), ("K-B1", 4)]
        await tx.executemany(
            "INSERT INTO callback_requests (ref, device_id, idempotency_key, service,"
            " phone_e164, phone_masked, time_window, created_at, updated_at)"
            " VALUES (?, ?, ?, 'consultation', '+8613800138000', '138****8000', 'morning', ?, ?)",
            [
                (f"KR{n}", serial_ids[s], f"k{n}", now - d * DAY, now - d * DAY)
                for n, (s, d) in enumerate(calls)
            ],
        )
    coverage.forget(db)  # figures are cached up to two minutes; the staff's "refresh" does this
    # Counted by hand from the rows above (period: the default last 30 days).
    return {
        villages[0]: {
            "households": 4,
            "installed": 5,
            "active7": 3,
            "active30": 4,
            "covered": 1,
            "coverage": "25.0%",
            "launches": 1,
            "views": 3,
            "callbacks": 1,
        },
        villages[1]: {
            "households": 2,
            "installed": 2,
            "active7": 0,
            "active30": 1,
            "covered": 0,
            "coverage": "0.0%",
            "launches": 1,
            "views": 0,
            "callbacks": 1,
        },
        villages[2]: {
            "households": 0,
            "installed": 0,
            "active7": 0,
            "active30": 0,
            "covered": 0,
            "coverage": "—",
            "launches": 0,
            "views": 0,
            "callbacks": 0,
        },
    }


def row_cells(html: str, code: str) -> dict[str, str]:
    row = re.search(rf'<tr data-code="{code}">(.*?)</tr>', html, re.S).group(1)
    return dict(re.findall(r'<td data-k="(\w+)">([^<]*)</td>', row))


def totals(html: str) -> dict[str, str]:
    block = re.search(r'id="cv-totals">(.*?)</div>\n</div>', html, re.S).group(1)
    return dict(re.findall(r'<b data-k="(\w+)">([^<]*)</b>', block))


async def test_dashboard_figures_are_exact_at_township_and_village(client, admin_as):
    township, villages = await empty_township(client)
    want = await known_registry(client, villages)
    await admin_as("admin")
    html = await (await client.get(f"/admin/coverage?region={township}")).text()
    for village, figures in want.items():
        assert row_cells(html, village) == {k: str(v) for k, v in figures.items()}, village
    top = totals(html)
    assert top["installed"] == "7" and top["households"] == "6" and top["active7"] == "3"
    assert top["coverage"] == "16.7%" and top["callbacks"] == "2" and top["views"] == "3"
    village_page = await (await client.get(f"/admin/coverage?region={villages[0]}")).text()
    assert totals(village_page)["launches"] == "1" and "K-A3" in village_page
    # Sorting by installed boxes, descending then ascending.
    response = await client.get(f"/admin/coverage?region={township}&sort=installed&dir=desc")
    codes = re.findall(r'<tr data-code="(\d+)">', await response.text())
    assert codes.index(villages[0]) < codes.index(villages[1])
    response = await client.get(f"/admin/coverage?region={township}&sort=installed&dir=asc")
    codes = re.findall(r'<tr data-code="(\d+)">', await response.text())
    assert codes.index(villages[0]) > codes.index(villages[1])
    # A chosen period: only the last 3 days.
    today = coverage.day_of(time.time())
    since = coverage.day_of(time.time() - 3 * DAY)
    html = await (
        await client.get(f"/admin/coverage?region={township}&since={since}&until={today}")
    ).text()
    assert row_cells(html, villages[0])["views"] == "2"
    assert row_cells(html, villages[1])["launches"] == "0"


async def test_api_returns_the_same_figures_with_a_scoped_key(client):
    township, villages = await empty_township(client)
    want = await known_registry(client, villages)
    db = client.app[keys.DB]
    _, key = await apikeys.create(db, "operator", ["coverage:read"])
    _, other = await apikeys.create(db, "hotline", ["open311:read"])
    response = await client.get(f"/api/v1/coverage?region={township}")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "api_key_required"
    response = await client.get(
        f"/api/v1/coverage?region={township}", headers={"X-API-Key": "ltv_bad"}
    )
    assert response.status == 401
    response = await client.get(
        f"/api/v1/coverage?region={township}", headers={"Authorization": f"Bearer {other}"}
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "api_key_scope"
    response = await client.get("/api/v1/coverage?region=999", headers={"X-API-Key": key})
    assert response.status == 404
    response = await client.get(
        f"/api/v1/coverage?region={township}&since=nope", headers={"X-API-Key": key}
    )
    assert response.status == 400
    response = await client.get(
        f"/api/v1/coverage?region={township}", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status == 200
    body = await response.json()
    assert body["region"]["code"] == township
    children = {c["code"]: c for c in body["children"]}
    for village, figures in want.items():
        got = children[village]
        for name, value in figures.items():
            if name == "coverage":
                assert got["coverage"] == (None if value == "—" else float(value[:-1]) / 100)
            else:
                assert got[name] == value, (village, name)
    assert body["totals"]["installed"] == 7 and body["totals"]["households"] == 6


async def test_csv_and_xlsx_exports_hold_the_table(client, admin_as):
    township, villages = await empty_township(client)
    await known_registry(client, villages)
    await admin_as("admin")
    response = await client.get(f"/admin/coverage?region={township}&format=csv")
    assert response.status == 200
    text = (await response.read()).decode("utf-8-sig")
    rows = {r["地区代码"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows[villages[0]]["已安装机顶盒"] == "5" and rows[township]["户数"] == "6"
    assert rows[villages[0]]["级别"] == "嘎查村" and rows[township]["级别"] == "苏木乡镇"
    assert rows[villages[0]]["覆盖率"].endswith("%")
    response = await client.get(f"/admin/coverage?region={township}&format=xlsx")
    book = load_workbook(io.BytesIO(await response.read()))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    data = {
        row[0]: dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert data[villages[0]]["有活跃机顶盒的户数"] == 1 and data[villages[1]]["30天活跃"] == 1
    assert data[township]["已安装机顶盒"] == 7
    readiness = await client.get(f"/admin/coverage/readiness?region={township}&format=xlsx")
    sheet = load_workbook(io.BytesIO(await readiness.read())).active
    assert sheet.cell(1, 1).value == "地区代码" and sheet.max_row >= 2
    assert sheet.cell(1, 5).value == "装机户比例" and str(sheet.cell(2, 5).value).endswith("%")


async def test_banner_staff_see_only_their_banner(client, admin_as):
    await admin_as("staff")
    html = await (await client.get("/admin/coverage")).text()
    assert "东胜区" in html
    tree = client.app[keys.REGIONS]
    other = next(
        r.code for r in tree.by_code.values() if r.level == "county" and r.code != "150602"
    )
    assert (await client.get(f"/admin/coverage?region={other}")).status == 403
    city = next(r.code for r in tree.by_code.values() if r.level == "city")
    assert (await client.get(f"/admin/coverage?region={city}")).status == 403
    township = tree.kids("150602")[0].code
    assert (await client.get(f"/admin/coverage?region={township}")).status == 200
    assert (await client.get(f"/api/v1/coverage?region={city}")).status == 401  # no cookie auth
    token = await csrf_of(client, "/admin/coverage")
    response = await client.post("/admin/coverage/snapshot", data={"csrf_token": token})
    assert response.status == 403
    db = client.app[keys.DB]
    denials = await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE outcome = 'denied' AND action = 'registry.edit'"
    )
    assert denials == 1


async def test_snapshot_on_demand_feeds_the_trend(client, admin_as):
    await admin_as("admin")
    db = client.app[keys.DB]
    token = await csrf_of(client, "/admin/coverage")
    # A box installed since the morning's snapshot shows up in a snapshot taken on demand.
    township, villages = await empty_township(client)
    await known_registry(client, villages)
    response = await client.post(
        "/admin/coverage/snapshot", data={"csrf_token": token}, allow_redirects=False
    )
    assert response.status == 303
    installed = await db.fetchval(
        "SELECT installed FROM coverage_snapshots WHERE region_code = ? AND day = ?",
        (township, coverage.day_of(time.time())),
    )
    assert installed == 7
    html = await (await client.get("/admin/coverage")).text()
    assert "<polyline" in html
    assert (
        await db.fetchval("SELECT COUNT(*) FROM audit_log WHERE action = 'coverage.snapshot'") == 1
    )


async def test_readiness_proposal_creates_a_planned_wave_to_edit(client, admin_as):
    township, villages = await empty_township(client)
    await known_registry(client, villages)
    await admin_as("admin")
    html = await (await client.get(f"/admin/coverage/readiness?region={township}")).text()
    codes = re.findall(r'<tr data-code="(\d+)">', html)
    assert codes[:2] == [villages[1], villages[0]]  # share 100 + 0 active, then 75 + 3
    path = f"/admin/coverage/readiness?region={township}"
    token = await csrf_of(client, path)
    bad = await client.post(path, data={"csrf_token": token, "top": "0"})
    assert bad.status == 400 and "1到200" in await bad.text()
    response = await client.post(
        path, data={"csrf_token": token, "top": "2", "name": "三批"}, allow_redirects=False
    )
    assert response.status == 303
    wave = await client.app[keys.DB].fetchone(
        "SELECT id, status, kind FROM rollout_waves WHERE name = '三批'"
    )
    assert (wave[1], wave[2]) == ("planned", "expansion")
    regions = {
        r[0]
        for r in await client.app[keys.DB].fetchall(
            "SELECT region_code FROM wave_regions WHERE wave_id = ?", (wave[0],)
        )
    }
    assert regions == set(villages[:2])


async def test_box_timeline_shows_the_entitling_wave_and_usage(client, admin_as, box):
    await admin_as("admin")
    html = await (await client.get("/admin/coverage/box/DEMO-0001")).text()
    assert "第一批试点" in html
    assert (await client.get("/admin/coverage/box/NOPE")).status == 404
    township, villages = await empty_township(client)
    await known_registry(client, villages)
    html = await (await client.get("/admin/coverage/box/K-A1")).text()
    cells = dict(re.findall(r'<td data-k="(\w+)">([^<]*)</td>', html))
    assert cells["views"] == "2" and cells["launches"] == "1" and cells["callbacks"] == "1"
    assert "未开通" in html
    await admin_as("staff")
    assert (await client.get("/admin/coverage/box/K-A1")).status == 403


async def test_the_server_snapshots_once_a_day_in_the_background(client):
    db, tree = client.app[keys.DB], client.app[keys.REGIONS]
    today = coverage.day_of(time.time())
    for _ in range(100):  # the task's first check runs at start
        if await coverage.has_snapshot(db, tree, today):
            break
        await asyncio.sleep(0.05)
    assert await coverage.has_snapshot(db, tree, today)
    assert await coverage_tasks.snapshot_if_due(client.app) is False
    tomorrow = time.time() + 86400
    assert await coverage_tasks.snapshot_if_due(client.app, tomorrow) is True
    days = await db.fetchall("SELECT DISTINCT day FROM coverage_snapshots ORDER BY day")
    assert [d[0] for d in days] == [today, coverage.day_of(tomorrow)]


def flag(html: str, code: str) -> str | None:
    row = re.search(rf'<tr data-code="{code}">(.*?)</tr>', html, re.S).group(1)
    found = re.search(r'<span class="badge cv-short"[^>]*>([^<]*)</span>', row)
    return found and found.group(1)


async def test_staff_changes_show_on_the_next_dashboard_view(client, admin_as):
    township, villages = await empty_township(client)
    await known_registry(client, villages)
    await admin_as("admin")
    path = f"/admin/coverage?region={township}"
    assert row_cells(await (await client.get(path)).text(), villages[0])["installed"] == "5"
    # Accepting the pending box K-A7 (household 戊, seen yesterday): no "refresh" needed.
    token = await csrf_of(client, "/admin/registry")
    form = {"csrf_token": token, "serials": "K-A7", "decision": "accept"}
    response = await client.post("/admin/registry/decide", data=form, allow_redirects=False)
    assert response.status == 303
    cells = row_cells(await (await client.get(path)).text(), villages[0])
    assert (cells["installed"], cells["households"], cells["covered"]) == ("6", "5", "2")


async def test_an_imported_total_below_the_registry_is_raised_and_flagged(client, admin_as):
    township, villages = await empty_township(client)
    await known_registry(client, villages)
    db = client.app[keys.DB]
    now = time.time()
    async with db.transaction() as tx:  # three households with an active box in villages[2]
        for n in range(3):
            household = await tx.insert(
                "INSERT INTO households (village_code, label, created_at) VALUES (?, ?, ?)",
                (villages[2], f"满{n}", now),
            )
            await tx.execute(
                "INSERT INTO devices (serial, village_code, household_id, household_label,"
                " state, last_seen, created_at) VALUES (?, ?, ?, ?, 'active', ?, ?)",
                (f"K-C{n}", villages[2], household, f"满{n}", now - DAY, now - 30 * DAY),
            )
    coverage.forget(db)
    await admin_as("admin")
    path = f"/admin/coverage?region={township}"
    html = await (await client.get(path)).text()
    assert row_cells(html, villages[2])["coverage"] == "100.0%" and flag(html, villages[2]) is None
    # Staff import totals of 2 (below the 3 households) and 4 (what villages[0] knows).
    token = await csrf_of(client, "/admin/registry/import")
    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    text = f"village_code,households\n{villages[2]},2\n{villages[0]},4\n"
    form.add_field("file", text.encode(), filename="households.csv", content_type="text/csv")
    response = await client.post("/admin/registry/households", data=form, allow_redirects=False)
    assert response.status == 303
    html = await (await client.get(path)).text()
    cells = row_cells(html, villages[2])
    assert (cells["households"], cells["covered"], cells["coverage"]) == ("3", "3", "100.0%")
    assert flag(html, villages[2]) == "导入2户，少于登记的3户"
    assert flag(html, villages[0]) is None and flag(html, villages[1]) is None
    assert "有1个嘎查村导入的户数少于登记的住户（共少1户）" in html
    page = await (await client.get(f"/admin/coverage?region={villages[2]}")).text()
    assert "这个嘎查村导入的户数（2）少于登记的住户（3）" in page
    assert totals(page)["coverage"] == "100.0%"
    county = client.app[keys.REGIONS].chain(villages[2])[2].code
    html = await (await client.get(f"/admin/coverage?region={county}")).text()
    assert flag(html, township) == "1个嘎查村导入户数偏少"
    _, key = await apikeys.create(db, "operator", ["coverage:read"])
    response = await client.get(f"/api/v1/coverage?region={township}", headers={"X-API-Key": key})
    body = await response.json()
    child = {c["code"]: c for c in body["children"]}[villages[2]]
    assert (child["coverage"], child["short_villages"], child["short_households"]) == (1.0, 1, 1)
    assert body["totals"]["short_villages"] == 1 and body["stale"] is False
    csv_text = (await (await client.get(f"{path}&format=csv")).read()).decode("utf-8-sig")
    rows = {r["地区代码"]: r for r in csv.DictReader(io.StringIO(csv_text))}
    village = rows[villages[2]]
    assert village["导入户数偏少的嘎查村"] == "1" and village["覆盖率"] == "100.0%"


async def keep_figures(data_dir, at: float) -> None:
    """Figures kept in coverage_latest by an earlier run, computed at `at`."""
    db = test_database(data_dir)
    await db.open()
    try:
        await db.migrate(MIGRATIONS)
        tree = await RegionTree.load(db)
        await coverage.keep_latest(db, tree, await coverage.all_figures(db, tree, at, store=True))
    finally:
        await db.close()


async def test_first_request_after_a_restart_is_served_the_kept_figures_marked_stale(
    front_client, data_dir
):
    yesterday = time.time() - DAY
    await keep_figures(data_dir, yesterday)
    # The background refresh held back, to look at the first answer.
    held = make_settings(data_dir, coverage_first_refresh_seconds=3600)
    client = await front_client(create_app(held))
    _, key = await apikeys.create(client.app[keys.DB], "operator", ["coverage:read"])
    body = await (await client.get("/api/v1/coverage", headers={"X-API-Key": key})).json()
    assert body["stale"] is True and body["totals"]["installed"] > 0
    assert body["as_of"].startswith(coverage.day_of(yesterday))
    assert body["period"]["until"] == yesterday
    assert (await login(client, "admin")).status == 303
    html = await (await client.get("/admin/coverage")).text()
    stamp = coverage.day_of(yesterday)
    assert 'data-stale="1"' in html and f"以下是截至 {stamp}" in html
    html = await (await client.get("/admin/coverage?fresh=1")).text()
    assert 'data-stale="1"' not in html and "数据更新于" in html
    body = await (await client.get("/api/v1/coverage", headers={"X-API-Key": key})).json()
    assert body["stale"] is False and body["as_of"].startswith(coverage.day_of(time.time()))


async def _forget_kept_figures(data_dir) -> None:
    db = test_database(data_dir)
    await db.open()
    try:
        async with db.transaction() as tx:
            await tx.execute("DELETE FROM coverage_latest")
    finally:
        await db.close()


async def test_without_kept_figures_the_server_listens_before_computing_them(
    front_client, data_dir
):
    """A very first start: the TV answers at once; the figures come later (here the background
    refresh is held back, so the first coverage request computes them and waits for that)."""
    await _forget_kept_figures(data_dir)
    held = make_settings(data_dir, coverage_first_refresh_seconds=3600)
    client = await front_client(create_app(held))
    db = client.app[keys.DB]
    base = await enter(client)
    assert (await client.get(base + "home")).status == 200
    assert coverage.computations(db) == 0  # the TV answered with no figures computed
    assert await db.fetchval("SELECT COUNT(*) FROM coverage_latest") == 0
    _, key = await apikeys.create(db, "operator", ["coverage:read"])
    body = await (await client.get("/api/v1/coverage", headers={"X-API-Key": key})).json()
    assert coverage.computations(db) == 1
    installed = await db.fetchval(
        "SELECT COUNT(*) FROM devices WHERE village_code IS NOT NULL"
        " AND state IN ('installed', 'activated', 'active', 'inactive')"
    )
    assert body["stale"] is False and body["totals"]["installed"] == installed


async def test_without_kept_figures_the_leader_computes_them_in_the_background(
    front_client, data_dir
):
    await _forget_kept_figures(data_dir)
    client = await front_client(create_app(make_settings(data_dir)))
    db = client.app[keys.DB]
    base = await enter(client)
    assert (await client.get(base + "home")).status == 200
    for _ in range(100):  # the leader's first refresh, started as the server listens
        if await db.fetchval("SELECT COUNT(*) FROM coverage_latest"):
            break
        await asyncio.sleep(0.1)
    assert await db.fetchval("SELECT COUNT(*) FROM coverage_latest") > 0
    _, key = await apikeys.create(db, "operator", ["coverage:read"])
    body = await (await client.get("/api/v1/coverage", headers={"X-API-Key": key})).json()
    assert body["stale"] is False and body["totals"]["installed"] > 0
    assert coverage.computations(db) == 1  # the request was answered by that computation


@pytest.mark.parametrize("asker", ["api", "dashboard"])
async def test_figures_still_being_computed_answer_503_with_retry_after(
    front_client, data_dir, asker
):
    """While the first figures take longer than coverage_first_wait_seconds (at a province's
    scale a computation takes a minute; here no wait at all), the API and the dashboard say so
    rather than hold the request (and nginx) for that minute; a later request gets the figures
    of that one computation."""
    await _forget_kept_figures(data_dir)
    settings = make_settings(
        data_dir, coverage_first_refresh_seconds=3600, coverage_first_wait_seconds=0
    )
    client = await front_client(create_app(settings))
    db = client.app[keys.DB]
    _, key = await apikeys.create(db, "operator", ["coverage:read"])
    assert (await login(client, "admin")).status == 303
    if asker == "api":
        first = await client.get("/api/v1/coverage", headers={"X-API-Key": key})
        assert (await first.json())["error"]["code"] == "figures_computing"
    else:
        first = await client.get("/admin/coverage")
        assert "覆盖统计正在计算中" in await first.text()
    assert first.status == 503 and first.headers["Retry-After"] == "15"
    base = await enter(client)
    assert (await client.get(base + "home")).status == 200
    for _ in range(200):  # come back, as Retry-After says (sooner here)
        api = await client.get("/api/v1/coverage", headers={"X-API-Key": key})
        if api.status == 200:
            break
        await asyncio.sleep(0.05)
    body = await api.json()
    assert body["stale"] is False and coverage.computations(db) == 1


async def test_a_change_wakes_the_background_refresh_which_keeps_the_new_figures(client):
    db = client.app[keys.DB]
    for _ in range(100):  # kept by the first refresh, in the background from the start
        before = await db.fetchval("SELECT MAX(computed_at) FROM coverage_latest")
        if before is not None:
            break
        await asyncio.sleep(0.05)
    assert before is not None
    coverage.forget(db)  # as the registry's staff actions do
    for _ in range(100):
        after = await db.fetchval("SELECT MAX(computed_at) FROM coverage_latest")
        if after > before:
            break
        await asyncio.sleep(0.05)
    assert after > before
