"""The service directory as a CSV file, for operators working in Excel: export (UTF-8 with BOM,
text that would start a formula guarded with a `'`, see `storage.sheets`), and an import that
takes such a `'` off again, checks every row first, reports each bad one with its line number,
and then writes all rows in one transaction or none at all. Columns: docs/directory.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Container
from dataclasses import dataclass, field

from content.directory import points as directory
from content.directory.points import Applied, DirectoryInvalid, Problem, ServicePoint
from storage import Database, sheets

# The CSV columns: the point's code, then everything an editor can change, in that order.
COLUMNS = ("code", *directory.EDITABLE)
BOM = sheets.BOM
MAX_BYTES = 5 * 1024 * 1024  # the whole Ordos directory is about 150 KB


def decode(raw: bytes) -> str:
    """Operators' files come from Excel: UTF-8 with or without BOM, or GB18030 (GBK's superset).

    Raises DirectoryInvalid(encoding) for anything else.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise DirectoryInvalid([Problem("file", "encoding", line=1)]) from None


def cell_text(value: object) -> str:
    """A field as the file's text: lists joined by ';', flags 1/0, nothing empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)  # floats print the shortest text that reads back as the same number


def point_row(point: ServicePoint) -> list[str | float]:
    """A point's cells; coordinates stay numbers (the table writer guards text only)."""
    values = (getattr(point, name) for name in COLUMNS)
    return [v if isinstance(v, float) else cell_text(v) for v in values]


def export_text(points: Collection[ServicePoint]) -> str:
    return sheets.csv_text(COLUMNS, (point_row(p) for p in points))


def csv_bytes(points: Collection[ServicePoint]) -> bytes:
    """UTF-8 with a BOM, so that Excel reads the Chinese right."""
    return sheets.csv_bytes(COLUMNS, (point_row(p) for p in points))


async def export_csv(db: Database, regions: Collection[str] | None = None) -> bytes:
    """Every point (in these regions) by code, as CSV bytes for Excel."""
    return csv_bytes(await directory.all_points(db, regions))


@dataclass
class Plan:
    """A checked file: the clean rows (with their line numbers) or the problems, and what a
    real run would do with each code."""

    rows: list[dict] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    create: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    new_organizations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse(
    text: str,
    known_regions: Container[str],
    *,
    allowed: Callable[[str], bool] | None = None,
) -> Plan:
    """Check every row of a CSV text; blank lines are skipped. Nothing touches the database."""
    plan = Plan()
    reader = csv.reader(io.StringIO(text.removeprefix(BOM)))
    header: list[str] | None = None
    header_line = 0
    last_line = 0
    for cells in reader:
        line, last_line = last_line + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header, header_line = [c.strip().lower() for c in cells], line
            _check_header(header, line, plan)
            if plan.problems:
                return plan
            continue
        if len(cells) != len(header):
            plan.problems.append(
                Problem("row", "row_width", f"{len(cells)} / {len(header)}", line=line)
            )
            continue
        # The export put a `'` before text that would start a formula: take exactly that one off.
        raw = dict(zip(header, (sheets.unguard(c.strip()) for c in cells), strict=True))
        data, problems = directory.clean_point(raw, known_regions, allowed=allowed)
        plan.problems.extend(Problem(p.field, p.code, p.value, line=line) for p in problems)
        code = data["code"]
        if code and code in plan.lines:
            plan.problems.append(
                Problem("code", "code_duplicate", f"{code} @ {plan.lines[code]}", line=line)
            )
        elif code:
            plan.lines[code] = line
        if not problems:
            plan.rows.append(data)
    if header is None:
        plan.problems.append(Problem("file", "empty_file", line=max(header_line, 1)))
    return plan


def _check_header(header: list[str], line: int, plan: Plan) -> None:
    missing = [c for c in COLUMNS if c not in header and c not in directory.OPTIONAL_COLUMNS]
    unknown = [c for c in header if c not in COLUMNS]
    twice = sorted({c for c in header if header.count(c) > 1})
    if missing:
        plan.problems.append(Problem("header", "columns_missing", ", ".join(missing), line=line))
    if unknown:
        plan.problems.append(Problem("header", "columns_unknown", ", ".join(unknown), line=line))
    if twice:
        plan.problems.append(Problem("header", "columns_duplicate", ", ".join(twice), line=line))


async def check(
    db: Database,
    text: str,
    known_regions: Container[str],
    *,
    allowed: Callable[[str], bool] | None = None,
) -> Plan:
    """Parse the file and compare it with the database: the dry run. Writes nothing.

    With `allowed`, a row may not move a point that lies outside the editor's area.
    """
    plan = parse(text, known_regions, allowed=allowed)
    stored = {p.code: p for p in await directory.all_points(db)}
    organizations = {o.code for o in await directory.all_organizations(db)}
    for data in plan.rows:
        before = stored.get(data["code"])
        if before is not None and allowed is not None and not allowed(before.region_code):
            plan.problems.append(
                Problem(
                    "region_code",
                    "region_out_of_scope",
                    before.region_code,
                    line=plan.lines[data["code"]],
                )
            )
            continue
        org = data["organization"] or directory.own_organization_code(data["code"])
        if org not in organizations:
            organizations.add(org)
            plan.new_organizations.append(org)
        if before is None:
            plan.create.append(data["code"])
        elif directory.unchanged_by(before, data):
            plan.unchanged.append(data["code"])
        else:
            plan.update.append(data["code"])
    plan.problems.sort(key=lambda p: p.line or 0)
    return plan


async def import_csv(
    db: Database,
    text: str,
    known_regions: Container[str],
    *,
    allowed: Callable[[str], bool] | None = None,
    dry_run: bool = False,
    then: directory.Then | None = None,
) -> tuple[Plan, Applied | None]:
    """Check the file; unless it is a dry run or has problems, write every row in one
    transaction. Raises DirectoryInvalid listing each bad row (nothing written)."""
    plan = await check(db, text, known_regions, allowed=allowed)
    if plan.problems:
        raise DirectoryInvalid(plan.problems)
    if dry_run:
        return plan, None
    return plan, await directory.apply_points(db, plan.rows, then=then)
