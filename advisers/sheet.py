"""The advisers as a CSV file for operators working in Excel, with the directory's rules: the
export guarded by `storage.sheets`; the import GBK- or UTF-8-tolerant, every bad row reported
with its line, and all rows written in one transaction or none. Columns: docs/staff.md."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Container
from dataclasses import dataclass, field

from advisers import advisers
from advisers.advisers import Adviser, Allowed, Then
from content.directory.csv_io import decode as decode  # the same encodings as the directory
from content.directory.points import Problem
from storage import Database, OutOfScope, sheets

COLUMNS = ("code", *advisers.EDITABLE)
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000


def row_of(a: Adviser) -> list[str]:
    values = {
        **{name: getattr(a, name) or "" for name in COLUMNS},
        "languages": ";".join(a.languages),
        "services": ";".join(a.services),
        "villages": ";".join(a.villages),
    }
    return [str(values[name]) for name in COLUMNS]


def export_csv(items: Collection[Adviser]) -> bytes:
    return sheets.csv_bytes(COLUMNS, (row_of(a) for a in items))


@dataclass
class Plan:
    rows: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    create: int = 0
    update: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def parse(
    text: str,
    known_villages: Container[str],
    office_codes: Container[str],
    *,
    allowed: Allowed | None = None,
) -> Plan:
    """Check every row; nothing touches the database."""
    plan = Plan()
    reader = csv.reader(io.StringIO(text.removeprefix(sheets.BOM)))
    header: list[str] | None = None
    seen_codes: dict[str, int] = {}
    seen_villages: dict[str, int] = {}
    last = 0
    for cells in reader:
        line, last = last + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip().lower() for c in cells]
            missing = [c for c in COLUMNS if c not in header]
            unknown = [c for c in header if c not in COLUMNS]
            if missing:
                plan.problems.append(Problem("header", "columns_missing", ", ".join(missing), line))
            if unknown:
                plan.problems.append(Problem("header", "columns_unknown", ", ".join(unknown), line))
            if plan.problems:
                return plan
            continue
        if len(plan.rows) + len(plan.problems) >= MAX_ROWS:
            plan.problems.append(Problem("file", "too_many_rows", str(MAX_ROWS), line))
            return plan
        if len(cells) != len(header):
            plan.problems.append(Problem("row", "row_width", f"{len(cells)} / {len(header)}", line))
            continue
        raw = dict(zip(header, (sheets.unguard(c.strip()) for c in cells), strict=True))
        data, problems = advisers.clean(raw, known_villages, office_codes, allowed=allowed)
        plan.problems.extend(Problem(p.field, p.code, p.value, line) for p in problems)
        if data["code"] in seen_codes:
            first = seen_codes[data["code"]]
            value = f"{data['code']} @ {first}"
            plan.problems.append(Problem("code", "code_duplicate", value, line))
            continue
        seen_codes[data["code"]] = line
        twice = [v for v in data["villages"] if v in seen_villages]
        if twice:
            first = seen_villages[twice[0]]
            value = f"{twice[0]} @ {first}"
            plan.problems.append(Problem("villages", "village_twice", value, line))
        seen_villages.update((v, line) for v in data["villages"])
        if not problems and not twice:
            data["line"] = line
            plan.rows.append(data)
    if header is None:
        plan.problems.append(Problem("file", "empty_file", "", 1))
    return plan


async def import_csv(
    db: Database,
    text: str,
    known_villages: Container[str],
    office_codes: Container[str],
    *,
    allowed: Allowed | None = None,
    then: Then | None = None,
) -> Plan:
    """Check the file, then write every row in one transaction; with problems (also one found
    while writing, e.g. an adviser outside the editor's area) nothing is written."""
    plan = parse(text, known_villages, office_codes, allowed=allowed)
    if plan.problems:
        return plan
    stored = {a.code: a.id for a in await advisers.all_advisers(db)}

    class _Refused(Exception):
        pass

    try:
        async with db.transaction() as tx:
            for data in plan.rows:
                adviser_id = stored.get(data["code"])
                try:
                    await advisers.write(
                        tx, data, adviser_id=adviser_id, allowed=allowed, then=then
                    )
                except OutOfScope as exc:
                    plan.problems.append(
                        Problem("villages", "region_out_of_scope", exc.detail, data["line"])
                    )
                if adviser_id is None:
                    plan.create += 1
                else:
                    plan.update += 1
            if plan.problems:
                raise _Refused
    except _Refused:
        plan.create = plan.update = 0
    return plan
