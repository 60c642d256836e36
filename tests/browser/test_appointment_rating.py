"""Key-only, at 720p and 4K: an appointment staff marked attended is rated on the household's
next visit with a digit key, then a reason; the rating screen is screenshotted into
test-artifacts/."""

from __future__ import annotations

import pytest

from tests.helpers import (
    FOCUSED,
    SIZES,
    attended_in,
    no_overflow,
    open_box,
    press,
    shot,
)
from tv_server import keys

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", SIZES)
async def test_an_attended_appointment_is_rated_with_a_digit_key(tv, size):  # noqa: F811
    server, _browser = tv
    db = server.app[keys.DB]
    appt = await attended_in(server.app)
    page = await open_box(tv, size)  # the next visit: home sends it to the rating screen
    assert f"rate-a-{appt.code}" in page.url
    main = await page.inner_text("main")
    assert appt.code in main and "公证" in main and "已经办理" in main
    assert await page.evaluate(FOCUSED) == "score-5"
    await shot(page, "appointment-rating", size)
    await no_overflow(page)
    await press(page, "3")  # the number key gives the score, OK sends it
    assert await page.input_value("#score") == "3"
    await press(page, "Enter", wait_nav=True)
    assert "您打了 3 分" in await page.inner_text("main")
    await shot(page, "appointment-rating-reason", size)
    await press(page, "Enter", wait_nav=True)  # the first reason (办得快) → home
    assert page.url.split("#")[0].endswith("/home")
    row = await db.fetchone(
        "SELECT score, reason, office_code FROM ratings WHERE kind = 'appointment' AND ref = ?",
        (appt.code,),
    )
    assert tuple(row) == (3, "fast", appt.point_code)
    assert page.errors == []
