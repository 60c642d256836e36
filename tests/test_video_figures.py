"""Watching figures per program, region and period (issue 12): the domain function against counts
made by hand from positions written here, the program page's region/period picker, the CSV/XLSX
download (scoped and audited: a banner's editor gets no other banner's figures) and `views` /
`completions` per region in the coverage API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import pytest

from accounts import apikeys
from content.programs import video
from device_registry import coverage
from storage import clock
from tests.helpers import enter, login, make_settings
from tv_server import coverage_tasks, keys
from tv_server.app import create_app

OWN = "150602"  # 东胜区, the demo's `dsq_editor`


@pytest.fixture
async def client(front_client, settings):
    return await front_client(create_app(settings))


async def _village_in(db, banner: str, skip: str = "") -> str:
    return await db.fetchval(
        "SELECT v.code FROM regions v JOIN regions t ON t.code = v.parent_code"
        " WHERE v.level = 'village' AND t.parent_code = ? AND v.code != ?"
        " AND EXISTS (SELECT 1 FROM devices d WHERE d.village_code = v.code)"
        " ORDER BY v.code LIMIT 1",
        (banner, skip),
    )


async def _boxes(db, village: str, n: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT id FROM devices WHERE village_code = ? ORDER BY id LIMIT ?", (village, n)
    )
    ids = [r["id"] for r in rows]
    while len(ids) < n:  # make more boxes in that village
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO devices (serial, village_code, state, created_at)"
                " VALUES (?, ?, 'active', ?)",
                (f"FIG-{village}-{len(ids)}", village, time.time()),
            )
        ids.append(await db.fetchval("SELECT MAX(id) FROM devices"))
    return ids


async def _watched(db, pid: int, device: int, furthest: int, duration: int, at: float) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO video_positions (device_id, program_id, seconds, furthest, duration,"
            " started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (device, pid, furthest, furthest, duration, at, at),
        )


@pytest.fixture
async def scene(client):
    """A published program with a video, watched by three boxes in 东胜区 (two of one labelled
    household), one in another banner, and one in 东胜区 sixty days ago."""
    db = client.app[keys.DB]
    pid = await db.fetchval(
        "SELECT id FROM programs WHERE video_media_id IS NOT NULL AND status = 'published'"
        " ORDER BY id LIMIT 1"
    )
    await db.execute("DELETE FROM video_positions WHERE program_id = ?", (pid,))
    own = await _village_in(db, OWN)
    other_banner = await db.fetchval(
        "SELECT parent_code FROM regions WHERE code = (SELECT parent_code FROM regions"
        " WHERE code = (SELECT village_code FROM devices WHERE village_code IS NOT NULL AND"
        " village_code NOT LIKE ? ORDER BY id LIMIT 1))",
        (OWN + "%",),
    )
    other = await _village_in(db, other_banner)
    a, b, c, old = await _boxes(db, own, 4)
    (far,) = await _boxes(db, other, 1)
    for box in (a, b):  # one household with two boxes
        await db.execute("UPDATE devices SET household_label = '3-1' WHERE id = ?", (box,))
    await db.execute("UPDATE devices SET household_label = '' WHERE id IN (?, ?)", (c, old))
    now = time.time()
    await _watched(db, pid, a, 100, 100, now - 3600)  # 100 %
    await _watched(db, pid, b, 45, 100, now - 86400)  # 45 %
    await _watched(db, pid, c, 92, 100, now - 2 * 86400)  # 92 %
    await _watched(db, pid, far, 10, 100, now - 3600)  # 10 %, another banner
    await _watched(db, pid, old, 100, 100, now - 60 * 86400)  # outside the last 30 days
    return {"pid": pid, "own": own, "other": other, "other_banner": other_banner, "now": now}


async def test_figures_per_region_and_period_match_the_hand_counts(client, scene):
    db, pid, now = client.app[keys.DB], scene["pid"], scene["now"]
    tree = client.app[keys.REGIONS]
    own = {r for r in tree.by_code if r.startswith(OWN)}
    fig = await video.figures(db, pid, regions=own, since=now - 30 * 86400, until=now + 1)
    # Three starts in 东胜区 in the period: shares 1.00, 0.45, 0.92; households: 3-1 and box c.
    assert fig["starts"] == 3 and fig["households"] == 2
    assert fig["completions"] == 2
    assert fig["average_share"] == pytest.approx((1 + 0.45 + 0.92) / 3, abs=0.001)
    assert fig["drop_off"] == pytest.approx(
        [1, 1, 1, 1, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3], abs=0.001
    )
    everywhere = await video.figures(db, pid, since=now - 30 * 86400, until=now + 1)
    assert everywhere["starts"] == 4 and everywhere["completions"] == 2
    assert everywhere["drop_off"][0] == 1 and everywhere["drop_off"][1] == pytest.approx(0.75)
    all_time = await video.figures(db, pid, regions=own)
    assert all_time["starts"] == 4 and all_time["completions"] == 3


async def test_the_program_page_shows_the_picked_region_and_period(client, scene):
    pid = scene["pid"]
    assert (await login(client, "admin")).status == 303
    page = await (await client.get(f"/admin/programs/{pid}")).text()
    assert "4 台机顶盒开始观看（3 户）" in page and "2 台看完" in page  # last 30 days
    page = await (await client.get(f"/admin/programs/{pid}?region={OWN}")).text()
    assert "3 台机顶盒开始观看（2 户）" in page
    assert 'name="since"' in page and 'name="region"' in page
    long_ago = (clock.today() - dt.timedelta(days=90)).isoformat()
    page = await (await client.get(f"/admin/programs/{pid}?region={OWN}&since={long_ago}")).text()
    assert "4 台机顶盒开始观看（3 户）" in page and "3 台看完" in page
    assert (await login(client, "dsq_editor")).status == 303
    page = await (await client.get(f"/admin/programs/{pid}")).text()
    assert "3 台机顶盒开始观看（2 户）" in page  # the banner's own boxes only
    status = await (await client.get(f"/admin/programs/{pid}/video.json")).json()
    assert status["figures"]["starts"] == 4  # all time, 东胜区 only (not the other banner's)


async def test_figures_are_served_from_memory_until_new_positions_are_flushed(client, scene):
    """The figures are computed once: a position written behind the server's back (no flush, so
    no change event) does not show; the next flush of positions of that program does, on the
    program page and its status JSON; the coverage API shows them from its next computation."""
    db, pid, own = client.app[keys.DB], scene["pid"], scene["own"]
    raw = await _api_key(db)
    assert (await login(client, "admin")).status == 303

    async def page_says(text: str) -> bool:
        return text in await (await client.get(f"/admin/programs/{pid}")).text()

    async def api_starts() -> int:
        answer = await client.get("/api/v1/coverage", headers={"X-API-Key": raw})
        return (await answer.json())["totals"]["video_starts"]

    # The coverage API's figures are as of their computation (kept with the other coverage
    # figures, refreshed by the coverage task): computed here with the scene's starts.
    coverage.forget(db)
    await coverage_tasks.refresh(client.app)
    assert await page_says("4 台机顶盒开始观看（3 户）")
    assert await api_starts() == 4
    status = await (await client.get(f"/admin/programs/{pid}/video.json")).json()
    assert status["figures"]["starts"] == 5  # all time
    quiet = (await _boxes(db, own, 5))[-1]  # a fifth box of that village, not yet counted
    await _watched(db, pid, quiet, 100, 100, time.time() - 60)  # not through a flush
    assert await page_says("4 台机顶盒开始观看（3 户）")  # from memory
    assert await api_starts() == 4
    status = await (await client.get(f"/admin/programs/{pid}/video.json")).json()
    assert status["figures"]["starts"] == 5
    # A box watches through the player; its beacon is flushed: the figures are computed anew.
    serial = await db.fetchval(
        "SELECT serial FROM devices WHERE serial LIKE 'DEMO-%' AND village_code IS NOT NULL"
        " AND id NOT IN (SELECT device_id FROM video_positions WHERE program_id = ?)"
        " ORDER BY id LIMIT 1",
        (pid,),
    )
    base = await enter(client, serial)
    assert (await client.get(f"{base}v-{pid}/at?s=30&d=100")).status == 204
    await client.app[keys.VIDEO_POSITIONS].flush()
    assert await page_says("6 台机顶盒开始观看")  # the quiet one and the beacon's
    assert await api_starts() == 4  # as of the last computation
    coverage.forget(db)  # past the figures' reuse age: the coverage task's next round
    await coverage_tasks.refresh(client.app)
    assert await api_starts() == 6
    status = await (await client.get(f"/admin/programs/{pid}/video.json")).json()
    assert status["figures"]["starts"] == 7


async def test_the_figures_download_is_scoped_and_audited(client, scene):
    pid, db = scene["pid"], client.app[keys.DB]
    assert (await login(client, "dsq_editor")).status == 303
    response = await client.get(f"/admin/programs/{pid}/figures?format=csv")
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert f"program-{pid}-figures-" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert len(rows) == 1
    assert (rows[0]["starts"], rows[0]["households"], rows[0]["completions"]) == ("3", "2", "2")
    assert rows[0]["region"] == OWN
    xlsx = await client.get(f"/admin/programs/{pid}/figures?format=xlsx&region={OWN}")
    assert xlsx.status == 200 and (await xlsx.read())[:2] == b"PK"
    # Another banner's figures: refused and the refusal audited.
    for region in (scene["other_banner"], scene["other"]):
        refused = await client.get(f"/admin/programs/{pid}/figures?format=csv&region={region}")
        assert refused.status == 403
        assert (await client.get(f"/admin/programs/{pid}?region={region}")).status == 403
    assert (await client.get(f"/admin/programs/{pid}/figures?format=pdf")).status == 400
    exports = await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'program.figures.export'"
    )
    denied = await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE outcome = 'denied' AND detail LIKE ?",
        ("%program_figures%",),
    )
    assert exports == 2 and denied == 4


async def test_the_coverage_api_counts_video_starts_and_completions_per_region(client, scene):
    db, tree = client.app[keys.DB], client.app[keys.REGIONS]
    raw = await _api_key(db)
    since = (clock.today() - dt.timedelta(days=29)).isoformat()
    answer = await client.get(
        f"/api/v1/coverage?region={OWN}&since={since}", headers={"X-API-Key": raw}
    )
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    # 东胜区 in the last 30 days: a (100 %), b (45 %), c (92 %); the old start is outside.
    assert (body["totals"]["video_starts"], body["totals"]["completions"]) == (3, 2)
    township = tree.get(scene["own"]).parent_code
    row = next(r for r in body["children"] if r["code"] == township)
    assert (row["video_starts"], row["completions"]) == (3, 2)
    assert all(r["video_starts"] == 0 for r in body["children"] if r["code"] != township)
    assert "views" in row  # program pages shown, as before
    coverage.forget(db)  # the default period's figures are those of as_of: computed anew
    city = await client.get("/api/v1/coverage", headers={"X-API-Key": raw})
    totals = (await city.json())["totals"]
    assert (totals["video_starts"], totals["completions"]) == (4, 2)  # the other banner's too


async def test_the_coverage_apis_video_figures_are_as_of_its_other_figures(client, scene):
    """The video starts come with the other figures (computed in the background, kept in memory,
    not read per request: a province's month of viewing is hundreds of thousands of rows)."""
    db = client.app[keys.DB]
    headers = {"X-API-Key": await _api_key(db)}
    coverage.forget(db)
    first = await (await client.get("/api/v1/coverage", headers=headers)).json()
    assert (first["totals"]["video_starts"], first["totals"]["completions"]) == (4, 2)
    (new,) = (await _boxes(db, scene["own"], 5))[4:]
    await _watched(db, scene["pid"], new, 95, 100, time.time() - 60)  # a fifth start, 95 %
    again = await (await client.get("/api/v1/coverage", headers=headers)).json()
    assert again["as_of"] == first["as_of"] and again["totals"] == first["totals"]
    coverage.forget(db)  # the next computation (the background task's, every minute) has it
    fresh = await (await client.get("/api/v1/coverage", headers=headers)).json()
    assert (fresh["totals"]["video_starts"], fresh["totals"]["completions"]) == (5, 3)
    banner = next(r for r in fresh["children"] if r["code"] == OWN)
    assert (banner["video_starts"], banner["completions"]) == (4, 3)  # 东胜区's three and this


async def test_after_a_restart_the_kept_figures_carry_the_video_starts(
    client, scene, front_client, data_dir
):
    db = client.app[keys.DB]
    coverage.forget(db)
    await coverage_tasks.refresh(client.app)  # computed with the scene's starts, and kept
    # The new process's refresh held back: its first answer is the kept figures.
    held = make_settings(data_dir, coverage_first_refresh_seconds=3600)
    restarted = await front_client(create_app(held))
    headers = {"X-API-Key": await _api_key(restarted.app[keys.DB])}
    body = await (await restarted.get("/api/v1/coverage", headers=headers)).json()
    assert body["stale"] is True
    assert (body["totals"]["video_starts"], body["totals"]["completions"]) == (4, 2)


async def _api_key(db) -> str:
    return (await apikeys.create(db, "figures-test", ["coverage:read"]))[1]
