"""Demo set-top boxes and the pilot wave, built from the official division tree.

Pure functions: DEMO-0001 is the desktop browser a developer or tester uses, sitting in the
first village of 东胜区's first township; the other boxes spread over several banners so that
both a piloted household and a "coming soon" household can be shown. Same output every time.
"""

from __future__ import annotations

import datetime as dt
import random

from device_registry.regions import Region, RegionTree, village_display_name
from device_registry.states import DeviceState

MODELS: list[dict[str, str]] = [
    {
        "model": "Desktop browser (test)",
        "vendor": "(test)",
        "family": "browser",
        "profile": "1080p",
    },
    {"model": "Huawei EC6110", "vendor": "Huawei", "family": "huawei", "profile": "1080p"},
    # ZTE middleware, not known to share Huawei's EPG key handling: plain browser key map.
    {"model": "ZTE B860AV2.1", "vendor": "ZTE", "family": "browser", "profile": "1080p"},
    {"model": "Skyworth E900V21C", "vendor": "Skyworth", "family": "browser", "profile": "2160p"},
    {"model": "Coship N9201", "vendor": "Coship", "family": "coship", "profile": "1080p"},
    {"model": "Inspur IPBS9505", "vendor": "Inspur", "family": "inspur", "profile": "2160p"},
    {"model": "Jiuzhou DVB", "vendor": "Jiuzhou", "family": "ipanel", "profile": "1080p"},
]
TEST_MODEL = "Desktop browser (test)"
_BOX_MODELS = tuple(m["model"] for m in MODELS if m["model"] != TEST_MODEL)

# The pilot wave: 东胜区 first, then one township each in 达拉特旗 and 乌审旗.
FIRST_BANNER = "150602"
PILOT_BANNERS = ("150602", "150621", "150626")
FIRST_TOWNSHIP_BOXES = 20
OUTSIDE_PILOT_SHARE = 1 / 3
OUTSIDE_BOXES_PER_VILLAGE = 3
SEED = 1506
MAC_PREFIX = "02:4C:54:56"  # locally administered, unicast; "LTV"
INSTALL_FIRST = dt.date(2026, 3, 2)
INSTALL_LAST = dt.date(2026, 10, 30)

HAN_SURNAMES = tuple("王张李刘郝高杨白乔贺苏韩赵武温奇")
MONGOLIAN_NAMES = ("巴图", "其其格", "额尔敦", "乌力吉", "萨仁", "宝音", "图雅", "那顺", "阿拉坦")


def pilot_village_codes(regions: list[dict]) -> list[str]:
    """Village codes of the pilot wave, sorted: every village of 东胜区's first township and of
    the first rural township (镇, 乡 or 苏木) of 达拉特旗 and of 乌审旗."""
    tree = RegionTree.from_rows(regions)
    return sorted(v.code for t in _pilot_townships(tree) for v in tree.kids(t.code))


def demo_boxes(regions: list[dict], count: int = 240) -> list[dict]:
    """`count` demo boxes DEMO-0001…, about a third of them outside the pilot wave."""
    if not 1 <= count <= 9999:
        raise ValueError("count must be between 1 and 9999")
    tree = RegionTree.from_rows(regions)
    rng = random.Random(SEED)
    pilot_townships = _pilot_townships(tree)
    first_villages = tree.kids(pilot_townships[0].code)
    pilot = {v.code for t in pilot_townships for v in tree.kids(t.code)}
    other_pilot = [v for t in pilot_townships[1:] for v in tree.kids(t.code)]

    n_first = min(count, FIRST_TOWNSHIP_BOXES)
    n_outside = min(count - n_first, round(count * OUTSIDE_PILOT_SHARE))
    outside = _outside_villages(tree, pilot, n_outside, rng)
    if not outside:
        n_outside = 0
    n_other_pilot = count - n_first - n_outside
    if not other_pilot:  # nothing else piloted: the first township takes those boxes too
        n_first, n_other_pilot = n_first + n_other_pilot, 0

    rest = _cycle(_shuffled(rng, other_pilot), n_other_pilot) + _cycle(outside, n_outside)
    rng.shuffle(rest)  # serials follow import order, not geography
    villages = _cycle(first_villages, n_first) + rest

    boxes = []
    used_labels: set[tuple[str, str]] = set()
    install_days = (INSTALL_LAST - INSTALL_FIRST).days
    for number, village in enumerate(villages, start=1):
        first = number == 1
        boxes.append(
            {
                "serial": f"DEMO-{number:04d}",
                "mac": f"{MAC_PREFIX}:{number >> 8:02X}:{number & 0xFF:02X}",
                "model": TEST_MODEL if first else rng.choice(_BOX_MODELS),
                "village_code": village.code,
                "household_label": _household_label(village, rng, used_labels),
                "installed_at": (
                    INSTALL_FIRST + dt.timedelta(days=0 if first else rng.randint(0, install_days))
                ).isoformat(),
                "state": DeviceState.ACTIVE,
            }
        )
    return boxes


# --- helpers -----------------------------------------------------------------------------


def _pilot_townships(tree: RegionTree) -> list[Region]:
    first = [t for t in tree.kids(FIRST_BANNER) if tree.kids(t.code)]
    if not first:
        raise ValueError(f"no township with villages under {FIRST_BANNER}")
    townships = [first[0]]
    for banner in PILOT_BANNERS[1:]:
        candidates = [t for t in tree.kids(banner) if tree.kids(t.code)]
        rural = [t for t in candidates if t.name.endswith(("镇", "乡", "苏木"))]
        if rural or candidates:
            townships.append((rural or candidates)[0])
    return townships


def _outside_villages(
    tree: RegionTree, pilot: set[str], n_boxes: int, rng: random.Random
) -> list[Region]:
    """One village in every banner, then more at random, about three boxes to a village."""
    if n_boxes <= 0:
        return []
    counties = sorted(
        (r for r in tree.by_code.values() if r.level == "county"), key=lambda r: r.code
    )
    by_county = [
        [v for t in tree.kids(c.code) for v in tree.kids(t.code) if v.code not in pilot]
        for c in counties
    ]
    chosen = [rng.choice(vs) for vs in by_county if vs][:n_boxes]
    picked = {v.code for v in chosen}
    rest = [v for vs in by_county for v in vs if v.code not in picked]
    wanted = max(len(chosen), -(-n_boxes // OUTSIDE_BOXES_PER_VILLAGE))
    chosen += rng.sample(rest, min(len(rest), wanted - len(chosen)))
    return sorted(chosen, key=lambda v: v.code)


def _shuffled(rng: random.Random, items: list) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


def _cycle(items: list, n: int) -> list:
    return [items[i % len(items)] for i in range(n)] if items else []


def _household_label(village: Region, rng: random.Random, used: set[tuple[str, str]]) -> str:
    short = village_display_name(village.name)
    while True:
        if short.endswith("社区"):
            place = f"{short}{rng.randint(1, 30)}号楼"
        else:
            place = f"{short}{rng.randint(1, 8)}组"
        who = rng.choice(MONGOLIAN_NAMES if "嘎查" in short else HAN_SURNAMES)
        label = f"{place} {who}家"
        if (village.code, label) not in used:
            used.add((village.code, label))
            return label
