"""Usage records: every view counts, and the views of one page by one box within a minute are
one row with a count, so a box reloading a page in a loop costs one row a minute."""

from __future__ import annotations

from device_registry.usage import UsageRecorder
from tv_server import keys


async def test_views_in_one_minute_are_one_row_with_their_count(client):
    db = client.app[keys.DB]
    device_id = await db.fetchval("SELECT id FROM devices WHERE serial = 'DEMO-0002'")
    pid = await db.fetchval("SELECT id FROM programs LIMIT 1")
    await db.execute("DELETE FROM usage_events WHERE device_id = ?", (device_id,))
    usage = UsageRecorder(db)
    start = 1_790_000_080.0  # 40 s into a minute (1_790_000_040 is one)
    for offset in (0, 5, 10, 19):  # four views of page 1 in the same minute
        usage.record_view(device_id, pid, 1, now=start + offset)
    usage.record_view(device_id, pid, 2, now=start + 12)  # another page
    usage.record_view(device_id, pid, 1, now=start + 21)  # the next minute
    assert await usage.flush() == 6
    rows = await db.fetchall(
        "SELECT page, at, n FROM usage_events WHERE device_id = ? AND kind = 'view' ORDER BY at",
        (device_id,),
    )
    assert [tuple(r) for r in rows] == [(1, start, 4), (2, start + 12, 1), (1, start + 21, 1)]
    assert await usage.page_for(device_id, pid) == 1  # progress follows the latest view
    assert await usage.flush() == 0  # nothing twice
