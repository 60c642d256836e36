"""Coverage figures: a known registry built row by row, every figure checked against counts made
independently here, at every level of the tree; household totals that never let coverage pass
100 %; the latest figures kept across a restart; snapshots, trend, readiness and proposals."""

from __future__ import annotations

import asyncio
import random

import pytest

from device_registry import coverage, waves
from device_registry.regions import RegionTree
from storage import Database
from tv_server.demo import ensure_regions
from tv_server.migrations import MIGRATIONS

NOW = 1_780_000_000.0
DAY = 86400.0
SINCE, UNTIL = NOW - 10 * DAY, NOW - 2 * DAY
STATES = ["installed", "activated", "active", "inactive", "planned", "retired", "pending"]


@pytest.fixture
async def db(tmp_path):
    database = Database(tmp_path / "c.sqlite3")
    await database.open()
    await database.migrate(MIGRATIONS)
    await ensure_regions(database)
    yield database
    await database.close()


async def build_registry(db, tree: RegionTree, villages: list[str], seed: int = 4) -> list[dict]:
    """Random boxes, usage events and callbacks with known timestamps, and household records in
    two villages (more than their boxes' households in the second); return the boxes."""
    rng = random.Random(seed)
    boxes = []
    for i in range(400):
        last_seen = rng.choice(
            [None, NOW - 1 * DAY, NOW - 6.9 * DAY, NOW - 7.1 * DAY, NOW - 20 * DAY, NOW - 31 * DAY]
        )
        boxes.append(
            {
                "id": i + 1001,
                "serial": f"COV-{i:04d}",
                "village": rng.choice(villages),
                "household": rng.choice(["", *[f"户{n}" for n in range(25)]]),
                "state": rng.choice(STATES),
                "last_seen": last_seen,
            }
        )
    events, calls = [], []
    for b in boxes:
        for _ in range(rng.randrange(4)):
            events.append((b["id"], rng.choice(["launch", "view"]), NOW - rng.uniform(0, 15) * DAY))
        for _ in range(rng.randrange(2)):
            calls.append((b["id"], NOW - rng.uniform(0, 15) * DAY))
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO devices (id, serial, village_code, household_label, state, last_seen,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    b["id"],
                    b["serial"],
                    b["village"],
                    b["household"],
                    b["state"],
                    b["last_seen"],
                    NOW - 100 * DAY,
                )
                for b in boxes
            ],
        )
        await tx.executemany(
            "INSERT INTO usage_events (device_id, kind, at) VALUES (?, ?, ?)", events
        )
        await tx.executemany(
            "INSERT INTO households (village_code, label, created_at) VALUES (?, ?, 0)",
            [(villages[0], f"户{n}") for n in range(3)]
            + [(villages[1], f"档案{n}") for n in range(40)],
        )
        await tx.executemany(
            "INSERT INTO callback_requests (ref, device_id, idempotency_key, service,"
            " phone_e164, phone_masked, time_window, created_at, updated_at)"
            " VALUES (?, ?, ?, 'consultation', '+8613800138000', '138****8000', 'morning',"
            " ?, ?)",
            [(f"R{n}", d, f"k{n}", at, at) for n, (d, at) in enumerate(calls)],
        )
    for b in boxes:
        b["launches"] = sum(
            1 for d, k, at in events if d == b["id"] and k == "launch" and SINCE <= at < UNTIL
        )
        b["views"] = sum(
            1 for d, k, at in events if d == b["id"] and k == "view" and SINCE <= at < UNTIL
        )
        b["callbacks"] = sum(1 for d, at in calls if d == b["id"] and SINCE <= at < UNTIL)
    return boxes


async def household_sources(db) -> tuple[dict[str, int], dict[str, int]]:
    """Household records and imported totals per village, read straight from their tables."""
    records: dict[str, int] = {}
    for (village,) in await db.fetchall("SELECT village_code FROM households"):
        records[village] = records.get(village, 0) + 1
    totals = {r[0]: r[1] for r in await db.fetchall("SELECT * FROM village_households")}
    return records, totals


def expected(
    boxes: list[dict],
    villages: set[str],
    records: dict[str, int] | None = None,
    totals: dict[str, int] | None = None,
) -> dict:
    """The figures counted the slow, obvious way. A village's households: its imported total,
    unless the registry knows more (household records, or households of registered boxes)."""
    records, totals = records or {}, totals or {}
    mine = [b for b in boxes if b["village"] in villages]
    registered = [b for b in mine if b["state"] not in ("pending", "rejected")]
    installed = [b for b in mine if b["state"] in ("installed", "activated", "active", "inactive")]

    def seen_within(b, days):
        return b["last_seen"] is not None and b["last_seen"] >= NOW - days * DAY

    households, short_villages, short_households = 0, 0, 0
    for village in villages:
        labelled = {b["household"] for b in registered if b["village"] == village}
        known = max(len(labelled - {""}), records.get(village, 0))
        total = totals.get(village)
        households += known if total is None else max(total, known)
        if total is not None and total < known:
            short_villages += 1
            short_households += known - total
    covered = {
        (b["village"], b["household"]) for b in installed if b["household"] and seen_within(b, 7)
    }
    return {
        "households": households,
        "equipped": len({(b["village"], b["household"]) for b in installed if b["household"]}),
        "installed": len(installed),
        "active7": sum(1 for b in installed if seen_within(b, 7)),
        "active30": sum(1 for b in installed if seen_within(b, 30)),
        "covered": len(covered),
        "launches": sum(b["launches"] for b in mine),
        "views": sum(b["views"] for b in mine),
        "callbacks": sum(b["callbacks"] for b in mine),
        "short_villages": short_villages,
        "short_households": short_households,
        "coverage": round(len(covered) / households, 4) if households else None,
    }


def region_villages(tree: RegionTree, code: str) -> set[str]:
    return {
        v
        for v in tree.by_code
        if tree.get(v).level == "village" and code in {r.code for r in tree.chain(v)}
    }


def pick_villages(tree: RegionTree) -> list[str]:
    """Villages of two townships of one banner and one village of another banner."""
    counties = [r for r in tree.by_code.values() if r.level == "county"]
    out = []
    for township in tree.kids(counties[0].code)[:2]:
        out += [v.code for v in tree.kids(township.code)][:3]
    other = tree.kids(counties[1].code)[0]
    out.append(tree.kids(other.code)[0].code)
    return out


async def assert_every_level_matches(db, tree, villages, boxes, period) -> None:
    records, totals = await household_sources(db)
    touched = set()
    for v in villages:
        touched |= {r.code for r in tree.chain(v)}
    for code in sorted(touched):
        rep = await coverage.report(db, tree, code, NOW, period)
        want = expected(boxes, region_villages(tree, code), records, totals)
        assert rep.totals.as_dict() == want, code
        for kid, figures in rep.rows:
            want = expected(boxes, region_villages(tree, kid.code), records, totals)
            assert figures.as_dict() == want, kid.code


async def test_every_figure_matches_an_independent_count_at_every_level(db):
    tree = await RegionTree.load(db)
    villages = pick_villages(tree)
    boxes = await build_registry(db, tree, villages)
    period = coverage.Period(SINCE, UNTIL)
    await assert_every_level_matches(db, tree, villages, boxes, period)
    city = next(r for r in tree.by_code.values() if r.level == "city")
    totals = (await coverage.report(db, tree, city.code, NOW, period)).totals
    assert totals.installed > 50 and totals.covered > 5 and totals.callbacks > 5
    assert 0 < totals.coverage < 1
    # 40 household records, more than the households on its boxes, count for villages[1].
    assert (await coverage.report(db, tree, villages[1], NOW, period)).totals.households == 40
    # An imported household total replaces the stand-in count of that village.
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO village_households (village_code, households, updated_at)"
            " VALUES (?, 400, 0)",
            (villages[0],),
        )
    rep = await coverage.report(db, tree, villages[0], NOW, period)
    assert rep.totals.households == 400 and rep.totals.short_villages == 0
    city_after = (await coverage.report(db, tree, city.code, NOW, period)).totals
    before = expected(boxes, {villages[0]})["households"]
    assert city_after.households == totals.households - before + 400
    # Totals below what the registry knows are raised to it, and flagged.
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO village_households (village_code, households, updated_at)"
            " VALUES (?, ?, 0)",
            [(villages[1], 10), (villages[2], 1)],
        )
    await assert_every_level_matches(db, tree, villages, boxes, period)
    rep = await coverage.report(db, tree, villages[1], NOW, period)
    assert (rep.totals.households, rep.totals.imported, rep.totals.short_villages) == (40, 10, 1)
    flagged = (await coverage.report(db, tree, city.code, NOW, period)).totals
    assert flagged.short_villages == 2 and flagged.short_households > 30


async def test_an_imported_total_below_the_households_with_boxes_never_passes_100_percent(db):
    tree = await RegionTree.load(db)
    village = pick_villages(tree)[0]
    async with db.transaction() as tx:
        for n in range(3):
            household = await tx.insert(
                "INSERT INTO households (village_code, label, created_at) VALUES (?, ?, ?)",
                (village, f"户{n}", NOW),
            )
            await tx.execute(
                "INSERT INTO devices (serial, village_code, household_id, household_label, state,"
                " last_seen, created_at) VALUES (?, ?, ?, ?, 'active', ?, ?)",
                (f"FULL-{n}", village, household, f"户{n}", NOW - DAY, NOW - 50 * DAY),
            )
        await tx.execute(
            "INSERT INTO village_households (village_code, households, updated_at)"
            " VALUES (?, 2, 0)",
            (village,),
        )
    for code in [r.code for r in tree.chain(village)]:
        totals = (await coverage.report(db, tree, code, NOW)).totals
        assert totals.covered == 3 and totals.households == 3, code
        assert totals.coverage <= 1.0
        assert (totals.short_villages, totals.short_households) == (1, 1)
    township = tree.chain(village)[1].code
    row = dict((await coverage.report(db, tree, township, NOW)).rows)[tree.get(village)]
    assert row.imported == 2 and row.as_dict()["coverage"] == 1.0


async def test_snapshots_keep_one_row_per_region_and_day_and_feed_the_trend(db):
    tree = await RegionTree.load(db)
    villages = pick_villages(tree)
    boxes = await build_registry(db, tree, villages)
    county = tree.chain(villages[0])[2].code
    assert tree.get(county).level == "county"
    await coverage.take_snapshot(db, tree, NOW - 2 * DAY)
    await coverage.take_snapshot(db, tree, NOW)
    await coverage.take_snapshot(db, tree, NOW + 60)  # same day: replaced, not added
    assert await coverage.has_snapshot(db, tree, coverage.day_of(NOW))
    points = await coverage.trend(db, county)
    assert [p["day"] for p in points] == [coverage.day_of(NOW - 2 * DAY), coverage.day_of(NOW)]
    want = expected(boxes, region_villages(tree, county), *await household_sources(db))
    assert points[-1]["covered"] == want["covered"]
    assert points[-1]["households"] == want["households"]
    rows = await db.fetchval("SELECT COUNT(*) FROM coverage_snapshots")
    assert rows == 2 * len(tree.by_code)


async def test_readiness_ranks_uncovered_villages_and_proposes_a_planned_wave(db):
    tree = await RegionTree.load(db)
    townships = [r for r in tree.by_code.values() if r.level == "township"]
    t0 = [v.code for v in tree.kids(townships[0].code)]
    far = next(t for t in townships if t.parent_code != townships[0].parent_code)
    far_village = tree.kids(far.code)[0].code
    covered, neighbour, equipped = t0[0], t0[1], far_village
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO devices (serial, village_code, household_label, state, last_seen,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("E1", equipped, "a", "installed", NOW, NOW),
                ("E2", equipped, "b", "installed", NOW, NOW),
                ("E3", equipped, "c", "planned", None, NOW),
                ("N1", neighbour, "a", "planned", None, NOW),
            ],
        )
    pilot = await waves.create_wave(db, waves.WaveInput("p", "pilot", (covered,)), tree)
    await waves.change_status(db, pilot.id, "start")
    ranked = await coverage.readiness(db, tree, now=NOW)
    codes = [r.village.code for r in ranked]
    assert covered not in codes
    by_code = {r.village.code: r for r in ranked}
    e = by_code[equipped]
    assert (e.households, e.equipped, e.active7, e.nearness) == (3, 2, 2, 0)
    assert e.score == 67 + 2
    assert by_code[neighbour].nearness == 2 and by_code[neighbour].score == 40
    assert codes[0] == equipped and codes.index(neighbour) < codes.index(t0[2])
    # Scoped to the far banner, only its villages.
    scoped = await coverage.readiness(db, tree, far.parent_code, now=NOW)
    assert {tree.chain(r.village.code)[2].code for r in scoped} == {far.parent_code}
    wave = await coverage.propose_wave(db, tree, "下一批", 5, now=NOW)
    assert (wave.status, wave.kind, set(wave.regions)) == (
        "planned",
        "expansion",
        {equipped, neighbour},
    )
    assert wave.target_boxes == 2


async def test_box_timeline(db):
    tree = await RegionTree.load(db)
    villages = pick_villages(tree)
    boxes = await build_registry(db, tree, villages, seed=9)
    b = next(b for b in boxes if b["callbacks"])
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE devices SET activated_at = ?, installed_at = '2026-03-01' WHERE id = ?",
            (NOW - 50 * DAY, b["id"]),
        )
    line = await coverage.box_timeline(db, b["serial"])
    assert line["activated_at"] == NOW - 50 * DAY and line["installed_at"] == "2026-03-01"
    views = await db.fetchval(
        "SELECT COALESCE(SUM(n), 0) FROM usage_events WHERE device_id = ? AND kind = 'view'",
        (b["id"],),
    )
    assert line["views"] == views and line["village_code"] == b["village"]
    assert len(line["callbacks"]) >= b["callbacks"]


async def test_the_latest_figures_are_kept_and_served_marked_stale_after_a_restart(tmp_path, db):
    tree = await RegionTree.load(db)
    villages = pick_villages(tree)
    boxes = await build_registry(db, tree, villages)
    city = next(r for r in tree.by_code.values() if r.level == "city").code
    kept = await coverage.all_figures(db, tree, NOW, store=True)
    assert not kept.stale and await coverage.keep_latest(db, tree, kept)
    assert not await coverage.keep_latest(db, tree, kept)  # only newer figures replace them
    assert await db.fetchval("SELECT COUNT(*) FROM coverage_latest") == sum(
        1 for r in tree.by_code.values() if r.level == "village"
    )
    # The same file opened again, as by a restarted server.
    again = Database(tmp_path / "c.sqlite3")
    await again.open()
    try:
        assert await coverage.load_latest(again, tree) is not None
        rep = await coverage.report(again, tree, city, cache_seconds=120)
        assert rep.stale and rep.computed_at == NOW and rep.period == coverage.default_period(NOW)
        assert rep.totals == kept.figures[city]
        body = coverage.as_json(rep)
        assert body["stale"] is True and body["as_of"].endswith("+08:00")
        stale = await coverage.all_figures(again, tree, cache_seconds=120)
        assert stale.stale and not await coverage.keep_latest(again, tree, stale)
        # A box installed meanwhile: the refresh (or a staff change) brings the exact figures.
        async with again.transaction() as tx:
            await tx.execute(
                "INSERT INTO devices (serial, village_code, household_label, state, last_seen,"
                " created_at) VALUES ('LATE-1', ?, '新户', 'active', ?, ?)",
                (villages[0], NOW - DAY, NOW),
            )
        boxes.append(
            {"village": villages[0], "household": "新户", "state": "active", "last_seen": NOW - DAY}
            | {"launches": 0, "views": 0, "callbacks": 0}
        )
        coverage.forget(again)
        fresh = await coverage.report(again, tree, city, NOW, cache_seconds=120)
        records, totals = await household_sources(again)
        want = expected(boxes, region_villages(tree, city), records, totals)
        assert not fresh.stale
        got = fresh.totals.as_dict()
        for name in ("households", "equipped", "installed", "active7", "active30", "covered"):
            assert got[name] == want[name], name  # (usage is counted over another period here)
    finally:
        await again.close()


async def test_forget_wakes_the_refresh_and_drops_figures_computed_before_it(db):
    tree = await RegionTree.load(db)
    first = await coverage.all_figures(db, tree, cache_seconds=120)
    assert await coverage.all_figures(db, tree, cache_seconds=120) is first
    assert not await coverage.wait_for_change(db, 0.01)
    coverage.forget(db)
    assert await coverage.wait_for_change(db, 1.0)
    assert await coverage.all_figures(db, tree, cache_seconds=120) is not first


async def test_aged_default_figures_are_answered_at_once_while_newer_ones_are_computed(db):
    """At a province's scale a computation takes a minute: a request after the cache's age never
    waits for one. It gets the latest figures (their as_of) and a newer computation starts."""
    tree = await RegionTree.load(db)
    first = await coverage.all_figures(db, tree, store=True)
    await asyncio.sleep(0.05)
    before = coverage.computations(db)
    aged = await coverage.all_figures(db, tree, cache_seconds=0.01)
    assert aged is first and coverage.in_flight(db) == 1  # answered; a computation started
    assert await coverage.all_figures(db, tree, cache_seconds=0.01) is first  # joins none
    for _ in range(200):
        if not coverage.in_flight(db):
            break
        await asyncio.sleep(0.02)
    assert coverage.computations(db) == before + 1
    newer = await coverage.all_figures(db, tree, cache_seconds=60)
    assert newer is not first and newer.at > first.at
    coverage.forget(db)  # after a staff change the next request waits for exact figures
    exact = await coverage.all_figures(db, tree, cache_seconds=60)
    assert exact is not newer and coverage.computations(db) == before + 2
