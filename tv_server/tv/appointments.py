"""Booking an appointment at a service point from the box: service → point (own township first)
→ day → time → phone (the callback flow's phone screen) → confirm → receipt with the booking code
and what to bring; the booking's page and cancel (up to the cutoff) from 我的申请."""

from __future__ import annotations

import datetime as dt
import time

from aiohttp import web

from appointments import bookings, bring, slots
from callbacks import phones
from content.directory import points as directory
from storage import Conflict, Invalid, LimitReached, NotFound
from tv_server import callback_policy, keys
from tv_server.middlewares import tv_message
from tv_server.tv.callback import day_label
from tv_server.tv.common import TvBox, current_box, render, screen_url, send_html
from tv_server.tv.phone_step import PHONE_MAX, keypad_input, limit_screen, send_confirm
from tv_ui import labels
from tv_ui.i18n import N_, gettext

POINTS_SHOWN = 8
PHONE_HEADING = N_("预约办理")
PHONE_LEAD = N_("请用遥控器的数字键输入您的电话号码（%(when)s %(service)s）")


def _calendar(request: web.Request):
    return callback_policy.policy(request.app[keys.SETTINGS]).calendar


def _horizon(request: web.Request) -> int:
    return request.app[keys.SETTINGS].appointment_horizon_days


def _svc(value: str) -> str:
    return slots.service_param(value)


def _when(day: dt.date, start: str, end: str = "") -> str:
    ts = slots.starts_at(day, start)
    return f"{day_label(ts)} {start}" + (f"-{end}" if end else "")


async def _point(request: web.Request, code: str) -> directory.ServicePoint:
    if not code or len(code) > 64:
        raise Invalid("service_point_invalid", code[:64])
    try:
        return await directory.get_point(request.app[keys.DB], code)
    except NotFound:
        raise Invalid("service_point_invalid", code[:64]) from None


async def choose_service(request: web.Request) -> web.Response:
    """Step one; from a point's page (?sp=CODE) only the services that point takes."""
    box = await current_box(request)
    db = request.app[keys.DB]
    point_code = request.query.get("sp", "")
    point = await _point(request, point_code) if point_code else None
    offered = await slots.services_at(db, point.code) if point else list(slots.SERVICES)
    choices = []
    for code in offered:
        if point:
            url = screen_url(request, "tv_ap_day", query={"svc": code, "sp": point.code})
        else:
            url = screen_url(request, "tv_ap_point", query={"svc": code})
        choices.append(
            {
                "code": code,
                "label": gettext(labels.SERVICES[code]),
                "hint": gettext(labels.SERVICE_HINTS[code]),
                "url": url,
            }
        )
    html = render(
        request,
        "tv/ap_service.html",
        box,
        point=point,
        choices=choices,
        back=(screen_url(request, "tv_point", point_id=point.id) + "#ask-appointment")
        if point
        else screen_url(request, "tv_home") + "#t-ap",
    )
    return send_html(request, html)


def _nearness(box: TvBox, tree, region_code: str) -> int:
    """Own township first, then the own village, banner and city; other places after."""
    if region_code not in box.chain:
        return 99
    level = tree.get(region_code).level if tree.get(region_code) else ""
    return 0 if level == "township" else 1 + box.chain.index(region_code)


async def choose_point(request: web.Request) -> web.Response:
    box = await current_box(request)
    db, tree = request.app[keys.DB], request.app[keys.REGIONS]
    service = _svc(request.query.get("svc", ""))
    codes = await slots.points_taking(db, service)
    points = [p for p in await directory.all_points(db) if p.code in codes]
    points.sort(key=lambda p: (_nearness(box, tree, p.region_code), p.code))
    rows = [
        {
            "point": p,
            "own": p.region_code in box.chain,
            "url": screen_url(request, "tv_ap_day", query={"svc": service, "sp": p.code}),
        }
        for p in points[:POINTS_SHOWN]
    ]
    html = render(
        request,
        "tv/ap_point.html",
        box,
        rows=rows,
        service_label=gettext(labels.SERVICES[service]),
        back=screen_url(request, "tv_ap") + f"#svc-{service}",
    )
    return send_html(request, html)


async def choose_day(request: web.Request) -> web.Response:
    box = await current_box(request)
    service = _svc(request.query.get("svc", ""))
    point = await _point(request, request.query.get("sp", ""))
    offered = await slots.offered(
        request.app[keys.DB],
        _calendar(request),
        point.code,
        service,
        time.time(),
        _horizon(request),
    )
    by_day: dict[dt.date, list[slots.Slot]] = {}
    for slot in offered:
        by_day.setdefault(slot.day, []).append(slot)
    days = [
        {
            "day": day,
            "label": day_label(slots.starts_at(day, "12:00"), weekday=False),
            "weekday": gettext(labels.WEEKDAYS[day.isoweekday() - 1]),
            "free": sum(s.free for s in found),
            "url": screen_url(
                request,
                "tv_ap_slot",
                query={"svc": service, "sp": point.code, "day": day.isoformat()},
            ),
        }
        for day, found in by_day.items()
    ]
    html = render(
        request,
        "tv/ap_day.html",
        box,
        days=days,
        point=point,
        service_label=gettext(labels.SERVICES[service]),
        first_free=next((d["day"] for d in days if d["free"]), None),
        back=screen_url(request, "tv_ap_point", query={"svc": service}),
    )
    return send_html(request, html)


async def choose_slot(request: web.Request) -> web.Response:
    box = await current_box(request)
    service = _svc(request.query.get("svc", ""))
    point = await _point(request, request.query.get("sp", ""))
    day = slots.day_param(request.query.get("day", ""))
    offered = await slots.offered(
        request.app[keys.DB],
        _calendar(request),
        point.code,
        service,
        time.time(),
        _horizon(request),
        only_day=day,
    )
    rows = [
        {
            "slot": s,
            "id": "s-" + s.start.replace(":", ""),
            "url": screen_url(
                request,
                "tv_ap_phone",
                query={"svc": service, "sp": point.code, "day": day.isoformat(), "at": s.start},
            ),
        }
        for s in offered
    ]
    html = render(
        request,
        "tv/ap_slot.html",
        box,
        rows=rows,
        point=point,
        day_text=day_label(slots.starts_at(day, "12:00")),
        service_label=gettext(labels.SERVICES[service]),
        first_free=next((r["id"] for r in rows if r["slot"].free), None),
        back=screen_url(request, "tv_ap_day", query={"svc": service, "sp": point.code})
        + f"#d-{day.isoformat()}",
    )
    return send_html(request, html)


def _phone_screen(request, box, *, service, point, day, start, digits, draft_id, error=None):
    """The callback flow's phone screen (tv/cb_phone.html), posting to this flow."""
    html = render(
        request,
        "tv/cb_phone.html",
        box,
        phone_heading=gettext(PHONE_HEADING),
        phone_lead=gettext(PHONE_LEAD)
        % {"when": _when(day, start), "service": gettext(labels.SERVICES[service])},
        phone_action="ap-phone",
        phone_hidden=[
            ("svc", service),
            ("sp", point.code),
            ("day", day.isoformat()),
            ("at", start),
            ("d", draft_id or ""),
        ],
        digits=digits,
        error=error,
        max_digits=PHONE_MAX,
        keypad=["1", "2", "3", "4", "5", "6", "7", "8", "9", "clr", "0", "del"],
        back=screen_url(
            request, "tv_ap_slot", query={"svc": service, "sp": point.code, "day": day.isoformat()}
        ),
    )
    return send_html(request, html, status=422 if error else 200)


async def _slot_params(request, source):
    service = _svc(str(source.get("svc", "")))
    point = await _point(request, str(source.get("sp", "")))
    day = slots.day_param(str(source.get("day", "")))
    start = slots.clock(str(source.get("at", "")))
    return service, point, day, start


async def phone(request: web.Request) -> web.Response:
    box = await current_box(request)
    service, point, day, start = await _slot_params(request, request.query)
    digits = ""
    draft_id = request.query.get("d", "")
    if draft_id:
        draft = await bookings.get_draft(request.app[keys.DB], box.id, draft_id)
        digits = phones.national(draft.phone_e164) if draft else ""
    return _phone_screen(
        request,
        box,
        service=service,
        point=point,
        day=day,
        start=start,
        digits=digits,
        draft_id=draft_id,
    )


async def phone_post(request: web.Request) -> web.Response:
    box = await current_box(request)
    form = await request.post()
    service, point, day, start = await _slot_params(request, form)
    draft_id = str(form.get("d", "")) or None
    digits, pressed = keypad_input(form)
    args = dict(service=service, point=point, day=day, start=start, draft_id=draft_id)
    if pressed:
        return _phone_screen(request, box, digits=digits, **args)
    try:
        draft = await bookings.save_draft(
            request.app[keys.DB], box.id, service, point.code, digits, draft_id
        )
    except Invalid as exc:
        return _phone_screen(request, box, digits=digits, error=tv_message(exc.code, {}), **args)
    raise web.HTTPSeeOther(
        screen_url(
            request, "tv_ap_confirm", query={"d": draft.id, "day": day.isoformat(), "at": start}
        )
    )


async def _draft(request: web.Request, box, draft_id: str) -> bookings.AppointmentDraft:
    db = request.app[keys.DB]
    draft = await bookings.get_draft(db, box.id, draft_id)
    if draft is None:
        made = await bookings.get_by_key(db, box.id, draft_id)
        if made is not None:  # submitted already: a repeated OK lands on its receipt
            raise web.HTTPSeeOther(screen_url(request, "tv_ap_receipt", code=made.code))
        raise Invalid("idempotency_key_invalid", "draft gone")
    return draft


async def confirm(request: web.Request) -> web.Response:
    box = await current_box(request)
    draft = await _draft(request, box, request.query.get("d", ""))
    day = slots.day_param(request.query.get("day", ""))
    start = slots.clock(request.query.get("at", ""))
    point = await _point(request, draft.point_code)
    html = render(
        request,
        "tv/ap_confirm.html",
        box,
        draft=draft,
        point=point,
        day=day.isoformat(),
        start=start,
        when=_when(day, start),
        phone_grouped=phones.grouped(draft.phone_e164),
        service_label=gettext(labels.SERVICES[draft.service]),
        bring=await bring.get(request.app[keys.DB], draft.service),
        edit_phone=screen_url(
            request,
            "tv_ap_phone",
            query={
                "svc": draft.service,
                "sp": draft.point_code,
                "day": day.isoformat(),
                "at": start,
                "d": draft.id,
            },
        ),
        back=screen_url(
            request,
            "tv_ap_slot",
            query={"svc": draft.service, "sp": draft.point_code, "day": day.isoformat()},
        ),
    )
    return send_confirm(request, html)


async def submit(request: web.Request) -> web.Response:
    box = await current_box(request)
    form = await request.post()
    db = request.app[keys.DB]
    settings = request.app[keys.SETTINGS]
    draft = await _draft(request, box, str(form.get("d", "")))
    day = slots.day_param(str(form.get("day", "")))
    start = slots.clock(str(form.get("at", "")))
    cal = _calendar(request)
    try:
        appt, _created = await bookings.book(
            db,
            cal,
            box.id,
            draft,
            day,
            start,
            horizon_days=_horizon(request),
            max_active=settings.appointment_max_per_box,
            max_per_day=settings.requests_per_box_per_day,
            region_code=box.chain[0] if box.chain else None,
        )
    except (Conflict, Invalid) as exc:
        if exc.code not in ("slot_full", "slot_unavailable"):
            raise
        return await _full(request, box, draft, exc.code)
    except LimitReached as exc:
        return limit_screen(request, box, exc, booking=True)
    raise web.HTTPSeeOther(screen_url(request, "tv_ap_receipt", code=appt.code))


async def _full(request, box, draft, code: str) -> web.Response:
    """已约满: the seat went to another box; offer the next free slots (the number is kept)."""
    free = await bookings.next_free(
        request.app[keys.DB],
        _calendar(request),
        draft.point_code,
        draft.service,
        time.time(),
        _horizon(request),
    )
    choices = [
        {
            "id": f"n-{s.day.isoformat()}-{s.start.replace(':', '')}",
            "label": _when(s.day, s.start, s.end),
            "free": s.free,
            "url": screen_url(
                request,
                "tv_ap_confirm",
                query={"d": draft.id, "day": s.day.isoformat(), "at": s.start},
            ),
        }
        for s in free
    ]
    html = render(
        request,
        "tv/ap_full.html",
        box,
        message=tv_message(code, {}),
        choices=choices,
        other_days=screen_url(
            request, "tv_ap_day", query={"svc": draft.service, "sp": draft.point_code}
        ),
        back=screen_url(request, "tv_home"),
        back_force=True,
    )
    response = send_html(request, html, status=409)
    response.headers["Cache-Control"] = "no-store"
    return response


def _cutoff(request: web.Request) -> float:
    return request.app[keys.SETTINGS].appointment_cancel_cutoff_hours


async def _appointment_screen(request, box, appt, *, detail: bool) -> web.Response:
    db = request.app[keys.DB]
    try:
        point = await directory.get_point(db, appt.point_code)
    except NotFound:
        point = None
    moved = ""
    if appt.moved_from:
        old_day, old_start = appt.moved_from.split(" ")
        moved = _when(dt.date.fromisoformat(old_day), old_start)
    html = render(
        request,
        "tv/ap_receipt.html",
        box,
        appt=appt,
        point=point,
        detail=detail,
        when=_when(appt.date, appt.start, appt.end),
        moved=moved,
        service_label=gettext(labels.SERVICES[appt.service]),
        state_label=gettext(labels.APPOINTMENT_STATES[appt.status]),
        bring=await bring.get(db, appt.service),
        mine_url=screen_url(request, "tv_mine") + f"#ap-{appt.code}",
        cancel_url=screen_url(request, "tv_ap_cancel", code=appt.code)
        if appt.cancellable(time.time(), _cutoff(request))
        else None,
        back=screen_url(request, "tv_mine") + f"#ap-{appt.code}"
        if detail
        else screen_url(request, "tv_home"),
        back_force=True,
    )
    return send_html(request, html)


async def receipt(request: web.Request) -> web.Response:
    box = await current_box(request)
    appt = await bookings.get_for_device(request.app[keys.DB], box.id, request.match_info["code"])
    return await _appointment_screen(request, box, appt, detail="m" in request.query)


async def cancel_confirm(request: web.Request) -> web.Response:
    box = await current_box(request)
    appt = await bookings.get_for_device(request.app[keys.DB], box.id, request.match_info["code"])
    return _cancel_screen(request, box, appt)


def _cancel_screen(request, box, appt, *, message: str = "", status: int = 200) -> web.Response:
    html = render(
        request,
        "tv/ap_cancel.html",
        box,
        appt=appt,
        when=_when(appt.date, appt.start, appt.end),
        service_label=gettext(labels.SERVICES[appt.service]),
        state_label=gettext(labels.APPOINTMENT_STATES[appt.status]),
        can_cancel=appt.cancellable(time.time(), _cutoff(request)),
        message=message,
        back=screen_url(request, "tv_mine") + f"#ap-{appt.code}",
    )
    return send_html(request, html, status=status)


async def cancel(request: web.Request) -> web.Response:
    box = await current_box(request)
    db = request.app[keys.DB]
    code = request.match_info["code"]
    try:
        appt = await bookings.cancel_by_household(db, box.id, code, cutoff_hours=_cutoff(request))
    except Conflict as exc:
        fresh = await bookings.get_for_device(db, box.id, code)
        return _cancel_screen(request, box, fresh, message=tv_message(exc.code, {}), status=409)
    raise web.HTTPSeeOther(screen_url(request, "tv_mine") + f"#ap-{appt.code}")


def mine_rows(request: web.Request, booked, names: dict[str, str]) -> list[dict]:
    """我的申请's rows of these appointments (`names`: service point names by code)."""
    now, cutoff = time.time(), _cutoff(request)
    rows = []
    for appt in booked:
        point_name = names.get(appt.point_code, "")
        rows.append(
            {
                "appt": appt,
                "service": gettext(labels.SERVICES[appt.service]),
                "office": point_name,
                "when": _when(appt.date, appt.start, appt.end),
                "state": gettext(labels.APPOINTMENT_STATES[appt.status]),
                "url": screen_url(request, "tv_ap_receipt", code=appt.code, query={"m": "1"}),
                "cancel_url": screen_url(request, "tv_ap_cancel", code=appt.code)
                if appt.cancellable(now, cutoff)
                else None,
            }
        )
    return rows
