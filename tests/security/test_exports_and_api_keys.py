"""Exports and machine APIs: a name like `=HYPERLINK(…)` never becomes a formula in any CSV or
XLSX export (and the directory CSV still round-trips it), API keys travel in headers (a key in the
query string is refused outside Open311), each key is rate-limited on Open311 and the coverage
API, and concurrent recomputations of the coverage figures run once."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time

import pytest
from openpyxl import load_workbook

from accounts import apikeys
from content.directory import csv_io as directory_io
from content.directory import points as directory
from device_registry import coverage
from storage import sheets
from tests.helpers import login, make_settings, test_database
from tv_server import cli, keys
from tv_server.app import create_app
from tv_server.migrations import MIGRATIONS

HYPERLINK = '=HYPERLINK("http://x","y")'
SUM = "@SUM(1)"
VILLAGE = "150602001001"  # DEMO-0001's village: county 150602, township 150602001
COUNTY, TOWNSHIP = "150602", "150602001"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


# -- hostile names everywhere an export can show one -----------------------------------------


async def _rename_regions(data_dir) -> None:
    """Region names as an operator's division file could bring them (`legaltv regions import`)."""
    db = test_database(data_dir)
    await db.open()
    try:
        await db.migrate(MIGRATIONS)
        await db.execute("UPDATE regions SET name = ? WHERE level = 'city'", (SUM,))
        await db.execute("UPDATE regions SET name = ? WHERE code = ?", (HYPERLINK, COUNTY))
        await db.execute("UPDATE regions SET name = ? WHERE code = ?", ("-2+3", TOWNSHIP))
        await db.execute("UPDATE regions SET name = ? WHERE code = ?", ("+1", VILLAGE))
    finally:
        await db.close()


HOSTILE_POINT = {
    "code": "sp-hostile",
    "name": HYPERLINK,
    "kind": "village_room",
    "region_code": VILLAGE,
    "address": SUM,
    "hours": "+1 全天",
    "phone": "",
    "phone_is_sample": "0",
    "services": "consultation",
    "languages": "zh",
    "description": "-1",
}


@pytest.fixture
async def hostile(front_client, data_dir):
    """The real app over a registry where a service point, a household, a callback request and
    the regions carry names that spreadsheets would read as formulas."""
    await _rename_regions(data_dir)
    client = await front_client(create_app(make_settings(data_dir)))
    db, tree = client.app[keys.DB], client.app[keys.REGIONS]
    await directory.create_point(db, HOSTILE_POINT, known_regions=tree.by_code)
    await directory.create_point(
        db, {**HOSTILE_POINT, "code": "sp-hostile-2", "name": SUM}, known_regions=tree.by_code
    )
    _k, operator = await apikeys.create(db, "operator", ["devices:write", "open311:write"])
    enrolled = await client.post(
        "/api/v1/devices",
        json={"serial": "HOSTILE-1", "village_code": VILLAGE, "household_label": HYPERLINK},
        headers={"X-API-Key": operator},
    )
    assert enrolled.status == 201, await enrolled.text()
    created = await client.post(
        "/open311/v2/requests.json",
        data={
            "service_code": "consultation",
            "phone": "13800138000",
            "address_id": VILLAGE,
            "attribute[time_window]": "morning",
            "api_key": operator,  # the hotline's way, as GeoReport v2 defines it
        },
    )
    assert created.status == 201, await created.text()
    assert (await login(client, "admin")).status == 303
    return client


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def assert_csv_guarded(body: bytes, *hostile: str) -> list[list[str]]:
    """No text cell starts a formula; each hostile text is there, behind one `'`."""
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    cells = [c for row in rows for c in row]
    formulas = [c for c in cells if c.startswith(TRIGGERS) and not _number(c)]
    assert formulas == []
    for text in hostile:
        assert any(c.startswith("'" + text) for c in cells), text
    return rows


def assert_xlsx_guarded(body: bytes, *hostile: str) -> None:
    """No cell is a formula; each hostile text is there as a string cell."""
    book = load_workbook(io.BytesIO(body))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    for text in hostile:
        found = [c for c in cells if isinstance(c.value, str) and c.value.startswith(text)]
        assert found and all(c.data_type == "s" for c in found), text


# (admin URL, what each export must show)
EXPORTS = [
    ("/admin/callbacks/figures?format={fmt}", [HYPERLINK]),  # per banner+township name
    ("/admin/coverage?format={fmt}", [SUM, HYPERLINK]),  # the city and its banners
    (f"/admin/coverage?region={TOWNSHIP}&format={{fmt}}", ["-2+3", "+1"]),
    ("/admin/coverage/readiness?format={fmt}", [SUM]),  # full names start with the city
    (f"/admin/coverage/readiness?region={COUNTY}&format={{fmt}}", [SUM]),
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(("url", "shown"), EXPORTS, ids=[u.split("?")[0] for u, _ in EXPORTS])
async def test_no_export_cell_runs_as_a_formula(hostile, url, shown, fmt):
    response = await hostile.get(url.format(fmt=fmt))
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith(sheets.CONTENT_TYPES[fmt])
    body = await response.read()
    if fmt == "csv":
        assert_csv_guarded(body, *shown)
    else:
        assert_xlsx_guarded(body, *shown)


async def test_the_directory_csv_guards_names_and_imports_them_back_unchanged(hostile):
    response = await hostile.get("/admin/directory/export.csv")
    assert response.status == 200
    body = await response.read()
    rows = assert_csv_guarded(body, HYPERLINK, SUM, "+1 全天", "-1")
    header = rows[0]
    mine = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:] if r[0].startswith("sp-h")}
    assert mine["sp-hostile"]["name"] == "'" + HYPERLINK
    assert mine["sp-hostile-2"]["name"] == "'" + SUM
    # Read back, the file changes nothing: the `'` the export added is taken off again.
    db, tree = hostile.app[keys.DB], hostile.app[keys.REGIONS]
    _plan, applied = await directory_io.import_csv(db, directory_io.decode(body), tree.by_code)
    assert applied.created == [] and applied.updated == []
    point = await directory.get_point(db, "sp-hostile")
    assert (point.name, point.address, point.hours) == (HYPERLINK, SUM, "+1 全天")


async def test_a_name_that_really_starts_with_a_quote_round_trips(client):
    db, tree = client.app[keys.DB], client.app[keys.REGIONS]
    names = {"sp-q1": "'=1+1", "sp-q2": "'引号开头", "sp-q3": "''@x"}
    for code, name in names.items():
        await directory.create_point(
            db, {**HOSTILE_POINT, "code": code, "name": name}, known_regions=tree.by_code
        )
    text = directory_io.decode(await directory_io.export_csv(db))
    cells = {r[0]: r[1] for r in csv.reader(io.StringIO(text))}
    # Only text a spreadsheet would read as a formula gets the extra quote.
    assert cells == {**cells, "sp-q1": "''=1+1", "sp-q2": "'引号开头", "sp-q3": "'''@x"}
    _plan, applied = await directory_io.import_csv(db, text, tree.by_code)
    assert applied.updated == []
    for code, name in names.items():
        assert (await directory.get_point(db, code)).name == name


def test_the_cli_directory_export_is_guarded(data_dir, tmp_path, capsys):
    async def add() -> None:
        db = test_database(data_dir)
        await db.open()
        try:
            await db.migrate(MIGRATIONS)
            regions = {r[0] for r in await db.fetchall("SELECT code FROM regions")}
            await directory.create_point(db, HOSTILE_POINT, known_regions=regions)
        finally:
            await db.close()

    asyncio.run(add())
    target = tmp_path / "directory.csv"
    assert cli.main(["directory", "export", str(target), "--data-dir", str(data_dir)]) == 0
    assert_csv_guarded(target.read_bytes(), HYPERLINK, SUM)
    # ... and the CLI import of that file leaves the point as it was.
    assert cli.main(["directory", "import", str(target), "--data-dir", str(data_dir)]) == 0
    assert "0 created, 0 updated" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+86 477", "-1", "@SUM(1)", "\tx", "\rx", "'=x", "''@x", "'abc", "abc", "", "1-2"],
)
def test_guarding_a_cell_is_undone_exactly_by_the_import(text):
    guarded = sheets.guard(text)
    assert not guarded.startswith(TRIGGERS)
    assert sheets.unguard(guarded) == text


# -- API keys in headers, not in URLs ----------------------------------------------------------


async def test_api_keys_work_in_headers_and_are_refused_in_the_query_outside_open311(client):
    db = client.app[keys.DB]
    _k, raw = await apikeys.create(
        db, "operator", ["coverage:read", "devices:read", "open311:read"]
    )
    headers = [{"X-API-Key": raw}, {"Authorization": f"Bearer {raw}"}]
    for url in ("/api/v1/coverage", "/api/v1/devices/DEMO-0001"):
        for header in headers:
            response = await client.get(url, headers=header)
            assert response.status == 200, (url, header, await response.text())
        response = await client.get(url, params={"api_key": raw})
        assert response.status == 400, url
        error = (await response.json())["error"]
        assert error["code"] == "api_key_in_query" and "X-API-Key" in error["message"]
        # Even beside a good header: the key must not travel in the URL at all.
        response = await client.get(url, params={"api_key": raw}, headers=headers[0])
        assert response.status == 400
    # Open311 keeps the spec's api_key parameter, and takes the headers too.
    for kwargs in ({"params": {"api_key": raw}}, *({"headers": h} for h in headers)):
        response = await client.get("/open311/v2/requests.json", **kwargs)
        assert response.status == 200, (kwargs, await response.text())
    response = await client.get("/open311/v2/requests.json", headers={"X-API-Key": "ltv_bad"})
    assert response.status == 403
    assert (await response.json())[0]["code"] == 403


async def test_the_openapi_documents_declare_the_header_keys(client):
    devices = await (await client.get("/api/v1/openapi.json")).json()
    schemes = devices["components"]["securitySchemes"]
    assert schemes["apiKeyHeader"] == {
        **schemes["apiKeyHeader"],
        "in": "header",
        "name": "X-API-Key",
    }
    assert schemes["apiKey"]["scheme"] == "bearer"
    get_coverage = devices["paths"]["/api/v1/coverage"]["get"]
    assert "api_key" not in {p["name"] for p in get_coverage.get("parameters", [])}
    assert {"429"} <= set(get_coverage["responses"])
    open311 = await (await client.get("/open311/v2/openapi.json")).json()
    assert {
        (s.get("in"), s.get("name") or s.get("scheme"))
        for s in open311["components"]["securitySchemes"].values()
    } == {("query", "api_key"), ("header", "X-API-Key"), (None, "bearer")}
    listing = open311["paths"]["/open311/v2/requests.json"]["get"]
    assert len(listing["security"]) == 3 and "429" in listing["responses"]


# -- per-key rate limits -----------------------------------------------------------------------


@pytest.fixture
async def limited(front_client, data_dir):
    return await front_client(create_app(make_settings(data_dir, api_key_requests_per_minute=3)))


def _retry_after(response) -> int:
    value = response.headers["Retry-After"]
    assert re.fullmatch(r"[0-9]+", value), value
    assert 1 <= int(value) <= 60
    return int(value)


async def test_open311_answers_429_per_key_in_its_own_error_shape(limited):
    db = limited.app[keys.DB]
    _k, first = await apikeys.create(db, "hotline", ["open311:read"])
    _k, second = await apikeys.create(db, "backup", ["open311:read"])
    for _ in range(3):
        response = await limited.get("/open311/v2/requests.json", params={"api_key": first})
        assert response.status == 200
    response = await limited.get("/open311/v2/requests.json", headers={"X-API-Key": first})
    assert response.status == 429
    _retry_after(response)
    body = await response.json()
    assert body[0]["code"] == 429 and "Retry-After" in body[0]["description"]
    # Another key has its own budget.
    response = await limited.get("/open311/v2/requests.json", headers={"X-API-Key": second})
    assert response.status == 200


async def test_the_coverage_api_answers_429_per_key(limited):
    db = limited.app[keys.DB]
    _k, first = await apikeys.create(db, "operator", ["coverage:read"])
    _k, second = await apikeys.create(db, "other", ["coverage:read"])
    for _ in range(3):
        assert (await limited.get("/api/v1/coverage", headers={"X-API-Key": first})).status == 200
    response = await limited.get("/api/v1/coverage", headers={"X-API-Key": first})
    assert response.status == 429
    _retry_after(response)
    assert (await response.json())["error"]["code"] == "rate_limited"
    assert (await limited.get("/api/v1/coverage", headers={"X-API-Key": second})).status == 200


# -- coverage recomputation: once, shared, one per viewer ----------------------------------------


async def _until(condition) -> None:
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 (state inside the server, polled)
            await asyncio.sleep(0.01)


async def test_concurrent_fresh_recomputations_run_once_and_share_the_result(front_client, client):
    db = client.app[keys.DB]
    assert (await login(client, "admin")).status == 303
    other = await front_client(client.server)
    assert (await login(other, "viewer")).status == 303
    _k, key = await apikeys.create(db, "operator", ["coverage:read"])
    since, until = coverage.day_of(time.time() - 20 * 86400), coverage.day_of(time.time())
    page = f"/admin/coverage?since={since}&until={until}&fresh=1"
    api = f"/api/v1/coverage?since={since}&until={until}"
    before = coverage.computations(db)

    # While a computation holds the figures (as a long one over a million boxes would), ten
    # requests from two staff members and an operator's system ask for the same period afresh.
    async with coverage._of(db).lock:
        answers = [
            asyncio.ensure_future(r)
            for r in [
                *(client.get(page) for _ in range(4)),
                *(other.get(page) for _ in range(3)),
                *(client.get(api, headers={"X-API-Key": key}) for _ in range(3)),
            ]
        ]
        await _until(lambda: coverage.in_flight(db) == 1)
        await asyncio.sleep(1.0)  # let the others arrive and wait for it
    answers = await asyncio.gather(*answers)

    assert [a.status for a in answers] == [200] * 10
    assert coverage.computations(db) == before + 1
    stamps = {re.search(r"数据更新于 ([0-9:]+)", await a.text()).group(1) for a in answers[:7]}
    as_of = {(await a.json())["as_of"] for a in answers[7:]}
    assert len(stamps) == 1 and len(as_of) == 1


async def test_a_viewer_cannot_start_a_second_recomputation_while_the_first_runs(
    front_client, client
):
    db = client.app[keys.DB]
    assert (await login(client, "viewer")).status == 303
    other = await front_client(client.server)
    assert (await login(other, "admin")).status == 303
    _k, key = await apikeys.create(db, "operator", ["coverage:read"])
    today = coverage.day_of(time.time())
    p5, p6, p7 = (coverage.day_of(time.time() - n * 86400) for n in (5, 6, 7))
    before = coverage.computations(db)

    async with coverage._of(db).lock:  # a long computation runs
        first = asyncio.ensure_future(client.get(f"/admin/coverage?since={p5}&until={today}"))
        await _until(lambda: coverage.in_flight(db) == 1)
        # The same viewer, another period: refused at once, without waiting.
        second = await asyncio.wait_for(
            client.get(f"/admin/coverage?since={p6}&until={today}&fresh=1"), 30
        )
        assert second.status == 429
        _retry_after(second)
        assert "重新统计还没有完成" in await second.text()
        # Someone else may start that one; an API key has its own turn.
        someone_else = asyncio.ensure_future(other.get(f"/admin/coverage?since={p6}&until={today}"))
        await _until(lambda: coverage.in_flight(db) == 2)
        api_first = asyncio.ensure_future(
            client.get(f"/api/v1/coverage?since={p7}", headers={"X-API-Key": key})
        )
        await _until(lambda: coverage.in_flight(db) == 3)
        # A period another viewer's computation will bring is joined (it starts none).
        api_joined = asyncio.ensure_future(
            client.get(f"/api/v1/coverage?since={p5}&until={today}", headers={"X-API-Key": key})
        )
        api_refused = await asyncio.wait_for(
            client.get(f"/api/v1/coverage?since={p6}&until={p7}", headers={"X-API-Key": key}), 30
        )
        assert api_refused.status == 429
        _retry_after(api_refused)
        assert (await api_refused.json())["error"]["code"] == "computation_running"
        await asyncio.sleep(0.5)
    first, someone_else, api_first, api_joined = await asyncio.gather(
        first, someone_else, api_first, api_joined
    )

    assert [r.status for r in (first, someone_else, api_first, api_joined)] == [200] * 4
    assert coverage.computations(db) == before + 3
