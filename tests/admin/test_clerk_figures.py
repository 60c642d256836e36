"""What a township clerk counts: the start page counts only what the viewer can act on, over their
own region; pending boxes with no region reach the city's staff; one definition of an active box;
the coverage trend ends on the figure shown at the top."""

import re
import time

from accounts.users import create_user
from device_registry import activity, admission, coverage
from storage import clock
from tests.helpers import DEMO_PASSWORD, login
from tv_server import keys


def figure(html: str, label: str) -> int:
    return int(re.search(r"<b>(\d+)</b><span>" + label, html).group(1))


async def test_pending_count_on_the_start_page_matches_the_pending_list(client, admin_as):
    db = client.app[keys.DB]
    await admission.register_pending(db, "NOWHERE-01")  # no region: the city's to place
    await admin_as("staff")  # 东胜区
    home = await (await client.get("/admin/")).text()
    listing = await (await client.get("/admin/registry?state=pending")).text()
    assert "NOWHERE-01" not in listing
    assert figure(home, "待接入的机顶盒") == listing.count('name="serials"')


async def test_region_less_pending_boxes_reach_the_citys_staff(client):
    db = client.app[keys.DB]
    await admission.register_pending(db, "NOWHERE-02")
    city = client.app[keys.REGIONS].roots[0]
    if city.level == "province":
        city = client.app[keys.REGIONS].kids(city.code)[0]
    await create_user(db, "city_clerk", DEMO_PASSWORD, "staff", region_code=city.code)
    assert (await login(client, "city_clerk")).status == 303
    home = await (await client.get("/admin/")).text()
    listing = await (await client.get("/admin/registry?state=pending")).text()
    assert "NOWHERE-02" in listing
    assert figure(home, "待接入的机顶盒") == listing.count('name="serials"') >= 1
    assert (await client.get("/admin/registry/box/NOWHERE-02")).status == 200


async def test_a_district_clerks_start_page_counts_their_district(client, admin_as):
    db = client.app[keys.DB]
    everywhere = await db.fetchval(
        "SELECT COUNT(*) FROM devices WHERE state NOT IN ('pending','rejected','retired')"
    )
    await admin_as("staff")
    home = await (await client.get("/admin/")).text()
    assert "东胜区" in home
    mine = await db.fetchval(
        "SELECT COUNT(*) FROM devices WHERE village_code LIKE '150602%'"
        " AND state NOT IN ('pending','rejected','retired')"
    )
    assert figure(home, "登记的机顶盒") == mine < everywhere


async def test_viewer_is_not_told_of_pending_boxes_they_cannot_accept(client, admin_as):
    await admin_as("viewer")
    home = await (await client.get("/admin/")).text()
    assert "待接入的机顶盒" not in home


async def test_a_box_never_seen_is_not_listed_as_active(client, admin_as):
    db = client.app[keys.DB]
    now = time.time()
    await db.execute("UPDATE devices SET last_seen = NULL WHERE serial = 'DEMO-0002'")
    await db.execute("UPDATE devices SET last_seen = ? WHERE serial = 'DEMO-0001'", (now,))
    assert activity.effective_state("active", None, now) == "inactive"
    assert activity.is_active("active", now, now) and not activity.is_active("active", None, now)
    await admin_as("admin")
    page = await (await client.get("/admin/registry/box/DEMO-0002")).text()
    assert "reg-inactive" in page and "reg-active" not in page
    page = await (await client.get("/admin/registry/box/DEMO-0001")).text()
    assert "reg-active" in page


async def test_the_trend_ends_on_the_coverage_shown_at_the_top(client, admin_as):
    db = client.app[keys.DB]
    await db.execute("UPDATE devices SET last_seen = ? WHERE serial = 'DEMO-0001'", (time.time(),))
    # This morning's snapshot, taken before the box came online, says 0 %.
    for code in client.app[keys.REGIONS].by_code:
        await db.execute(
            "INSERT INTO coverage_snapshots (day, region_code, households, installed,"
            " active7, active30, covered, taken_at) VALUES (?, ?, 100, 0, 0, 0, 0, ?)"
            " ON CONFLICT (day, region_code) DO UPDATE SET households = 100, installed = 0,"
            " active7 = 0, active30 = 0, covered = 0, taken_at = excluded.taken_at",
            (clock.date(time.time()), code, time.time() - 3600),
        )
    coverage.forget(db)
    await admin_as("admin")
    html = await (await client.get("/admin/coverage")).text()
    top = re.search(r'data-k="coverage">([^<]+)</b>', html).group(1)
    latest = re.search(r"最新覆盖率 ([^<]+)</p>", html).group(1).strip()
    assert top == latest
