"""The home screen from shared parts (tv_server/tv/home.py): one rendering of the body shared by
the boxes of a village, with each box's own greeting, 我的申请 count, 继续观看 and adviser card
spliced in — and every staff change to those parts visible on the next home screen."""

from __future__ import annotations

from advisers import advisers
from tests.helpers import csrf_of, enter
from tv_server import caches, keys
from tv_server.tv import home


async def _same_village(client) -> tuple[str, str]:
    """DEMO-0001 and DEMO-0002 made neighbours with households of their own."""
    db = client.app[keys.DB]
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE devices SET village_code = (SELECT village_code FROM devices"
            " WHERE serial = 'DEMO-0001'), model = (SELECT model FROM devices"
            " WHERE serial = 'DEMO-0001') WHERE serial = 'DEMO-0002'"
        )
        await tx.execute(
            "UPDATE devices SET household_label = '王家<b>x</b>' WHERE serial = 'DEMO-0001'"
        )
        await tx.execute("UPDATE devices SET household_label = '李家' WHERE serial = 'DEMO-0002'")
        tx.emit("box", ["DEMO-0001", "DEMO-0002"])
    return await enter(client, "DEMO-0001"), await enter(client, "DEMO-0002")


async def test_neighbours_share_one_rendering_with_their_own_parts(client):
    mine, theirs = await _same_village(client)
    shells = client.app[home.SHELLS]
    misses = shells.misses
    first = await (await client.get(mine + "home")).text()
    second = await (await client.get(theirs + "home")).text()
    assert shells.misses == misses + 1  # the template was rendered once for both
    assert "王家&lt;b&gt;x&lt;/b&gt;，您好！" in first and "<b>x" not in first  # escaped
    assert "李家，您好！" in second and "王家" not in second
    for html in (first, second):
        assert "\x00" not in html and 'id="t-mine"' in html and 'id="adv-card"' in html
        assert "冬季草场流转合同" in html  # the shared announcement


async def test_an_adviser_removed_by_staff_leaves_the_next_home_screen(client, box, admin_as):
    db = client.app[keys.DB]
    village = await db.fetchval("SELECT village_code FROM devices WHERE serial = 'DEMO-0001'")
    adviser = await advisers.for_village(db, village)
    assert 'id="adv-card"' in await (await client.get(box + "home")).text()  # card kept
    await admin_as("staff")
    token = await csrf_of(client, f"/admin/advisers/{adviser.id}")
    response = await client.post(
        f"/admin/advisers/{adviser.id}/delete", data={"csrf_token": token}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    assert 'id="adv-card"' not in await (await client.get(box + "home")).text()


async def test_a_household_renamed_is_greeted_by_its_new_name_at_once(client, box):
    await (await client.get(box + "home")).text()
    db = client.app[keys.DB]
    await db.execute("UPDATE devices SET household_label = '新名字' WHERE serial = 'DEMO-0001'")
    await caches.changed(client.app, "box", ["DEMO-0001"])
    assert "新名字，您好！" in await (await client.get(box + "home")).text()
