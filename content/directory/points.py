"""The service directory: organizations and their legal service points, from the village room
up to the city centre. Validation, queries, and writes that each run in one transaction; used by
the TV screens, the admin, the CSV import/export (`directory_io`) and the HSDS export (`hsds`).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Collection, Container, Iterable, Mapping
from dataclasses import asdict, dataclass, fields

import phonenumbers

from content.directory.demo import SERVICES
from storage import Conflict, Database, Invalid, NotFound, OutOfScope
from storage.database import Transaction

# Traditional Mongolian (U+1800–U+18AF): what a Mongolian name or description must contain.
MONGOLIAN_SCRIPT = re.compile("[\u1800-\u18af]")

KIND_ORDER = ("village_room", "township_station", "banner_centre", "city_centre", "hotline")
# Kinds from the top of the network down, for forms and filters.
KINDS = ("hotline", "city_centre", "banner_centre", "township_station", "village_room")
SERVICE_CODES: tuple[str, ...] = tuple(SERVICES)
LANGUAGES = ("zh", "mn")
SHORT_NUMBERS = frozenset({"12348"})  # the public legal service hotline, dialled as is
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_LENGTHS = {
    "name": 100,
    "address": 200,
    "hours": 200,
    "phone": 32,
    "description": 2000,
    "name_mn": 200,  # Mongolian script takes more characters than Chinese
    "description_mn": 4000,
}
# Columns a CSV may leave out (older files): empty then.
OPTIONAL_COLUMNS = ("name_mn", "description_mn")

# Columns of the first flat table; `upsert_points` still takes dicts with these keys.
FIELDS = (
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
)
# What an editor can change on a point (the code is its stable identity).
EDITABLE = (
    "name",
    "kind",
    "region_code",
    "region_served",
    "organization",
    "address",
    "hours",
    "phone",
    "phone_is_sample",
    "services",
    "languages",
    "latitude",
    "longitude",
    "description",
    "name_mn",
    "description_mn",
)
ORG_EDITABLE = ("name", "kind", "region_code", "description")


@dataclass(frozen=True)
class ServicePoint:
    id: int
    code: str
    name: str
    kind: str
    region_code: str
    address: str
    hours: str
    phone: str
    phone_is_sample: bool
    services: list[str]
    languages: list[str]
    description: str
    organization_id: int | None = None
    organization: str = ""  # the organization's code
    region_served: str = ""
    latitude: float | None = None
    longitude: float | None = None
    version: int = 1
    updated_at: float = 0.0
    name_mn: str = ""  # Mongolian name and description, where given
    description_mn: str = ""

    def snapshot(self) -> dict:
        """The editable fields, for audit entries and comparisons."""
        return {"code": self.code, **{f: getattr(self, f) for f in EDITABLE}}


@dataclass(frozen=True)
class Organization:
    id: int
    code: str
    name: str
    kind: str
    region_code: str
    description: str
    version: int
    updated_at: float
    points: int = 0

    def snapshot(self) -> dict:
        return {"code": self.code, **{f: getattr(self, f) for f in ORG_EDITABLE}}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a point: `code` is stable (messages live in the web layer)."""

    field: str
    code: str
    value: str = ""
    line: int | None = None


# English descriptions of problem codes, for the CLI and logs.
PROBLEM_TEXT = {
    "required": "a value is required",
    "too_long": "too long",
    "code_invalid": "codes use 1-64 letters, digits, '.', '_' or '-'",
    "code_taken": "this code is already used by another point",
    "code_duplicate": "the same code appears earlier in the file",
    "kind_invalid": "unknown kind (hotline, city_centre, banner_centre, township_station,"
    " village_room)",
    "region_unknown": "unknown region code",
    "region_out_of_scope": "the region lies outside your area",
    "phone_invalid": "not a mainland China phone number nor the 12348 hotline",
    "flag_invalid": "use 1 or 0",
    "mongolian_lost": "no Mongolian script left (was the file saved as GBK?)",
    "service_unknown": "unknown service code",
    "language_unknown": "unknown language code (zh, mn)",
    "coordinate_invalid": "latitude -90..90 and longitude -180..180, both or neither",
    "organization_invalid": "organization codes use 1-64 letters, digits, '.', '_' or '-'",
    "columns_missing": "missing columns",
    "columns_unknown": "unknown columns",
    "columns_duplicate": "a column appears twice",
    "row_width": "the row does not have one cell per column",
    "empty_file": "the file holds no header line",
    "encoding": "not UTF-8 or GB18030 text",
}


class DirectoryInvalid(Invalid):
    """A point, an organization or a file with problems; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        text = "; ".join(
            (f"line {p.line}: " if p.line else "")
            + f"{p.field}: {PROBLEM_TEXT.get(p.code, p.code)}"
            + (f" ({p.value})" if p.value else "")
            for p in problems[:20]
        )
        super().__init__("directory_invalid", text)


Then = Callable[..., Awaitable[None]]


def own_organization_code(point_code: str) -> str:
    """The code of a point's own organization: "sp-150602" → "org-150602"."""
    return "org-" + (point_code[3:] if point_code.startswith("sp-") else point_code)


# --- validation --------------------------------------------------------------------------


def phone_ok(phone: str) -> bool:
    """A mainland China number (mobile, landline, 400/800) or the 12348 hotline."""
    if phone in SHORT_NUMBERS:
        return True
    if not re.fullmatch(r"[0-9+\-() ]{5,32}", phone):
        return False
    try:
        number = phonenumbers.parse(phone, "CN")
    except phonenumbers.NumberParseException:
        return False
    return number.country_code == 86 and phonenumbers.is_valid_number(number)


def _text(raw: Mapping[str, object], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value).strip()


def _codes(value: object) -> list[str]:
    """A list from a form (list of strings) or a file cell ("a;b", also "a,b" or "a、b")."""
    items = (
        value if isinstance(value, list | tuple) else re.split(r"[;,；，、\s]+", str(value or ""))
    )
    out: list[str] = []
    for item in items:
        item = str(item).strip()
        if item and item not in out:
            out.append(item)
    return out


_TRUE = {"1", "true", "yes", "y", "是"}
_FALSE = {"0", "false", "no", "n", "否", ""}


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _coordinate(value: object) -> float | None | str:
    """A float, None for empty, or the string "bad"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return "bad"
    return number if math.isfinite(number) else "bad"


Bad = Callable[..., None]


def _check_code(code: str, bad: Bad) -> None:
    if not code:
        bad("code", "required")
    elif not CODE_RE.match(code):
        bad("code", "code_invalid", code)


def _check_kind(kind: str, bad: Bad) -> None:
    if kind not in KINDS:
        bad("kind", "kind_invalid", kind)


def _check_region(
    field: str,
    code: str,
    known_regions: Container[str],
    allowed: Callable[[str], bool] | None,
    bad: Bad,
) -> None:
    if not code:
        bad(field, "required")
    elif code not in known_regions:
        bad(field, "region_unknown", code)
    elif allowed is not None and not allowed(code):
        bad(field, "region_out_of_scope", code)


def _problem_list() -> tuple[list[Problem], Bad]:
    """An empty list of problems and the `bad(field, code, value)` that adds to it."""
    problems: list[Problem] = []

    def bad(field: str, code: str, value: object = "") -> None:
        problems.append(Problem(field, code, str(value)))

    return problems, bad


def clean_point(
    raw: Mapping[str, object],
    known_regions: Container[str],
    *,
    allowed: Callable[[str], bool] | None = None,
    with_code: bool = True,
) -> tuple[dict, list[Problem]]:
    """Check a point typed in a form or read from a file; return (clean data, problems).

    `allowed(region_code)` limits the regions a scoped editor may use.
    """
    problems, bad = _problem_list()
    data: dict = {}

    if with_code:
        data["code"] = _text(raw, "code")
        _check_code(data["code"], bad)
    for field in ("name", "address", "hours", "phone", "description", "name_mn", "description_mn"):
        data[field] = _text(raw, field)
        if len(data[field]) > MAX_LENGTHS[field]:
            bad(field, "too_long", f"{len(data[field])} > {MAX_LENGTHS[field]}")
    for field in ("name_mn", "description_mn"):  # a GBK save turns Mongolian script into "?"
        if data[field] and (not MONGOLIAN_SCRIPT.search(data[field]) or "?" in data[field]):
            bad(field, "mongolian_lost", data[field][:40])
    if not data["name"]:
        bad("name", "required")
    data["kind"] = _text(raw, "kind")
    _check_kind(data["kind"], bad)
    data["region_code"] = _text(raw, "region_code")
    served = _text(raw, "region_served")
    data["region_served"] = served or data["region_code"]
    for field in ("region_code", "region_served") if served else ("region_code",):
        _check_region(field, data[field], known_regions, allowed, bad)
    data["organization"] = _text(raw, "organization")
    if data["organization"] and not CODE_RE.match(data["organization"]):
        bad("organization", "organization_invalid", data["organization"])
    if data["phone"] and not phone_ok(data["phone"]):
        bad("phone", "phone_invalid", data["phone"])
    flag = _flag(raw.get("phone_is_sample"))
    if flag is None:
        bad("phone_is_sample", "flag_invalid", raw.get("phone_is_sample"))
    data["phone_is_sample"] = bool(flag)
    data["services"] = _codes(raw.get("services"))
    for code in data["services"]:
        if code not in SERVICE_CODES:
            bad("services", "service_unknown", code)
    data["languages"] = _codes(raw.get("languages")) or ["zh"]
    for code in data["languages"]:
        if code not in LANGUAGES:
            bad("languages", "language_unknown", code)
    lat, lon = _coordinate(raw.get("latitude")), _coordinate(raw.get("longitude"))
    if (
        lat == "bad"
        or lon == "bad"
        or (lat is None) != (lon is None)
        or (isinstance(lat, float) and not -90 <= lat <= 90)
        or (isinstance(lon, float) and not -180 <= lon <= 180)
    ):
        bad("latitude", "coordinate_invalid", f"{raw.get('latitude')}, {raw.get('longitude')}")
        lat = lon = None
    data["latitude"], data["longitude"] = lat, lon
    return data, problems


def clean_organization(
    raw: Mapping[str, object],
    known_regions: Container[str],
    *,
    allowed: Callable[[str], bool] | None = None,
    with_code: bool = True,
) -> tuple[dict, list[Problem]]:
    """Check an organization typed in a form; return (clean data, problems)."""
    problems, bad = _problem_list()

    data = {f: _text(raw, f) for f in ("code", "name", "kind", "region_code", "description")}
    if with_code:
        _check_code(data["code"], bad)
    else:
        del data["code"]
    if not data["name"]:
        bad("name", "required")
    elif len(data["name"]) > MAX_LENGTHS["name"]:
        bad("name", "too_long", len(data["name"]))
    if len(data["description"]) > MAX_LENGTHS["description"]:
        bad("description", "too_long", len(data["description"]))
    _check_kind(data["kind"], bad)
    _check_region("region_code", data["region_code"], known_regions, allowed, bad)
    return data, problems


def unchanged_by(point: ServicePoint, data: Mapping) -> bool:
    """Whether writing `data` (checked point fields) would leave `point` as it is."""
    wanted = {
        **{f: data.get(f) for f in EDITABLE},
        "region_served": data.get("region_served") or data["region_code"],
        "organization": data.get("organization") or own_organization_code(point.code),
    }
    return point.snapshot() == {"code": point.code, **wanted}


def changes(before: Mapping[str, object], after: Mapping[str, object]) -> dict[str, list]:
    """{field: [before, after]} for each field that differs."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


def audit_detail(before: ServicePoint | Organization | None, after) -> dict:
    """The before/after of a change for the audit log: whole records when created or deleted,
    only the changed fields when updated."""
    if before is None:
        return {"after": after.snapshot()}
    if after is None:
        return {"before": before.snapshot()}
    diff = changes(before.snapshot(), after.snapshot())
    return {
        "before": {k: v[0] for k, v in diff.items()},
        "after": {k: v[1] for k, v in diff.items()},
    }


# --- reading -----------------------------------------------------------------------------

_POINT_COLUMNS = (
    "sp.id, sp.code, sp.name, sp.kind, sp.region_code, sp.address, sp.hours, sp.phone,"
    " sp.phone_is_sample, sp.services, sp.languages, sp.description, sp.organization_id,"
    " COALESCE(o.code, '') AS organization, sp.region_served, sp.latitude, sp.longitude,"
    " sp.version, sp.updated_at, sp.name_mn, sp.description_mn"
)
_SELECT = (
    f"SELECT {_POINT_COLUMNS} FROM service_points sp"
    " LEFT JOIN organizations o ON o.id = sp.organization_id"
)


def _record(cls, row, **converted):
    """A record from a row whose columns are named like its fields (`converted`: the values of
    those stored in another form)."""
    return cls(**{f.name: converted.get(f.name, row[f.name]) for f in fields(cls)})


def _point(row) -> ServicePoint:
    return _record(
        ServicePoint,
        row,
        phone_is_sample=bool(row["phone_is_sample"]),
        services=json.loads(row["services"]),
        languages=json.loads(row["languages"]),
        region_served=row["region_served"] or row["region_code"],
    )


async def points_in_regions(db: Database, region_codes: list[str]) -> list[ServicePoint]:
    """Points sitting in any of these regions, in the order of `region_codes`, then by kind."""
    if not region_codes:
        return []
    marks = ",".join("?" * len(region_codes))
    rows = await db.fetchall(f"{_SELECT} WHERE sp.region_code IN ({marks})", region_codes)
    order = {code: i for i, code in enumerate(region_codes)}
    points = [_point(r) for r in rows]
    points.sort(key=lambda p: (order[p.region_code], KIND_ORDER.index(p.kind), p.code))
    return points


@dataclass(frozen=True)
class _Table:
    """One kind of directory record as stored: its table, SELECT, row converter and the codes
    of its errors. Points and organizations are read, listed and written through it."""

    table: str
    alias: str  # of the table in `select`
    select: str
    convert: Callable
    not_found: str
    stale: str

    async def find(self, db: Database | Transaction, column: str, value: object):
        """The record whose `column` is `value`, or None."""
        row = await db.fetchone(f"{self.select} WHERE {self.alias}.{column} = ?", (value,))
        return None if row is None else self.convert(row)

    async def get(self, db: Database | Transaction, column: str, value: object):
        """The record whose `column` is `value`, else NotFound."""
        found = await self.find(db, column, value)
        if found is None:
            raise NotFound(self.not_found, str(value))
        return found

    async def page(
        self, db: Database, regions: Collection[str] | None, kind: str, q: str, limit: int,
        offset: int,
    ) -> tuple[list, int]:  # fmt: skip
        clause, params = _where(regions, kind, q.strip(), self.alias + ".")
        total = await db.fetchval(f"SELECT COUNT(*) FROM {self.table} {self.alias}{clause}", params)
        rows = await db.fetchall(
            f"{self.select}{clause} ORDER BY {self.alias}.region_code, {self.alias}.kind,"
            f" {self.alias}.code LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [self.convert(r) for r in rows], int(total)

    async def every(self, db: Database, regions: Collection[str] | None) -> list:
        clause, params = _where(regions, "", "", self.alias + ".")
        rows = await db.fetchall(f"{self.select}{clause} ORDER BY {self.alias}.code", params)
        return [self.convert(r) for r in rows]


async def get_point(db: Database, code: str) -> ServicePoint:
    return await _POINTS.get(db, "code", code)


async def get_point_by_id(db: Database, point_id: int) -> ServicePoint:
    return await _POINTS.get(db, "id", point_id)


async def point_code_of(db: Database, point_id: int) -> str:
    """A point's code from its id (a light lookup), else NotFound."""
    code = await db.fetchval("SELECT code FROM service_points WHERE id = ?", (point_id,))
    if code is None:
        raise NotFound("service_point_not_found", str(point_id))
    return code


async def point_names(db: Database, codes: Collection[str]) -> dict[str, str]:
    """The names of these points by code, in one read (codes the directory does not hold are
    left out)."""
    codes = sorted(set(codes))
    if not codes:
        return {}
    marks = ",".join("?" * len(codes))
    rows = await db.fetchall(
        f"SELECT code, name FROM service_points WHERE code IN ({marks})", codes
    )
    return {r[0]: r[1] for r in rows}


async def count_by_region(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT region_code, COUNT(*) FROM service_points GROUP BY 1")
    return {r[0]: r[1] for r in rows}


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _where(
    regions: Collection[str] | None, kind: str, q: str, prefix: str
) -> tuple[str, list[object]]:
    where: list[str] = []
    params: list[object] = []
    if regions is not None:
        if not regions:
            return " WHERE 0", []
        where.append(f"{prefix}region_code IN ({','.join('?' * len(regions))})")
        params.extend(regions)
    if kind:
        where.append(f"{prefix}kind = ?")
        params.append(kind)
    if q:
        where.append(
            f"({prefix}name LIKE ? ESCAPE '\\' OR {prefix}code LIKE ? ESCAPE '\\'"
            + (f" OR {prefix}address LIKE ? ESCAPE '\\'" if prefix == "sp." else "")
            + ")"
        )
        params.extend([_like(q)] * (3 if prefix == "sp." else 2))
    return (" WHERE " + " AND ".join(where)) if where else "", params


async def list_points(
    db: Database,
    *,
    regions: Collection[str] | None = None,
    kind: str = "",
    q: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ServicePoint], int]:
    """A page of points (by region, kind and text in name, code or address) and the total.

    `regions=None` means every region; an empty collection matches nothing.
    """
    return await _POINTS.page(db, regions, kind, q, limit, offset)


async def all_points(db: Database, regions: Collection[str] | None = None) -> list[ServicePoint]:
    """Every point (in these regions), ordered by code: the order of exports."""
    return await _POINTS.every(db, regions)


_ORG_SELECT = (
    "SELECT o.id, o.code, o.name, o.kind, o.region_code, o.description, o.version,"
    " o.updated_at, (SELECT COUNT(*) FROM service_points sp WHERE sp.organization_id = o.id)"
    " AS points FROM organizations o"
)


def _org(row) -> Organization:
    return _record(Organization, row)


_POINTS = _Table("service_points", "sp", _SELECT, _point, "service_point_not_found", "point_stale")
_ORGS = _Table(
    "organizations", "o", _ORG_SELECT, _org, "organization_not_found", "organization_stale"
)


async def list_organizations(
    db: Database,
    *,
    regions: Collection[str] | None = None,
    kind: str = "",
    q: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Organization], int]:
    """A page of organizations (by region, kind and text in name or code) and the total."""
    return await _ORGS.page(db, regions, kind, q, limit, offset)


async def all_organizations(
    db: Database, regions: Collection[str] | None = None
) -> list[Organization]:
    return await _ORGS.every(db, regions)


async def get_organization(db: Database, org_id: int) -> Organization:
    return await _ORGS.get(db, "id", org_id)


# --- writing -----------------------------------------------------------------------------


def _dumps(value: list[str]) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _organization_id(tx: Transaction, data: Mapping, now: float) -> int:
    """The id of the point's organization, created from the point when it does not exist."""
    code = data.get("organization") or own_organization_code(data["code"])
    row = await tx.fetchone("SELECT id FROM organizations WHERE code = ?", (code,))
    if row is not None:
        return int(row[0])
    return await tx.insert(
        "INSERT INTO organizations (code, name, kind, region_code, description, updated_at)"
        " VALUES (?, ?, ?, ?, '', ?)",
        (code, data["name"], data["kind"], data["region_code"], now),
    )


# The columns a write sets: the editable fields, the organization by its id.
_WRITE_COLUMNS = tuple("organization_id" if f == "organization" else f for f in EDITABLE)


def _values(data: Mapping, organization_id: int) -> list[object]:
    return [
        data["name"],
        data["kind"],
        data["region_code"],
        data.get("region_served") or data["region_code"],
        organization_id,
        data.get("address", ""),
        data.get("hours", ""),
        data.get("phone", ""),
        int(bool(data.get("phone_is_sample"))),
        _dumps(list(data.get("services", []))),
        _dumps(list(data.get("languages", ["zh"]))),
        data.get("latitude"),
        data.get("longitude"),
        data.get("description", ""),
        data.get("name_mn", ""),
        data.get("description_mn", ""),
    ]


async def _insert(tx: Transaction, data: Mapping, now: float) -> ServicePoint:
    org_id = await _organization_id(tx, data, now)
    point_id = await tx.insert(
        f"INSERT INTO service_points (code, {', '.join(_WRITE_COLUMNS)}, updated_at)"
        f" VALUES ({', '.join('?' * (len(_WRITE_COLUMNS) + 2))})",
        [data["code"], *_values(data, org_id), now],
    )
    return await _POINTS.get(tx, "id", point_id)


async def _update(
    tx: Transaction, before: ServicePoint, data: Mapping, now: float, expected: int | None
) -> ServicePoint:
    org_id = await _organization_id(tx, {**data, "code": before.code}, now)
    sets = ", ".join(f"{c} = ?" for c in _WRITE_COLUMNS)
    cur = await tx.execute(
        f"UPDATE service_points SET {sets}, version = version + 1, updated_at = ?"
        " WHERE id = ? AND version = ?",
        [*_values(data, org_id), now, before.id, before.version if expected is None else expected],
    )
    if cur.rowcount == 0:
        raise Conflict("point_stale", before.code)
    # A point's own organization follows the point's name, kind and region while it has not
    # been renamed on its own.
    await tx.execute(
        "UPDATE organizations SET name = ?, kind = ?, region_code = ?, version = version + 1,"
        " updated_at = ? WHERE id = ? AND code = ? AND name = ?"
        " AND (name <> ? OR kind <> ? OR region_code <> ?)",
        (
            data["name"],
            data["kind"],
            data["region_code"],
            now,
            org_id,
            own_organization_code(before.code),
            before.name,
            data["name"],
            data["kind"],
            data["region_code"],
        ),
    )
    return await _POINTS.get(tx, "id", before.id)


def _ids(table: _Table, record) -> list[str]:
    """The ids of a "directory" change: the point's code; none (every point) for an
    organization, whose name its points show."""
    return [record.code] if table is _POINTS else []


async def _create(db: Database, table: _Table, data: Mapping, insert, then: Then | None):
    """Insert a checked record (`insert(tx, data, now)`) unless its code is taken; `then(tx,
    None, record)` runs inside the transaction."""
    async with db.transaction() as tx:
        if await tx.fetchone(f"SELECT 1 FROM {table.table} WHERE code = ?", (data["code"],)):
            raise DirectoryInvalid([Problem("code", "code_taken", data["code"])])
        record = await insert(tx, data, time.time())
        tx.emit("directory", _ids(table, record))  # the TV's screens follow once committed
        if then is not None:
            await then(tx, None, record)
    return record


async def _change(
    db: Database,
    table: _Table,
    record_id: int,
    change,
    *,
    expected_version: int | None,
    allowed: Callable[[str], bool] | None,
    then: Then | None,
):
    """Change or delete a record in one transaction: NotFound when it is gone, OutOfScope when
    it now lies outside `allowed`, Conflict(stale) when it changed since `expected_version`.
    `change(tx, before)` returns the record after (None when deleted); `then(tx, before, after)`
    runs inside the transaction. Returns (before, after)."""
    async with db.transaction() as tx:
        before = await table.get(tx, "id", record_id)
        if allowed is not None and not allowed(before.region_code):
            raise OutOfScope(detail=before.region_code)
        if expected_version is not None and before.version != expected_version:
            raise Conflict(table.stale, before.code)
        after = await change(tx, before)
        tx.emit("directory", _ids(table, before))
        if then is not None:
            await then(tx, before, after)
    return before, after


Clean = Callable[..., tuple[dict, list[Problem]]]


def _checked(clean: Clean, raw: Mapping, known_regions, allowed, with_code: bool) -> dict:
    data, problems = clean(raw, known_regions, allowed=allowed, with_code=with_code)
    if problems:
        raise DirectoryInvalid(problems)
    return data


def _creator(table: _Table, clean: Clean, insert, doc: str):
    """`create(db, raw, *, known_regions, allowed=None, then=None)`: check a typed record and
    add it (DirectoryInvalid with every problem, or `code_taken`); `then(tx, None, record)`
    runs inside the transaction, e.g. to write the audit entry."""

    async def create(
        db: Database,
        raw: Mapping[str, object],
        *,
        known_regions: Container[str],
        allowed: Callable[[str], bool] | None = None,
        then: Then | None = None,
    ):
        data = _checked(clean, raw, known_regions, allowed, with_code=True)
        return await _create(db, table, data, insert, then)

    create.__doc__ = doc
    return create


def _updater(table: _Table, clean: Clean, change, doc: str):
    """`update(db, id, raw, *, expected_version, known_regions, allowed=None, then=None)`:
    change a record if nobody changed it since `expected_version` was read, else raise
    Conflict(stale) and write nothing. `allowed` limits both the regions it may be given and
    the region it lies in when the transaction reads it. Returns (before, after)."""

    async def update(
        db: Database,
        record_id: int,
        raw: Mapping[str, object],
        *,
        expected_version: int,
        known_regions: Container[str],
        allowed: Callable[[str], bool] | None = None,
        then: Then | None = None,
    ):
        data = _checked(clean, raw, known_regions, allowed, with_code=False)

        async def apply(tx: Transaction, before):
            return await change(tx, before, data, expected_version)

        return await _change(
            db, table, record_id, apply, expected_version=expected_version, allowed=allowed,
            then=then,
        )  # fmt: skip

    update.__doc__ = doc + "\n\n" + (_updater.__doc__ or "")
    return update


async def _update_point(
    tx: Transaction, before: ServicePoint, data: Mapping, expected_version: int
) -> ServicePoint:
    return await _update(tx, before, data, time.time(), expected_version)


create_point = _creator(
    _POINTS, clean_point, _insert,
    "Add a point (and its own organization unless it names one).\n\n" + (_creator.__doc__ or ""),
)  # fmt: skip
update_point = _updater(_POINTS, clean_point, _update_point, "Change a point.")


async def delete_point(
    db: Database,
    point_id: int,
    *,
    expected_version: int | None = None,
    allowed: Callable[[str], bool] | None = None,
    then: Then | None = None,
) -> ServicePoint:
    """Remove a point; its own organization goes too once no point is left in it."""

    async def change(tx: Transaction, before: ServicePoint) -> None:
        await tx.execute("DELETE FROM service_points WHERE id = ?", (point_id,))
        await tx.execute(
            "DELETE FROM organizations WHERE id = ? AND code = ?"
            " AND NOT EXISTS (SELECT 1 FROM service_points WHERE organization_id = ?)",
            (before.organization_id, own_organization_code(before.code), before.organization_id),
        )

    before, _after = await _change(
        db, _POINTS, point_id, change, expected_version=expected_version, allowed=allowed,
        then=then,
    )  # fmt: skip
    return before


@dataclass(frozen=True)
class Applied:
    """What an import changed: codes created, updated and left as they were."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in asdict(self).items()}


async def apply_points(
    db: Database, rows: Iterable[Mapping], *, then: Then | None = None
) -> Applied:
    """Write already-checked points (by code) in ONE transaction; rows equal to what is stored
    are left untouched (same version). `then(tx, [(before, after), ...])` runs inside it."""
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    done: list[tuple[ServicePoint | None, ServicePoint]] = []
    now = time.time()
    async with db.transaction() as tx:
        for data in rows:
            before = await _POINTS.find(tx, "code", data["code"])
            if before is None:
                point = await _insert(tx, data, now)
                created.append(point.code)
                done.append((None, point))
                continue
            if unchanged_by(before, data):
                unchanged.append(before.code)
                continue
            after = await _update(tx, before, data, now, None)
            updated.append(after.code)
            done.append((before, after))
        if done:
            tx.emit("directory", [after.code for _before, after in done])
        if then is not None:
            await then(tx, done)
    return Applied(created, updated, unchanged)


async def upsert_points(db: Database, points: list[dict]) -> int:
    """Insert or update points by code (the demo loader's path; no validation beyond the
    database's own constraints). Each point joins its own organization unless it names one."""
    await apply_points(
        db,
        [
            {
                "organization": "",
                "region_served": "",
                "latitude": None,
                "longitude": None,
                "description": "",
                **p,
                "phone_is_sample": bool(p["phone_is_sample"]),
            }
            for p in points
        ],
    )
    return len(points)


async def fill_names_mn(db: Database, names: dict[str, str], now: float | None = None) -> int:
    """Give points (by code) a Mongolian name where they have none (the demo loader's path for
    data dirs loaded before its drafted names; a name an editor gave is kept)."""
    now = time.time() if now is None else now
    changed = 0
    async with db.transaction() as tx:
        for code, name in names.items():
            cur = await tx.execute(
                "UPDATE service_points SET name_mn = ?, version = version + 1, updated_at = ?"
                " WHERE code = ? AND name_mn = ''",
                (name, now, code),
            )
            changed += cur.rowcount
    return changed


async def _insert_organization(tx: Transaction, data: Mapping, now: float) -> Organization:
    org_id = await tx.insert(
        "INSERT INTO organizations (code, name, kind, region_code, description, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (data["code"], data["name"], data["kind"], data["region_code"], data["description"], now),
    )
    return await _ORGS.get(tx, "id", org_id)


async def _update_organization(
    tx: Transaction, before: Organization, data: Mapping, expected_version: int
) -> Organization:
    cur = await tx.execute(
        "UPDATE organizations SET name = ?, kind = ?, region_code = ?, description = ?,"
        " version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
        (
            data["name"],
            data["kind"],
            data["region_code"],
            data["description"],
            time.time(),
            before.id,
            expected_version,
        ),
    )
    if cur.rowcount == 0:
        raise Conflict(_ORGS.stale, before.code)
    return await _ORGS.get(tx, "id", before.id)


create_organization = _creator(
    _ORGS, clean_organization, _insert_organization,
    "Add an organization.\n\n" + (_creator.__doc__ or ""),
)  # fmt: skip
update_organization = _updater(
    _ORGS, clean_organization, _update_organization, "Change an organization."
)
