"""Live update of 我的申请: a staff action on a request sends `refresh` to that box's open
streams only, not to other boxes."""

import asyncio

from tests.helpers import act_on_callback, new_request
from tv_server import keys


def _drain(queue: asyncio.Queue) -> list[str]:
    events = []
    while not queue.empty():
        events.append(queue.get_nowait()[0])
    return events


async def test_hub_notifies_only_the_named_device(client):
    hub = client.app[keys.HUB]
    mine = hub.subscribe(("150602001001",), device_id=1)
    twice = hub.subscribe(("150602001001",), device_id=1)  # a second screen of the same box
    other = hub.subscribe(("150602001001",), device_id=2)
    anonymous = hub.subscribe(("150602001001",))
    try:
        assert hub.notify_device(1) == 2
        assert _drain(mine) == ["refresh"] and _drain(twice) == ["refresh"]
        assert _drain(other) == [] and _drain(anonymous) == []
        assert hub.notify_device(999) == 0
    finally:
        for q in (mine, twice, other, anonymous):
            hub.unsubscribe(q)


async def test_staff_claim_refreshes_the_households_screen_and_no_other(client, admin_as):
    _box, _ref, cid = await new_request(client, "DEMO-0001")
    db = client.app[keys.DB]
    own_id = await db.fetchval("SELECT id FROM devices WHERE serial = 'DEMO-0001'")
    other_id = await db.fetchval("SELECT id FROM devices WHERE serial = 'DEMO-0002'")
    hub = client.app[keys.HUB]
    own = hub.subscribe(("150602001001",), device_id=own_id)
    other = hub.subscribe(("150602001001",), device_id=other_id)
    try:
        await admin_as("staff")
        response = await act_on_callback(client, cid, action="claim")
        assert response.status == 303, await response.text()
        assert _drain(own) == ["refresh"]
        assert _drain(other) == []
    finally:
        hub.unsubscribe(own)
        hub.unsubscribe(other)
