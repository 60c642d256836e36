"""Staff run appointments: publish slots and closed days, the day's list (page and XLSX), attended
/ no-show, reschedule (the household sees it), what to bring; all audited."""

import datetime as dt
import io
import json
import re

import openpyxl

from appointments import reminders, slots
from callbacks import webhooks
from storage import clock
from tests.helpers import POINT, book, csrf_of, phone_step, tomorrow
from tv_server import keys


async def post(client, path, fields):
    token = await csrf_of(client)
    return await client.post(path, data={"csrf_token": token, **fields}, allow_redirects=False)


async def add_pattern(client, **fields):
    form = {
        "action": "add_pattern",
        "service": "notarisation",
        "weekday": [str(d) for d in range(1, 8)],
        "start": "09:00",
        "end": "09:30",
        "capacity": "2",
        **fields,
    }
    token = await csrf_of(client)
    data = [("csrf_token", token)]
    for name, value in form.items():
        for item in value if isinstance(value, list) else [value]:
            data.append((name, item))
    return await client.post(f"/admin/appointments/point/{POINT}", data=data, allow_redirects=False)


async def test_staff_publish_slots_that_the_box_then_offers(client, admin_as, box):
    await admin_as("staff")
    response = await add_pattern(client)
    assert response.status == 303
    assert len(await slots.patterns(client.app[keys.DB], POINT, "notarisation")) == 7
    html = await (await client.get(f"{box}ap-day?svc=notarisation&sp={POINT}")).text()
    assert f"d-{tomorrow().isoformat()}" in html
    # The point's TV page (a cached screen) offers booking at once.
    point_id = await client.app[keys.DB].fetchval(
        "SELECT id FROM service_points WHERE code = ?", (POINT,)
    )
    assert 'id="ask-appointment"' in await (await client.get(f"{box}o-{point_id}")).text()
    audit = await client.app[keys.DB].fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'appointment.add_pattern'"
    )
    assert audit == 1


async def test_bad_pattern_input_is_explained_next_to_the_form(client, admin_as):
    await admin_as("staff")
    response = await add_pattern(client, start="10:00", end="09:00")
    assert response.status == 422
    assert "结束要晚于开始" in await response.text()
    response = await add_pattern(client, capacity="0")
    assert response.status == 422 and "名额请填" in await response.text()
    assert await slots.patterns(client.app[keys.DB], POINT, "notarisation") == []


async def test_a_closed_day_takes_the_day_off_the_tv(client, admin_as, box):
    await admin_as("staff")
    await add_pattern(client)
    response = await post(
        client,
        f"/admin/appointments/point/{POINT}",
        {"action": "add_closed", "day": tomorrow().isoformat(), "reason": "培训"},
    )
    assert response.status == 303
    html = await (await client.get(f"{box}ap-day?svc=notarisation&sp={POINT}")).text()
    assert f"d-{tomorrow().isoformat()}" not in html


async def booked(client, box, start="09:00"):
    draft = await phone_step(client, box, tomorrow(), start)
    response = await book(client, box, draft, tomorrow(), start)
    return response.headers["Location"].rsplit("a-", 1)[1]


async def test_the_days_list_prints_and_exports_without_full_numbers(client, admin_as, box):
    await admin_as("staff")
    await add_pattern(client)
    code = await booked(client, box)
    page = await client.get(
        f"/admin/appointments/point/{POINT}/day", params={"d": tomorrow().isoformat()}
    )
    html = await page.text()
    assert f'id="ap-{code}"' in html and "138****8000" in html and "13800138000" not in html
    assert 'class="print-only"' in html
    response = await client.get(
        f"/admin/appointments/point/{POINT}/day",
        params={"d": tomorrow().isoformat(), "format": "xlsx"},
    )
    assert response.status == 200
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(await response.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][3] == "预约码" and rows[1][3] == code and rows[1][5] == "138****8000"


async def test_attended_only_on_the_day_and_reschedule_reaches_the_box(client, admin_as, box):
    await admin_as("staff")
    await add_pattern(client)
    await add_pattern(client, start="10:00", end="10:30")
    code = await booked(client, box)
    db = client.app[keys.DB]
    aid = await db.fetchval("SELECT id FROM appointments WHERE code = ?", (code,))
    # Tomorrow's booking cannot be marked yet.
    response = await post(client, f"/admin/appointments/{aid}", {"action": "attended"})
    assert response.status == 303 and "err=appointment_not_today" in response.headers["Location"]
    assert await db.fetchval("SELECT status FROM appointments WHERE id = ?", (aid,)) == "booked"
    day_after = (tomorrow() + dt.timedelta(days=1)).isoformat()
    response = await post(
        client, f"/admin/appointments/{aid}", {"action": "reschedule", "slot": f"{day_after} 10:00"}
    )
    assert response.status == 303 and "ok=ap_moved" in response.headers["Location"]
    receipt = await (await client.get(f"{box}a-{code}?m=1")).text()
    assert "已改期" in receipt and "10:00" in receipt and "原定" in receipt
    mine = await (await client.get(box + "mine")).text()
    assert re.search(rf'id="ap-{code}"[^>]*>.*?已改期', mine, re.S)
    actions = [
        r[0]
        for r in await db.fetchall(
            "SELECT action FROM audit_log WHERE object_id = ? ORDER BY id", (code,)
        )
    ]
    assert actions == ["appointment.attended", "appointment.reschedule"]


async def test_reschedule_into_a_full_slot_is_refused(client, admin_as, box):
    await admin_as("staff")
    await add_pattern(client, capacity="1")
    await add_pattern(client, start="10:00", end="10:30", capacity="1")
    first = await booked(client, box)
    from tests.helpers import enter

    other = await enter(client, "DEMO-0002")
    await booked(client, other, "10:00")
    db = client.app[keys.DB]
    aid = await db.fetchval("SELECT id FROM appointments WHERE code = ?", (first,))
    response = await post(
        client,
        f"/admin/appointments/{aid}",
        {"action": "reschedule", "slot": f"{tomorrow().isoformat()} 10:00"},
    )
    assert "err=slot_full" in response.headers["Location"]
    assert await db.fetchval("SELECT start FROM appointments WHERE id = ?", (aid,)) == "09:00"


async def test_what_to_bring_is_edited_by_city_staff_and_shown_on_the_receipt(
    client, admin_as, box
):
    await admin_as("admin")
    response = await post(
        client,
        "/admin/appointments/bring",
        {"service": "notarisation", "text": "户口本原件和两张一寸照片"},
    )
    assert response.status == 303
    await add_pattern(client)
    code = await booked(client, box)
    assert "两张一寸照片" in await (await client.get(f"{box}a-{code}")).text()


async def test_a_reminded_booking_moved_by_staff_is_reminded_again_for_its_new_time(
    client, admin_as, box
):
    """The day-before reminder went out for 09:00; staff move the booking to 10:00 the same day:
    the gateway gets a second reminder, for the new time (its own delivery id)."""
    db = client.app[keys.DB]
    await webhooks.add_endpoint(db, "sms", "http://127.0.0.1:9/sms")
    await admin_as("staff")
    await add_pattern(client)
    await add_pattern(client, start="10:00", end="10:30")
    code = await booked(client, box)
    at_ten = clock.at(slots.today(), dt.time(10))
    assert await reminders.queue_due(db, with_phone=False, now=at_ten) == 1
    aid = await db.fetchval("SELECT id FROM appointments WHERE code = ?", (code,))
    response = await post(
        client,
        f"/admin/appointments/{aid}",
        {"action": "reschedule", "slot": f"{tomorrow().isoformat()} 10:00"},
    )
    assert "ok=ap_moved" in response.headers["Location"]
    assert await reminders.queue_due(db, with_phone=False, now=at_ten + 60) == 1
    assert await reminders.queue_due(db, with_phone=False, now=at_ten + 120) == 0
    sent = [
        json.loads(p)["appointment"]
        for (p,) in await db.fetchall("SELECT payload FROM webhook_outbox ORDER BY id")
    ]
    assert [(s["code"], s["start"], s["status"]) for s in sent] == [
        (code, "09:00", "booked"),
        (code, "10:00", "rescheduled"),
    ]
