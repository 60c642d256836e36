"""The village legal advisers: checking what staff type or import, storing an adviser with the
villages they serve, and when they next sit at the village or township room.

A lawyer may serve many villages; a village has one adviser (giving a village to another adviser
takes it from the first). Region scope is checked inside the writing transaction on the adviser
as it is and as it would be: every village it serves now and every village it would serve.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Awaitable, Callable, Collection, Container, Mapping
from dataclasses import dataclass

from callbacks.requests import SERVICES
from content.directory.points import Problem, phone_ok
from storage import Database, Invalid, NotFound, OutOfScope, clock

LANGUAGES = ("zh", "mn")
MAX_LENGTHS = {
    "code": 64,
    "name": 40,
    "firm": 80,
    "phone": 32,
    "sittings": 200,
    "place": 80,
    "description": 300,
}
MAX_VILLAGES = 200  # villages one adviser serves (a township has a few dozen)
EDITABLE = (
    "name",
    "firm",
    "office_code",
    "phone",
    "languages",
    "services",
    "villages",
    "sittings",
    "place",
    "description",
)
CODE_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
WEEKDAY_NAMES = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7}
WEEKDAY_TEXT = ("", "周一", "周二", "周三", "周四", "周五", "周六", "周日")
_SITTING_RE = re.compile(
    r"^(?:(?:周|星期)([一二三四五六日天])|([1-7]))\s*(\d{1,2}):(\d{2})\s*[-–~至]\s*(\d{1,2}):(\d{2})$"
)

# (tx, before or None, after or None): e.g. the audit entry, inside the transaction.
Then = Callable[[object, "Adviser | None", "Adviser | None"], Awaitable[None]]
Allowed = Callable[[str], bool]


@dataclass(frozen=True)
class Sitting:
    weekday: int  # ISO: Monday 1 … Sunday 7
    start: int  # minutes after midnight, China Standard Time
    end: int

    def text(self) -> str:
        return (
            f"{WEEKDAY_TEXT[self.weekday]} {self.start // 60:02d}:{self.start % 60:02d}"
            f"-{self.end // 60:02d}:{self.end % 60:02d}"
        )


@dataclass(frozen=True)
class Adviser:
    id: int
    code: str
    name: str
    firm: str
    office_code: str | None
    phone: str
    languages: tuple[str, ...]
    services: tuple[str, ...]
    sittings: str
    place: str
    description: str
    photo_media_id: int | None
    photo_consent_at: float | None
    photo_consent_by: str
    villages: tuple[str, ...]
    created_at: float
    updated_at: float

    @property
    def photo_shown(self) -> bool:
        """A photo appears on the TV only with the adviser's recorded consent."""
        return self.photo_media_id is not None and self.photo_consent_at is not None

    def audit(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "firm": self.firm,
            "office": self.office_code,
            "villages": list(self.villages),
            "photo": self.photo_media_id,
            "consent": self.photo_consent_at is not None,
        }


def parse_sittings(text: str) -> list[Sitting]:
    """'周二 09:00-12:00; 周四 14:00-17:00' (or '2 09:00-12:00') → sittings; ValueError if bad."""
    out = []
    for part in re.split(r"[;；,，\n]", text):
        part = part.strip()
        if not part:
            continue
        m = _SITTING_RE.match(part)
        if not m:
            raise ValueError(part)
        weekday = WEEKDAY_NAMES[m.group(1)] if m.group(1) else int(m.group(2))
        h1, m1, h2, m2 = (int(m.group(i)) for i in range(3, 7))
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or end <= start or end > 24 * 60:
            raise ValueError(part)
        out.append(Sitting(weekday, start, end))
    return sorted(out, key=lambda s: (s.weekday, s.start))


def next_sitting(sittings: str, now: float | None = None) -> tuple[float, float] | None:
    """(start, end) timestamps of the next sitting not yet over (today's counts until it ends)."""
    try:
        parsed = parse_sittings(sittings)
    except ValueError:
        return None
    if not parsed:
        return None
    now = time.time() if now is None else now
    today = clock.today(now)
    for ahead in range(8):
        day = today + dt.timedelta(days=ahead)
        midnight = clock.at(day)
        for s in parsed:
            if s.weekday == day.isoweekday() and midnight + s.end * 60 > now:
                return midnight + s.start * 60, midnight + s.end * 60
    return None


def _list(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        items = re.split(r"[;；,，\s]+", str(value or ""))
    seen: list[str] = []
    for item in (i.strip() for i in items):
        if item and item not in seen:
            seen.append(item)
    return seen


def clean(
    raw: Mapping[str, object],
    known_villages: Container[str],
    office_codes: Container[str],
    *,
    allowed: Allowed | None = None,
    with_code: bool = True,
) -> tuple[dict, list[Problem]]:
    """Check one adviser (a form or a CSV row); the cleaned data and every problem found."""
    problems: list[Problem] = []

    def bad(field: str, code: str, value: object = "") -> None:
        problems.append(Problem(field, code, str(value)[:80]))

    data: dict = {}
    for field in ("code", "name", "firm", "phone", "sittings", "place", "description"):
        value = str(raw.get(field, "") or "").strip()
        if len(value) > MAX_LENGTHS[field]:
            bad(field, "too_long", f"{len(value)} > {MAX_LENGTHS[field]}")
            value = value[: MAX_LENGTHS[field]]
        data[field] = value
    if with_code and not CODE_RE.match(data["code"]):
        bad("code", "code_invalid" if data["code"] else "required", data["code"])
    if not data["name"]:
        bad("name", "required")
    if data["phone"] and not phone_ok(data["phone"]):
        bad("phone", "phone_invalid", data["phone"])
    try:
        data["sittings"] = "; ".join(s.text() for s in parse_sittings(data["sittings"]))
    except ValueError as exc:
        bad("sittings", "sittings_invalid", exc)
    office = str(raw.get("office_code", "") or "").strip()
    if office and office not in office_codes:
        bad("office_code", "office_unknown", office)
    data["office_code"] = office or None
    data["languages"] = _list(raw.get("languages")) or ["zh"]
    for lang in data["languages"]:
        if lang not in LANGUAGES:
            bad("languages", "language_unknown", lang)
    data["services"] = _list(raw.get("services"))
    for service in data["services"]:
        if service not in SERVICES:
            bad("services", "service_unknown", service)
    data["villages"] = _list(raw.get("villages"))
    if len(data["villages"]) > MAX_VILLAGES:
        bad("villages", "too_long", f"{len(data['villages'])} > {MAX_VILLAGES}")
        data["villages"] = data["villages"][:MAX_VILLAGES]
    for code in data["villages"]:
        if code not in known_villages:
            bad("villages", "village_unknown", code)
        elif allowed is not None and not allowed(code):
            bad("villages", "region_out_of_scope", code)
    return data, problems


# -- reading ------------------------------------------------------------------------------------

_COLUMNS = (
    "id, code, name, firm, office_code, phone, languages, services, sittings, place, description,"
    " photo_media_id, photo_consent_at, photo_consent_by, created_at, updated_at"
)


def _adviser(row, villages: Collection[str]) -> Adviser:
    return Adviser(
        id=row[0],
        code=row[1],
        name=row[2],
        firm=row[3],
        office_code=row[4],
        phone=row[5],
        languages=tuple(_list(row[6])),
        services=tuple(_list(row[7])),
        sittings=row[8],
        place=row[9],
        description=row[10],
        photo_media_id=row[11],
        photo_consent_at=row[12],
        photo_consent_by=row[13],
        villages=tuple(sorted(villages)),
        created_at=row[14],
        updated_at=row[15],
    )


async def _villages_of(db, ids: Collection[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    marks = ",".join("?" * len(ids))
    for village, adviser in await db.fetchall(
        f"SELECT village_code, adviser_id FROM adviser_villages WHERE adviser_id IN ({marks})",
        tuple(ids),
    ):
        out[adviser].append(village)
    return out


async def all_advisers(db: Database, regions: Collection[str] | None = None) -> list[Adviser]:
    """Every adviser by name; with `regions`, those serving a village among them."""
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM advisers ORDER BY name, code")
    villages = await _villages_of(db, [r[0] for r in rows])
    out = [_adviser(r, villages[r[0]]) for r in rows]
    if regions is not None:
        out = [a for a in out if any(v in regions for v in a.villages)]
    return out


async def get(db, adviser_id: int) -> Adviser:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM advisers WHERE id = ?", (adviser_id,))
    if row is None:
        raise NotFound("adviser_not_found", str(adviser_id))
    return _adviser(row, (await _villages_of(db, [row[0]]))[row[0]])


async def for_village(db: Database, village_code: str | None) -> Adviser | None:
    """The adviser of this village (the box's own), or None."""
    if not village_code:
        return None
    adviser_id = await db.fetchval(
        "SELECT adviser_id FROM adviser_villages WHERE village_code = ?", (village_code,)
    )
    return None if adviser_id is None else await get(db, adviser_id)


# -- writing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    """A new photo (an uploaded media id) and who recorded the adviser's consent."""

    media_id: int | None
    consent_by: str


async def _check_scope(tx, adviser_id: int | None, villages: list[str], allowed) -> None:
    if allowed is None:
        return
    current = []
    if adviser_id is not None:
        current = [
            r[0]
            for r in await tx.fetchall(
                "SELECT village_code FROM adviser_villages WHERE adviser_id = ?", (adviser_id,)
            )
        ]
    outside = [v for v in [*current, *villages] if not allowed(v)]
    if outside:
        raise OutOfScope("region_out_of_scope", ",".join(outside[:5]))
    if not current and (adviser_id is not None or not villages):
        # an adviser of no village belongs to the whole city
        raise OutOfScope("region_out_of_scope", "an adviser of no village")


async def write(
    tx,
    data: dict,
    *,
    adviser_id: int | None = None,
    allowed: Allowed | None = None,
    photo: Photo | None = None,
    now: float | None = None,
    then: Then | None = None,
) -> Adviser:
    """Create (adviser_id None) or change one adviser inside the caller's transaction."""
    now = time.time() if now is None else now
    await _check_scope(tx, adviser_id, data["villages"], allowed)
    before = await get(tx, adviser_id) if adviser_id is not None else None
    values = (
        data["name"],
        data["firm"],
        data["office_code"],
        data["phone"],
        ";".join(data["languages"]),
        ";".join(data["services"]),
        data["sittings"],
        data["place"],
        data["description"],
    )
    if adviser_id is None:
        if await tx.fetchone("SELECT 1 FROM advisers WHERE code = ?", (data["code"],)):
            raise Invalid("code_taken", data["code"])
        adviser_id = await tx.insert(
            "INSERT INTO advisers (name, firm, office_code, phone, languages, services, sittings,"
            " place, description, code, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, data["code"], now, now),
        )
    else:
        await tx.execute(
            "UPDATE advisers SET name = ?, firm = ?, office_code = ?, phone = ?, languages = ?,"
            " services = ?, sittings = ?, place = ?, description = ?, updated_at = ?"
            " WHERE id = ?",
            (*values, now, adviser_id),
        )
    if photo is not None:
        await tx.execute(
            "UPDATE advisers SET photo_media_id = ?, photo_consent_at = ?, photo_consent_by = ?"
            " WHERE id = ?",
            (
                photo.media_id,
                now if photo.media_id is not None else None,
                photo.consent_by if photo.media_id is not None else "",
                adviser_id,
            ),
        )
    await tx.execute("DELETE FROM adviser_villages WHERE adviser_id = ?", (adviser_id,))
    for village in data["villages"]:
        # A village has one adviser: giving it to this one takes it from the one before.
        await tx.execute("DELETE FROM adviser_villages WHERE village_code = ?", (village,))
        await tx.execute(
            "INSERT INTO adviser_villages (village_code, adviser_id) VALUES (?, ?)",
            (village, adviser_id),
        )
    after = await get(tx, adviser_id)
    tx.emit("adviser", [adviser_id])  # the TV's adviser screens and cards follow once committed
    if then is not None:
        await then(tx, before, after)
    return after


async def save(db: Database, data: dict, **kwargs) -> Adviser:
    async with db.transaction() as tx:
        return await write(tx, data, **kwargs)


async def delete(
    db: Database, adviser_id: int, *, allowed: Allowed | None = None, then: Then | None = None
) -> Adviser:
    async with db.transaction() as tx:
        before = await get(tx, adviser_id)
        if allowed is not None and not (before.villages and all(map(allowed, before.villages))):
            raise OutOfScope("region_out_of_scope", ",".join(before.villages[:5]))
        await tx.execute("DELETE FROM adviser_villages WHERE adviser_id = ?", (adviser_id,))
        await tx.execute("DELETE FROM advisers WHERE id = ?", (adviser_id,))
        tx.emit("adviser", [adviser_id])
        if then is not None:
            await then(tx, before, None)
    return before
