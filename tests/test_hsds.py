"""The HSDS 3.0 export: every service of the demo directory validates against the project's
copy of service.json, the API answers the HSDS Page shape (validated through openapi.json and
its $ref to service_list.json), ids are stable, opening hours become schedules."""

from __future__ import annotations

import json
import uuid
from importlib import resources

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from content.directory import hsds
from content.directory import points as directory
from device_registry.regions import RegionTree
from tv_server import cli

SCHEMAS = resources.files("content.directory.hsds_schema")
SERVICE_LIST_URI = (
    "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/compiled/"
    "service_list.json"
)
OPENAPI_URI = "https://legaltv.invalid/hsds/openapi.json"
SERVICES_200 = "#/paths/~1services/get/responses/200/content/application~1json/schema"
PAGE_KEYS = {
    "total_items",
    "total_pages",
    "page_number",
    "size",
    "first_page",
    "last_page",
    "empty",
    "contents",
}


def schema(name: str) -> dict:
    return json.loads(SCHEMAS.joinpath(name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def service_validator():
    return jsonschema.Draft202012Validator(
        schema("service.json"), format_checker=jsonschema.FormatChecker()
    )


@pytest.fixture(scope="module")
def page_validator():
    """The HSDS API's /services response: Page (from openapi.json) with `contents` items that
    $ref service_list.json by its published address, resolved to our copy."""
    registry = Registry().with_resources(
        [
            (OPENAPI_URI, Resource(contents=schema("openapi.json"), specification=DRAFT202012)),
            (
                SERVICE_LIST_URI,
                Resource(contents=schema("service_list.json"), specification=DRAFT202012),
            ),
        ]
    )
    return jsonschema.Draft202012Validator(
        {"$ref": OPENAPI_URI + SERVICES_200},
        registry=registry,
        format_checker=jsonschema.FormatChecker(),
    )


def problems(validator, instance) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


async def test_every_demo_service_validates_against_service_json(db, service_validator):
    tree = await RegionTree.load(db)
    services, organizations = await hsds.export_services(db, tree)
    points = await directory.all_points(db)

    assert len(services) == sum(len(p.services) for p in points) > 1000
    assert len(organizations) == 352
    bad = {s["id"]: problems(service_validator, s) for s in services}
    assert {k: v for k, v in bad.items() if v} == {}
    assert len({s["id"] for s in services}) == len(services)


async def test_an_invalid_service_is_caught_by_the_schema(db, service_validator):
    """The validation above can fail: a broken service does not pass."""
    tree = await RegionTree.load(db)
    service = (await hsds.export_services(db, tree))[0][0]
    broken = {**service, "status": "open", "id": "not-a-uuid"}
    del broken["name"]
    messages = " ".join(problems(service_validator, broken))
    assert "'name' is a required property" in messages
    assert "'open' is not one of" in messages
    assert "is not a 'uuid'" in messages


async def test_the_mapping_carries_location_phones_schedules_languages_and_area(db):
    tree = await RegionTree.load(db)
    services, _orgs = await hsds.export_services(db, tree)
    point = await directory.get_point(db, "sp-150625")  # 杭锦旗, a pastoral banner
    mine = [
        s
        for s in services
        if s["service_at_locations"][0]["location"]["external_identifier"] == point.code
    ]
    assert [s["alternate_name"] for s in mine] == [
        "法律咨询",
        "法律援助",
        "人民调解",
        "律师调解",
        "公证",
        "司法鉴定",
        "法治宣传",
        "社区矫正",
        "仲裁指引",
    ]
    legal_aid = mine[1]
    assert legal_aid["id"] == hsds.hsds_id("service", "sp-150625", "legal_aid")
    assert legal_aid["organization"]["name"] == point.name
    assert [lang["code"] for lang in legal_aid["languages"]] == ["zh", "mn"]
    assert legal_aid["phones"][0]["number"] == point.phone
    assert "示例号码" in legal_aid["phones"][0]["description"]
    assert legal_aid["service_areas"][0]["name"] == "鄂尔多斯市杭锦旗"
    address = legal_aid["service_at_locations"][0]["location"]["addresses"][0]
    assert (address["address_1"], address["city"], address["region"], address["country"]) == (
        point.address,
        "鄂尔多斯市",
        "杭锦旗",
        "CN",
    )
    assert [(s["byday"], s["opens_at"], s["closes_at"]) for s in legal_aid["schedules"]] == [
        ("MO,TU,WE,TH,FR", "08:30", "12:00"),
        ("MO,TU,WE,TH,FR", "14:30", "18:00"),
    ]
    assert all(s["description"] == point.hours for s in legal_aid["schedules"])
    hotline = next(s for s in services if s["phones"] and s["phones"][0]["number"] == "12348")
    assert hotline["service_at_locations"][0]["location"]["location_type"] == "virtual"
    assert "description" not in hotline["phones"][0]  # a real number, not a sample


async def test_ids_are_stable_uuids_between_exports(db):
    tree = await RegionTree.load(db)
    first = (await hsds.export_services(db, tree))[0]
    second = (await hsds.export_services(db, tree))[0]
    assert [s["id"] for s in first] == [s["id"] for s in second]
    assert all(uuid.UUID(s["id"]).version == 5 for s in first)


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        (
            "周一至周五 8:30—12:00，14:30—18:00",
            [("MO,TU,WE,TH,FR", "08:30", "12:00"), ("MO,TU,WE,TH,FR", "14:30", "18:00")],
        ),
        ("每周二、周四 9:00—12:00（其他时间请拨打12348）", [("TU,TH", "09:00", "12:00")]),
        (
            "周一至周五 8:30-17:00；周六 9:00~11:30",
            [("MO,TU,WE,TH,FR", "08:30", "17:00"), ("SA", "09:00", "11:30")],
        ),
        ("每天 8:00—20:00", [("MO,TU,WE,TH,FR,SA,SU", "08:00", "20:00")]),
        ("全天可拨打，人工服务时间以热线公告为准", []),
        ("9:00—12:00", []),  # no days: cannot say when
    ],
)
def test_opening_hours_become_weekly_schedules_where_readable(text, rows):
    assert [(",".join(d), o, c) for d, o, c in hsds.parse_hours(text)] == rows


async def test_api_answers_a_valid_hsds_page(client, page_validator, service_validator):
    response = await client.get(
        "/api/v1/directory/hsds/services", params={"page": "2", "per_page": "10"}
    )
    assert response.status == 200
    assert "public" in response.headers["Cache-Control"]
    page = await response.json()
    assert set(page) == PAGE_KEYS
    assert problems(page_validator, page) == []
    assert (
        page["page_number"],
        page["size"],
        page["first_page"],
        page["last_page"],
        page["empty"],
    ) == (2, 10, False, False, False)
    assert page["total_pages"] == -(-page["total_items"] // 10)
    assert all(problems(service_validator, s) == [] for s in page["contents"])

    first = await (await client.get("/api/v1/directory/hsds/services?per_page=20")).json()
    assert [s["id"] for s in first["contents"][10:]] == [s["id"] for s in page["contents"]]


async def test_api_last_page_and_beyond(client, page_validator):
    first = await (await client.get("/api/v1/directory/hsds/services?per_page=200")).json()
    total, pages = first["total_items"], first["total_pages"]
    last = await (
        await client.get(f"/api/v1/directory/hsds/services?per_page=200&page={pages}")
    ).json()
    assert last["last_page"] is True and last["size"] == total - 200 * (pages - 1)
    beyond = await (
        await client.get(f"/api/v1/directory/hsds/services?per_page=200&page={pages + 1}")
    ).json()
    assert (beyond["empty"], beyond["contents"], beyond["last_page"]) == (True, [], True)
    assert problems(page_validator, beyond) == []


async def test_api_answers_an_etag_and_304(client):
    url = "/api/v1/directory/hsds/services?per_page=5"
    response = await client.get(url)
    etag = response.headers["ETag"]
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status == 304


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("page=0", "page_invalid"),
        ("page=abc", "page_invalid"),
        ("page=-1", "page_invalid"),
        ("per_page=0", "per_page_invalid"),
        ("per_page=1000", "per_page_invalid"),
        ("per_page=2.5", "per_page_invalid"),
    ],
)
async def test_api_bad_page_parameters_are_400_json(client, query, code):
    response = await client.get(f"/api/v1/directory/hsds/services?{query}")
    assert response.status == 400
    body = await response.json()
    assert body["error"]["code"] == code and body["error"]["message"]


async def test_api_filters_by_organization(client):
    org = hsds.hsds_id("organization", "org-150602")
    page = await (await client.get(f"/api/v1/directory/hsds/services?organization_id={org}")).json()
    assert page["total_items"] == 9
    assert {s["organization_id"] for s in page["contents"]} == {org}


def test_cli_export_hsds_writes_valid_files(data_dir, tmp_path, capsys, service_validator):
    folder = tmp_path / "hsds"
    assert cli.main(["directory", "export-hsds", str(folder), "--data-dir", str(data_dir)]) == 0
    assert "services and 352 organizations" in capsys.readouterr().out
    services = json.loads((folder / "services.json").read_text(encoding="utf-8"))
    organizations = json.loads((folder / "organizations.json").read_text(encoding="utf-8"))
    assert len(organizations) == 352 and len(services) > 1000
    assert all(problems(service_validator, s) == [] for s in services[:50])


async def test_api_pages_are_gzipped_for_clients_that_ask(client):
    response = await client.get(
        "/api/v1/directory/hsds/services?per_page=50", headers={"Accept-Encoding": "gzip"}
    )
    assert response.headers["Content-Encoding"] == "gzip"
    assert (await response.json())["size"] == 50
