"""Asking for a callback from the box: service → phone number → time window → confirm → receipt;
and 我的申请, the household's requests with their status."""

from __future__ import annotations

from aiohttp import web

from advisers import advisers
from appointments import bookings
from callbacks import daily, lifecycle, phones
from callbacks import requests as domain
from content.directory import points as directory
from storage import Conflict, Invalid, LimitReached, NotFound, clock
from tv_server import callback_policy, keys
from tv_server.middlewares import tv_message
from tv_server.tv.common import current_box, render, screen_url, send_html
from tv_server.tv.phone_step import PHONE_MAX, keypad_input, limit_screen, send_confirm
from tv_ui import labels
from tv_ui.i18n import gettext


def day_label(ts: float | None, *, weekday: bool = True) -> str:
    """'12月8日 星期一' in China Standard Time, as a household says a day."""
    if ts is None:
        return ""
    day = clock.local(ts).date()
    text = gettext(labels.DAY) % {"m": day.month, "d": day.day}
    return text + " " + gettext(labels.WEEKDAYS[day.isoweekday() - 1]) if weekday else text


def topic_label(code: str) -> str:
    return gettext(labels.TOPICS[code]) if code in labels.TOPICS else ""


async def _point_or_none(request: web.Request, code: str | None) -> directory.ServicePoint | None:
    if not code:
        return None
    try:
        return await directory.get_point(request.app[keys.DB], code)
    except NotFound:
        return None


def _services_for(point: directory.ServicePoint | None) -> list[str]:
    if point is None:
        return list(domain.SERVICES)
    offered = [s for s in domain.SERVICES if s in point.services]
    return offered or list(domain.SERVICES)


async def choose_service(request: web.Request) -> web.Response:
    box = await current_box(request)
    point = await _point_or_none(request, request.query.get("sp"))
    open_count = await domain.count_open(request.app[keys.DB], box.id)
    limit = request.app[keys.SETTINGS].max_open_callbacks
    per_day = request.app[keys.SETTINGS].requests_per_box_per_day
    if await daily.reached(request.app[keys.DB], box.id, per_day):
        limit_message = tv_message(daily.CODE, {"limit": per_day})
    elif open_count >= limit:
        limit_message = tv_message("callback_limit", {"limit": limit})
    else:
        limit_message = None
    choices = [
        {
            "code": code,
            "label": gettext(labels.SERVICES[code]),
            "hint": gettext(labels.SERVICE_HINTS[code]),
            "url": screen_url(
                request, "tv_cb_topic", query={"svc": code, "sp": point.code if point else None}
            ),
        }
        for code in _services_for(point)
    ]
    html = render(
        request,
        "tv/cb_service.html",
        box,
        point=point,
        choices=choices,
        limit_message=limit_message,
        mine_url=screen_url(request, "tv_mine"),
        back=screen_url(request, "tv_home") + "#t-cb",
    )
    return send_html(request, html)


async def topic(request: web.Request) -> web.Response:
    """Optional: what the matter is about, so the right person calls back; 跳过 skips it."""
    box = await current_box(request)
    service = _service_param(request.query.get("svc", ""))
    point_code = request.query.get("sp")
    choices = [
        {
            "code": code,
            "label": gettext(label),
            "url": screen_url(
                request, "tv_cb_phone", query={"svc": service, "sp": point_code, "t": code}
            ),
        }
        for code, label in labels.TOPICS.items()
    ]
    html = render(
        request,
        "tv/cb_topic.html",
        box,
        choices=choices,
        service_label=gettext(labels.SERVICES[service]),
        skip_url=screen_url(request, "tv_cb_phone", query={"svc": service, "sp": point_code}),
        back=screen_url(request, "tv_cb", query={"sp": point_code}) + f"#svc-{service}",
    )
    return send_html(request, html)


async def own_adviser(request: web.Request, box, raw) -> advisers.Adviser | None:
    """The adviser named by `a` when it is this box's village's own (else refused)."""
    if not raw:
        return None
    text = str(raw)
    adviser = None
    if text.isdigit() and len(text) < 10:
        village = box.chain[0] if box.chain else None
        adviser = await advisers.for_village(request.app[keys.DB], village)
    if adviser is None or str(adviser.id) != text:
        raise Invalid("adviser_invalid", text[:20])
    return adviser


def _phone_back(request, service, point_code, adviser) -> str:
    if adviser is not None:  # asked from the adviser's card: back to the adviser
        return screen_url(request, "tv_adviser") + "#adv-call"
    return screen_url(request, "tv_cb_topic", query={"svc": service, "sp": point_code})


def _phone_form(
    request,
    box,
    *,
    service,
    point_code,
    digits,
    draft_id,
    topic="",
    error=None,
    status=200,
    adviser=None,
):
    return send_html(
        request,
        render(
            request,
            "tv/cb_phone.html",
            box,
            service=service,
            service_label=gettext(labels.SERVICES[service]),
            point_code=point_code or "",
            topic=topic,
            digits=digits,
            draft_id=draft_id or "",
            error=error,
            max_digits=PHONE_MAX,
            keypad=["1", "2", "3", "4", "5", "6", "7", "8", "9", "clr", "0", "del"],
            adviser=adviser,
            back=_phone_back(request, service, point_code, adviser),
        ),
        status=status,
    )


def _service_param(value: str) -> str:
    if value not in domain.SERVICES:
        raise Invalid("service_invalid", value)
    return value


async def phone(request: web.Request) -> web.Response:
    box = await current_box(request)
    q = request.query
    service = _service_param(q.get("svc", ""))
    topic = domain.topic_param(q.get("t", ""))
    adviser = await own_adviser(request, box, q.get("a"))
    point_code = adviser.office_code if adviser is not None else q.get("sp")
    digits = ""
    if q.get("d"):
        draft = await domain.get_draft(request.app[keys.DB], box.id, q["d"])
        if draft is not None:
            digits = phones.national(draft.phone_e164)
            topic = topic or draft.topic
    return _phone_form(
        request,
        box,
        service=service,
        point_code=point_code,
        digits=digits,
        draft_id=q.get("d"),
        topic=topic,
        adviser=adviser,
    )


async def phone_post(request: web.Request) -> web.Response:
    """The phone step's form: keypad presses without script, or 下一步."""
    box = await current_box(request)
    form = await request.post()
    service = _service_param(str(form.get("svc", "")))
    point_code = str(form.get("sp", "")) or None
    draft_id = str(form.get("d", "")) or None
    topic = domain.topic_param(str(form.get("t", "")))
    adviser = await own_adviser(request, box, form.get("a"))
    if adviser is not None:
        point_code = adviser.office_code
    digits, pressed = keypad_input(form)
    if pressed:
        return _phone_form(
            request,
            box,
            service=service,
            point_code=point_code,
            digits=digits,
            draft_id=draft_id,
            topic=topic,
            adviser=adviser,
        )
    try:
        draft = await domain.save_draft(
            request.app[keys.DB],
            box.id,
            service,
            digits,
            point_code,
            draft_id,
            topic=topic,
            adviser_id=adviser.id if adviser is not None else None,
        )
    except Invalid as exc:
        if exc.code == "service_point_invalid":
            point_code = None  # never echo what the directory does not hold
        return _phone_form(
            request,
            box,
            service=service,
            point_code=point_code,
            digits=digits,
            draft_id=draft_id,
            topic=topic,
            error=tv_message(exc.code, {}),
            status=422,
            adviser=adviser,
        )
    raise web.HTTPSeeOther(screen_url(request, "tv_cb_time", query={"d": draft.id}))


async def _submitted_already(request: web.Request, box, draft_id: str) -> None:
    """A draft is deleted when it is submitted (it held the number): a repeated OK or a step
    revisited afterwards lands on the receipt of the request it made."""
    if not draft_id:
        return
    made = await domain.get_by_key(request.app[keys.DB], box.id, draft_id)
    if made is not None:
        raise web.HTTPSeeOther(screen_url(request, "tv_receipt", ref=made.ref))


async def _draft(request: web.Request, box) -> domain.CallbackDraft:
    draft_id = request.query.get("d", "")
    draft = await domain.get_draft(request.app[keys.DB], box.id, draft_id) if draft_id else None
    if draft is None:
        await _submitted_already(request, box, draft_id)
        raise Invalid("idempotency_key_invalid", "draft gone")
    return draft


async def time_window(request: web.Request) -> web.Response:
    box = await current_box(request)
    draft = await _draft(request, box)
    windows = [
        {
            "code": code,
            "label": gettext(label),
            "url": screen_url(request, "tv_cb_confirm", query={"d": draft.id, "w": code}),
        }
        for code, label in labels.TIME_WINDOWS.items()
    ]
    html = render(
        request,
        "tv/cb_time.html",
        box,
        draft=draft,
        windows=windows,
        back=_edit_phone(request, draft),
    )
    return send_html(request, html)


def _edit_phone(request: web.Request, draft: domain.CallbackDraft) -> str:
    query = {"svc": draft.service, "sp": draft.service_point_code, "d": draft.id, "t": draft.topic}
    return screen_url(request, "tv_cb_phone", query={**query, "a": draft.adviser_id})


async def confirm(request: web.Request) -> web.Response:
    box = await current_box(request)
    draft = await _draft(request, box)
    window = request.query.get("w", "")
    if window not in labels.TIME_WINDOWS:
        raise Invalid("window_invalid", window)
    point = await _point_or_none(request, draft.service_point_code)
    html = render(
        request,
        "tv/cb_confirm.html",
        box,
        draft=draft,
        phone_grouped=phones.grouped(draft.phone_e164),
        window=window,
        window_label=gettext(labels.TIME_WINDOWS[window]),
        service_label=gettext(labels.SERVICES[draft.service]),
        topic_label=topic_label(draft.topic),
        point=point,
        adviser=await _adviser_or_none(request, draft.adviser_id),
        edit_phone=_edit_phone(request, draft),
        back=screen_url(request, "tv_cb_time", query={"d": draft.id}),
    )
    return send_confirm(request, html)


async def submit(request: web.Request) -> web.Response:
    box = await current_box(request)
    form = await request.post()
    db = request.app[keys.DB]
    key = str(form.get("d", ""))
    draft = await domain.get_draft(db, box.id, key)
    if draft is None:
        await _submitted_already(request, box, key)
        raise Invalid("idempotency_key_invalid", "draft gone")
    try:
        checked = domain.validate(
            draft.service,
            phones.national(draft.phone_e164),
            str(form.get("w", "")),
            draft.id,
            draft.service_point_code,
            draft.topic,
            adviser_id=draft.adviser_id,
        )
        req, _created = await lifecycle.submit(
            db,
            callback_policy.policy(request.app[keys.SETTINGS]),
            box.id,
            checked,
            box.chain,
            max_open=request.app[keys.SETTINGS].max_open_callbacks,
            max_per_day=request.app[keys.SETTINGS].requests_per_box_per_day,
            language=box.lang,
        )
    except LimitReached as exc:
        return limit_screen(request, box, exc)
    # The request is committed: only now is the receipt shown.
    raise web.HTTPSeeOther(screen_url(request, "tv_receipt", ref=req.ref))


async def _request_screen(request: web.Request, box, req, point, *, detail: bool) -> web.Response:
    """The receipt after submitting, and a request's page opened from 我的申请: what was asked,
    of whom, and the day staff will call."""
    html = render(
        request,
        "tv/cb_receipt.html",
        box,
        req=req,
        point=point,
        adviser=await _adviser_or_none(request, req.adviser_id),
        detail=detail,
        service_label=gettext(labels.SERVICES[req.service]),
        topic_label=topic_label(req.topic),
        window_label=gettext(labels.TIME_WINDOWS[req.time_window]),
        call_day=day_label(req.due_at),
        filed_day=day_label(req.created_at, weekday=False),
        state_label=gettext(labels.HOUSEHOLD_STATES[req.status]),
        mine_url=screen_url(request, "tv_mine") + f"#req-{req.ref}",
        cancel_url=screen_url(request, "tv_cb_cancel", ref=req.ref) if req.open else None,
        back=screen_url(request, "tv_mine") + f"#req-{req.ref}"
        if detail
        else screen_url(request, "tv_home"),
        back_force=True,
    )
    return send_html(request, html)


async def _adviser_or_none(request: web.Request, adviser_id: int | None):
    if adviser_id is None:
        return None
    try:
        return await advisers.get(request.app[keys.DB], adviser_id)
    except NotFound:
        return None


async def _office(request: web.Request, req) -> directory.ServicePoint | None:
    """The office the request went to (routed), else the one the household chose."""
    return await _point_or_none(request, req.office_code) or await _point_or_none(
        request, req.service_point_code
    )


async def receipt(request: web.Request) -> web.Response:
    box = await current_box(request)
    req = await _own_request(request, box)
    return await _request_screen(request, box, req, await _office(request, req), detail=False)


async def detail(request: web.Request) -> web.Response:
    """One request, opened with OK on its row of 我的申请."""
    box = await current_box(request)
    req = await _own_request(request, box)
    return await _request_screen(request, box, req, await _office(request, req), detail=True)


async def point_names(request: web.Request, codes: set[str]) -> dict[str, str]:
    """Service point names by code, from memory (dropped by "directory" changes, see
    tv_server.caches), the missing ones in one read."""
    cache = request.app[keys.POINT_NAMES]
    names = {c: n for c in codes if (n := cache.get(c)) is not None}
    missing = codes.difference(names)
    if missing:
        generation = request.app[keys.DB].changes.generation
        found = await directory.point_names(request.app[keys.DB], missing)
        if request.app[keys.DB].changes.generation == generation:  # no change meanwhile
            for code, name in found.items():
                cache.put(code, name)
        names.update(found)
    return names


async def mine(request: web.Request) -> web.Response:
    from tv_server.tv import appointments  # it reuses this module's phone step

    box = await current_box(request)
    db = request.app[keys.DB]
    items, booked = await bookings.household_lists(db, box.id)
    codes = {c for item in items for c in (item.office_code, item.service_point_code) if c}
    names = await point_names(request, codes | {appt.point_code for appt in booked})
    rows = []
    for item in items:
        # The office the request went to (routed), else the one the household chose.
        office = names.get(item.office_code or "") or names.get(item.service_point_code or "")
        rows.append(
            {
                "req": item,
                "office": office or "",
                "service": gettext(labels.SERVICES[item.service]),
                "topic": topic_label(item.topic),
                "state": gettext(labels.HOUSEHOLD_STATES[item.status]),
                "filed": day_label(item.created_at, weekday=False),
                "call_day": day_label(item.due_at) if item.open else "",
                "window": gettext(labels.TIME_WINDOWS[item.time_window]),
                "url": screen_url(request, "tv_request", ref=item.ref),
            }
        )
    html = render(
        request,
        "tv/mine.html",
        box,
        rows=rows,
        appointments=appointments.mine_rows(request, booked, names),
        cancel_urls={
            item.ref: screen_url(request, "tv_cb_cancel", ref=item.ref)
            for item in items
            if item.open
        },
        refresh=True,  # staff acting on a request reload this screen over SSE
        new_url=screen_url(request, "tv_cb"),
        back=screen_url(request, "tv_home") + "#t-mine",
        # Back from the list always goes home, never to a cancel screen left behind in history.
        back_force=True,
    )
    return send_html(request, html)


async def _own_request(request: web.Request, box) -> domain.CallbackRequest:
    req = await domain.get_for_device(request.app[keys.DB], box.id, request.match_info["ref"])
    if req is None:
        raise NotFound("request_not_found", request.match_info["ref"])
    return req


def _cancel_screen(request: web.Request, box, req, *, status: int = 200) -> web.Response:
    html = render(
        request,
        "tv/cb_cancel.html",
        box,
        req=req,
        service_label=gettext(labels.SERVICES[req.service]),
        state_label=gettext(labels.HOUSEHOLD_STATES[req.status]),
        back=screen_url(request, "tv_mine") + f"#req-{req.ref}",
    )
    return send_html(request, html, status=status)


async def cancel_confirm(request: web.Request) -> web.Response:
    """Step one of withdrawing a request: ask, with 不取消 focused first."""
    box = await current_box(request)
    return _cancel_screen(request, box, await _own_request(request, box))


async def cancel(request: web.Request) -> web.Response:
    """Withdraw the request (idempotent: a repeated OK lands on 我的申请 just the same)."""
    box = await current_box(request)
    req = await _own_request(request, box)
    try:
        await lifecycle.cancel_by_household(request.app[keys.DB], box.id, req.ref)
    except Conflict:  # closed by staff in the meantime: show its state instead
        fresh = await _own_request(request, box)
        return _cancel_screen(request, box, fresh, status=409)
    raise web.HTTPSeeOther(screen_url(request, "tv_mine") + f"#req-{req.ref}")
