"""Checks of what a request or a file says about a box: serial, MAC, versions, attributes."""

from __future__ import annotations

import re

from storage import Invalid

SERIAL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{2,63}$")
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}([:\-]?)[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]{0,63}$")
ATTRIBUTE_KEY_RE = re.compile(r"^[a-z][a-z0-9_.\-]{0,39}$")
ATTRIBUTE_VALUE_MAX = 200
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def valid_serial(serial: str) -> bool:
    return bool(SERIAL_RE.match(serial or ""))


def normalize_mac(raw: str) -> str | None:
    """`AA:BB:CC:DD:EE:FF` for a MAC written with colons, dashes or nothing; None if malformed."""
    raw = (raw or "").strip()
    if not _MAC_RE.match(raw):
        return None
    digits = re.sub(r"[:\-]", "", raw).upper()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def valid_version(value: str) -> bool:
    """Firmware and portal versions: short, printable, no spaces."""
    return bool(_VERSION_RE.match(value or ""))


def check_attribute(key: object, value: object) -> None:
    """An attribute key is a short identifier; a value is one line of at most 200 characters
    (None removes the key)."""
    if not isinstance(key, str) or not ATTRIBUTE_KEY_RE.fullmatch(key):
        shown = str(key)[:60]
        raise Invalid("attribute_key_invalid", shown, key=shown)
    if value is not None and (
        not isinstance(value, str) or len(value) > ATTRIBUTE_VALUE_MAX or _CONTROL_RE.search(value)
    ):
        raise Invalid("attribute_value_invalid", key, key=key)
