"""The demo service directory and demo boxes, checked against the official division tree."""

from __future__ import annotations

import collections
import copy
import csv
import re
from pathlib import Path

import phonenumbers
import pytest

from content.directory.demo import (
    KINDS,
    PASTORAL_BANNERS,
    SERVICES,
    demo_service_points,
)
from device_registry.demo_boxes import MODELS, demo_boxes, pilot_village_codes
from device_registry.regions import village_display_name

DIVISIONS_CSV = Path(__file__).resolve().parents[1] / "device_registry/data/ordos_divisions.csv"
POINT_KEYS = {
    "code",
    "name",
    "kind",
    "region_code",
    "address",
    "hours",
    "phone",
    "phone_is_sample",
    "services",
    "languages",
    "description",
    "name_mn",  # a drafted Mongolian name in the pastoral banners, else empty
}
BOX_KEYS = {"serial", "mac", "model", "village_code", "household_label", "installed_at", "state"}
FAMILIES = {"browser", "hbbtv", "huawei", "ipanel", "coship", "inspur", "enrich", "satellite"}
MAC_RE = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")


@pytest.fixture(scope="module")
def regions() -> list[dict]:
    with DIVISIONS_CSV.open(encoding="utf-8", newline="") as f:
        return [dict(row) for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def by_code(regions) -> dict[str, dict]:
    return {r["code"]: r for r in regions}


@pytest.fixture(scope="module")
def points(regions) -> list[dict]:
    return demo_service_points(regions)


@pytest.fixture(scope="module")
def boxes(regions) -> list[dict]:
    return demo_boxes(regions)


@pytest.fixture(scope="module")
def first_township(regions) -> str:
    return min(
        r["code"] for r in regions if r["level"] == "township" and r["parent_code"] == "150602"
    )


def _villages_of(regions, township: str) -> list[str]:
    return sorted(
        r["code"] for r in regions if r["level"] == "village" and r["parent_code"] == township
    )


def _banner_of(code: str) -> str:
    return code[:6]


# --- the service directory ---------------------------------------------------------------


def test_services_keep_their_codes_in_order():
    assert list(SERVICES) == [
        "consultation",
        "legal_aid",
        "mediation",
        "lawyer_mediation",
        "notarisation",
        "appraisal",
        "education",
        "correction",
        "arbitration_guide",
    ]
    assert SERVICES["mediation"] == "人民调解"


def test_every_point_has_exactly_the_documented_keys(points):
    for point in points:
        assert set(point) == POINT_KEYS, point["code"]
        assert point["kind"] in KINDS
        assert all(
            isinstance(point[k], str) and point[k]
            for k in POINT_KEYS - {"phone_is_sample", "services", "languages", "name_mn"}
        )


def test_one_hotline_one_city_centre_and_one_centre_per_banner(points):
    kinds = collections.Counter(p["kind"] for p in points)
    assert kinds["hotline"] == 1
    assert kinds["city_centre"] == 1
    assert kinds["banner_centre"] == 9
    assert kinds["township_station"] == 88


def test_hotline_is_the_real_12348_without_correction(points):
    (hotline,) = [p for p in points if p["kind"] == "hotline"]
    assert hotline["name"] == "12348公共法律服务热线"
    assert hotline["region_code"] == "1506"
    assert hotline["phone"] == "12348"
    assert hotline["phone_is_sample"] is False
    assert hotline["services"] == [c for c in SERVICES if c != "correction"]


def test_centres_offer_everything(points):
    for point in points:
        if point["kind"] in ("city_centre", "banner_centre"):
            assert point["services"] == list(SERVICES)
    (city,) = [p for p in points if p["kind"] == "city_centre"]
    assert city["name"] == "鄂尔多斯市公共法律服务中心"


def test_each_township_has_its_station(regions, by_code, points):
    stations = {p["region_code"]: p for p in points if p["kind"] == "township_station"}
    townships = {r["code"] for r in regions if r["level"] == "township"}
    assert set(stations) == townships
    for code, station in stations.items():
        assert station["name"] == f"{by_code[code]['name']}司法所公共法律服务工作站"
        assert set(station["services"]) == {
            "consultation",
            "mediation",
            "legal_aid",
            "education",
            "correction",
        }
    assert "苏力德苏木司法所公共法律服务工作站" in {p["name"] for p in stations.values()}


def test_point_codes_are_unique_slugs(points):
    codes = [p["code"] for p in points]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"sp-[0-9]+", c) for c in codes)


def test_region_codes_match_the_kind(by_code, points):
    level_of_kind = {
        "hotline": "city",
        "city_centre": "city",
        "banner_centre": "county",
        "township_station": "township",
        "village_room": "village",
    }
    for point in points:
        assert by_code[point["region_code"]]["level"] == level_of_kind[point["kind"]]


def test_village_rooms_cover_about_a_quarter_and_the_required_villages(
    regions, points, first_township
):
    rooms = {p["region_code"] for p in points if p["kind"] == "village_room"}
    villages = [r for r in regions if r["level"] == "village"]
    assert 0.2 <= len(rooms) / len(villages) <= 0.3
    assert set(_villages_of(regions, first_township)) <= rooms
    for township in (r["code"] for r in regions if r["level"] == "township"):
        assert set(_villages_of(regions, township)[:3]) <= rooms, township


def test_services_are_known_codes_and_fit_the_kind(points):
    for point in points:
        assert point["services"], point["code"]
        assert set(point["services"]) <= set(SERVICES)
        assert point["services"] == [c for c in SERVICES if c in point["services"]]
        if point["kind"] == "village_room":
            assert point["services"] == ["consultation", "mediation", "education"]


def test_sample_phones_are_valid_ordos_landlines(points):
    for point in points:
        if not point["phone_is_sample"]:
            assert point["kind"] == "hotline"
            continue
        assert re.fullmatch(r"0477-\d{7}", point["phone"]), point["phone"]
        number = phonenumbers.parse(point["phone"], "CN")
        assert phonenumbers.is_valid_number(number), point["phone"]
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE
    phones = [p["phone"] for p in points]
    assert len(phones) == len(set(phones))


def test_pastoral_points_are_bilingual(by_code, points):
    for point in points:
        region = by_code[point["region_code"]]
        chain = [region]
        while chain[-1]["parent_code"]:
            chain.append(by_code[chain[-1]["parent_code"]])
        pastoral = _banner_of(region["code"]) in PASTORAL_BANNERS or any(
            mark in r["name"] for r in chain for mark in ("苏木", "嘎查")
        )
        assert point["languages"] in (["zh"], ["zh", "mn"])
        if pastoral:
            assert point["languages"] == ["zh", "mn"], point["name"]
    assert {p["region_code"] for p in points if p["languages"] == ["zh"]}  # not all bilingual


@pytest.mark.parametrize(
    ("raw", "short"),
    [
        ("大树湾村委会", "大树湾村"),
        ("花亥图村村委会", "花亥图村"),
        ("红进滩村民委员会", "红进滩村"),
        ("巴音温都尔嘎查村民委员会", "巴音温都尔嘎查"),
        ("斯布扣嘎查村委员会", "斯布扣嘎查"),
        ("朝阳社区居民委员会", "朝阳社区"),
        ("南丁社区居委会", "南丁社区"),
        ("海岱嘎查", "海岱嘎查"),
        ("尔圪壕嘎查村", "尔圪壕嘎查村"),
        ("吉劳庆社区", "吉劳庆社区"),
    ],
)
def test_village_display_name_drops_the_committee(raw, short):
    assert village_display_name(raw) == short


def test_village_room_names_and_addresses_use_the_region_names(by_code, points):
    for point in points:
        if point["kind"] != "village_room":
            continue
        village = by_code[point["region_code"]]
        township = by_code[village["parent_code"]]
        short = village_display_name(village["name"])
        assert point["name"] == f"{short}公共法律服务室"
        assert point["address"].startswith(
            by_code[township["parent_code"]]["name"] + township["name"]
        )


def test_directory_is_deterministic_and_independent_of_row_order(regions):
    first = demo_service_points(regions)
    assert demo_service_points(copy.deepcopy(regions)) == first
    assert demo_service_points(list(reversed(regions))) == first


def test_directory_rejects_a_tree_without_city(regions):
    with pytest.raises(ValueError):
        demo_service_points([r for r in regions if r["level"] != "city"])


# --- the demo boxes ----------------------------------------------------------------------


def test_models_are_well_formed():
    names = [m["model"] for m in MODELS]
    assert len(names) == len(set(names))
    assert "Desktop browser (test)" in names
    for model in MODELS:
        assert set(model) == {"model", "vendor", "family", "profile"}
        assert model["family"] in FAMILIES
        assert model["profile"] in ("720p", "1080p", "2160p")


def test_boxes_have_the_documented_keys(boxes, by_code):
    models = {m["model"] for m in MODELS}
    assert len(boxes) >= 200
    for box in boxes:
        assert set(box) == BOX_KEYS
        assert box["model"] in models
        assert by_code[box["village_code"]]["level"] == "village"
        assert box["state"] == "active"
        assert box["household_label"].endswith("家")
        assert box["installed_at"].startswith("2026-")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", box["installed_at"])


def test_serials_are_contiguous_from_demo_0001(boxes):
    assert [b["serial"] for b in boxes] == [f"DEMO-{i:04d}" for i in range(1, len(boxes) + 1)]


def test_macs_are_unique_locally_administered_unicast(boxes):
    macs = [b["mac"].lower() for b in boxes]
    assert len(macs) == len(set(macs))
    for mac in macs:
        assert MAC_RE.match(mac), mac
        first_octet = int(mac[:2], 16)
        assert first_octet & 0b10, mac  # locally administered
        assert not first_octet & 0b01, mac  # unicast
        assert mac.startswith("02:")


def test_demo_0001_is_the_desktop_browser_in_the_first_village(regions, boxes, first_township):
    first_village = _villages_of(regions, first_township)[0]
    assert boxes[0]["serial"] == "DEMO-0001"
    assert boxes[0]["village_code"] == first_village == "150602001001"
    assert boxes[0]["model"] == "Desktop browser (test)"
    assert first_village in pilot_village_codes(regions)
    for box in boxes[1:20]:
        assert box["village_code"][:9] == first_township, box["serial"]


def test_boxes_spread_over_banners_and_villages(boxes):
    assert len({_banner_of(b["village_code"]) for b in boxes}) >= 4
    assert len({b["village_code"] for b in boxes}) >= 30


def test_about_a_third_of_the_boxes_are_outside_the_pilot(regions, boxes):
    pilot = set(pilot_village_codes(regions))
    outside = [b for b in boxes if b["village_code"] not in pilot]
    assert 0.25 <= len(outside) / len(boxes) <= 0.4


def test_pilot_wave_is_the_first_township_plus_one_township_in_two_more_banners(
    regions, by_code, first_township
):
    pilot = pilot_village_codes(regions)
    assert pilot == sorted(set(pilot))
    assert all(by_code[c]["level"] == "village" for c in pilot)
    assert set(_villages_of(regions, first_township)) <= set(pilot)
    townships = {c[:9] for c in pilot}
    assert {_banner_of(t) for t in townships} == {"150602", "150621", "150626"}
    assert len(townships) == 3


def test_household_labels_are_unique_per_village(boxes):
    labels = [(b["village_code"], b["household_label"]) for b in boxes]
    assert len(labels) == len(set(labels))


def test_boxes_are_deterministic(regions, boxes):
    assert demo_boxes(regions) == boxes
    assert demo_boxes(list(reversed(regions))) == boxes
    assert pilot_village_codes(regions) == pilot_village_codes(copy.deepcopy(regions))


@pytest.mark.parametrize("count", [1, 5, 20, 21, 30, 1000])
def test_any_count_gives_that_many_boxes_starting_with_demo_0001(regions, count):
    boxes = demo_boxes(regions, count=count)
    assert len(boxes) == count
    assert boxes[0]["village_code"] == "150602001001"
    assert len({b["mac"] for b in boxes}) == count


@pytest.mark.parametrize("count", [0, -1, 10_000])
def test_impossible_counts_are_refused(regions, count):
    with pytest.raises(ValueError):
        demo_boxes(regions, count=count)
