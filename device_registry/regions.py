"""The official division tree (city → banner/district → township → village).

`import_regions` validates a whole CSV before writing anything; `RegionTree` is the in-memory
view the server keeps for chains and children (1,109 rows for Ordos).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources

from storage import Database, Invalid

LEVELS = ("province", "city", "county", "township", "village")
COLUMNS = ("code", "name", "level", "parent_code")
BUNDLED_CSV = "ordos_divisions.csv"


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str
    parent_code: str | None


class RegionImportError(Invalid):
    """A region file with problems; `problems` lists (line, message) pairs."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        text = "; ".join(f"line {line}: {msg}" for line, msg in problems[:20])
        super().__init__("regions_invalid", text)


# Longest first: the committee suffixes the statistical names carry after the village name.
_COMMITTEE_SUFFIXES = ("居民委员会", "村民委员会", "村委员会", "委员会", "居委会", "村委会")
_VILLAGE_ENDINGS = ("村", "嘎查", "社区")


def village_display_name(name: str) -> str:
    """Short village name: "大树湾村委会" → "大树湾村", "朝阳社区居民委员会" → "朝阳社区"."""
    short = name
    suffix = ""
    for candidate in _COMMITTEE_SUFFIXES:
        if short.endswith(candidate) and len(short) > len(candidate):
            short, suffix = short[: -len(candidate)], candidate
            break
    if short.endswith(_VILLAGE_ENDINGS):
        return short
    return short + ("社区" if suffix.startswith("居") else "村")


def bundled_csv_text() -> str:
    return resources.files("device_registry.data").joinpath(BUNDLED_CSV).read_text("utf-8")


def decode_csv_bytes(raw: bytes) -> str:
    """Operators' files come from Excel: UTF-8 with or without BOM, or GB18030/GBK."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def parse_regions(text: str, existing: dict[str, Region] | None = None) -> list[Region]:
    """Parse and validate a region CSV; raise RegionImportError listing every bad line.

    A parent must appear earlier in the file or already exist; a child's level must be below its
    parent's.
    """
    reader = csv.reader(io.StringIO(text))
    problems: list[tuple[int, str]] = []
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise RegionImportError([(1, f"header must be {','.join(COLUMNS)}, got {header!r}")])
    known: dict[str, Region] = dict(existing or {})
    seen_in_file: set[str] = set()
    out: list[Region] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(COLUMNS):
            problems.append((line, f"expected {len(COLUMNS)} columns, got {len(row)}"))
            continue
        code, name, level, parent = (cell.strip() for cell in row)
        if not code.isdigit():
            problems.append((line, f"code {code!r} is not a number"))
            continue
        if code in seen_in_file:
            problems.append((line, f"duplicate code {code}"))
            continue
        if not name:
            problems.append((line, f"code {code} has no name"))
        if level not in LEVELS:
            problems.append((line, f"bad level {level!r} (one of {', '.join(LEVELS)})"))
            continue
        if parent:
            parent_region = known.get(parent)
            if parent_region is None:
                problems.append((line, f"unknown parent {parent} of {code}"))
                continue
            if LEVELS.index(level) <= LEVELS.index(parent_region.level):
                problems.append(
                    (
                        line,
                        f"level {level} of {code} is not below its parent's {parent_region.level}",
                    )
                )
                continue
        elif level not in ("province", "city"):
            problems.append((line, f"{level} {code} has no parent"))
            continue
        region = Region(code, name, level, parent or None)
        seen_in_file.add(code)
        known[code] = region
        out.append(region)
    if problems:
        raise RegionImportError(problems)
    if not out:
        raise RegionImportError([(1, "the file holds no regions")])
    return out


async def import_regions(db: Database, text: str) -> int:
    """Validate `text` fully, then insert or update every region in one transaction."""
    existing = {r.code: r for r in await load_regions(db)}
    regions = parse_regions(text, existing)
    async with db.transaction() as tx:
        for position, region in enumerate(regions):
            await tx.execute(
                "INSERT INTO regions (code, name, level, parent_code, position)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level,"
                " parent_code = excluded.parent_code, position = excluded.position",
                (region.code, region.name, region.level, region.parent_code, position),
            )
    return len(regions)


async def count_regions(db: Database) -> int:
    """How many regions the division tree holds (0 before one is loaded)."""
    return await db.fetchval("SELECT COUNT(*) FROM regions")


async def load_regions(db: Database) -> list[Region]:
    rows = await db.fetchall(
        "SELECT code, name, level, parent_code FROM regions ORDER BY position, code"
    )
    return [Region(r["code"], r["name"], r["level"], r["parent_code"]) for r in rows]


class RegionTree:
    """Read-only in-memory tree; rebuild it after an import."""

    def __init__(self, regions: list[Region], mongolian: dict[str, str] | None = None) -> None:
        self.by_code = {r.code: r for r in regions}
        self.mongolian = mongolian or {}  # code -> Mongolian name (device_registry.region_names)
        self.children: dict[str | None, list[Region]] = {}
        for region in regions:
            self.children.setdefault(region.parent_code, []).append(region)
        self.roots = [r for r in regions if r.parent_code not in self.by_code]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, str]]) -> RegionTree:
        """A tree of division rows (dicts of COLUMNS, as in the bundled CSV) with every region's
        children in code order, whatever the order of the rows; ValueError when a row is
        malformed, a code repeats, or a region's parent is missing or not above it."""
        regions: dict[str, Region] = {}
        for row in rows:
            code, name, level, parent = (str(row.get(key) or "").strip() for key in COLUMNS)
            if not code or not name or level not in LEVELS:
                raise ValueError(f"malformed region row: {dict(row)!r}")
            if code in regions:
                raise ValueError(f"duplicate region code {code}")
            regions[code] = Region(code, name, level, parent or None)
        for region in regions.values():
            up = regions.get(region.parent_code or "")
            if region.parent_code and (
                up is None or LEVELS.index(up.level) >= LEVELS.index(region.level)
            ):
                raise ValueError(f"region {region.code} has no valid parent")
        return cls(sorted(regions.values(), key=lambda r: r.code))

    @classmethod
    async def load(cls, db: Database) -> RegionTree:
        from device_registry.region_names import load_names

        return cls(await load_regions(db), await load_names(db))

    def get(self, code: str | None) -> Region | None:
        return self.by_code.get(code) if code else None

    def chain(self, code: str | None) -> list[Region]:
        """The region and its ancestors, nearest first (village → township → banner → city)."""
        out = []
        region = self.get(code)
        while region is not None:
            out.append(region)
            region = self.by_code.get(region.parent_code) if region.parent_code else None
        return out

    def kids(self, code: str | None) -> list[Region]:
        return self.children.get(code, [])

    def name(self, code: str, lang: str = "zh") -> str:
        """The region's name in `lang` (Mongolian where it has one, else Chinese)."""
        region = self.by_code[code]
        return self.mongolian.get(code, region.name) if lang == "mn" else region.name

    def in_language(self, region: Region, lang: str) -> Region:
        """The region with its name in `lang`."""
        name = self.name(region.code, lang)
        return region if name == region.name else replace(region, name=name)

    def full_name(self, code: str, lang: str = "zh") -> str:
        names = [
            self.name(r.code, lang) for r in reversed(self.chain(code)) if r.level != "province"
        ]
        return " ".join(names) if lang == "mn" else "".join(names)
