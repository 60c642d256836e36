"""Retention reaches the appointments and the ratings: a booking's number (in its row and in
queued reminder bodies) and a supervisor's follow-up note on a low rating (in the ratings row and
the audit log's excerpt) are erased after `callback_retention_days`, down to the bytes of the
database file (on PostgreSQL: from every row of every table); bookings still to come and recent
notes are kept."""

import datetime as dt
import time

from appointments import bookings, reminders, slots
from callbacks import webhooks
from tests.helpers import (
    FORMS,
    PHONE,
    POINT,
    attended_in,
    csrf_of,
    enter,
    make_settings,
    stored_bytes,
)
from tv_server import keys, retention

NOTE = "已回访，户主说有事打 139 1234 5678 找他"


async def test_retention_erases_appointment_numbers_and_follow_up_notes(client, admin_as, data_dir):
    db = client.app[keys.DB]
    settings = make_settings(data_dir)
    await webhooks.add_endpoint(db, "sms", "http://127.0.0.1:9/nothing-listens")

    async def remind(appt):  # the day before, with the full number for the SMS gateway
        day_before = slots.starts_at(appt.date - dt.timedelta(days=1), "10:00")
        assert await reminders.queue_due(db, with_phone=True, now=day_before) == 1

    appt = await attended_in(client.app, phone=PHONE, before_mark=remind)
    assert PHONE in await db.fetchval("SELECT payload FROM webhook_outbox")
    # A booking still to come keeps its number whatever happens.
    other = await db.fetchval("SELECT id FROM devices WHERE serial = 'DEMO-0003'")
    draft = await bookings.save_draft(db, other, "legal_aid", POINT, "13700137000")
    first = (await bookings.next_free(db, _cal(client), POINT, "legal_aid", time.time(), 14))[0]
    coming, _ = await bookings.book(
        db, _cal(client), other, draft, first.day, first.start, horizon_days=14, max_active=3
    )
    # The household rates the appointment 1; a supervisor follows up with a note.
    box = await enter(client, "DEMO-0001")
    await client.post(box + f"rate-a-{appt.code}", data={"s": "1"}, allow_redirects=False)
    await admin_as("staff")
    token = await csrf_of(client, "/admin/feedback/low")
    response = await client.post(
        f"/admin/feedback/low/appointment/{appt.id}",
        data={"csrf_token": token, "note": NOTE},
        allow_redirects=False,
    )
    assert response.status == 303
    assert await db.fetchval("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%户主说%'") == 1

    # Within the retention nothing goes.
    done = await retention.apply(db, settings)
    assert (done.appointments, done.notes) == (0, 0)
    await db.checkpoint()
    later = time.time() + (settings.callback_retention_days + 1) * 86400
    # (the booking to come is "long past" by then too: give it a slot that is still ahead)
    await db.execute(
        "UPDATE appointments SET starts_at = ? WHERE id = ?", (later + 86400, coming.id)
    )
    done = await retention.apply(db, settings, now=later)
    assert (done.appointments, done.notes) == (1, 1)

    row = await db.fetchone(
        "SELECT phone_e164, phone_masked FROM appointments WHERE id = ?", (appt.id,)
    )
    assert row[0] != "+86" + PHONE and row[1] == "139****5678"
    kept = await db.fetchval("SELECT phone_e164 FROM appointments WHERE id = ?", (coming.id,))
    assert kept == "+8613700137000"
    assert await db.fetchval("SELECT COUNT(*) FROM webhook_outbox") == 0
    rating = await db.fetchone(
        "SELECT score, follow_up_note, followed_up_at FROM ratings WHERE subject_id = ?",
        (appt.id,),
    )
    assert rating[0] == 1 and rating[1] == "" and rating[2] is not None
    content = await stored_bytes(db, data_dir)
    assert b"139****5678" in content  # the masked form stays: we did read the right file
    for form in FORMS:
        assert form.encode() not in content, form
    assert "户主说".encode() not in content
    events = await db.fetchall(
        "SELECT kind FROM appointment_events WHERE appointment_id = ? ORDER BY id", (appt.id,)
    )
    assert events[-1][0] == "phone_erased"
    # The low-rating list still shows that it was followed up.
    low = await (await client.get("/admin/feedback/low")).text()
    assert "处理记录已过保存期限" in low


def _cal(client):
    from tv_server import callback_policy

    return callback_policy.policy(client.app[keys.SETTINGS]).calendar
