"""Key maps per set-top-box family: exactly the "Remote keys" table of PRODUCT.md."""

from __future__ import annotations

import json

import pytest

from tv_ui.keymaps import ACTIONS, DEFAULT_FAMILY, FAMILIES, keymap, keymap_json

DIGITS = {str(d): [48 + d] for d in range(10)}
ARROWS = {"up": [38], "down": [40], "left": [37], "right": [39]}
COLOURS = ("red", "green", "yellow", "blue")


def colours(first: int) -> dict[str, list[int]]:
    return {c: [first + i] for i, c in enumerate(COLOURS)}


# Written out again from the product table (not derived from the module under test).
# fmt: off
EXPECTED: dict[str, dict[str, list[int]]] = {
    "browser": {**ARROWS, "ok": [13], "back": [8, 27], "home": [36], **colours(112),
                "pageup": [33], "pagedown": [34], **DIGITS,
                **{str(d): [48 + d, 96 + d] for d in range(10)}},
    "hbbtv": {**ARROWS, "ok": [13], "back": [461], **colours(403), **DIGITS},
    "huawei": {**ARROWS, "ok": [13], "back": [8], "home": [272], **colours(275),
               "pageup": [33], "pagedown": [34], **DIGITS},
    "ipanel": {"up": [1], "down": [2], "left": [3], "right": [4], "ok": [13, 4097],
               "back": [340], "exit": [339], "pageup": [372], "pagedown": [373], **DIGITS},
    "coship": {**ARROWS, "ok": [13], "back": [640, 8], "pageup": [120], "pagedown": [121],
               **DIGITS},
    "inspur": {**ARROWS, "ok": [13], "back": [8], "exit": [27], "home": [36], **colours(112),
               "pageup": [33], "pagedown": [34], **DIGITS},
    "enrich": {"up": [87], "down": [83], "left": [65], "right": [68], "ok": [13], "back": [8],
               "exit": [27], **colours(320), "pageup": [306], "pagedown": [307], **DIGITS},
    "satellite": {**ARROWS, "ok": [13], "back": [27], "exit": [197], "home": [4098],
                  **colours(2305), "pageup": [4173], "pagedown": [4174], **DIGITS},
}
# fmt: on
BOX_FAMILIES = sorted(EXPECTED)
ALL_FAMILIES = sorted(FAMILIES)


def cases(family: str):
    return [(family, code, action) for action, codes in EXPECTED[family].items() for code in codes]


@pytest.mark.parametrize("family", BOX_FAMILIES)
def test_family_is_exactly_the_product_table(family):
    got = {a: sorted(c) for a, c in FAMILIES[family].items()}
    assert got == {a: sorted(c) for a, c in EXPECTED[family].items()}


@pytest.mark.parametrize(("family", "code", "action"), [c for f in BOX_FAMILIES for c in cases(f)])
def test_code_maps_to_action(family, code, action):
    assert keymap(family)[code] == action


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_no_code_maps_to_two_actions(family):
    seen: dict[int, str] = {}
    for action, codes in FAMILIES[family].items():
        assert action in ACTIONS
        assert len(codes) == len(set(codes)), (family, action, codes)
        for code in codes:
            assert seen.setdefault(code, action) == action, (family, code, seen[code], action)


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_every_family_can_navigate_and_type_digits(family):
    actions = set(keymap(family).values())
    assert {"up", "down", "left", "right", "ok", "back"} <= actions
    assert all(keymap(family)[48 + d] == str(d) for d in range(10))


@pytest.mark.parametrize(("code", "arrow"), [(87, "up"), (83, "down"), (65, "left"), (68, "right")])
@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_wasd_are_arrows_only_on_enrich(family, code, arrow):
    assert keymap(family).get(code) == (arrow if family == "enrich" else None)


@pytest.mark.parametrize(("code", "arrow"), [(1, "up"), (2, "down"), (3, "left"), (4, "right")])
@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_codes_1_to_4_are_arrows_only_on_ipanel(family, code, arrow):
    assert keymap(family).get(code) == (arrow if family == "ipanel" else None)


# fmt: off
@pytest.mark.parametrize(
    ("code", "action"),
    [
        # the browser keys
        (38, "up"), (40, "down"), (37, "left"), (39, "right"), (13, "ok"),
        (8, "back"), (27, "back"), (33, "pageup"), (34, "pagedown"), (36, "home"),
        (48, "0"), (57, "9"), (96, "0"), (105, "9"), (112, "red"), (115, "blue"),
        # plus Huawei and HbbTV where they do not clash
        (461, "back"), (272, "home"),
        (403, "red"), (404, "green"), (405, "yellow"), (406, "blue"),
        (275, "red"), (276, "green"), (277, "yellow"), (278, "blue"),
    ],
)
# fmt: on
def test_default_map(code, action):
    assert keymap(DEFAULT_FAMILY)[code] == action
    assert keymap(None)[code] == action


def test_default_is_browser_plus_huawei_and_hbbtv_without_clashes():
    default = keymap(None)
    for code, action in keymap("browser").items():
        assert default[code] == action  # the browser wins every clash
    for family in ("huawei", "hbbtv"):
        for code, action in keymap(family).items():
            assert default[code] == action or code in keymap("browser")
    assert set(default) == set(keymap("browser")) | set(keymap("huawei")) | set(keymap("hbbtv"))
    # codes of other families stay out of the default map
    for code in (1, 4097, 340, 640, 87, 306, 2305, 4098, 4173):
        assert code not in default


@pytest.mark.parametrize("family", [None, "", "nonesuch", "default"])
def test_unknown_family_gets_the_default(family):
    assert keymap(family) == keymap(DEFAULT_FAMILY)
    assert keymap_json(family) == keymap_json(None)


def test_family_names_are_case_insensitive():
    assert keymap(" iPanel ") == keymap("ipanel")


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_keymap_json_is_compact_and_attribute_safe(family):
    text = keymap_json(family)
    assert " " not in text and "'" not in text and "<" not in text and "&" not in text
    assert json.loads(text) == {str(c): a for c, a in keymap(family).items()}


def test_keymap_returns_a_copy():
    keymap("browser")[38] = "down"
    assert keymap("browser")[38] == "up"
