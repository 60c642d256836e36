"""Demo service directory for Ordos, built from the official division tree.

Pure functions: given the division rows (city, banners, townships, villages) they return the
four-level network of service points (hotline, city and banner centres, township stations,
village rooms) with generic addresses and obviously sample phone numbers, the same every time.
"""

from __future__ import annotations

import csv
import io
import random

from content.programs.demo_versions import script
from device_registry.region_names import bundled_csv_text as region_names_mn_csv
from device_registry.regions import Region, RegionTree, village_display_name

SERVICES: dict[str, str] = {
    "consultation": "法律咨询",
    "legal_aid": "法律援助",
    "mediation": "人民调解",
    "lawyer_mediation": "律师调解",
    "notarisation": "公证",
    "appraisal": "司法鉴定",
    "education": "法治宣传",
    "correction": "社区矫正",
    "arbitration_guide": "仲裁指引",
}

KINDS = ("hotline", "city_centre", "banner_centre", "township_station", "village_room")

# Pastoral banners: Mongolian-Chinese bilingual service throughout.
PASTORAL_BANNERS = frozenset({"150623", "150624", "150625", "150626", "150627"})
# Outside those banners, a 苏木 (township) or 嘎查 (village) name marks a pastoral community.
PASTORAL_NAME_MARKS = ("苏木", "嘎查")

HOTLINE_CODE = "sp-12348"
HOTLINE_PHONE = "12348"
# 7-digit local numbers in the Ordos area code, in a block of our own choosing, so they look
# like phone numbers but read as placeholders; every one carries phone_is_sample=True.
SAMPLE_PHONE_PREFIX = "0477-555"
SAMPLE_PHONE_LIMIT = 10_000

VILLAGE_ROOM_SHARE = 0.25
VILLAGE_ROOM_MIN_PER_TOWNSHIP = 3
SAMPLE_SEED = 1506

OFFICE_HOURS = "周一至周五 8:30—12:00，14:30—18:00"
VILLAGE_ROOM_HOURS = (
    "每周二、周四 9:00—12:00",
    "每周一、周三 9:00—12:00",
    "每周三、周五 15:00—18:00",
    "每周二 9:00—12:00，15:00—17:30",
)

_ALL = tuple(SERVICES)
_SERVICES_BY_KIND: dict[str, tuple[str, ...]] = {
    "hotline": tuple(code for code in _ALL if code != "correction"),
    "city_centre": _ALL,
    "banner_centre": _ALL,
    "township_station": ("consultation", "legal_aid", "mediation", "education", "correction"),
    "village_room": ("consultation", "mediation", "education"),
}


def demo_service_points(regions: list[dict]) -> list[dict]:
    """Service points for the whole division tree, ordered hotline, city, then banner by banner.

    Every banner gets a centre, every township a station, and a fixed sample of about a quarter
    of the villages (always the first three of each township and every village of the first
    township of 东胜区) a room.
    """
    tree = RegionTree.from_rows(regions)
    city = _city(tree)
    room_villages = _village_room_sample(tree)
    points: list[dict] = [_hotline(city), _city_centre(city)]
    for county in tree.kids(city.code):
        points.append(_banner_centre(county))
        for township in tree.kids(county.code):
            points.append(_township_station(county, township))
            for village in tree.kids(township.code):
                if village.code in room_villages:
                    points.append(_village_room(county, township, village))
    _assign_sample_phones(points)
    names_mn = demo_names_mn(points, tree)
    for point in points:
        point["name_mn"] = names_mn.get(point["code"], "")
    return points


# --- the division tree -------------------------------------------------------------------


_FIRST_PILOT_COUNTY = "150602"


def _city(tree: RegionTree) -> Region:
    """The one city at the root of the tree (ValueError otherwise)."""
    if len(tree.roots) != 1 or tree.roots[0].level != "city":
        raise ValueError(f"expected exactly one city at the root, got {len(tree.roots)} roots")
    return tree.roots[0]


def _village_room_sample(tree: RegionTree) -> set[str]:
    townships = [t for c in tree.kids(_city(tree).code) for t in tree.kids(c.code)]
    villages = [v for t in townships for v in tree.kids(t.code)]
    chosen = {v.code for t in townships for v in tree.kids(t.code)[:VILLAGE_ROOM_MIN_PER_TOWNSHIP]}
    first_townships = tree.kids(_FIRST_PILOT_COUNTY)
    if first_townships:
        chosen.update(v.code for v in tree.kids(first_townships[0].code))
    target = round(len(villages) * VILLAGE_ROOM_SHARE)
    rest = [v.code for v in villages if v.code not in chosen]
    extra = max(0, min(target - len(chosen), len(rest)))
    chosen.update(random.Random(SAMPLE_SEED).sample(rest, extra))
    return chosen


def _languages(*regions: Region) -> list[str]:
    pastoral = any(
        r.code[:6] in PASTORAL_BANNERS or any(mark in r.name for mark in PASTORAL_NAME_MARKS)
        for r in regions
    )
    return ["zh", "mn"] if pastoral else ["zh"]


# --- the points, one builder per kind ----------------------------------------------------


def _point(
    *,
    code: str,
    name: str,
    kind: str,
    region_code: str,
    address: str,
    hours: str,
    languages: list[str],
    description: str,
) -> dict:
    return {
        "code": code,
        "name": name,
        "kind": kind,
        "region_code": region_code,
        "address": address,
        "hours": hours,
        "phone": "",
        "phone_is_sample": True,
        "services": list(_SERVICES_BY_KIND[kind]),
        "languages": languages,
        "description": description,
    }


def _hotline(city: Region) -> dict:
    point = _point(
        code=HOTLINE_CODE,
        name="12348公共法律服务热线",
        kind="hotline",
        region_code=city.code,
        address="电话服务，无需到场",
        hours="全天可拨打，人工服务时间以热线公告为准",
        # The city-wide hotline serves the pastoral banners too.
        languages=["zh", "mn"],
        description="拨打12348可咨询法律问题、申请法律援助、预约调解，全市通用。",
    )
    point["phone"] = HOTLINE_PHONE
    point["phone_is_sample"] = False
    return point


def _city_centre(city: Region) -> dict:
    return _point(
        code=f"sp-{city.code}",
        name=f"{city.name}公共法律服务中心",
        kind="city_centre",
        region_code=city.code,
        # The city government sits in 康巴什区; no street is named to avoid misleading anyone.
        address=f"{city.name}康巴什区 市公共法律服务中心一楼大厅",
        hours=OFFICE_HOURS,
        languages=["zh", "mn"],
        description="全市综合性公共法律服务窗口，各类法律服务事项均可在此办理。",
    )


def _banner_centre(county: Region) -> dict:
    name = county.name
    return _point(
        code=f"sp-{county.code}",
        name=f"{name}公共法律服务中心",
        kind="banner_centre",
        region_code=county.code,
        address=f"{name}司法局一楼 公共法律服务大厅",
        hours=OFFICE_HOURS,
        languages=_languages(county),
        description=f"{name}综合性公共法律服务窗口，可办理公证、法律援助、司法鉴定等事项。",
    )


def _township_station(county: Region, township: Region) -> dict:
    name = township.name
    if name.endswith("街道"):
        seat = "办事处院内司法所"
    elif name.endswith(("镇", "乡", "苏木")):
        seat = "政府院内司法所"
    else:  # development zones and parks (NBS "类似乡级单位")
        seat = "管委会院内司法所"
    return _point(
        code=f"sp-{township.code}",
        name=f"{name}司法所公共法律服务工作站",
        kind="township_station",
        region_code=township.code,
        address=f"{county.name}{name}{seat}",
        hours=OFFICE_HOURS,
        languages=_languages(county, township),
        description=f"设在{name}司法所，可就近咨询法律问题、调解纠纷、申请法律援助。",
    )


def _village_room(county: Region, township: Region, village: Region) -> dict:
    short = village_display_name(village.name)
    office = "居委会办公室" if short.endswith("社区") else "村委会办公室"
    hours = VILLAGE_ROOM_HOURS[int(village.code) % len(VILLAGE_ROOM_HOURS)]
    return _point(
        code=f"sp-{village.code}",
        name=f"{short}公共法律服务室",
        kind="village_room",
        region_code=village.code,
        address=f"{county.name}{township.name}{short}{office}",
        hours=f"{hours}（其他时间请拨打12348）",
        languages=_languages(county, township, village),
        description=f"{short}的法律服务点，法律顾问定期坐班，可咨询法律问题、调解纠纷。",
    )


def _assign_sample_phones(points: list[dict]) -> None:
    samples = [p for p in points if p["phone_is_sample"]]
    if len(samples) >= SAMPLE_PHONE_LIMIT:
        raise ValueError("too many service points for the sample phone block")
    for number, point in enumerate(samples, start=1):
        point["phone"] = f"{SAMPLE_PHONE_PREFIX}{number:04d}"


# --- Mongolian names: DRAFTS, not reviewed by a native speaker -----------------------------
#
# The points of the pastoral banners (and the city centre and the hotline, which serve them) get
# a Mongolian name for the demo's Mongolian directory, written in transliteration as the TV
# catalog was drafted (docs/translation.md; `-` the narrow no-break space before a suffix) and
# turned into script by `script()`. Banner and city names are the bundled drafted region names
# (device_registry/data/ordos_divisions_mn.csv); townships and villages have no Mongolian name
# yet, so their Chinese name stands in the Mongolian one (upright in the vertical text).
# Not one of them has been checked by a native speaker: never present them as reviewed.

NAME_MN_PATTERNS = {
    "hotline": "{number} neyite-yin qauli-yin üilečilge-yin utasu",
    "city_centre": "{place} neyite-yin qauli-yin üilečilge-yin töb",
    "banner_centre": "{place} neyite-yin qauli-yin üilečilge-yin töb",
    "township_station": "{place} neyite-yin qauli-yin üilečilge-yin aǰil-un bayir_a",
    "village_room": "{place} qauli-yin üilečilge-yin öröge",
}


def _region_translit() -> dict[str, str]:
    """The drafted Mongolian region names, in transliteration, by code."""
    rows = csv.DictReader(io.StringIO(region_names_mn_csv()))
    return {row["code"]: row["translit"] for row in rows if row.get("translit")}


def _genitive(translit: str) -> str:
    """A name with the genitive suffix: -yin after a vowel (and after a Chinese name, read as
    its Mongolian speakers say it), -u after n, -un after another consonant."""
    last = translit[-1:]
    if last in "aeiouöü":
        return f"{translit}-yin"
    if last == "n":
        return f"{translit}-u"
    if (last.isascii() and last.isalpha()) or last in "γčǰš":
        return f"{translit}-un"
    return f"{translit}-yin"


def demo_names_mn(points: list[dict], tree: RegionTree) -> dict[str, str]:
    """Drafted Mongolian names (script) of the demo points serving the pastoral banners."""
    places = _region_translit()
    names: dict[str, str] = {}
    for point in points:
        code, kind = point["region_code"], point["kind"]
        if kind not in ("hotline", "city_centre") and code[:6] not in PASTORAL_BANNERS:
            continue
        region = tree.get(code)
        if code in places:
            place = places[code]
        elif region is not None:
            place = village_display_name(region.name) if kind == "village_room" else region.name
        else:
            continue
        # script() turns the transliteration into script; Chinese names and digits pass as they
        # are (upright in the vertical text).
        text = NAME_MN_PATTERNS[kind].format(place=_genitive(place), number=HOTLINE_PHONE)
        names[point["code"]] = script(text)
    return names
