"""Mongolian names of regions (traditional script), importable as CSV like the tree:
`code,name_mn,review[,translit]`, review `drafted` (not yet reviewed by a native speaker) or
`reviewed`. The bundled file names the city and its nine banners/districts, all drafted. A
region without a Mongolian name is shown with its Chinese name."""

from __future__ import annotations

import csv
import io
import time
from importlib import resources

from storage import Database, Invalid

BUNDLED_CSV = "ordos_divisions_mn.csv"
HEADER = ("code", "name_mn", "review")
REVIEWS = ("drafted", "reviewed")
NAME_MAX = 100


class RegionNamesError(Invalid):
    """A names file with problems; `problems` lists (line, message) pairs."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        text = "; ".join(f"line {line}: {msg}" for line, msg in problems[:20])
        super().__init__("region_names_invalid", text)


def bundled_csv_text() -> str:
    return resources.files("device_registry.data").joinpath(BUNDLED_CSV).read_text("utf-8")


def parse_names(text: str, known: set[str]) -> list[tuple[str, str, str]]:
    """Parse and validate; raise RegionNamesError listing every bad line."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header[:3]) != HEADER:
        raise RegionNamesError([(1, "the header must start with: code,name_mn,review")])
    problems: list[tuple[int, str]] = []
    out: dict[str, tuple[str, str, str]] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 3:
            problems.append((line, f"expected at least 3 columns, found {len(row)}"))
            continue
        code, name, review = (cell.strip() for cell in row[:3])
        if code not in known:
            problems.append((line, f"unknown region code '{code[:20]}'"))
        elif not name or len(name) > NAME_MAX:
            problems.append((line, f"name_mn must have 1 to {NAME_MAX} characters"))
        elif review not in REVIEWS:
            problems.append((line, "review must be drafted or reviewed"))
        elif code in out:
            problems.append((line, f"region {code} named twice"))
        else:
            out[code] = (code, name, review)
    if problems:
        raise RegionNamesError(problems)
    return list(out.values())


async def import_names(db: Database, text: str, now: float | None = None) -> int:
    """Validate `text` fully, then write every name in one transaction."""
    now = time.time() if now is None else now
    known = {r[0] for r in await db.fetchall("SELECT code FROM regions")}
    names = parse_names(text, known)
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO region_names_mn (code, name, review, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (code) DO UPDATE SET name = excluded.name, review = excluded.review,"
            " updated_at = excluded.updated_at",
            [(code, name, review, now) for code, name, review in names],
        )
    return len(names)


async def ensure_bundled(db: Database) -> bool:
    """Load the bundled names when none are there yet (a fresh or upgraded database)."""
    if await db.fetchval("SELECT COUNT(*) FROM region_names_mn"):
        return False
    await import_names(db, bundled_csv_text())
    return True


async def load_names(db: Database) -> dict[str, str]:
    rows = await db.fetchall("SELECT code, name FROM region_names_mn")
    return {r[0]: r[1] for r in rows}
