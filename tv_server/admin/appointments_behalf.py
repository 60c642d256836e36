"""Admin slice: staff book or cancel an appointment on a household's behalf (the household
phoned 12348 or the point). The booking belongs to the household's box — found by the serial
staff type, or by the number when exactly one box of the staff's region used it for a callback
or an appointment — so it shows in that box's 我的申请 like one made on the TV. Same slot
check, capacity count and per-box limit as on the box, in one write transaction with the
point's region checked inside it; every action is audited; the box's open screen reloads."""

from __future__ import annotations

import secrets
import time

from aiohttp import web

from appointments import bookings, slots
from callbacks import phones
from storage import DomainError, Invalid, NotFound
from tv_server import box_refresh, keys
from tv_server.admin import labels
from tv_server.admin.appointments import (
    MESSAGES,
    PERMISSION,
    STATES,
    allowed,
    calendar,
    scoped_point,
)
from tv_server.admin.common import current_user, log, render, require_region, requires
from tv_ui import labels as tv_labels
from tv_ui.i18n import N_, gettext

BEHALF_MESSAGES = {
    "phone_invalid": N_("请填写住户的手机号或带区号的固定电话。"),
    "box_not_found": N_("没有这个机顶盒编号。"),
    "box_unknown_phone": N_("本辖区没有用过这个号码的机顶盒，请填写住户的机顶盒编号。"),
    "box_many_phone": N_("这个号码对应多台机顶盒，请填写住户的机顶盒编号。"),
    "slot_invalid": N_("请选择时段。"),
    "appointment_limit": N_("这台机顶盒待办的预约已到上限，请先取消一个。"),
    "appointment_started": N_("预约时间已到，请标记到场或未到，不能再取消。"),
    "key_invalid": N_("表单已过期，请重新打开本页。"),
}
NOTICES = {
    "ap_booked": N_("已代为预约，住户在电视“我的申请”里能看到。"),
    "ap_cancelled": N_("已取消预约，住户在电视上会看到。"),
}


for code, text in NOTICES.items():
    labels.NOTICES.setdefault(code, text)


def _message(code: str) -> str:
    text = BEHALF_MESSAGES.get(code) or MESSAGES.get(code) or N_("操作没有成功：%(code)s")
    return gettext(text) % {"code": code}


async def _view(request, point, *, error: str = "", status: int = 200, form=None):
    db = request.config_dict[keys.DB]
    settings = request.config_dict[keys.SETTINGS]
    now = time.time()
    offered = {}
    for service in await slots.services_at(db, point.code):
        found = await slots.offered(
            db, calendar(request), point.code, service, now, settings.appointment_horizon_days
        )
        offered[service] = [s for s in found if s.free > 0][:60]
    return render(
        request,
        "admin/appointments/behalf.html",
        status=status,
        point=point,
        offered=offered,
        upcoming=await bookings.upcoming_at(db, point.code, now),
        services=tv_labels.SERVICES,
        states=STATES,
        error=error,
        form=form or {},
        key=secrets.token_hex(12),
        made="".join(c for c in request.query.get("made", "")[:6] if c.isalnum()),
    )


@requires(PERMISSION)
async def behalf_page(request: web.Request) -> web.Response:
    err = request.query.get("err", "")
    return await _view(request, await scoped_point(request), error=err and _message(err[:40]))


async def _box(request, serial: str, phone: str) -> bookings.Box:
    db = request.config_dict[keys.DB]
    if serial.strip():
        return await bookings.box_by_serial(db, serial)
    try:
        e164 = phones.normalise(phone[:40])
    except DomainError:
        raise Invalid("phone_invalid", "") from None
    found = await bookings.boxes_for_phone(db, e164, allowed(request))
    if not found:
        raise Invalid("box_unknown_phone", "")
    if len(found) > 1:
        raise Invalid("box_many_phone", str(len(found)))
    return found[0]


@requires(PERMISSION)
async def behalf_book(request: web.Request) -> web.Response:
    point = await scoped_point(request)
    form = await request.post()
    fields = {k: str(form.get(k, ""))[:80] for k in ("slot", "phone", "serial", "key")}
    service, _sep, when = fields["slot"].partition("|")
    day, _sep, start = when.partition(" ")
    db = request.config_dict[keys.DB]
    settings = request.config_dict[keys.SETTINGS]
    box = None
    try:
        if not (service and day and start):
            raise Invalid("slot_invalid", "")
        box = await _box(request, fields["serial"], fields["phone"])
        appt, created = await bookings.book_by_staff(
            db,
            calendar(request),
            point.code,
            service,
            slots.day_param(day),
            start,
            box,
            fields["phone"],
            fields["key"],
            user_id=current_user(request).id,
            horizon_days=settings.appointment_horizon_days,
            max_active=settings.appointment_max_per_box,
            allowed=allowed(request),
        )
    except DomainError as exc:
        if exc.status == 403:
            raise
        await log(
            request,
            "appointment.book_for_household",
            object_type="service_point",
            object_id=point.code,
            outcome="failed",
            detail={"code": exc.code, "slot": fields["slot"], "box": box.serial if box else ""},
        )
        form_back = {k: v for k, v in fields.items() if k != "key"}
        return await _view(request, point, error=_message(exc.code), status=422, form=form_back)
    if created:
        await log(
            request,
            "appointment.book_for_household",
            object_type="appointment",
            object_id=appt.code,
            detail={
                "point": point.code,
                "service": appt.service,
                "slot": [appt.day, appt.start],
                "box": box.serial,
                "phone": appt.phone_masked,
            },
        )
        await box_refresh.notify(request.config_dict, box.id)  # "my requests" reloads on the box
    raise web.HTTPSeeOther(
        request.app.router["admin_appointment_behalf"]
        .url_for(code=point.code)
        .with_query({"ok": "ap_booked", "made": appt.code})
    )


@requires(PERMISSION)
async def behalf_cancel(request: web.Request) -> web.Response:
    db = request.config_dict[keys.DB]
    try:
        appt = await bookings.get(db, int(request.match_info["aid"]))
    except NotFound:
        raise web.HTTPNotFound(reason="no such appointment") from None
    await require_region(request, PERMISSION, await slots.point_region(db, appt.point_code))
    back = request.app.router["admin_appointment_behalf"].url_for(code=appt.point_code)
    try:
        before, after = await bookings.cancel_by_staff(
            db, appt.id, user_id=current_user(request).id, allowed=allowed(request)
        )
    except DomainError as exc:
        if exc.status == 403:
            raise
        await log(
            request,
            "appointment.cancel_for_household",
            object_type="appointment",
            object_id=appt.code,
            outcome="failed",
            detail={"code": exc.code},
        )
        raise web.HTTPSeeOther(back.with_query({"err": exc.code})) from None
    await log(
        request,
        "appointment.cancel_for_household",
        object_type="appointment",
        object_id=appt.code,
        detail={"from": [before.status, before.day, before.start], "to": after.status},
    )
    await box_refresh.notify(request.config_dict, await bookings.device_of(db, appt.id))
    raise web.HTTPSeeOther(back.with_query({"ok": "ap_cancelled"}))
