"""Appointments in /admin: per service point its weekly slots and closed days (region-scoped),
the day's list (print-friendly page and XLSX), attended / no-show / reschedule, and what to bring
per service (city-wide staff only). Every change is audited; the household's box is told."""

from __future__ import annotations

import datetime as dt
import time

from aiohttp import web

from appointments import bookings, bring, slots
from content.directory import points as directory
from storage import DomainError, NotFound
from tv_server import box_refresh, callback_policy, keys
from tv_server.admin import downloads, labels
from tv_server.admin.callbacks import region_scope
from tv_server.admin.common import (
    current_user,
    log,
    render,
    require_region,
    requires,
    see_other,
)
from tv_ui import labels as tv_labels
from tv_ui.i18n import N_, gettext

PERMISSION = "callbacks.work"
STATES = {
    "booked": N_("已预约"),
    "rescheduled": N_("已改期"),
    "cancelled": N_("已取消"),
    "attended": N_("已到场"),
    "no_show": N_("未到场"),
}
MESSAGES = {
    "slot_time_invalid": N_("时间请写成 09:00，结束要晚于开始。"),
    "weekday_invalid": N_("请至少勾选一个星期几。"),
    "capacity_invalid": N_("名额请填 1 到 500。"),
    "too_many_patterns": N_("这个服务点的时段太多了。"),
    "too_many_exceptions": N_("这个服务点的停约日太多了。"),
    "day_invalid": N_("请填写日期，如 2026-12-08。"),
    "slot_full": N_("这个时段已约满。"),
    "slot_unavailable": N_("这个时段不可预约（不在预约期内、已停约或已过）。"),
    "slot_same": N_("新时间和原时间相同。"),
    "appointment_closed": N_("这个预约已经结束。"),
    "appointment_not_today": N_("还没到预约当天，不能标记到场情况。"),
    "bring_required": N_("请填写需携带的材料。"),
    "bring_too_long": N_("内容太长了（最多 200 字）。"),
    "service_invalid": N_("请选择服务。"),
    "pattern_not_found": N_("这个时段已被删除。"),
    "exception_not_found": N_("这个停约日已被删除。"),
}
FAILED = N_("操作没有成功：%(code)s")
NOTICES = {
    "ap_saved": N_("已保存。"),
    "ap_marked": N_("已记录到场情况。"),
    "ap_moved": N_("已改期，住户在电视上会看到新时间。"),
}
WEEKDAY_NAMES = tv_labels.WEEKDAYS


# This slice's messages, found by code by the admin's templates and error pages.
for code, text in NOTICES.items():
    labels.NOTICES.setdefault(code, text)


def _message(exc: DomainError) -> str:
    return gettext(MESSAGES.get(exc.code, FAILED)) % {"code": exc.code}


def allowed(request: web.Request):
    """A predicate over region codes for the domain's in-transaction scope check."""
    scope = region_scope(request)
    return None if scope is None else (lambda code: code in scope)


async def scoped_point(request: web.Request) -> directory.ServicePoint:
    try:
        point = await directory.get_point(request.config_dict[keys.DB], request.match_info["code"])
    except NotFound:
        raise web.HTTPNotFound(reason="no such service point") from None
    await require_region(request, PERMISSION, point.region_code)
    return point


def calendar(request: web.Request):
    return callback_policy.policy(request.config_dict[keys.SETTINGS]).calendar


@requires(PERMISSION)
async def index(request: web.Request) -> web.Response:
    db = request.config_dict[keys.DB]
    scope = region_scope(request)
    points = await directory.all_points(db, scope)
    counts = await slots.pattern_counts(db)
    upcoming = await bookings.upcoming_counts(db, slots.today())
    publishing = [p for p in points if p.code in counts]
    return render(
        request,
        "admin/appointments/index.html",
        publishing=publishing,
        others=[p for p in points if p.code not in counts],
        counts=counts,
        upcoming=upcoming,
        today=slots.today().isoformat(),
        can_edit_bring=current_user(request).region_code is None,
    )


async def _point_view(request, point, *, error: str = "", status: int = 200, form=None):
    db = request.config_dict[keys.DB]
    return render(
        request,
        "admin/appointments/point.html",
        status=status,
        point=point,
        patterns=await slots.patterns(db, point.code),
        closed=await slots.closed_days(db, point.code),
        services={s: tv_labels.SERVICES[s] for s in slots.SERVICES},
        weekdays=WEEKDAY_NAMES,
        today=slots.today().isoformat(),
        tomorrow=(slots.today() + dt.timedelta(days=1)).isoformat(),
        error=error,
        form=form or {},
    )


@requires(PERMISSION)
async def point_page(request: web.Request) -> web.Response:
    return await _point_view(request, await scoped_point(request))


@requires(PERMISSION)
async def point_act(request: web.Request) -> web.Response:
    point = await scoped_point(request)
    form = await request.post()
    db = request.config_dict[keys.DB]
    action = str(form.get("action", ""))
    in_scope = allowed(request)
    try:
        if action == "add_pattern":
            weekdays = [int(w) for w in form.getall("weekday", []) if str(w).isdigit()]
            capacity = str(form.get("capacity", ""))
            n = await slots.add_patterns(
                db,
                point.code,
                str(form.get("service", "")),
                weekdays,
                str(form.get("start", "")),
                str(form.get("end", "")),
                int(capacity) if capacity.isdigit() else 0,
                allowed=in_scope,
            )
            detail = {
                "service": form.get("service"),
                "weekdays": weekdays,
                "start": form.get("start"),
                "end": form.get("end"),
                "capacity": capacity,
                "written": n,
            }
        elif action == "delete_pattern":
            gone = await slots.delete_pattern(
                db, point.code, _int(form.get("id")), allowed=in_scope
            )
            detail = {"service": gone.service, "weekday": gone.weekday, "start": gone.start}
        elif action == "add_closed":
            day = slots.day_param(str(form.get("day", "")))
            await slots.add_closed(
                db, point.code, day, str(form.get("reason", "")), allowed=in_scope
            )
            detail = {"day": day.isoformat()}
        elif action == "delete_closed":
            gone = await slots.delete_closed(db, point.code, _int(form.get("id")), allowed=in_scope)
            detail = {"day": gone.day}
        else:
            raise web.HTTPBadRequest(reason="unknown action")
    except DomainError as exc:
        if exc.status == 403:
            raise
        return await _point_view(request, point, error=_message(exc), status=422, form=form)
    await log(
        request,
        f"appointment.{action}",
        object_type="service_point",
        object_id=point.code,
        detail=detail,
    )
    raise see_other(request, "admin_appointment_point", ok="ap_saved", code=point.code)


def _int(value) -> int:
    text = str(value or "")
    return int(text) if text.isdigit() else 0


def _rows(listing) -> list[list]:
    return [
        [
            a.start,
            a.end,
            gettext(tv_labels.SERVICES[a.service]),
            a.code,
            household,
            a.phone_masked,
            gettext(STATES[a.status]),
            a.moved_from,
        ]
        for a, household in listing
    ]


HEADER = [
    N_("开始"),
    N_("结束"),
    N_("服务"),
    N_("预约码"),
    N_("住户"),
    N_("电话"),
    N_("状态"),
    N_("原定时间"),
]


@requires(PERMISSION)
async def day_page(request: web.Request) -> web.StreamResponse:
    point = await scoped_point(request)
    try:
        day = slots.day_param(request.query.get("d", "") or slots.today().isoformat())
    except DomainError:
        day = slots.today()
    listing = await bookings.day_list(request.config_dict[keys.DB], point.code, day)
    fmt = request.query.get("format", "")
    if fmt in ("xlsx", "csv"):
        await log(
            request,
            "appointment.export",
            object_type="service_point",
            object_id=point.code,
            detail={"day": day.isoformat(), "format": fmt, "rows": len(listing)},
        )
        return downloads.table(
            f"appointments-{point.code}-{day.isoformat()}",
            fmt,
            [gettext(h) for h in HEADER],
            _rows(listing),
        )
    # Where a booking can be moved: the free slots of its service (today and the horizon).
    moves = {}
    for service in {a.service for a, _household in listing if a.active}:
        found = await bookings.next_free(
            request.config_dict[keys.DB],
            calendar(request),
            point.code,
            service,
            time.time(),
            request.config_dict[keys.SETTINGS].appointment_horizon_days,
            limit=40,
        )
        moves[service] = [(s.day.isoformat(), s.start, s.free) for s in found]
    return render(
        request,
        "admin/appointments/day.html",
        point=point,
        day=day.isoformat(),
        day_label=f"{day.isoformat()} {gettext(WEEKDAY_NAMES[day.isoweekday() - 1])}",
        listing=listing,
        moves=moves,
        states=STATES,
        services=tv_labels.SERVICES,
        prev_day=(day - dt.timedelta(days=1)).isoformat(),
        next_day=(day + dt.timedelta(days=1)).isoformat(),
        error=request.query.get("err", "") and gettext(MESSAGES.get(request.query["err"], "")),
    )


@requires(PERMISSION)
async def appointment_act(request: web.Request) -> web.Response:
    db = request.config_dict[keys.DB]
    try:
        appt = await bookings.get(db, int(request.match_info["aid"]))
    except NotFound:
        raise web.HTTPNotFound(reason="no such appointment") from None
    region = await slots.point_region(db, appt.point_code)
    await require_region(request, PERMISSION, region)
    form = await request.post()
    action = str(form.get("action", ""))
    user = current_user(request)
    try:
        if action in ("attended", "no_show"):
            before, after = await bookings.mark(
                db, appt.id, action, user_id=user.id, allowed=allowed(request)
            )
            ok = "ap_marked"
        elif action == "reschedule":
            day, _sep, start = str(form.get("slot", "")).partition(" ")
            before, after = await bookings.reschedule(
                db,
                calendar(request),
                appt.id,
                slots.day_param(day),
                start,
                user_id=user.id,
                horizon_days=request.config_dict[keys.SETTINGS].appointment_horizon_days,
                allowed=allowed(request),
            )
            ok = "ap_moved"
        else:
            raise web.HTTPBadRequest(reason="unknown action")
    except DomainError as exc:
        if exc.status == 403:
            raise
        await log(
            request,
            f"appointment.{action}",
            object_type="appointment",
            object_id=appt.code,
            outcome="failed",
            detail={"code": exc.code},
        )
        raise web.HTTPSeeOther(
            request.app.router["admin_appointment_day"]
            .url_for(code=appt.point_code)
            .with_query({"d": appt.day, "err": exc.code})
        ) from None
    await log(
        request,
        f"appointment.{action}",
        object_type="appointment",
        object_id=appt.code,
        detail={
            "from": [before.status, before.day, before.start],
            "to": [after.status, after.day, after.start],
        },
    )
    device_id = await bookings.device_of(db, appt.id)
    await box_refresh.notify(request.config_dict, device_id)  # "my requests" reloads on the box
    raise web.HTTPSeeOther(
        request.app.router["admin_appointment_day"]
        .url_for(code=appt.point_code)
        .with_query({"d": after.day, "ok": ok})
    )


async def _bring_view(request, *, error: str = "", status: int = 200) -> web.Response:
    return render(
        request,
        "admin/appointments/bring.html",
        status=status,
        texts=await bring.get_all(request.config_dict[keys.DB]),
        services=tv_labels.SERVICES,
        error=error,
    )


@requires(PERMISSION)
async def bring_form(request: web.Request) -> web.Response:
    return await _bring_view(request)


@requires(PERMISSION)
async def bring_save(request: web.Request) -> web.Response:
    # One list per service for the whole city: only staff without a region edit it.
    await require_region(request, PERMISSION, None)
    form = await request.post()
    service = str(form.get("service", ""))
    try:
        before, after = await bring.set_text(
            request.config_dict[keys.DB], service, str(form.get("text", ""))
        )
    except DomainError as exc:
        return await _bring_view(request, error=_message(exc), status=422)
    await log(
        request,
        "appointment.bring",
        object_type="appointment_service",
        object_id=service,
        detail={"from": before, "to": after},
    )
    raise see_other(request, "admin_appointment_bring", ok="ap_saved")
