"""One clock: the same moment reads the same on the box page, the callback queue and an export,
whatever time zone the server process itself runs in (here UTC, offices in Asia/Shanghai)."""

import datetime as dt
import os
import time
from zoneinfo import ZoneInfo

import pytest

from advisers import advisers
from storage import clock
from tests.helpers import enter, make_settings, new_request
from tv_server import keys
from tv_server.app import create_app

# 2026-12-05 22:01 UTC is 2026-12-06 06:01 in Ordos.
MOMENT = dt.datetime(2026, 12, 5, 22, 1, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def server_in_utc():
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


async def test_box_page_queue_and_export_show_the_same_moment(server_in_utc, client, admin_as):
    _box, ref, cid = await new_request(client, "DEMO-0001")
    db = client.app[keys.DB]
    # Another box than the one that just visited the TV (whose visit is flushed after this).
    await db.execute("UPDATE devices SET last_seen = ? WHERE serial = 'DEMO-0003'", (MOMENT,))
    await db.execute(
        "UPDATE callback_requests SET due_at = ?, created_at = ? WHERE id = ?",
        (MOMENT, MOMENT, cid),
    )
    await admin_as("admin")
    box_page = await (await client.get("/admin/registry/box/DEMO-0003")).text()
    assert "2026-12-06 06:01" in box_page and "2026-12-05 22:01" not in box_page
    queue = await (await client.get("/admin/callbacks?status=open")).text()
    row = queue.split(f'id="cb-{ref}"', 1)[1].split("</tr>", 1)[0]
    assert "12-06 06:01" in row
    response = await client.get(
        "/admin/callbacks/figures?since=2026-12-06&until=2026-12-06&format=csv"
    )
    text = (await response.read()).decode("utf-8-sig")
    assert "2026-12-06" in text and "2026-12-05" not in text
    today_in_ordos = dt.datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    assert today_in_ordos in response.headers["Content-Disposition"]


async def test_reference_numbers_and_deadlines_use_the_offices_day(server_in_utc, client):
    _box, ref, cid = await new_request(client, "DEMO-0001")
    created = await client.app[keys.DB].fetchval(
        "SELECT created_at FROM callback_requests WHERE id = ?", (cid,)
    )
    assert ref[:6] == dt.datetime.fromtimestamp(created, ZoneInfo("Asia/Shanghai")).strftime(
        "%y%m%d"
    )


def test_an_unknown_time_zone_stops_the_start(tmp_path):
    from tv_server.settings import load_settings

    with pytest.raises(ValueError, match="Mars/Olympus"):
        load_settings(env={"LEGALTV_TIMEZONE": "Mars/Olympus"}, data_dir=str(tmp_path))
    assert clock.load_zone("Asia/Shanghai") is not None


@pytest.fixture
def offices_in_tokyo(data_dir):
    """Settings whose `timezone` is not China's (the zone is the process's: put back after)."""
    yield make_settings(data_dir, timezone="Asia/Tokyo")
    clock.set_zone(clock.DEFAULT_ZONE)


async def test_the_advisers_next_sitting_reads_in_the_offices_zone(
    server_in_utc, offices_in_tokyo, front_client
):
    """The adviser's hours on the TV are those kept in the offices' zone (the setting), not
    shifted by China's offset or the machine's."""
    client = await front_client(create_app(offices_in_tokyo))
    box = await enter(client)
    db = client.app[keys.DB]
    village = await db.fetchval("SELECT village_code FROM devices WHERE serial = 'DEMO-0001'")
    adviser = await advisers.for_village(db, village)
    every_day = "; ".join(f"{day} 09:00-11:30" for day in range(1, 8))
    await db.execute("UPDATE advisers SET sittings = ? WHERE id = ?", (every_day, adviser.id))
    page = await (await client.get(box + "adv")).text()
    sitting = page.split('id="adv-next">', 1)[1].split("</dd>", 1)[0]
    assert "09:00-11:30" in sitting
