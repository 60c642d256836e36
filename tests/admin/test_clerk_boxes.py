"""Accepting boxes as a clerk: the list keeps its filter when nothing was ticked, an accepted box
is offered its household form, and the box page folds its technical fields away."""

from device_registry import admission
from tests.helpers import csrf_of
from tv_server import keys


async def test_the_filter_survives_nothing_selected(client, admin_as):
    db = client.app[keys.DB]
    await admission.register_pending(db, "FILTER-BOX-1", "150602001001")
    await admin_as("staff")
    page = await (await client.get("/admin/registry?state=pending&q=FILTER")).text()
    assert 'action="/admin/registry/decide?state=pending&amp;q=FILTER"' in page
    token = await csrf_of(client, "/admin/registry?state=pending")
    response = await client.post(
        "/admin/registry/decide?state=pending&q=FILTER",
        data={"csrf_token": token, "decision": "accept"},
    )
    assert response.status == 400
    html = await response.text()
    assert "请先勾选机顶盒" in html
    assert '<option value="pending" selected>' in html and 'value="FILTER"' in html
    assert "FILTER-BOX-1" in html and "DEMO-0001" not in html


async def test_accepting_offers_to_attach_a_household(client, admin_as):
    db = client.app[keys.DB]
    village = await db.fetchval(
        "SELECT village_code FROM devices WHERE village_code LIKE '150602%' LIMIT 1"
    )
    await admission.register_pending(db, "HOME-BOX-1", village)
    await admin_as("staff")
    token = await csrf_of(client, "/admin/registry?state=pending")
    response = await client.post(
        "/admin/registry/decide?state=pending",
        data={"csrf_token": token, "decision": "accept", "serials": "HOME-BOX-1"},
        allow_redirects=False,
    )
    assert response.status == 303
    location = response.headers["Location"]
    assert "state=pending" in location and "accepted=HOME-BOX-1" in location
    html = await (await client.get(location)).text()
    assert 'href="/admin/registry/box/HOME-BOX-1#reg-household"' in html
    box = await (await client.get("/admin/registry/box/HOME-BOX-1")).text()
    assert 'id="reg-household"' in box


async def test_the_box_page_folds_technical_fields_under_advanced(client, admin_as):
    await admin_as("staff")
    html = await (await client.get("/admin/registry/box/DEMO-0001")).text()
    fold = html.split('<details class="reg-advanced" id="reg-technical">', 1)[1]
    fold = fold.split("</details>", 1)[0]
    assert "遥控器键位" in fold and "其他属性" in fold and "固件" in fold
    top = html.split('<details class="reg-advanced"', 1)[0]
    assert "遥控器键位" not in top and "最近在线" in top
    edit = html.split('id="reg-edit-advanced"', 1)[1].split("</details>", 1)[0]
    assert 'name="keymap_family"' in edit and 'name="attr_value"' in edit or "新属性名" in edit
