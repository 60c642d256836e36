"""What the household's two flows that take a phone number share (the callback request and the
appointment): the keypad of the phone step, the confirm screen sent uncached, and the screen
shown when the box has reached its limit of open requests or bookings."""

from __future__ import annotations

from aiohttp import web

from storage import LimitReached
from tv_server.middlewares import tv_message
from tv_server.tv.common import TvBox, render, screen_url, send_html

PHONE_MAX = 12


def keypad_input(form) -> tuple[str, bool]:
    """The phone step's typed digits, and whether an on-screen key was pressed (the keypad
    without script): then the screen is shown again with the key applied."""
    digits = "".join(ch for ch in str(form.get("phone", "")) if ch.isdigit())[:PHONE_MAX]
    key = str(form.get("k", ""))
    if not key:
        return digits, False
    if key.isdigit() and len(key) == 1 and len(digits) < PHONE_MAX:
        digits += key
    elif key == "del":
        digits = digits[:-1]
    elif key == "clr":
        digits = ""
    return digits, True


def send_confirm(request: web.Request, html: str) -> web.Response:
    """A confirm screen: it shows the whole number, so it is kept in no cache."""
    response = send_html(request, html)
    response.headers["Cache-Control"] = "no-store"  # the whole number: kept nowhere
    return response


def limit_screen(
    request: web.Request, box: TvBox, exc: LimitReached, *, booking: bool = False
) -> web.Response:
    """The box holds as many open requests (or bookings) as it may: say so, offer 我的申请.
    `booking`: the appointment flow's screen, headed as its other steps are (预约办理)."""
    html = render(
        request,
        "tv/cb_limit.html",
        box,
        booking=booking,
        message=tv_message(exc.code, exc.params),
        mine_url=screen_url(request, "tv_mine"),
        back=screen_url(request, "tv_home"),
        back_force=True,
    )
    return send_html(request, html, status=429)
