"""Rating an attended appointment from the box, exactly like a completed callback (once,
skippable, never asked again after two skips), and the appointments in the staff's figures."""

from __future__ import annotations

import asyncio
import re

from tests.helpers import attended_in, completed_request, csrf_of, enter, form_data, home_goes_to
from tv_server import keys

POINT = "sp-150602001"  # DEMO-0001's township station


async def attended_appointment(
    client, serial="DEMO-0001", service="notarisation", start="09:00", mark="attended"
):
    return await attended_in(client.app, serial, service, start, mark)


async def test_an_attended_appointment_is_rated_once_with_a_reason(client, box):
    db = client.app[keys.DB]
    assert await home_goes_to(client, box) is None
    appt = await attended_appointment(client)
    key = f"a-{appt.code}"
    assert (await home_goes_to(client, box)).endswith(f"rate-{key}")
    page = await (await client.get(box + f"rate-{key}")).text()
    assert appt.code in page and "交通街道司法所" in page and "公证" in page
    assert 'data-key="1"' in page and f'action="rate-{key}"' in page
    response = await client.post(box + f"rate-{key}", data={"s": "2"}, allow_redirects=False)
    assert response.headers["Location"].endswith(f"rate-{key}-why")
    await client.post(box + f"rate-{key}", data={"k": "5"})  # the first answer stays
    response = await client.post(box + f"rate-{key}-why", data={"r": "slow"}, allow_redirects=False)
    assert response.headers["Location"].endswith("home")
    row = await db.fetchone(
        "SELECT score, reason, service, office_code, region_code, ref FROM ratings"
        " WHERE kind = 'appointment' AND subject_id = ?",
        (appt.id,),
    )
    assert tuple(row) == (2, "slow", "notarisation", POINT, appt.region_code, appt.code)
    assert await home_goes_to(client, box) is None


async def test_skipped_twice_an_appointment_is_never_asked_again(client, box):
    db = client.app[keys.DB]
    appt = await attended_appointment(client)
    key = f"a-{appt.code}"
    for _visit in range(2):
        assert (await home_goes_to(client, box)).endswith(f"rate-{key}")
        await client.get(box + f"rate-{key}")
        await client.post(box + f"rate-{key}", data={"skip": "1"})
        assert await home_goes_to(client, box) is None  # not again within the pause
        await db.execute("UPDATE ratings SET asked_at = asked_at - 13 * 3600")
    assert await home_goes_to(client, box) is None


async def test_only_attended_appointments_of_the_own_box_are_rated(client, box):
    missed = await attended_appointment(client, mark="no_show")
    assert await home_goes_to(client, box) is None
    assert (await client.get(box + f"rate-a-{missed.code}")).status == 404
    other = await attended_appointment(client, serial="DEMO-0002", start="10:00")
    assert (await client.get(box + f"rate-a-{other.code}")).status == 404
    assert (await client.post(box + f"rate-a-{other.code}", data={"s": "1"})).status == 404


async def test_the_older_of_a_callback_and_an_appointment_is_asked_first(client, box):
    appt = await attended_appointment(client)
    req = await completed_request(client)
    assert (await home_goes_to(client, box)).endswith(f"rate-a-{appt.code}")
    await client.post(box + f"rate-a-{appt.code}", data={"s": "4"}, allow_redirects=False)
    why = await client.post(
        box + f"rate-a-{appt.code}-why", data={"r": "fast"}, allow_redirects=False
    )
    assert why.headers["Location"].endswith("home")
    assert (await home_goes_to(client, box)).endswith(f"rate-{req.ref}")


async def test_figures_per_office_service_and_region_include_appointments(client, admin_as):
    db = client.app[keys.DB]
    box = await enter(client, "DEMO-0001")
    appt = await attended_appointment(client)
    await client.post(box + f"rate-a-{appt.code}", data={"s": "1"})
    req = await completed_request(client)
    await client.post(box + f"rate-{req.ref}", data={"s": "5"})
    await admin_as("viewer")
    page = await (await client.get("/admin/feedback?by=service")).text()
    assert re.search(r'id="fb-count">(\d+)<', page).group(1) == "2"
    assert re.search(r'id="fb-mean">([\d.]+)<', page).group(1) == "3.00"
    rows = (await (await client.get("/admin/feedback?by=service&format=csv")).read()).decode()
    assert any(line.startswith("service,notarisation,公证,1,1.0,") for line in rows.splitlines())
    rows = (await (await client.get("/admin/feedback?by=office&format=csv")).read()).decode()
    assert any(
        line.startswith(f"office,{POINT},交通街道司法所公共法律服务工作站,1,")
        for line in rows.splitlines()
    )
    rows = (await (await client.get("/admin/feedback?by=region&format=csv")).read()).decode()
    # Both ratings are of DEMO-0001's village, counted under its township.
    assert "region,东胜区交通街道,东胜区交通街道,2,3.0,1,1" in rows.splitlines()

    # The low rating is in 东胜区's follow-up list, marked as an appointment, and followed up.
    await admin_as("staff")
    low = await (await client.get("/admin/feedback/low")).text()
    assert f"预约 {appt.code}" in low
    token = await csrf_of(client, "/admin/feedback/low")
    response = await client.post(
        f"/admin/feedback/low/appointment/{appt.id}",
        data=form_data(token, {"note": "已回访，公证员致歉"}),
        allow_redirects=False,
    )
    assert response.status == 303
    note = await db.fetchval(
        "SELECT follow_up_note FROM ratings WHERE kind = 'appointment' AND subject_id = ?",
        (appt.id,),
    )
    assert note == "已回访，公证员致歉"


async def test_the_household_export_holds_its_appointments_and_their_ratings(
    client, box, data_dir, tmp_path
):
    """A subject-access export (`legaltv callbacks export-household`) holds the household's
    appointments — number, status, events, its rating — beside its callback requests, and only
    its own."""
    import json

    from tv_server.cli import main

    appt = await attended_appointment(client)
    await client.post(box + f"rate-a-{appt.code}", data={"s": "4"})
    await attended_in(client.app, serial="DEMO-0002")  # another household's
    out = tmp_path / "export"
    argv = ["callbacks", "export-household", "DEMO-0001", str(out), "--data-dir", str(data_dir)]
    assert await asyncio.to_thread(main, argv) == 0
    data = json.loads((out / "callbacks-DEMO-0001.json").read_text(encoding="utf-8"))
    [mine] = data["appointments"]
    assert mine["code"] == appt.code and mine["status"] == "attended"
    assert mine["phone"] == "13900139000" and mine["rating"]["score"] == 4
    assert [e["kind"] for e in mine["events"]][-1] in ("attended", "mark")
