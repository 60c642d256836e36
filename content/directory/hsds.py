"""The service directory in Open Referral HSDS 3.0: one organization per office, one service per
service code offered at a point, the point as the location, with phones, schedules, languages
and the region served. Ids are UUIDs derived from our codes, so they never change between runs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from content.directory import points as directory
from content.directory.demo import SERVICES
from content.directory.points import Organization, ServicePoint
from storage import Database

# Fixed namespace of LegalTV's HSDS ids: uuid5(NAMESPACE, "service:sp-150602:legal_aid") etc.
NAMESPACE = uuid.UUID("6f1d3c2e-5b8a-4e37-9c41-0a8e2d7b1506")
STATE_PROVINCE = "内蒙古自治区"
COUNTRY = "CN"
UTC_OFFSET_HOURS = 8  # China Standard Time
LANGUAGE_NAMES = {"zh": "汉语", "mn": "蒙古语"}
SAMPLE_PHONE_NOTE = "示例号码（演示数据，不是真实电话）"
MONGOLIAN_NOTE = "可提供蒙古语服务"
MAX_PER_PAGE = 200


class Region(Protocol):
    code: str
    name: str
    level: str


class Regions(Protocol):
    """What the export needs of the region tree (device_registry.regions.RegionTree fits)."""

    def chain(self, code: str | None) -> Sequence[Region]: ...

    def full_name(self, code: str) -> str: ...


def hsds_id(kind: str, *codes: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join((kind, *codes))))


# --- opening hours -----------------------------------------------------------------------

_DAY = {
    "一": "MO",
    "二": "TU",
    "三": "WE",
    "四": "TH",
    "五": "FR",
    "六": "SA",
    "日": "SU",
    "天": "SU",
}
_WEEK = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DASH = r"\s*(?:至|到|-|—|–|－|~|～)+\s*"
_DAY_RANGE = re.compile(rf"(?:周|星期)([一二三四五六日天]){_DASH}(?:周|星期)?([一二三四五六日天])")
_ONE_DAY = re.compile(r"(?:周|星期)([一二三四五六日天])")
_TIMES = re.compile(rf"(\d{{1,2}})[:：](\d{{2}}){_DASH}(\d{{1,2}})[:：](\d{{2}})")
_ASIDE = re.compile(r"（[^）]*）|\([^)]*\)")


def _days(segment: str) -> list[str]:
    if "每天" in segment or "每日" in segment:
        return list(_WEEK)
    if "工作日" in segment:
        return list(_WEEK[:5])
    days: list[str] = []
    for first, last in _DAY_RANGE.findall(segment):
        a, b = _WEEK.index(_DAY[first]), _WEEK.index(_DAY[last])
        days.extend(_WEEK[a : b + 1] if a <= b else (*_WEEK[a:], *_WEEK[: b + 1]))
    days.extend(_DAY[d] for d in _ONE_DAY.findall(_DAY_RANGE.sub(" ", segment)))
    return [d for d in _WEEK if d in days]


def parse_hours(text: str) -> list[tuple[list[str], str, str]]:
    """Weekly opening times read from Chinese hours text: [(days, "08:30", "12:00"), ...].

    "周一至周五 8:30—12:00，14:30—18:00" gives two rows for Monday to Friday; text it cannot
    read (e.g. "全天可拨打") gives none. Remarks in brackets are ignored.
    """
    rows: list[tuple[list[str], str, str]] = []
    days: list[str] = []
    for segment in re.split(r"[；;。\n]", _ASIDE.sub(" ", text)):
        days = _days(segment) or days
        for h1, m1, h2, m2 in _TIMES.findall(segment):
            opens, closes = (int(h1), int(m1)), (int(h2), int(m2))
            if not days or not all(0 <= h <= 24 and 0 <= m < 60 for h, m in (opens, closes)):
                continue
            if opens < closes:
                rows.append((days, f"{h1.zfill(2)}:{m1}", f"{h2.zfill(2)}:{m2}"))
    return rows


# --- mapping -----------------------------------------------------------------------------


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def organization_object(org: Organization) -> dict:
    return {
        "id": hsds_id("organization", org.code),
        "name": org.name,
        "description": org.description or org.name,
    }


def _phone(point: ServicePoint, owner: str, owner_id: str) -> list[dict]:
    if not point.phone:
        return []
    phone = {
        "id": hsds_id("phone", owner, owner_id),
        f"{owner}_id": owner_id,
        "number": point.phone,
        "type": "voice",
    }
    if point.phone_is_sample:
        phone["description"] = SAMPLE_PHONE_NOTE
    return [phone]


def _languages(point: ServicePoint, owner: str, owner_id: str) -> list[dict]:
    return [
        {
            "id": hsds_id("language", owner, owner_id, code),
            f"{owner}_id": owner_id,
            "name": LANGUAGE_NAMES.get(code, code),
            "code": code,
        }
        for code in point.languages
    ]


def _city(point: ServicePoint, regions: Regions) -> tuple[str, str]:
    """(city name, banner name) of the point's region."""
    by_level = {r.level: r.name for r in regions.chain(point.region_code)}
    return by_level.get("city", ""), by_level.get("county", "")


def location_object(point: ServicePoint, org: Organization | None, regions: Regions) -> dict:
    location_id = hsds_id("location", point.code)
    virtual = point.kind == "hotline"
    location: dict = {
        "id": location_id,
        "location_type": "virtual" if virtual else "physical",
        "name": point.name,
        "description": point.description,
        "external_identifier": point.code,
        "external_identifier_type": "legaltv_service_point",
        "languages": _languages(point, "location", location_id),
        "phones": _phone(point, "location", location_id),
    }
    if org is not None:
        location["organization_id"] = hsds_id("organization", org.code)
    if point.latitude is not None and point.longitude is not None:
        location["latitude"] = point.latitude
        location["longitude"] = point.longitude
    if not virtual and point.address:
        city, banner = _city(point, regions)
        location["addresses"] = [
            {
                "id": hsds_id("address", point.code),
                "location_id": location_id,
                "address_1": point.address,
                "city": city,
                "region": banner,
                "state_province": STATE_PROVINCE,
                "postal_code": "",  # not kept in the directory
                "country": COUNTRY,
                "address_type": "physical",
            }
        ]
    return location


def _schedules(point: ServicePoint, service_id: str) -> list[dict]:
    if not point.hours:
        return []
    parsed = parse_hours(point.hours)
    if not parsed:
        return [
            {
                "id": hsds_id("schedule", service_id),
                "service_id": service_id,
                "description": point.hours,
            }
        ]
    return [
        {
            "id": hsds_id("schedule", service_id, str(n)),
            "service_id": service_id,
            "freq": "WEEKLY",
            "wkst": "MO",
            "byday": ",".join(days),
            "opens_at": opens,
            "closes_at": closes,
            "timezone": UTC_OFFSET_HOURS,
            "description": point.hours,
        }
        for n, (days, opens, closes) in enumerate(parsed, start=1)
    ]


def service_object(
    point: ServicePoint, service: str, org: Organization | None, regions: Regions
) -> dict:
    """One HSDS service: `service` (a code of SERVICES) as offered at `point`."""
    service_id = hsds_id("service", point.code, service)
    label = SERVICES.get(service, service)
    area = point.region_served or point.region_code
    out: dict = {
        "id": service_id,
        "name": f"{label}（{point.name}）",
        "alternate_name": label,
        "description": point.description or f"{point.name}：{label}",
        "status": "active",
        "last_modified": _when(point.updated_at),
        "phones": _phone(point, "service", service_id),
        "schedules": _schedules(point, service_id),
        "service_areas": [
            {
                "id": hsds_id("service_area", service_id),
                "service_id": service_id,
                "name": regions.full_name(area) or area,
                "description": f"行政区划代码 {area}",
                "extent_type": "text",
                "extent": area,
            }
        ],
        "languages": _languages(point, "service", service_id),
        "service_at_locations": [
            {
                "id": hsds_id("service_at_location", point.code, service),
                "service_id": service_id,
                "location_id": hsds_id("location", point.code),
                "location": location_object(point, org, regions),
            }
        ],
    }
    if "mn" in point.languages:
        out["interpretation_services"] = MONGOLIAN_NOTE
    if org is not None:
        out["organization_id"] = hsds_id("organization", org.code)
        out["organization"] = organization_object(org)
    return out


def services_of(
    points: Sequence[ServicePoint], orgs: Mapping[int, Organization], regions: Regions
) -> Iterator[dict]:
    for point in points:
        org = orgs.get(point.organization_id) if point.organization_id is not None else None
        for service in point.services:
            yield service_object(point, service, org, regions)


# --- pages and files ---------------------------------------------------------------------


def page_shape(total: int, page: int, per_page: int, contents: list[dict]) -> dict:
    """The HSDS API's Page: totals, position flags and `contents`."""
    pages = -(-total // per_page) if total else 0
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": not contents,
        "contents": contents,
    }


async def _load(db: Database) -> tuple[list[ServicePoint], dict[int, Organization]]:
    points = await directory.all_points(db)
    orgs = {o.id: o for o in await directory.all_organizations(db)}
    return points, orgs


async def services_page(
    db: Database,
    regions: Regions,
    *,
    page: int = 1,
    per_page: int = 50,
    organization_id: str = "",
) -> dict:
    """One page of services, ordered by point code and then by the point's service order.

    `organization_id` (an HSDS id) keeps the services of one organization.
    """
    points, orgs = await _load(db)
    if organization_id:
        points = [
            p
            for p in points
            if p.organization_id in orgs
            and hsds_id("organization", orgs[p.organization_id].code) == organization_id
        ]
    total = sum(len(p.services) for p in points)
    start, stop = (page - 1) * per_page, page * per_page
    chosen: list[ServicePoint] = []
    seen = 0
    skip_in_first = 0
    for point in points:
        n = len(point.services)
        if seen + n > start and seen < stop:
            if not chosen:
                skip_in_first = start - seen
            chosen.append(point)
        seen += n
        if seen >= stop:
            break
    contents = list(services_of(chosen, orgs, regions))[skip_in_first:][:per_page]
    return page_shape(total, page, per_page, contents)


async def export_services(db: Database, regions: Regions) -> tuple[list[dict], list[dict]]:
    """(services, organizations) of the whole directory."""
    points, orgs = await _load(db)
    organizations = [organization_object(o) for o in sorted(orgs.values(), key=lambda o: o.code)]
    return list(services_of(points, orgs, regions)), organizations


def write_export(folder: Path, services: list[dict], organizations: list[dict]) -> dict[str, int]:
    """Write services.json and organizations.json (JSON arrays of HSDS objects) to `folder`;
    each file appears whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, items in (("services", services), ("organizations", organizations)):
        target = folder / f"{name}.json"
        partial = target.with_suffix(".json.part")
        partial.write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")
        partial.replace(target)
    return {"services": len(services), "organizations": len(organizations)}
