"""Phone numbers typed on a remote: mainland mobile or landline numbers, validated and masked."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from storage import Invalid
from storage.changes import BoundedCache

# A number goes through several steps of one flow (the phone step, the confirm screen, submit,
# the masked copy), and phonenumbers spends ~0.1 ms parsing and formatting it each time: the
# forms of the last few hundred numbers are remembered (a pure function of the text, never
# stale). Small on purpose: a number typed minutes ago is long gone from it.
CACHE_ENTRIES = 512
E164_FORMS = BoundedCache("phone_e164_forms", CACHE_ENTRIES)  # typed digits → E.164
NATIONAL_FORMS = BoundedCache("phone_national_forms", CACHE_ENTRIES)  # E.164 → national digits
CACHES = (E164_FORMS, NATIONAL_FORMS)

ACCEPTED_TYPES = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def normalise(digits: str) -> str:
    """Return the E.164 form of a mainland number, or raise Invalid('phone_invalid')."""
    cleaned = "".join(ch for ch in digits if ch.isdigit())
    known = E164_FORMS.get(cleaned)
    if known is not None:
        return known
    if not 7 <= len(cleaned) <= 12:
        raise Invalid("phone_invalid", "length")
    try:
        number = phonenumbers.parse(cleaned, "CN")
    except phonenumbers.NumberParseException:
        raise Invalid("phone_invalid", "unparseable") from None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise Invalid("phone_invalid", "not a valid mainland number")
    if phonenumbers.number_type(number) not in ACCEPTED_TYPES:
        raise Invalid("phone_invalid", "not a mobile or landline number")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    NATIONAL_FORMS.put(e164, _national_digits(number))  # its masked form comes next: no parse
    return E164_FORMS.put(cleaned, e164)


def _national_digits(number: phonenumbers.PhoneNumber) -> str:
    return (
        phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        .replace(" ", "")
        .replace("-", "")
    )


def national(e164: str) -> str:
    """Digits as dialled inside China (13800138000, 04778512345)."""
    known = NATIONAL_FORMS.get(e164)
    if known is not None:
        return known
    return NATIONAL_FORMS.put(e164, _national_digits(phonenumbers.parse(e164, None)))


def grouped(e164: str) -> str:
    """The whole number in groups for reading back (138 1234 5678, 0477 851 2345): shown only to
    the household that just typed it, on the confirm step."""
    return phonenumbers.format_number(phonenumbers.parse(e164, None), PhoneNumberFormat.NATIONAL)


def mask(e164: str) -> str:
    """138****8000 for a mobile, 0477***2345 for a landline: head and last four digits stay."""
    digits = national(e164)
    keep_head = 3 if digits.startswith("1") else 4
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]
