"""Rollout waves: validation, lifecycle, the first-wave-is-a-pilot rule, sticky ramps and the
exact entitlement of boxes at TV launch."""

from __future__ import annotations

import pytest

from device_registry import waves
from device_registry.regions import RegionTree
from storage import Conflict, Database, Invalid
from tv_server import keys
from tv_server.boxes import BoxDirectory
from tv_server.demo import ensure_regions
from tv_server.migrations import MIGRATIONS


@pytest.fixture
async def db(tmp_path):
    database = Database(tmp_path / "w.sqlite3")
    await database.open()
    await database.migrate(MIGRATIONS)
    await ensure_regions(database)
    yield database
    await database.close()


async def tree_of(db) -> RegionTree:
    return await RegionTree.load(db)


def villages(tree: RegionTree, n: int, township_index: int = 0) -> list[str]:
    townships = [r for r in tree.by_code.values() if r.level == "township"]
    return [v.code for v in tree.kids(townships[township_index].code)][:n]


async def test_first_wave_must_be_a_pilot_and_fields_are_validated(db):
    tree = await tree_of(db)
    v = villages(tree, 2)
    city = next(r.code for r in tree.by_code.values() if r.level == "city")
    with pytest.raises(Invalid) as err:
        await waves.create_wave(db, waves.WaveInput("扩展", "expansion", (v[0],)), tree)
    assert err.value.code == "wave_first_must_be_pilot"
    bad = [
        (waves.WaveInput("", "pilot", (v[0],)), "wave_name_required"),
        (waves.WaveInput("a", "other", (v[0],)), "wave_kind_invalid"),
        (waves.WaveInput("a", "pilot", ()), "wave_regions_required"),
        (waves.WaveInput("a", "pilot", ("999",)), "wave_region_invalid"),
        (waves.WaveInput("a", "pilot", (city,)), "wave_region_invalid"),  # not the whole city
        (waves.WaveInput("a", "pilot", (v[0],), planned_start="2026-13-01"), "wave_start_invalid"),
        (
            waves.WaveInput(
                "a", "pilot", (v[0],), planned_start="2026-05-02", planned_end="2026-05-01"
            ),
            "wave_end_before_start",
        ),
        (waves.WaveInput("a", "pilot", (v[0],), ramp_percent=101), "wave_ramp_invalid"),
    ]
    for data, code in bad:
        with pytest.raises(Invalid) as err:
            await waves.create_wave(db, data, tree)
        assert err.value.code == code
    assert await waves.list_waves(db) == []
    pilot = await waves.create_wave(
        db,
        waves.WaveInput(
            "试点",
            "pilot",
            (v[0],),
            planned_start="2026-05-01",
            planned_end="2026-06-30",
            target_boxes=40,
            notes="n",
        ),
        tree,
    )
    assert (pilot.position, pilot.status, pilot.regions) == (1, "planned", (v[0],))
    second = await waves.create_wave(db, waves.WaveInput("扩展", "expansion", (v[1],)), tree)
    assert second.position == 2
    with pytest.raises(Conflict):
        await waves.create_wave(db, waves.WaveInput("扩展", "expansion", (v[1],)), tree)
    # Moving the expansion before the pilot would make it first: refused.
    with pytest.raises(Invalid) as err:
        await waves.update_wave(
            db, second.id, waves.WaveInput("扩展", "expansion", (v[1],), position=0), tree
        )
    assert err.value.code == "wave_position_invalid"
    with pytest.raises(Invalid) as err:
        await waves.update_wave(db, pilot.id, waves.WaveInput("试点", "expansion", (v[0],)), tree)
    assert err.value.code == "wave_first_must_be_pilot"


async def test_status_transitions_are_validated(db):
    tree = await tree_of(db)
    wave = await waves.create_wave(
        db, waves.WaveInput("p", "pilot", tuple(villages(tree, 1))), tree
    )
    with pytest.raises(Conflict):
        await waves.change_status(db, wave.id, "pause")
    assert (await waves.change_status(db, wave.id, "start")).status == "started"
    assert (await waves.change_status(db, wave.id, "pause")).status == "paused"
    assert (await waves.change_status(db, wave.id, "start")).status == "started"
    assert (await waves.change_status(db, wave.id, "complete")).status == "completed"
    for action in ("start", "pause", "complete"):
        with pytest.raises(Conflict):
            await waves.change_status(db, wave.id, action)
    with pytest.raises(Conflict):
        await waves.update_wave(db, wave.id, waves.WaveInput("p", "pilot", (wave.regions)), tree)


def test_ramp_is_sticky_and_roughly_proportional():
    serials = [f"SN{i:06d}" for i in range(4000)]
    previous: set[str] = set()
    for percent in (0, 5, 20, 50, 90, 100):
        inside = {s for s in serials if waves.in_ramp(s, 7, percent)}
        assert previous <= inside  # raising the percentage keeps every box already in
        assert abs(len(inside) - 40 * percent) < 200
        previous = inside
    assert previous == set(serials)
    # The bucket depends on the wave: another wave draws other boxes.
    assert {s for s in serials if waves.in_ramp(s, 7, 10)} != {
        s for s in serials if waves.in_ramp(s, 8, 10)
    }


async def test_entitlement_follows_started_waves_and_ramp_exactly(db):
    tree = await tree_of(db)
    v_in, v_out = villages(tree, 2)
    township = tree.get(v_in).parent_code
    now = 1_700_000_000.0
    boxes = [(f"RAMP-{i:04d}", v_in) for i in range(300)] + [("OUT-1", v_out), ("PEND", v_in)]
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO devices (serial, village_code, state, created_at) VALUES (?, ?, ?, ?)",
            [(s, v, "pending" if s == "PEND" else "installed", now) for s, v in boxes],
        )
    wave = await waves.create_wave(
        db, waves.WaveInput("p", "pilot", (v_in,), ramp_percent=30), tree
    )

    async def entitled() -> dict[str, int | None]:
        directory = BoxDirectory(db, tree)
        return {s: (await directory.get(s)).wave_id for s, _ in boxes}

    assert set((await entitled()).values()) == {None}  # planned: nobody
    await waves.change_status(db, wave.id, "start")
    got = await entitled()
    expected = {s for s, v in boxes[:300] if waves.bucket(s, wave.id) < 30}
    assert {s for s, w in got.items() if w == wave.id} == expected
    assert 50 < len(expected) < 130
    assert got["OUT-1"] is None and got["PEND"] is None
    # Raising the ramp keeps everyone in and adds exactly the boxes of the new buckets.
    await waves.update_wave(
        db, wave.id, waves.WaveInput("p", "pilot", (v_in,), ramp_percent=60), tree
    )
    raised = {s for s, w in (await entitled()).items() if w}
    assert expected < raised
    assert raised == {s for s, _ in boxes[:300] if waves.bucket(s, wave.id) < 60}
    # Pausing switches the section off; a second wave on the township at 100 % reaches all.
    await waves.change_status(db, wave.id, "pause")
    assert set((await entitled()).values()) == {None}
    second = await waves.create_wave(db, waves.WaveInput("e", "expansion", (township,)), tree)
    await waves.change_status(db, second.id, "start")
    final = await entitled()
    assert {s for s, w in final.items() if w == second.id} == {s for s, _ in boxes[:301]}
    assert final["PEND"] is None


async def test_tv_launch_shows_the_section_only_in_a_started_wave(client, box):
    """The demo's pilot wave is started; pausing it turns the section off at launch."""
    db = client.app[keys.DB]
    soon = "即将在您所在的地区开通"
    html = await (await client.get(box + "home")).text()
    assert soon not in html
    wave_id = await db.fetchval("SELECT id FROM rollout_waves WHERE status = 'started'")
    assert wave_id is not None
    await waves.change_status(db, wave_id, "pause")
    client.app[keys.BOXES].forget()
    paused = await (await client.get(box + "home")).text()
    assert soon in paused
    await waves.change_status(db, wave_id, "start")
    client.app[keys.BOXES].forget()
    assert soon not in await (await client.get(box + "home")).text()
