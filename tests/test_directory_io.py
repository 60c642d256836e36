"""The service directory as CSV: export → import round trips, Excel's encodings, every bad row
reported with its line number and nothing written, dry runs, the organizations migration and
the `legaltv directory` commands."""

from __future__ import annotations

import pytest

from content.directory import csv_io as directory_io
from content.directory import points as directory
from content.directory.points import DirectoryInvalid
from device_registry.regions import RegionTree
from storage import Database
from tests.helpers import GOOD, csv_text
from tv_server import cli
from tv_server.demo import ensure_regions
from tv_server.migrations import MIGRATIONS


@pytest.fixture
async def regions(db):
    return (await RegionTree.load(db)).by_code


async def table(db: Database, name: str) -> list[tuple]:
    return [tuple(r) for r in await db.fetchall(f"SELECT * FROM {name} ORDER BY id")]


async def export_text(db: Database) -> str:
    return directory_io.decode(await directory_io.export_csv(db))


async def test_export_then_import_leaves_every_row_identical(db, regions):
    points, orgs = await table(db, "service_points"), await table(db, "organizations")
    text = await export_text(db)

    plan, applied = await directory_io.import_csv(db, text, regions)

    assert len(plan.rows) == len(points) == 352
    assert applied.counts() == {"created": 0, "updated": 0, "unchanged": 352}
    assert await table(db, "service_points") == points  # versions and times untouched too
    assert await table(db, "organizations") == orgs


async def test_import_of_an_export_restores_edited_rows(db, regions):
    original = {p.code: p.snapshot() for p in await directory.all_points(db)}
    text = await export_text(db)
    hotline = await directory.get_point(db, "sp-12348")
    edited = {
        **hotline.snapshot(),
        "name": "改过的名字",
        "services": ["consultation"],
        "latitude": "39.6",
        "longitude": "109.8",
        "languages": ["zh"],
    }
    await directory.update_point(
        db, hotline.id, edited, expected_version=hotline.version, known_regions=regions
    )
    station = await directory.get_point(db, "sp-150602001")
    await directory.delete_point(db, station.id)

    _plan, applied = await directory_io.import_csv(db, text, regions)

    assert applied.created == ["sp-150602001"]
    assert applied.updated == ["sp-12348"]
    assert {p.code: p.snapshot() for p in await directory.all_points(db)} == original


async def test_round_trip_into_an_empty_directory_gives_the_same_file(db, regions, tmp_path):
    point = await directory.get_point(db, "sp-150602")
    await directory.update_point(
        db,
        point.id,
        {
            **point.snapshot(),
            "latitude": 39.8172,
            "longitude": 109.98345,
            "hours": "周一至周五 8:30—12:00\n周六 9:00—11:30",
        },
        expected_version=point.version,
        known_regions=regions,
    )
    exported = await directory_io.export_csv(db)
    fresh = Database(tmp_path / "fresh.sqlite3")
    await fresh.open()
    try:
        await fresh.migrate(MIGRATIONS)
        await ensure_regions(fresh)
        _plan, applied = await directory_io.import_csv(
            fresh, directory_io.decode(exported), regions
        )
        assert len(applied.created) == 352
        assert await directory_io.export_csv(fresh) == exported
    finally:
        await fresh.close()


async def test_export_is_utf8_with_bom_and_documented_columns(db):
    data = await directory_io.export_csv(db)
    assert data.startswith(b"\xef\xbb\xbf")
    header = data[3:].decode("utf-8").splitlines()[0]
    assert header.split(",") == list(directory_io.COLUMNS)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030", "gbk"])
async def test_files_from_excel_in_each_encoding_are_accepted(db, regions, encoding):
    text = csv_text([GOOD])
    decoded = directory_io.decode(text.encode(encoding))
    assert decoded.lstrip("\ufeff") == text
    plan = await directory_io.check(db, decoded, regions)
    assert plan.ok and plan.create == ["sp-test-1"]
    assert plan.rows[0]["name"] == "测试服务室"


def test_a_file_in_neither_encoding_is_refused():
    with pytest.raises(DirectoryInvalid) as caught:
        directory_io.decode("测试".encode("utf-16"))
    assert caught.value.problems[0].code == "encoding"


BAD_ROWS = [
    # (row overrides, expected problem code)
    ({"code": "sp-bad-region", "region_code": "999999"}, "region_unknown"),
    ({"code": "sp-bad-served", "region_served": "15069999"}, "region_unknown"),
    ({"code": "sp-bad-kind", "kind": "lawyer_office"}, "kind_invalid"),
    ({"code": "sp-bad-phone", "phone": "12345"}, "phone_invalid"),
    ({"code": "sp-bad-service", "services": "consultation;tax_advice"}, "service_unknown"),
    ({"code": "sp-bad-lang", "languages": "zh;en"}, "language_unknown"),
    ({"code": "sp-bad-geo", "latitude": "139.5"}, "coordinate_invalid"),
    ({"code": "sp-bad-flag", "phone_is_sample": "maybe"}, "flag_invalid"),
    ({"code": "sp bad code"}, "code_invalid"),
    ({"code": "sp-no-name", "name": ""}, "required"),
    ({"code": "sp-test-1"}, "code_duplicate"),  # same code as the good first row
]


async def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(db, regions):
    before = await table(db, "service_points"), await table(db, "organizations")
    rows = [GOOD] + [{**GOOD, **change} for change, _code in BAD_ROWS]
    text = csv_text(rows)
    # A blank line after the header and a row with a cell too many; blank lines are skipped
    # but still counted, as Excel numbers them.
    lines = text.split("\r\n")
    lines.insert(1, "")
    lines.insert(4, lines[2] + ",extra")
    text = "\r\n".join(lines)

    with pytest.raises(DirectoryInvalid) as caught:
        await directory_io.import_csv(db, text, regions)

    found = {(p.line, p.code) for p in caught.value.problems}
    # line 1 header, 2 blank, 3 GOOD, 4 first bad row, 5 the over-long row, then the others
    expected = {(5, "row_width")}
    line = 4
    for _change, code in BAD_ROWS:
        expected.add((line, code))
        line += 2 if line == 4 else 1
    assert found == expected
    assert (await table(db, "service_points"), await table(db, "organizations")) == before


async def test_a_dry_run_with_problems_lists_them_too(db, regions):
    text = csv_text([{**GOOD, "region_code": "1"}])
    with pytest.raises(DirectoryInvalid) as caught:
        await directory_io.import_csv(db, text, regions, dry_run=True)
    assert [(p.line, p.field, p.code) for p in caught.value.problems] == [
        (2, "region_code", "region_unknown")
    ]


@pytest.mark.parametrize(
    ("columns", "code"),
    [
        ([c for c in directory_io.COLUMNS if c != "phone"], "columns_missing"),
        ([*directory_io.COLUMNS, "电话"], "columns_unknown"),
        ([*directory_io.COLUMNS, "phone"], "columns_duplicate"),
    ],
)
async def test_wrong_or_missing_columns_are_reported_on_the_header_line(db, regions, columns, code):
    header = ",".join(columns)
    text = f"\r\n{header}\r\n" + ",".join("x" for _ in columns) + "\r\n"
    plan = await directory_io.check(db, text, regions)
    assert [(p.line, p.code) for p in plan.problems] == [(2, code)]
    assert plan.rows == []


async def test_an_empty_file_is_reported(db, regions):
    plan = await directory_io.check(db, "\r\n\r\n", regions)
    assert [p.code for p in plan.problems] == ["empty_file"]


async def test_a_dry_run_writes_nothing_and_says_what_a_real_run_would_do(db, regions):
    hotline = await directory.get_point(db, "sp-12348")
    changed = {
        **hotline.snapshot(),
        "hours": "全天",
        "services": "consultation",
        "languages": "zh;mn",
        "latitude": "",
        "longitude": "",
    }
    text = csv_text([GOOD, {k: directory_io.cell_text(v) for k, v in changed.items()}])
    before = await table(db, "service_points"), await table(db, "organizations")

    plan, applied = await directory_io.import_csv(db, text, regions, dry_run=True)

    assert applied is None
    assert (plan.create, plan.update, plan.new_organizations) == (
        ["sp-test-1"],
        ["sp-12348"],
        ["org-test-1"],
    )
    assert (await table(db, "service_points"), await table(db, "organizations")) == before

    _plan, applied = await directory_io.import_csv(db, text, regions)
    assert (applied.created, applied.updated) == (["sp-test-1"], ["sp-12348"])
    new = await directory.get_point(db, "sp-test-1")
    assert (new.organization, new.region_served, new.latitude) == ("org-test-1", "150602", 39.8173)
    assert (await directory.get_point(db, "sp-12348")).version == hotline.version + 1


async def test_scoped_import_refuses_rows_outside_the_area(db, regions):
    area = {c for c in regions if c.startswith("150602")}
    outside = await directory.get_point(db, "sp-150603")
    text = csv_text(
        [
            GOOD,
            {**GOOD, "code": "sp-elsewhere", "region_code": "150603"},
            {
                k: directory_io.cell_text(v)
                for k, v in {
                    **outside.snapshot(),
                    "region_code": "150602",
                    "region_served": "150602",
                }.items()
            },
        ]
    )
    plan = await directory_io.check(db, text, regions, allowed=area.__contains__)
    assert [(p.line, p.code) for p in plan.problems] == [
        (3, "region_out_of_scope"),
        (4, "region_out_of_scope"),
    ]


@pytest.mark.parametrize(
    ("phone", "ok"),
    [
        ("12348", True),
        ("0477-5550001", True),
        ("04778512345", True),
        ("13800138000", True),
        ("+86 138 0013 8000", True),
        ("12345", False),
        ("0477-555", False),
        ("call us", False),
        ("1380013800", False),
    ],
)
def test_phone_numbers_are_mainland_numbers_or_the_hotline(phone, ok):
    assert directory.phone_ok(phone) is ok


async def test_migration_puts_each_existing_point_into_its_own_organization(tmp_path):
    db = Database(tmp_path / "old.sqlite3")
    await db.open()
    try:
        await db.migrate([m for m in MIGRATIONS if m.name != "directory_0002_organizations"])
        await db.execute(
            "INSERT INTO service_points (code, name, kind, region_code, updated_at) VALUES"
            " ('sp-150602', '东胜区中心', 'banner_centre', '150602', 1),"
            " ('custom', '某调解室', 'village_room', '150602001001', 2)"
        )
        await db.migrate(MIGRATIONS)
        points = {p.code: p for p in await directory.all_points(db)}
        orgs = {o.code: o for o in await directory.all_organizations(db)}
    finally:
        await db.close()
    assert set(orgs) == {"org-150602", "org-custom"}
    assert points["sp-150602"].organization == "org-150602"
    assert points["custom"].organization == "org-custom"
    assert orgs["org-custom"].name == "某调解室" and orgs["org-custom"].points == 1
    assert points["custom"].region_served == "150602001001"
    assert points["custom"].version == 1


def run_cli(*argv: str) -> int:
    return cli.main(list(argv))


def test_cli_export_dry_run_and_import(data_dir, tmp_path, capsys):
    target = tmp_path / "directory.csv"
    assert run_cli("directory", "export", str(target), "--data-dir", str(data_dir)) == 0
    assert "exported 352 service points" in capsys.readouterr().out
    text = target.read_bytes().decode("utf-8-sig")
    text += ",".join(directory_io.cell_text(GOOD[c]) for c in directory_io.COLUMNS) + "\r\n"
    target.write_bytes(text.encode("gb18030"))

    assert (
        run_cli("directory", "import", str(target), "--dry-run", "--data-dir", str(data_dir)) == 0
    )
    out = capsys.readouterr().out
    assert "dry run, nothing written: 1 to create, 0 to update, 352 unchanged" in out

    assert run_cli("directory", "import", str(target), "--data-dir", str(data_dir)) == 0
    assert "1 created, 0 updated, 352 unchanged" in capsys.readouterr().out


def test_cli_import_lists_every_bad_line(data_dir, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        csv_text([{**GOOD, "kind": "x"}, {**GOOD, "code": "b", "phone": "1"}]), encoding="utf-8-sig"
    )
    assert run_cli("directory", "import", str(bad), "--data-dir", str(data_dir)) == 2
    err = capsys.readouterr().err
    assert "nothing was written" in err
    assert "line 2: kind:" in err and "line 3: phone:" in err
