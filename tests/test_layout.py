"""The layout a newcomer relies on: content/ is one subpackage per part, each with one schema.py
whose migrations carry one prefix; no module (tests included) reaches into another's private
(`_name`) names; times are read in the offices' zone through storage/clock.py only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = [
    "accounts", "advisers", "appointments", "bench", "callbacks", "content", "device_registry",
    "feedback", "storage", "tv_server", "tv_ui",
]  # fmt: skip
# Tests that hold the coverage computations' one-at-a-time lock to stand for a computation over
# a province (minutes long) while concurrent requests arrive: nothing public makes one that long.
ALLOWED = {
    ("tests/security/test_exports_and_api_keys.py", "device_registry.coverage._of"),
}
CONTENT_PARTS = {"programs": "programs_", "directory": "directory_",
                 "announcements": "announcements_", "laws": "laws_"}  # fmt: skip


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _reaches(path: Path) -> list[str]:
    """Where this file uses a private name of another of our modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, modules = [], {}  # modules: local name → our module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                if _private(alias.name) and (node.module, alias.name) not in ALLOWED:
                    found.append(f"{path.name}:{node.lineno} {node.module}.{alias.name}")
                if _is_module(f"{node.module}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and _private(node.attr)
            and modules[node.value.id] != _module_of(path)
        ):
            found.append(f"{path.name}:{node.lineno} {modules[node.value.id]}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    found = [
        f"{path.relative_to(ROOT)}: {hit}"
        for package in [*PACKAGES, "tests"]
        for path in sorted((ROOT / package).rglob("*.py"))
        for hit in _reaches(path)
        if (str(path.relative_to(ROOT)), hit.split(" ")[-1]) not in ALLOWED
    ]
    assert found == []


# Ways of reading a moment in a zone other than the offices' (the setting `timezone`).
OTHER_ZONES = re.compile(
    r"fromtimestamp\((?![^)]*\bUTC\b)"  # the machine's zone (UTC, said so, is fine)
    r"|timezone\(\s*(?:dt\.|datetime\.)?timedelta|timedelta\(hours=\s*8\b"  # a fixed offset
    r"|gmtime\([^)]*[+-]|[+-]\s*(?:8 \* 3600|28800)\b"  # UTC shifted by hand
    r"|localtime\(|mktime\(|datetime\.now\(\)|date\.today\(\)"  # the machine's zone
    r"|Asia/Shanghai|UTC\+8|ZoneInfo\("  # the zone named outside storage/clock.py
)


def test_times_are_read_in_the_offices_zone_through_storage_clock_only():
    """One time-zone module: a page, an export or a date computed anywhere else in another
    zone reads differently from the rest on a server not set to China time."""
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for package in PACKAGES
        if package != "bench"
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "storage" / "clock.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OTHER_ZONES.search(line)
    ]
    assert found == []


def test_content_is_one_subpackage_per_part_each_with_one_schema_and_prefix():
    from tv_server.migrations import MIGRATIONS

    content = ROOT / "content"
    loose = sorted(p.name for p in content.glob("*.py") if p.name != "__init__.py")
    assert loose == []
    assert sorted(p.name for p in content.rglob("*schema*.py")) == ["schema.py"] * 4
    for part, prefix in CONTENT_PARTS.items():
        assert (content / part / "schema.py").is_file()
        module = __import__(f"content.{part}.schema", fromlist=["MIGRATIONS"])
        assert module.MIGRATIONS and all(m.name.startswith(prefix) for m in module.MIGRATIONS)
    owned = [m for m in MIGRATIONS if m.name.split("_")[0] in CONTENT_PARTS]
    assert len(owned) == sum(
        len(__import__(f"content.{p}.schema", fromlist=["M"]).MIGRATIONS) for p in CONTENT_PARTS
    )


def test_programs_are_written_through_the_workflow_only():
    """Editors, package imports and the demo all create programs and write what the TV shows
    through content/programs/workflow.py (which calls live.write_program_rows to publish)."""
    writes = re.compile(
        r"INSERT (?:OR \w+ )?INTO (programs|program_revisions|program_workflow|program_pages"
        r"|program_regions|program_media|program_covers)\b"
    )
    found = {
        (str(path.relative_to(ROOT)), table)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for table in writes.findall(path.read_text(encoding="utf-8"))
    }
    workflow, live = "content/programs/workflow.py", "content/programs/live.py"
    assert {where for where, _ in found} == {workflow, live}
    assert {table for where, table in found if where == live} == {
        "program_pages", "program_regions", "program_media", "program_covers",
    }  # fmt: skip


def test_tables_are_written_by_storage_sheets_only():
    """Every CSV/XLSX the product writes goes through storage/sheets.py, whose guard keeps a
    cell from being read as a formula by the spreadsheet that opens it."""
    writers = re.compile(r"csv\.(?:writer|DictWriter)\(|\bopenpyxl\b|\bxlsxwriter\b")
    found = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        if package != "bench"  # the benches write their synthetic input files
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "storage" / "sheets.py"
        and writers.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_domain_imports_neither_aiohttp_nor_the_web_layer():
    """Domain packages are plain async functions over storage: no aiohttp, and nothing imported
    upward from tv_server/ or tv_ui/ (the web layer and the screens call them, not the reverse)."""
    domain = ["accounts", "advisers", "appointments", "callbacks", "content", "device_registry",
              "feedback", "storage"]  # fmt: skip
    found = []
    for package in domain:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                else:
                    continue
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names
                          if name.split(".")[0] in ("aiohttp", "tv_server", "tv_ui")]  # fmt: skip
    assert found == []
