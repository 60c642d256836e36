"""Bulk import of the operator's box CSV: encodings, a dry-run report naming every bad line,
all-or-nothing writes, pre-authorisation of pending boxes, and the CLI with its progress bar."""

from __future__ import annotations

from device_registry import admission, households, inventory
from device_registry.registry_io import decode, import_devices
from tests.helpers import rows_in, write_in
from tv_server import cli

HEADER = "serial,mac,model,firmware,village_code,household_label,installed_at,state"


async def _villages(db, n: int = 2) -> list[str]:
    rows = await db.fetchall(
        "SELECT code FROM regions WHERE level = 'village' ORDER BY code LIMIT ?", (n,)
    )
    return [r[0] for r in rows]


async def test_good_file_in_gbk_with_bom_variants_is_written(db):
    v1, v2 = await _villages(db)
    text = (
        "\n".join(
            [
                HEADER,
                f"IMP-0001,02:00:00:00:00:01,Huawei EC6110,V1.0,{v1},王家,2026-05-01,installed",
                "",
                f"IMP-0002,02-00-00-00-00-02,,,{v2},,,planned",
                f"IMP-0003,,,,{v2},乌力吉家,,",
            ]
        )
        + "\n"
    )
    for raw in (text.encode("gbk"), b"\xef\xbb\xbf" + text.encode("utf-8")):
        assert decode(raw) == text
    report = await import_devices(db, decode(text.encode("gb18030")))
    assert report.ok and report.written and report.new == 3 and report.rows == 3
    one = await inventory.device_details(db, "IMP-0001")
    assert one["mac"] == "02:00:00:00:00:01" and one["state"] == "installed"
    assert one["installed_at"] == "2026-05-01" and one["firmware"] == "V1.0"
    assert one["household_label"] == "王家" and one["household_id"] is not None
    history = await households.box_history(db, one["household_id"])
    assert [h["serial"] for h in history] == ["IMP-0001"]
    assert (await inventory.device_details(db, "IMP-0002"))["state"] == "planned"
    assert (await inventory.device_details(db, "IMP-0002"))["mac"] == "02:00:00:00:00:02"


async def test_every_bad_row_is_reported_and_nothing_written(db):
    (v1,) = await _villages(db, 1)
    count = await db.fetchval("SELECT COUNT(*) FROM devices")
    text = "\n".join(
        [
            HEADER,
            f"BAD-0001,02:00:00:00:00:11,,,{v1},,,",  # fine
            f"BAD-0002,nonsense,,,{v1},,,",  # malformed MAC (line 3)
            "BAD-0003,,,,999999,,,",  # unknown village (line 4)
            f"BAD-0001,,,,{v1},,,",  # duplicate in file (line 5)
            f"DEMO-0001,,,,{v1},,,",  # duplicate in registry (line 6)
            f"BAD-0004,,,,{v1},,",  # wrong column count (line 7)
            f"BAD-0005,,Nope,,{v1},,2026-13-01,retired",  # model, date, state (line 8)
        ]
    )
    report = await import_devices(db, text)
    lines = {line: msg for line, msg in report.problems}
    assert sorted(lines) == [3, 4, 5, 6, 7, 8]
    assert "MAC" in lines[3] and "village" in lines[4]
    assert "line 2" in lines[5] and "already registered" in lines[6]
    assert "columns" in lines[7]
    assert "model" in lines[8] and "installed_at" in lines[8] and "state" in lines[8]
    assert not report.written
    assert await db.fetchval("SELECT COUNT(*) FROM devices") == count


async def test_wrong_header_and_empty_file(db):
    report = await import_devices(db, "serial,colour\nA-1,red\n")
    assert report.problems[0][0] == 1
    assert "unknown columns: colour" in report.problems[0][1]
    assert "missing columns: village_code" in report.problems[0][1]
    report = await import_devices(db, "\n\n")
    assert report.problems == [(1, "the file is empty")]


async def test_dry_run_writes_nothing_and_pending_boxes_are_accepted(db):
    (v1,) = await _villages(db, 1)
    await admission.register_pending(db, "WAITING-01")
    text = f"{HEADER}\nWAITING-01,,,,{v1},,,\nNEW-0001,,,,{v1},,,\n"
    count = await db.fetchval("SELECT COUNT(*) FROM devices")
    report = await import_devices(db, text, dry_run=True)
    assert report.ok and not report.written and report.accepted == 1 and report.new == 1
    assert await db.fetchval("SELECT COUNT(*) FROM devices") == count
    report = await import_devices(db, text)
    assert report.written
    assert (await inventory.device_details(db, "WAITING-01"))["state"] == "installed"
    assert (await inventory.device_details(db, "WAITING-01"))["village_code"] == v1


def _first_village(data_dir) -> str:
    return rows_in(
        data_dir, "SELECT code FROM regions WHERE level = 'village' ORDER BY code LIMIT 1"
    )[0][0]


def test_cli_import_reports_lines_and_shows_progress(data_dir, tmp_path, capsys):
    v1 = _first_village(data_dir)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(f"{HEADER}\nCLI-0001,xx,,,{v1},,,\n".encode("gbk"))
    assert cli.main(["devices", "import", str(bad), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "MAC" in err and "nothing was written" in err
    good = tmp_path / "good.csv"
    good.write_bytes(("\ufeff" + f"{HEADER}\nCLI-0001,,,,{v1},张家,,\n").encode("utf-8"))
    assert cli.main(["devices", "import", str(good), "--dry-run", "--data-dir", str(data_dir)]) == 0
    assert "dry run" in capsys.readouterr().out
    assert cli.main(["devices", "import", str(good), "--data-dir", str(data_dir)]) == 0
    captured = capsys.readouterr()
    assert "imported 1" in captured.out and "100%" in captured.err
    label = rows_in(data_dir, "SELECT household_label FROM devices WHERE serial = 'CLI-0001'")
    assert label == [("张家",)]
    not_text = tmp_path / "bin.csv"
    not_text.write_bytes(b"\x00\xff\xfe\x81")
    assert cli.main(["devices", "import", str(not_text), "--data-dir", str(data_dir)]) == 2


def test_cli_token_prints_a_working_token(data_dir, capsys):
    import hashlib

    assert cli.main(["devices", "token", "DEMO-0001", "--data-dir", str(data_dir)]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("ltvd_")
    stored = rows_in(
        data_dir,
        "SELECT token_hash FROM device_tokens t JOIN devices d ON d.id = t.device_id"
        " WHERE d.serial = 'DEMO-0001'",
    )[0][0]
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert cli.main(["devices", "token", "NO-SUCH-BOX", "--data-dir", str(data_dir)]) == 2


def _state(data_dir, serial: str) -> str | None:
    rows = rows_in(data_dir, "SELECT state FROM devices WHERE serial = ?", (serial,))
    return rows[0][0] if rows else None


def test_cli_accept_reject_replace_and_household_totals(data_dir, tmp_path, capsys):
    write_in(
        data_dir,
        "INSERT INTO devices (serial, state, created_at) VALUES (?, 'pending', 0)",
        [("CLI-P-1",), ("CLI-P-2",)],
    )
    common = ["--data-dir", str(data_dir)]
    assert cli.main(["devices", "accept", "CLI-P-1", "DEMO-0001", *common]) == 0
    assert "accepted 1 of 2" in capsys.readouterr().out
    assert cli.main(["devices", "reject", "CLI-P-2", *common]) == 0
    assert (_state(data_dir, "CLI-P-1"), _state(data_dir, "CLI-P-2")) == ("installed", "rejected")
    assert cli.main(["devices", "replace", "DEMO-0001", "CLI-NEW-1", *common]) == 0
    assert (_state(data_dir, "DEMO-0001"), _state(data_dir, "CLI-NEW-1")) == (
        "retired",
        "installed",
    )
    assert cli.main(["devices", "replace", "DEMO-0001", "CLI-NEW-2", *common]) == 2
    assert "device_retired" in capsys.readouterr().err

    village = _first_village(data_dir)
    totals = tmp_path / "hh.csv"
    totals.write_bytes(f"village_code,households\n{village},88\n".encode("gbk"))
    assert cli.main(["households", "import", str(totals), *common]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("village_code,households\n000,1\n", encoding="utf-8")
    assert cli.main(["households", "import", str(bad), *common]) == 2
    assert "line 2" in capsys.readouterr().err
    assert rows_in(
        data_dir, "SELECT households FROM village_households WHERE village_code = ?", (village,)
    ) == [(88,)]
    actions = [r[0] for r in rows_in(data_dir, "SELECT action FROM audit_log ORDER BY id")]
    assert {"device.accept", "device.reject", "device.replace"} <= set(actions)
