"""Remote-control key maps per set-top-box family.

Each family maps an *action* (``up``, ``ok``, ``back``, ``red``, ``pageup``, ``"0"``...``"9"``...)
to the key codes (``KeyboardEvent.keyCode``) its remote sends. TV pages receive the inverted map
(code -> action) as JSON in ``<body data-keymap='...'>``; ``tv_ui/static/tv.js`` only reads that
map, so supporting a new box family is a change here, never in the script.

The codes come from the table "Remote keys" in the product design (public EPG page code of those
box families and the HbbTV specification, ETSI TS 102 796). See ``docs/keymaps.md``.

Pure Python: no aiohttp, no I/O.
"""

from __future__ import annotations

import json
from functools import cache

__all__ = [
    "ACTIONS",
    "DEFAULT_FAMILY",
    "DIGIT_CODES",
    "FAMILIES",
    "keymap",
    "keymap_json",
]

DIGITS = tuple(str(d) for d in range(10))
ACTIONS: tuple[str, ...] = (
    "up",
    "down",
    "left",
    "right",
    "ok",
    "back",
    "exit",
    "home",
    "red",
    "green",
    "yellow",
    "blue",
    "pageup",
    "pagedown",
    *DIGITS,
)

#: The number keys send the ASCII codes of "0".."9" on every family.
DIGIT_CODES: dict[str, list[int]] = {d: [48 + int(d)] for d in DIGITS}
#: A desktop keyboard's numeric keypad sends 96..105 (browser family only).
NUMPAD_CODES: dict[str, list[int]] = {d: [96 + int(d)] for d in DIGITS}

ARROWS = {"up": [38], "down": [40], "left": [37], "right": [39]}


def _family(*parts: dict[str, list[int]]) -> dict[str, list[int]]:
    """Merge action -> codes tables (later parts extend earlier ones)."""
    out: dict[str, list[int]] = {}
    for part in parts:
        for action, codes in part.items():
            out.setdefault(action, []).extend(codes)
    return out


def _colours(first: int) -> dict[str, list[int]]:
    """Red, green, yellow, blue on four consecutive codes starting at ``first``."""
    return {c: [first + i] for i, c in enumerate(("red", "green", "yellow", "blue"))}


# Desktop browsers and the test suite. Colour keys are the team's choice: F1..F4 (as Inspur).
BROWSER = _family(
    ARROWS,
    {"ok": [13], "back": [8, 27], "home": [36], "pageup": [33], "pagedown": [34]},
    _colours(112),
    DIGIT_CODES,
    NUMPAD_CODES,
)

#: action -> key codes, per box family. Exactly the "Remote keys" table of PRODUCT.md.
FAMILIES: dict[str, dict[str, list[int]]] = {
    "browser": BROWSER,
    "hbbtv": _family(ARROWS, {"ok": [13], "back": [461]}, _colours(403), DIGIT_CODES),
    "huawei": _family(
        ARROWS,
        {"ok": [13], "back": [8], "home": [272], "pageup": [33], "pagedown": [34]},
        _colours(275),
        DIGIT_CODES,
    ),
    "ipanel": _family(
        {"up": [1], "down": [2], "left": [3], "right": [4]},
        {"ok": [13, 4097], "back": [340], "exit": [339], "pageup": [372], "pagedown": [373]},
        DIGIT_CODES,
    ),
    "coship": _family(
        ARROWS,
        {"ok": [13], "back": [640, 8], "pageup": [120], "pagedown": [121]},
        DIGIT_CODES,
    ),
    "inspur": _family(
        ARROWS,
        {"ok": [13], "back": [8], "exit": [27], "home": [36], "pageup": [33], "pagedown": [34]},
        _colours(112),
        DIGIT_CODES,
    ),
    "enrich": _family(
        {"up": [87], "down": [83], "left": [65], "right": [68]},
        {"ok": [13], "back": [8], "exit": [27], "pageup": [306], "pagedown": [307]},
        _colours(320),
        DIGIT_CODES,
    ),
    "satellite": _family(
        ARROWS,
        {"ok": [13], "back": [27], "exit": [197], "home": [4098]},
        {"pageup": [4173], "pagedown": [4174]},
        _colours(2305),
        DIGIT_CODES,
    ),
}

DEFAULT_FAMILY = "default"

#: Families whose codes join the default map wherever they do not clash with a browser key,
#: so that an unregistered Huawei or HbbTV box still works with the default page.
DEFAULT_EXTRA_FAMILIES = ("huawei", "hbbtv")


def _build_default() -> dict[str, list[int]]:
    taken: dict[int, str] = {}
    merged: dict[str, list[int]] = {}
    for name in ("browser", *DEFAULT_EXTRA_FAMILIES):
        for action, codes in FAMILIES[name].items():
            for code in codes:
                if code in taken:  # the first family (browser) wins a clash
                    continue
                taken[code] = action
                merged.setdefault(action, []).append(code)
    return merged


FAMILIES[DEFAULT_FAMILY] = _build_default()


@cache
def _inverted(family: str) -> tuple[tuple[int, str], ...]:
    pairs: dict[int, str] = {}
    for action, codes in FAMILIES[family].items():
        for code in codes:
            if pairs.setdefault(code, action) != action:
                raise ValueError(f"{family}: key code {code} maps to two actions")
    return tuple(sorted(pairs.items()))


def _resolve(family: str | None) -> str:
    name = (family or "").strip().lower()
    return name if name in FAMILIES else DEFAULT_FAMILY


def keymap(family: str | None) -> dict[int, str]:
    """Key code -> action for a box family; an unknown or missing family gets the default map."""
    return dict(_inverted(_resolve(family)))


@cache
def _json(family: str) -> str:
    return json.dumps(
        {str(code): action for code, action in _inverted(family)}, separators=(",", ":")
    )


def keymap_json(family: str | None) -> str:
    """Compact JSON object ``{"38":"up",...}`` for ``<body data-keymap='...'>``.

    It contains only digits, letters, quotes, colons and commas, so it is safe inside a
    single-quoted HTML attribute (an autoescaping template may still escape the quotes).
    """
    return _json(_resolve(family))
