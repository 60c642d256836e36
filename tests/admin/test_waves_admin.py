"""Rollout waves in the admin: create with validation messages that keep the typed text, edit,
start/pause/complete with audit entries, the section following the wave at once, and staff
scoped to their banner."""

from __future__ import annotations

from tests.helpers import csrf_of, enter
from tv_server import keys

SOON = "即将在您所在的地区开通"


def village_outside(client, prefix_not: str = "150602") -> str:
    tree = client.app[keys.REGIONS]
    return next(
        c for c, r in tree.by_code.items() if r.level == "village" and not c.startswith(prefix_not)
    )


def village_inside(client) -> str:
    tree = client.app[keys.REGIONS]
    return next(
        c for c, r in tree.by_code.items() if r.level == "village" and c.startswith("150602")
    )


async def post(client, path, **data):
    token = await csrf_of(client, path)
    return await client.post(path, data={"csrf_token": token, **data}, allow_redirects=False)


async def test_create_edit_and_lifecycle_are_audited(client, admin_as):
    await admin_as("admin")
    db = client.app[keys.DB]
    html = await (await client.get("/admin/waves")).text()
    assert "第一批试点" in html
    village = village_outside(client)
    bad = await post(
        client,
        "/admin/waves/new",
        name="第二批",
        kind="expansion",
        regions="abc",
        ramp_percent="50",
        notes="我的备注",
    )
    assert bad.status == 400
    text = await bad.text()
    assert "目标地区代码不对" in text and "我的备注" in text and "第二批" in text
    bad = await post(
        client,
        "/admin/waves/new",
        name="第二批",
        kind="expansion",
        regions=village,
        ramp_percent="x",
    )
    assert bad.status == 400 and "请填写数字" in await bad.text()
    created = await post(
        client,
        "/admin/waves/new",
        name="第二批",
        kind="expansion",
        regions=village,
        planned_start="2026-12-01",
        planned_end="2027-01-31",
        target_boxes="120",
        ramp_percent="50",
        notes="先易后难",
    )
    assert created.status == 303
    wave_id = int(created.headers["Location"].split("/waves/")[1].split("?")[0])
    page = await (await client.get(f"/admin/waves/{wave_id}")).text()
    assert "先易后难" in page and "2027-01-31" in page and "计划中" in page
    assert (await post(client, f"/admin/waves/{wave_id}", action="pause")).status == 409
    assert (await post(client, f"/admin/waves/{wave_id}", action="start")).status == 303
    assert "已启动" in await (await client.get(f"/admin/waves/{wave_id}")).text()
    saved = await post(
        client,
        f"/admin/waves/{wave_id}",
        action="save",
        name="第二批",
        kind="expansion",
        regions=village,
        ramp_percent="80",
        target_boxes="1",
    )
    assert saved.status == 303
    assert (
        await db.fetchval("SELECT ramp_percent FROM rollout_waves WHERE id = ?", (wave_id,)) == 80
    )
    assert (await post(client, f"/admin/waves/{wave_id}", action="complete")).status == 303
    actions = [
        r[0]
        for r in await db.fetchall(
            "SELECT action FROM audit_log WHERE object_type = 'wave' AND object_id = ? ORDER BY id",
            (str(wave_id),),
        )
    ]
    assert actions == ["wave.create", "wave.start", "wave.update", "wave.complete"]


async def test_pausing_the_pilot_switches_the_section_off_at_once(client, admin_as):
    box = await enter(client, "DEMO-0001")
    assert SOON not in await (await client.get(box + "home")).text()
    await admin_as("admin")
    wave_id = await client.app[keys.DB].fetchval(
        "SELECT id FROM rollout_waves WHERE name = '第一批试点'"
    )
    assert (await post(client, f"/admin/waves/{wave_id}", action="pause")).status == 303
    assert SOON in await (await client.get(box + "home")).text()
    assert (await post(client, f"/admin/waves/{wave_id}", action="start")).status == 303
    assert SOON not in await (await client.get(box + "home")).text()


async def test_scoped_staff_change_only_waves_inside_their_banner(client, admin_as):
    await admin_as("staff")
    db = client.app[keys.DB]
    outside = await post(
        client, "/admin/waves/new", name="越界", kind="expansion", regions=village_outside(client)
    )
    assert outside.status == 400 and "超出了您负责的地区" in await outside.text()
    inside = await post(
        client,
        "/admin/waves/new",
        name="东胜第二批",
        kind="expansion",
        regions=village_inside(client),
    )
    assert inside.status == 303
    await admin_as("admin")
    other = await post(
        client, "/admin/waves/new", name="别处", kind="expansion", regions=village_outside(client)
    )
    other_id = int(other.headers["Location"].split("/waves/")[1].split("?")[0])
    await admin_as("staff")
    html = await (await client.get("/admin/waves")).text()
    assert "东胜第二批" in html and "别处" not in html
    assert (await client.get(f"/admin/waves/{other_id}")).status == 403
    denied = await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE outcome = 'denied' AND action = 'registry.edit'"
    )
    assert denied >= 2
    await admin_as("viewer")
    assert (await client.get("/admin/waves")).status == 403
