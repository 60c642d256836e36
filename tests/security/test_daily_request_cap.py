"""A box's new requests per day are capped (`requests_per_box_per_day`), counted over callbacks
submitted and appointments booked whatever their state now, so booking (or submitting) and
cancelling from the TV in a loop cannot grow the tables without bound. Checked in the write
transaction that inserts: concurrent submissions from one box cannot pass it."""

from __future__ import annotations

import asyncio
import re

from tests.helpers import (
    POINT,
    book,
    csrf_of,
    draft_for,
    enter,
    login,
    make_settings,
    phone_step,
    publish,
    submit,
    tomorrow,
)
from tv_server import keys
from tv_server.app import create_app

TOMORROW = "请明天再试，或拨打12348"


async def _app(front_client, data_dir, **overrides):
    return await front_client(create_app(make_settings(data_dir, **overrides)))


async def _rows(client, serial="DEMO-0001") -> dict[str, int]:
    """What the box's requests have stored: rows and their events, per table."""
    db = client.app[keys.DB]
    device = await db.fetchval("SELECT id FROM devices WHERE serial = ?", (serial,))
    return {
        "appointments": await db.fetchval(
            "SELECT COUNT(*) FROM appointments WHERE device_id = ?", (device,)
        ),
        "appointment_events": await db.fetchval(
            "SELECT COUNT(*) FROM appointment_events e JOIN appointments a"
            " ON a.id = e.appointment_id WHERE a.device_id = ?",
            (device,),
        ),
        "callback_requests": await db.fetchval(
            "SELECT COUNT(*) FROM callback_requests WHERE device_id = ?", (device,)
        ),
        "callback_events": await db.fetchval(
            "SELECT COUNT(*) FROM callback_events e JOIN callback_requests r"
            " ON r.id = e.request_id WHERE r.device_id = ?",
            (device,),
        ),
    }


async def _book_and_cancel(client, box) -> int:
    """Book tomorrow's slot from the TV and cancel it at once; the booking's status code."""
    draft = await phone_step(client, box, tomorrow())
    response = await book(client, box, draft, tomorrow())
    if response.status == 303:
        code = response.headers["Location"].rsplit("a-", 1)[1]
        cancelled = await client.post(f"{box}ac-{code}", allow_redirects=False)
        assert cancelled.status == 303
    return response.status


async def _submit_and_cancel(client, box) -> int:
    response = await submit(client, box, await draft_for(client, box))
    if response.status == 303:
        ref = response.headers["Location"].rsplit("r-", 1)[1]
        cancelled = await client.post(f"{box}mc-{ref}", allow_redirects=False)
        assert cancelled.status == 303
    return response.status


async def test_book_and_cancel_in_a_loop_stops_at_the_cap(front_client, data_dir):
    client = await _app(front_client, data_dir, requests_per_box_per_day=4)
    box = await enter(client)
    await publish(client, capacity=1)
    # The seat is freed by every cancel and the box never holds an active booking: only the
    # daily cap stops the loop.
    assert [await _book_and_cancel(client, box) for _ in range(4)] == [303] * 4
    stored = await _rows(client)
    assert stored["appointments"] == 4 and stored["appointment_events"] == 8
    draft = await phone_step(client, box, tomorrow())
    refused = await book(client, box, draft, tomorrow())
    assert refused.status == 429
    html = await refused.text()
    assert "今天已提交 4 次申请和预约" in html and TOMORROW in html
    assert await _rows(client) == stored  # nothing written beyond the cap
    # Another box is not held back by this one.
    other = await enter(client, "DEMO-0002")
    assert await _book_and_cancel(client, other) == 303


async def test_submit_and_cancel_callbacks_in_a_loop_stops_at_the_cap(front_client, data_dir):
    client = await _app(front_client, data_dir, requests_per_box_per_day=3)
    box = await enter(client)
    assert [await _submit_and_cancel(client, box) for _ in range(3)] == [303] * 3
    stored = await _rows(client)
    assert stored["callback_requests"] == 3 and stored["callback_events"] == 6
    statuses = set()
    for _ in range(3):
        refused = await submit(client, box, await draft_for(client, box))
        statuses.add(refused.status)
        html = await refused.text()
        assert "今天已提交 3 次申请和预约" in html and TOMORROW in html
    assert statuses == {429}
    assert await _rows(client) == stored
    # The services screen says so before the household types its number again.
    assert TOMORROW in await (await client.get(box + "cb")).text()


async def test_the_cap_counts_callbacks_and_bookings_together(front_client, data_dir):
    client = await _app(front_client, data_dir, requests_per_box_per_day=3)
    box = await enter(client)
    await publish(client, capacity=5)
    assert await _submit_and_cancel(client, box) == 303
    assert await _book_and_cancel(client, box) == 303
    assert (await submit(client, box, await draft_for(client, box))).status == 303
    draft = await phone_step(client, box, tomorrow())
    assert (await book(client, box, draft, tomorrow())).status == 429
    assert (await submit(client, box, await draft_for(client, box))).status == 429
    stored = await _rows(client)
    assert stored["appointments"] + stored["callback_requests"] == 3


async def test_a_retry_of_the_same_draft_counts_once_and_still_finds_its_receipt(
    front_client, data_dir
):
    client = await _app(front_client, data_dir, requests_per_box_per_day=2)
    box = await enter(client)
    first = await draft_for(client, box)
    made = await submit(client, box, first)
    assert made.status == 303
    again = await submit(client, box, first)  # the OK pressed twice, or a retried POST
    assert again.status == 303 and again.headers["Location"] == made.headers["Location"]
    assert (await submit(client, box, await draft_for(client, box))).status == 303
    assert (await submit(client, box, await draft_for(client, box))).status == 429
    # At the cap, the first draft's retry still lands on its receipt.
    late = await submit(client, box, first)
    assert late.status == 303 and late.headers["Location"] == made.headers["Location"]
    assert (await _rows(client))["callback_requests"] == 2


async def test_a_booking_retried_counts_once(front_client, data_dir):
    client = await _app(front_client, data_dir, requests_per_box_per_day=1)
    box = await enter(client)
    await publish(client, capacity=3)
    draft = await phone_step(client, box, tomorrow())
    made = await book(client, box, draft, tomorrow())
    assert made.status == 303
    again = await book(client, box, draft, tomorrow())
    assert again.status == 303 and again.headers["Location"] == made.headers["Location"]
    second = await phone_step(client, box, tomorrow())
    assert (await book(client, box, second, tomorrow())).status == 429


async def test_yesterdays_requests_do_not_count(front_client, data_dir):
    """The cap is per day (the office's day): once the day has passed the box may ask again."""
    client = await _app(front_client, data_dir, requests_per_box_per_day=1)
    box = await enter(client)
    assert (await submit(client, box, await draft_for(client, box))).status == 303
    assert (await submit(client, box, await draft_for(client, box))).status == 429
    await client.app[keys.DB].execute(
        "UPDATE callback_requests SET created_at = created_at - 86400"
    )
    assert (await submit(client, box, await draft_for(client, box))).status == 303


async def test_concurrent_submissions_from_one_box_cannot_pass_the_cap(front_client, data_dir):
    """Five callbacks and four bookings pressed at once from one box (a box keeps five drafts
    of each kind), over real sockets, the open/active limits set high: exactly the cap's worth
    is written, the rest see the message."""
    client = await _app(
        front_client,
        data_dir,
        requests_per_box_per_day=5,
        max_open_callbacks=50,
        appointment_max_per_box=50,
    )
    box = await enter(client)
    await publish(client, capacity=20)
    callback_drafts = [await draft_for(client, box) for _ in range(5)]
    booking_drafts = [await phone_step(client, box, tomorrow()) for _ in range(4)]
    responses = await asyncio.gather(
        *(submit(client, box, d) for d in callback_drafts),
        *(book(client, box, d, tomorrow()) for d in booking_drafts),
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [303] * 5 + [429] * 4
    for response in responses:
        if response.status == 429:
            assert TOMORROW in await response.text()
    stored = await _rows(client)
    assert stored["appointments"] + stored["callback_requests"] == 5


async def test_staff_booking_for_the_household_does_not_count(front_client, data_dir):
    client = await _app(front_client, data_dir, requests_per_box_per_day=2)
    serial = "DEMO-0003"
    box = await enter(client, serial)
    await publish(client, capacity=5)
    assert (await submit(client, box, await draft_for(client, box))).status == 303
    response = await login(client, "staff")
    assert response.status == 303
    page = f"/admin/appointments/point/{POINT}/behalf"
    slot = f"notarisation|{tomorrow().isoformat()} 09:00"
    for _ in range(2):
        html = await (await client.get(page)).text()
        key = re.search(r'name="key" value="([0-9a-f]+)"', html).group(1)
        data = {
            "csrf_token": await csrf_of(client, page),
            "key": key,
            "slot": slot,
            "phone": "13700137000",
            "serial": serial,
        }
        made = await client.post(page, data=data, allow_redirects=False)
        assert made.status == 303 and "made=" in made.headers["Location"]
    assert (await _rows(client, serial))["appointments"] == 2
    # The household's second request of the day is still its own to make; the third is not.
    assert (await submit(client, box, await draft_for(client, box))).status == 303
    assert (await submit(client, box, await draft_for(client, box))).status == 429


async def test_a_mongolian_box_reads_the_message_in_mongolian(front_client, data_dir):
    client = await _app(front_client, data_dir, requests_per_box_per_day=1)
    entered = await client.get(
        "/tv/", params={"stb": "DEMO-0001", "lang": "mn"}, allow_redirects=False
    )
    box = entered.headers["Location"].removesuffix("home")
    assert (await submit(client, box, await draft_for(client, box))).status == 303
    refused = await submit(client, box, await draft_for(client, box))
    assert refused.status == 429
    html = await refused.text()
    assert '<html lang="mn"' in html
    # The drafted Mongolian (docs/translation.md): "…try again tomorrow, or call 12348."
    assert "ᠮᠠᠭᠠᠰᠢ ᠳᠠᠬᠢᠨ ᠣᠷᠣᠯᠳᠠᠭᠠᠷᠠᠢ" in html and "12348" in html
