"""The box registry's domain: registry fields, households (totals CSV, masked contacts, box
history), admission (accept/reject, auto-accept by village), replacement keeping history,
inventory attributes, the 7-day active rule, and the synthetic registry."""

from __future__ import annotations

import time

import pytest

from device_registry import (
    activity,
    admission,
    enrolment,
    households,
    inventory,
    records,
    replacement,
    synth,
    validation,
)
from device_registry.heartbeats import Beat, HeartbeatWriter
from storage import Conflict, Invalid, NotFound
from tv_server import cli

KEY = b"test device token key"

DAY = 86400


async def _villages(db, n: int = 2) -> list[str]:
    rows = await db.fetchall(
        "SELECT code FROM regions WHERE level = 'village' ORDER BY code LIMIT ?", (n,)
    )
    return [r[0] for r in rows]


def test_mac_and_version_validation():
    assert validation.normalize_mac("ac-db-48-00-01-23") == "AC:DB:48:00:01:23"
    assert validation.normalize_mac("acdb48000123") == "AC:DB:48:00:01:23"
    for bad in ("", "ac:db:48:00:01", "ac:db-48:00:01:23", "zz:db:48:00:01:23", "1" * 13):
        assert validation.normalize_mac(bad) is None
    assert validation.valid_version("V100R003C10") and not validation.valid_version("a b")
    assert validation.valid_serial("HS4K-0001") and not validation.valid_serial("x")


def test_effective_state_follows_the_seven_day_rule():
    now = 1_800_000_000.0
    assert activity.effective_state("active", now - 6.9 * DAY, now) == "active"
    assert activity.effective_state("active", now - 7.1 * DAY, now) == "inactive"
    assert activity.effective_state("inactive", now - DAY, now) == "active"
    # One definition with the coverage figures: any installed box seen within 7 days is active.
    assert activity.effective_state("installed", now - DAY, now) == "active"
    assert activity.effective_state("installed", None, now) == "installed"
    assert activity.effective_state("active", None, now) == "inactive"
    assert activity.effective_state("retired", now, now) == "retired"


async def test_mark_inactive_and_heartbeat_flush(db):
    now = time.time()
    box = await records.get_box(db, "DEMO-0002")
    writer = HeartbeatWriter(db)
    writer.record(Beat(box.id, now - 10 * DAY, "V1", "2.0", 5))
    writer.record(Beat(box.id, now - 11 * DAY, "V0", "1.0", 1))  # older beat is ignored
    assert writer.pending == 1
    assert await writer.flush() == 1
    details = await inventory.device_details(db, "DEMO-0002")
    assert details["firmware"] == "V1" and details["state"] == "active"
    assert details["effective_state"] == "inactive"
    assert await activity.mark_inactive(db, now) >= 1
    assert (await inventory.device_details(db, "DEMO-0002"))["state"] == "inactive"


async def test_household_totals_csv(db):
    v1, v2 = await _villages(db)
    assert await households.import_totals(db, f"village_code,households\n{v1},120\n\n{v2},7\n") == 2
    assert (await households.totals(db))[v1] == 120
    with pytest.raises(households.HouseholdImportError) as caught:
        await households.import_totals(
            db, f"village_code,households\n{v1},5\n999,3\n{v2},many\n{v1},4\n{v2}\n"
        )
    lines = dict(caught.value.problems)
    assert sorted(lines) == [3, 4, 5, 6]
    assert "unknown village" in lines[3] and "whole number" in lines[4]
    assert "already on line 2" in lines[5] and "2 columns" in lines[6]
    assert (await households.totals(db))[v1] == 120  # nothing written
    with pytest.raises(households.HouseholdImportError):
        await households.import_totals(db, "code,count\n")


async def test_household_record_keeps_contact_masked(db):
    (v1,) = await _villages(db, 1)
    hid = await households.add_household(db, v1, "王家", "一社 3 号", "13800138000")
    record = await households.get_household(db, hid)
    assert record["contact_masked"] == "138****8000"
    dumped = str([tuple(r) for r in await db.fetchall("SELECT * FROM households")])
    assert "13800138000" not in dumped
    with pytest.raises(Invalid):
        await households.add_household(db, "999", "x")
    with pytest.raises(Invalid):
        await households.add_household(db, v1, "")


async def test_admission_one_by_one_and_in_bulk(db):
    (v1,) = await _villages(db, 1)
    for serial in ("P-0001", "P-0002", "P-0003"):
        assert await admission.register_pending(db, serial) == "pending"
    assert await admission.decide_pending(db, ["P-0001"], True, v1) == ["P-0001"]
    assert await admission.decide_pending(db, ["P-0002", "P-0003", "DEMO-0001"], False) == [
        "P-0002",
        "P-0003",
    ]
    one = await inventory.device_details(db, "P-0001")
    assert one["state"] == "installed" and one["village_code"] == v1
    assert (await inventory.device_details(db, "P-0002"))["state"] == "rejected"
    assert (await inventory.device_details(db, "DEMO-0001"))["state"] != "rejected"
    with pytest.raises(Invalid):
        await admission.decide_pending(db, [], True)
    with pytest.raises(Invalid):
        await admission.decide_pending(db, ["P-0003"], True, "999")


async def test_auto_accept_by_village(db):
    v1, v2 = await _villages(db)
    await admission.set_auto_accept(db, v1, True)
    assert await admission.auto_accept_villages(db) == [v1]
    assert await admission.register_pending(db, "AUTO-0001", v1) == "installed"
    assert await admission.register_pending(db, "AUTO-0002", v2) == "pending"
    await admission.set_auto_accept(db, v1, False)
    assert await admission.register_pending(db, "AUTO-0003", v1) == "pending"
    with pytest.raises(Invalid):
        await admission.set_auto_accept(db, "150602", True)  # a banner, not a village


async def test_replacement_keeps_household_history_and_retires_old_box(db):
    old = await records.get_box(db, "DEMO-0001")
    await db.execute(
        "INSERT INTO device_progress (device_id, program_id, page, updated_at) VALUES (?, 1, 3, ?)",
        (old.id, time.time()),
    )
    await db.execute(
        "INSERT INTO usage_events (device_id, kind, at) VALUES (?, 'launch', ?)",
        (old.id, time.time()),
    )
    await enrolment.issue_token(db, "DEMO-0001", key=KEY)
    new_id = await replacement.replace_box(db, "DEMO-0001", "NEW-4K-0001")
    retired = await inventory.device_details(db, "DEMO-0001")
    fresh = await inventory.device_details(db, "NEW-4K-0001")
    assert retired["state"] == "retired" and retired["replaced_by"] == new_id
    assert fresh["village_code"] == old.village_code and fresh["state"] == "installed"
    assert fresh["household_id"] == retired["household_id"] is not None
    history = await households.box_history(db, fresh["household_id"])
    assert [h["serial"] for h in history] == ["DEMO-0001", "NEW-4K-0001"]
    assert history[0]["until"] is not None and history[0]["reason"] == "replaced"
    assert sorted(await households.household_device_ids(db, new_id)) == sorted([old.id, new_id])
    assert (
        await db.fetchval(
            "SELECT page FROM device_progress WHERE device_id = ? AND program_id = 1", (new_id,)
        )
        == 3
    )
    assert (
        await db.fetchval("SELECT COUNT(*) FROM device_tokens WHERE device_id = ?", (old.id,)) == 0
    )
    # The new box is entitled like the old one was (same village).
    assert (await records.get_box(db, "NEW-4K-0001")).admitted
    with pytest.raises(Conflict):
        await replacement.replace_box(db, "DEMO-0001", "NEW-4K-0002")  # already retired
    with pytest.raises(NotFound):
        await replacement.replace_box(db, "NOPE-0001", "NEW-4K-0003")
    with pytest.raises(Conflict):
        await replacement.replace_box(db, "DEMO-0002", "DEMO-0003")  # a box in use elsewhere
    with pytest.raises(Invalid):
        await replacement.replace_box(db, "DEMO-0002", "DEMO-0002")


async def test_inventory_attributes(db):
    await inventory.set_attributes(db, "DEMO-0001", {"antenna": "dish", "tv.size": "55"})
    await inventory.set_attributes(db, "DEMO-0001", {"antenna": None, "tv.size": "65"})
    assert (await inventory.device_details(db, "DEMO-0001"))["attributes"] == {"tv.size": "65"}
    with pytest.raises(Invalid):
        await inventory.set_attributes(db, "DEMO-0001", {"Bad Key": "x"})
    with pytest.raises(Invalid):
        await inventory.set_attributes(db, "DEMO-0001", {"k": "x" * 201})
    with pytest.raises(NotFound):
        await inventory.set_attributes(db, "NOPE-0001", {"k": "x"})


async def test_token_only_for_admitted_boxes(db):
    await admission.register_pending(db, "P-TOKEN-1")
    with pytest.raises(Conflict):
        await enrolment.issue_token(db, "P-TOKEN-1", key=KEY)
    first = await enrolment.issue_token(db, "DEMO-0001", key=KEY)
    second = await enrolment.issue_token(db, "DEMO-0001", key=KEY)
    auth = await enrolment.device_auth(db, "DEMO-0001")
    assert enrolment.token_matches(auth, second) and not enrolment.token_matches(auth, first)


async def test_synth_builds_a_consistent_registry(db):
    before = await db.fetchval("SELECT COUNT(*) FROM devices")
    summary = await synth.synthesize(db, 3000, seed=7)
    assert summary["boxes"] == 3000 and summary["villages"] > 1000
    assert await db.fetchval("SELECT COUNT(*) FROM devices") == before + 3000
    assert (
        await db.fetchval(
            "SELECT COUNT(*) FROM devices d JOIN regions r ON r.code = d.village_code"
            " WHERE d.serial LIKE 'SYN7-%' AND r.level = 'village'"
        )
        == 3000
    )
    assert (
        await db.fetchval(
            "SELECT COUNT(*) FROM village_households vh JOIN (SELECT village_code, COUNT(*) n"
            " FROM devices WHERE serial LIKE 'SYN7-%' GROUP BY village_code) c"
            " ON c.village_code = vh.village_code WHERE vh.households < c.n"
        )
        == 0
    )
    active = await db.fetchval(
        "SELECT COUNT(*) FROM devices WHERE serial LIKE 'SYN7-%' AND state = 'active'"
    )
    assert 0.5 * 3000 < active < 0.7 * 3000
    assert await db.fetchval("SELECT COUNT(*) FROM usage_events") > 0
    with pytest.raises(Conflict):
        await synth.synthesize(db, 10, seed=7)
    # New boxes and households get new ids after it (on PostgreSQL: the sequences moved on).
    village = (await _villages(db, 1))[0]
    assert await admission.register_pending(db, "AFTER-SYNTH-1", village) in (
        "pending",
        "installed",
    )
    first = await households.assign_household(db, "AFTER-SYNTH-1", "王家")
    assert first > await db.fetchval("SELECT MAX(id) FROM households WHERE id != ?", (first,))


def test_synth_cli(data_dir, capsys):
    assert (
        cli.main(
            ["registry", "synth", "--boxes", "500", "--seed", "2", "--data-dir", str(data_dir)]
        )
        == 0
    )
    assert "500 boxes" in capsys.readouterr().out
    assert cli.main(["registry", "synth", "--boxes", "0", "--data-dir", str(data_dir)]) == 2


async def test_assign_household_moves_the_box_and_keeps_history(db):
    first = await households.assign_household(db, "DEMO-0001", "王家", "一社", "0477-8123456")
    second = await households.assign_household(db, "DEMO-0001", "李家")
    assert first != second
    assert (await households.get_household(db, first))["contact_masked"] == "047****3456"
    old = await households.box_history(db, first)
    assert old[0]["serial"] == "DEMO-0001" and old[0]["reason"] == "moved"
    assert old[0]["until"] is not None
    assert [h["until"] for h in await households.box_history(db, second)] == [None]
    with pytest.raises(Invalid):
        await households.assign_household(db, "DEMO-0001", "x" * 101)
    with pytest.raises(NotFound):
        await households.assign_household(db, "NOPE-0001", "王家")
