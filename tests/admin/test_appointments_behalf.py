"""Staff book or cancel an appointment on a household's behalf (the household phoned): the box
is found by serial or by the number it used, the same capacity check as on the TV (no
overbooking, idempotent per form), the household sees it in 我的申请 and can cancel it there,
staff cancel it for them; audited, CSRF-checked."""

import re

from appointments import slots
from callbacks import lifecycle
from callbacks import requests as box_requests
from tests.helpers import ALL_WEEK, POINT, csrf_of, enter, tomorrow
from tv_server import keys

PAGE = f"/admin/appointments/point/{POINT}/behalf"


async def one_seat(client):
    await slots.add_patterns(
        client.app[keys.DB], POINT, "notarisation", ALL_WEEK, "09:00", "09:30", 1
    )
    return f"notarisation|{tomorrow().isoformat()} 09:00"


async def form_key(client) -> tuple[str, str]:
    html = await (await client.get(PAGE)).text()
    key = re.search(r'name="key" value="([0-9a-f]+)"', html).group(1)
    return await csrf_of(client, PAGE), key


async def post_book(client, **fields):
    token, key = await form_key(client)
    data = {"csrf_token": token, "key": key, **fields}
    return await client.post(PAGE, data=data, allow_redirects=False), data


async def used_number(client, serial="DEMO-0001", phone="13900139000"):
    """The household called before from its box with this number."""
    db = client.app[keys.DB]
    device_id, village = await db.fetchone(
        "SELECT id, village_code FROM devices WHERE serial = ?", (serial,)
    )
    chain = [r.code for r in client.app[keys.REGIONS].chain(village)]
    draft = box_requests.validate("legal_aid", phone, "evening", "phoned" + serial[-4:] + "xxxx")
    await lifecycle.submit(db, lifecycle.Policy(), device_id, draft, chain, max_open=3)


async def test_staff_book_by_the_number_and_the_household_sees_and_cancels_it(client, admin_as):
    db = client.app[keys.DB]
    slot = await one_seat(client)
    await used_number(client)
    await admin_as("staff")
    response, data = await post_book(client, slot=slot, phone="13900139000")
    assert response.status == 303, await response.text()
    code = re.search(r"made=(\w+)", response.headers["Location"]).group(1)
    page = await (await client.get(response.headers["Location"])).text()
    assert code in page and "已代为预约" in page
    # A second press of the same form books nothing more.
    again = await client.post(PAGE, data=data, allow_redirects=False)
    assert again.status == 303 and f"made={code}" in again.headers["Location"]
    assert await db.fetchval("SELECT COUNT(*) FROM appointments") == 1
    row = await db.fetchone(
        "SELECT d.serial, a.phone_masked, a.region_code FROM appointments a"
        " JOIN devices d ON d.id = a.device_id WHERE a.code = ?",
        (code,),
    )
    assert row[0] == "DEMO-0001" and row[1] == "139****9000" and row[2].startswith("150602")
    event = await db.fetchone("SELECT actor, user_id FROM appointment_events WHERE kind = 'booked'")
    assert event[0] == "staff" and event[1] is not None
    audit = await db.fetchone(
        "SELECT username, object_id, detail FROM audit_log"
        " WHERE action = 'appointment.book_for_household' AND outcome = 'ok'"
    )
    assert audit[0] == "staff" and audit[1] == code and "13900139000" not in audit[2]

    # The household sees it in 我的申请 and can cancel it from the TV.
    box = await enter(client, "DEMO-0001")
    mine = await (await client.get(box + "mine")).text()
    assert code in mine
    assert (await client.get(box + f"ac-{code}")).status == 200


async def test_staff_book_by_serial_and_cancel_for_the_household(client, admin_as):
    db = client.app[keys.DB]
    slot = await one_seat(client)
    await admin_as("staff")
    response, _ = await post_book(client, slot=slot, phone="13700137000", serial="DEMO-0003")
    assert response.status == 303
    code = re.search(r"made=(\w+)", response.headers["Location"]).group(1)
    aid = await db.fetchval("SELECT id FROM appointments WHERE code = ?", (code,))
    page = await (await client.get(PAGE)).text()
    assert f'id="ap-{code}"' in page
    # Without the CSRF token nothing happens.
    refused = await client.post(f"/admin/appointments/{aid}/cancel", data={})
    assert refused.status == 403
    assert await db.fetchval("SELECT status FROM appointments WHERE id = ?", (aid,)) == "booked"
    token = await csrf_of(client, PAGE)
    response = await client.post(
        f"/admin/appointments/{aid}/cancel", data={"csrf_token": token}, allow_redirects=False
    )
    assert response.status == 303 and "ap_cancelled" in response.headers["Location"]
    assert await db.fetchval("SELECT status FROM appointments WHERE id = ?", (aid,)) == "cancelled"
    assert (
        await db.fetchval(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'appointment.cancel_for_household'"
            " AND object_id = ? AND outcome = 'ok'",
            (code,),
        )
        == 1
    )
    box = await enter(client, "DEMO-0003")
    assert "已取消" in await (await client.get(box + f"a-{code}")).text()
    # The seat is free again.
    response, _ = await post_book(client, slot=slot, phone="13700137000", serial="DEMO-0003")
    assert response.status == 303


async def test_no_overbooking_and_clear_messages(client, admin_as):
    db = client.app[keys.DB]
    slot = await one_seat(client)
    await admin_as("staff")
    # A household already took the last seat on the TV.
    box = await enter(client, "DEMO-0002")
    response = await client.post(
        box + "ap-phone",
        data={"svc": "notarisation", "sp": POINT, "day": tomorrow().isoformat(), "at": "09:00",
              "phone": "13800138000"},
        allow_redirects=False,
    )  # fmt: skip
    draft = re.search(r"d=([0-9a-f]+)", response.headers["Location"]).group(1)
    await client.post(
        box + "ap-submit",
        data={"d": draft, "day": tomorrow().isoformat(), "at": "09:00"},
        allow_redirects=False,
    )
    assert await db.fetchval("SELECT COUNT(*) FROM appointments") == 1
    response, _ = await post_book(client, slot=slot, phone="13700137000", serial="DEMO-0003")
    assert response.status == 422 and "已约满" in await response.text()
    # No box known for the number, several boxes, a bad number, an unknown serial.
    response, _ = await post_book(client, slot=slot, phone="13600136000")
    assert response.status == 422 and "请填写住户的机顶盒编号" in await response.text()
    await used_number(client, "DEMO-0004", "13500135000")
    await used_number(client, "DEMO-0005", "13500135000")
    response, _ = await post_book(client, slot=slot, phone="13500135000")
    assert response.status == 422 and "多台机顶盒" in await response.text()
    response, _ = await post_book(client, slot=slot, phone="123", serial="DEMO-0003")
    assert response.status == 422 and "手机号" in await response.text()
    response, _ = await post_book(client, slot=slot, phone="13700137000", serial="NO-SUCH")
    assert response.status == 422 and "没有这个机顶盒编号" in await response.text()
    assert await db.fetchval("SELECT COUNT(*) FROM appointments") == 1
    failed = await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'appointment.book_for_household'"
        " AND outcome = 'failed'"
    )
    assert failed == 5
