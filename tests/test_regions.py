"""The region tree: the bundled Ordos divisions and importing other trees."""

import subprocess
import sys

import pytest

from device_registry.regions import (
    RegionImportError,
    RegionTree,
    bundled_csv_text,
    decode_csv_bytes,
    import_regions,
    parse_regions,
)
from storage import Database
from tests.helpers import ROOT
from tv_server.migrations import MIGRATIONS


@pytest.fixture
async def db(tmp_path):
    database = Database(tmp_path / "t.sqlite3")
    await database.open()
    await database.migrate(MIGRATIONS)
    yield database
    await database.close()


def test_bundled_tree_is_ordos_with_every_level():
    regions = parse_regions(bundled_csv_text())
    counts = {}
    for region in regions:
        counts[region.level] = counts.get(region.level, 0) + 1
    assert counts == {"city": 1, "county": 9, "township": 88, "village": 1011}
    assert regions[0].name == "鄂尔多斯市"


def test_bundled_source_note_ships_with_the_data():
    note = ROOT / "device_registry" / "data" / "ordos_divisions.SOURCE.md"
    assert "国家统计局" in note.read_text(encoding="utf-8")


def test_chain_runs_from_village_to_city():
    tree = RegionTree(parse_regions(bundled_csv_text()))
    chain = tree.chain("150602001001")
    assert [r.level for r in chain] == ["village", "township", "county", "city"]
    assert [r.code for r in chain] == ["150602001001", "150602001", "150602", "1506"]
    assert tree.full_name("150602001") == "鄂尔多斯市东胜区交通街道"


def test_a_tree_of_division_rows_lists_children_in_code_order_whatever_the_row_order():
    """The demo directory and demo boxes build their tree from the CSV rows this way."""
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(bundled_csv_text())))
    tree = RegionTree.from_rows(reversed(rows))
    assert [r.code for r in tree.roots] == ["1506"]
    banners = [r.code for r in tree.kids("1506")]
    assert banners == sorted(banners) and len(banners) == 9
    assert tree.full_name("150602001") == "鄂尔多斯市东胜区交通街道"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"code": "1506", "name": "", "level": "city"}], "malformed"),
        ([{"code": "1506", "name": "市", "level": "district"}], "malformed"),
        ([{"code": "1506", "name": "市", "level": "city"}] * 2, "duplicate"),
        ([{"code": "150602", "name": "区", "level": "county", "parent_code": "1506"}], "parent"),
        (
            [
                {"code": "1506", "name": "市", "level": "city"},
                {"code": "150602", "name": "区", "level": "city", "parent_code": "1506"},
            ],
            "parent",
        ),
    ],
)
def test_bad_division_rows_are_refused(rows, message):
    with pytest.raises(ValueError, match=message):
        RegionTree.from_rows(rows)


BAD_FILES = [
    ("code,name,level,parent_code\n1506,市,city,\n150602,区,county,9999\n", 3, "unknown parent"),
    ("code,name,level,parent_code\n1506,市,city,\n1506,又一个,city,\n", 3, "duplicate code"),
    ("code,name,level,parent_code\n1506,市,city,\n150602,区,district,1506\n", 3, "bad level"),
    ("code,name,level,parent_code\n1506,市,city,\n150602,区,city,1506\n", 3, "not below"),
    ("code,name,level,parent_code\n1506,市,city,\n15060X,区,county,1506\n", 3, "not a number"),
    ("code,name\n1506,市\n", 1, "header"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_FILES)
def test_bad_region_files_name_the_line(text, line, message):
    with pytest.raises(RegionImportError) as caught:
        parse_regions(text)
    assert any(ln == line and message in msg for ln, msg in caught.value.problems), (
        caught.value.problems
    )


async def test_a_bad_file_writes_nothing(db):
    good_then_bad = "code,name,level,parent_code\n1506,市,city,\n150602,区,county,1506\n9,x,oops,\n"
    with pytest.raises(RegionImportError):
        await import_regions(db, good_then_bad)
    assert await db.fetchval("SELECT COUNT(*) FROM regions") == 0


async def test_a_good_file_loads_and_reimport_updates_names(db):
    text = "code,name,level,parent_code\n1506,鄂尔多斯市,city,\n150602,东胜区,county,1506\n"
    assert await import_regions(db, text) == 2
    await import_regions(db, text.replace("东胜区", "东胜"))
    assert await db.fetchval("SELECT name FROM regions WHERE code = '150602'") == "东胜"
    assert await db.fetchval("SELECT COUNT(*) FROM regions") == 2


def test_excel_encodings_are_accepted():
    text = "code,name,level,parent_code\n1506,鄂尔多斯市,city,\n"
    assert decode_csv_bytes(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode_csv_bytes(text.encode("gb18030")) == text


def test_cli_reports_bad_lines_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,name,level,parent_code\n1506,市,city,\n150602,区,county,7777\n", encoding="utf-8"
    )
    env = {"PATH": "/usr/bin:/bin", "LEGALTV_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "tv_server.cli", "regions", "import", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "line 3: unknown parent 7777" in result.stderr
    assert "nothing was written" in result.stderr

    good = tmp_path / "good.csv"
    good.write_text(
        "code,name,level,parent_code\n1506,市,city,\n150602,区,county,1506\n", encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "tv_server.cli", "regions", "import", str(good)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "imported 2 regions" in result.stdout
