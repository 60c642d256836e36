"""The wave form's target picker as the server renders and reads it: the region tree as
checkboxes (the whole city for city staff, only their banner for a banner's staff), ticked
targets and pasted codes read together, and a refused form that keeps every target."""

from __future__ import annotations

import re

from tests.helpers import csrf_of
from tv_server import keys

TICKED = re.compile(r'name="regions" value="(\d+)" checked')


def boxes(html: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="regions" value="(\d+)"', html)


async def _targets(client, name: str) -> set[str]:
    rows = await client.app[keys.DB].fetchall(
        "SELECT wr.region_code FROM wave_regions wr JOIN rollout_waves w ON w.id = wr.wave_id"
        " WHERE w.name = ?",
        (name,),
    )
    return {r[0] for r in rows}


def some(client, level: str, prefix: str, n: int = 1) -> list[str]:
    tree = client.app[keys.REGIONS]
    codes = sorted(c for c, r in tree.by_code.items() if r.level == level)
    return [c for c in codes if c.startswith(prefix)][:n]


async def test_the_form_offers_the_whole_region_tree_and_its_script(client, admin_as):
    await admin_as("admin")
    html = await (await client.get("/admin/waves/new")).text()
    codes = boxes(html)
    tree = client.app[keys.REGIONS]
    levels = [tree.get(c).level for c in codes]
    assert levels.count("county") == 9 and levels.count("township") == 88
    assert levels.count("village") == 1011
    assert codes[0] == "150602" and codes[1] == "150602001"  # banner, then its townships
    assert re.search(r'<script src="/static/wave_picker\.[0-9a-f]+\.js">', html)
    assert 'id="wv-search-box" hidden' in html  # the search appears only with the script
    assert "还没有选择目标地区" in html


async def test_ticked_and_pasted_targets_are_saved_together(client, admin_as):
    await admin_as("admin")
    villages = some(client, "village", "150621", 2)
    township = some(client, "township", "150627")[0]
    token = await csrf_of(client, "/admin/waves/new")
    response = await client.post(
        "/admin/waves/new",
        data=[
            ("csrf_token", token),
            ("name", "勾选加粘贴"),
            ("kind", "expansion"),
            ("regions", villages[0]),
            ("regions", villages[1]),
            ("regions_paste", f"{township}，150626\n{villages[0]}"),
        ],
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    assert await _targets(client, "勾选加粘贴") == {*villages, township, "150626"}
    page = await (await client.get(response.headers["Location"])).text()
    assert set(TICKED.findall(page)) == {*villages, township, "150626"}
    assert page.count('class="wv-chip"') == 4
    assert "达拉特旗 · " in page  # chips name the target from its banner down
    # The tree is opened down to every ticked target.
    assert re.search(r'<details class="wv-node wv-county" data-name="达拉特旗" open>', page)


async def test_a_refused_form_keeps_ticks_and_unknown_codes(client, admin_as):
    await admin_as("admin")
    village = some(client, "village", "150621")[0]
    token = await csrf_of(client, "/admin/waves/new")
    response = await client.post(
        "/admin/waves/new",
        data=[
            ("csrf_token", token),
            ("name", "有错"),
            ("kind", "expansion"),
            ("regions", village),
            ("regions_paste", "999999"),
        ],
    )
    assert response.status == 400
    html = await response.text()
    assert "目标地区代码不对" in html
    assert TICKED.findall(html) == [village]
    assert re.search(r'<textarea name="regions_paste" rows="3">999999</textarea>', html)
    assert "wv-chip wv-unknown" in html
    token = await csrf_of(client, "/admin/waves/new")
    response = await client.post(
        "/admin/waves/new",
        data={"csrf_token": token, "name": "空", "kind": "expansion"},
    )
    assert response.status == 400 and "请至少选择一个目标地区" in await response.text()


async def test_a_banner_staff_member_sees_and_targets_only_the_banner(client, admin_as):
    db = client.app[keys.DB]
    await admin_as("staff")  # 东胜区 150602
    html = await (await client.get("/admin/waves/new")).text()
    codes = boxes(html)
    tree = client.app[keys.REGIONS]
    assert codes and all(c.startswith("150602") for c in codes)
    assert len(codes) == sum(1 for c in tree.by_code if c.startswith("150602"))
    assert '<details class="wv-node wv-county" data-name="东胜区" open>' in html
    outside = some(client, "village", "150621")[0]
    token = await csrf_of(client, "/admin/waves/new")
    response = await client.post(
        "/admin/waves/new",
        data=[
            ("csrf_token", token),
            ("name", "越界"),
            ("kind", "expansion"),
            ("regions", codes[-1]),
            ("regions", outside),  # a forged tick outside the banner
        ],
    )
    assert response.status == 400
    html = await response.text()
    assert "超出了您负责的地区" in html
    assert outside in re.search(r"<textarea name=\"regions_paste\"[^>]*>([^<]*)<", html).group(1)
    assert await _targets(client, "越界") == set()
    assert await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE outcome = 'denied' AND detail LIKE ?",
        (f"%{outside}%",),
    )
