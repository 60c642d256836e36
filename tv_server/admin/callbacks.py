"""The staff's callback queue in /admin: a queue per office and region, one request's page with
its actions (claim, assign, call attempts, notes, complete, cancel, reveal the number), bulk
reassignment, and the figures page with CSV/XLSX export. Every action is audited.
"""

from __future__ import annotations

import datetime as dt
import time

from aiohttp import web

from accounts import users as accounts
from callbacks import lifecycle
from content.directory import points as directory
from storage import DomainError, clock
from tv_server import box_refresh, callback_policy, keys
from tv_server.admin import downloads, labels
from tv_server.admin.common import (
    current_user,
    day_start,
    deny,
    log,
    render,
    require_region,
    requires,
    see_other,
    url,
)
from tv_ui import labels as tv_labels
from tv_ui.i18n import N_, gettext

PERMISSION = "callbacks.work"
PAGE = 50

OUTCOMES = {
    "answered": N_("已接通"),
    "no_answer": N_("无人接听"),
    "busy": N_("占线"),
    "wrong_number": N_("号码错误"),
    "call_again": N_("约定再打"),
}
EVENTS = {
    "submitted": N_("提交"),
    "claimed": N_("认领"),
    "assigned": N_("分派"),
    "attempt": N_("回电"),
    "note": N_("备注"),
    "completed": N_("办结"),
    "cancelled": N_("取消"),
    "phone_erased": N_("号码已清除"),
}
# One staff name per state, in the filter, the rows, the request page and the exports (the
# household's TV wording is tv_ui.labels.STATES).
STAFF_STATES = {
    "submitted": N_("待认领"),
    "assigned": N_("已认领"),
    "in_progress": N_("办理中"),
    "completed": N_("已办结"),
    "unreachable": N_("无法联系"),
    "cancelled": N_("已取消"),
}
STATUS_FILTERS = {
    "open": N_("未办结"),
    **{k: STAFF_STATES[k] for k in ("submitted", "assigned", "in_progress")},
    "closed": N_("已关闭"),
    **{k: STAFF_STATES[k] for k in ("completed", "unreachable", "cancelled")},
    "": N_("全部"),
}
DUE_FILTERS = {"": N_("全部"), "overdue": N_("已超时"), "today": N_("今天到期")}
MESSAGES = {
    "already_claimed": N_("这条申请刚被其他工作人员认领了。"),
    "not_assignee": N_("只有承办人才能进行这个操作。"),
    "request_not_in_hand": N_("请先认领这条申请。"),
    "request_closed": N_("这条申请已经关闭。"),
    "reason_required": N_("请填写取消原因。"),
    "note_required": N_("请填写备注内容。"),
    "text_too_long": N_("内容太长了。"),
    "outcome_invalid": N_("请选择回电结果。"),
    "call_again_time_invalid": N_("请填写一个将来的再打时间。"),
    "assign_target_required": N_("请选择承办人或服务机构。"),
    "assignee_invalid": N_("承办人不存在或已停用。"),
    "service_point_invalid": N_("服务机构不存在。"),
    "nothing_selected": N_("请先勾选申请。"),
    "phone_erased": N_("这个号码已按保存期限清除。"),
    "result_required": N_("请简要写下办理结果，再办结。"),
    "complete_needs_answered": N_("只有“已接通”的回电才能同时办结。"),
}
NOTICES = {
    "cb_claimed": N_("已认领，现在由您承办。"),
    "cb_assigned": N_("已分派。"),
    "cb_attempt": N_("回电结果已记录。"),
    "cb_note": N_("备注已保存。"),
    "cb_completed": N_("已办结。"),
    "cb_cancelled": N_("申请已取消。"),
}


# This slice's messages, found by code by the admin's templates and error pages.
for code, text in NOTICES.items():
    labels.NOTICES.setdefault(code, text)


# -- helpers ---------------------------------------------------------------------------------


def _local(ts: float | None, fmt: str = "%m-%d %H:%M") -> str:
    return clock.fmt(ts, fmt) if ts else ""


def _scope(request: web.Request) -> set[str] | None:
    """Region codes the user may see (None: every region)."""
    user = current_user(request)
    if user.region_code is None:
        return None
    tree = request.config_dict[keys.REGIONS]
    out, stack = set(), [user.region_code]
    while stack:
        code = stack.pop()
        out.add(code)
        stack.extend(r.code for r in tree.kids(code))
    return out


region_scope = _scope  # for the start page's figures


async def open_count(request: web.Request, scope: set[str] | None) -> int:
    """Open requests in these regions (None: all)."""
    _tickets, total = await lifecycle.queue(
        request.config_dict[keys.DB], lifecycle.QueueFilter(regions=scope), limit=0
    )
    return total


def _works_on(request: web.Request, person: accounts.User, region_code: str | None) -> bool:
    """Whether this colleague may work on a request of this region (it is in their queue)."""
    if person.disabled or not person.can(PERMISSION):
        return False
    chain = [r.code for r in request.config_dict[keys.REGIONS].chain(region_code)]
    return person.region_code is None or accounts.in_scope(person, chain)


async def _colleagues(request: web.Request, region_code: str | None) -> list[accounts.User]:
    """The people requests of this region can be given to."""
    people = await accounts.list_users(request.config_dict[keys.DB])
    return [u for u in people if _works_on(request, u, region_code)]


async def _check_assignee(request: web.Request, assignee: str, tickets: list) -> None:
    """Refuse (403, audited) giving requests to someone who could not open them: a colleague
    of another banner, or one without the callback permission."""
    if not assignee.isdigit():
        return
    try:
        person = await accounts.get_user(request.config_dict[keys.DB], int(assignee))
    except DomainError:
        return  # unknown: the lifecycle refuses it with its message
    if not all(_works_on(request, person, t.region_code) for t in tickets):
        raise await deny(
            request, PERMISSION, assignee=person.username, callbacks=[t.ref for t in tickets]
        )


async def _offices(request: web.Request, scope: set[str] | None) -> list[directory.ServicePoint]:
    points = await directory.all_points(request.config_dict[keys.DB], scope)
    return [p for p in points if p.kind != "village_room"]


def _message(exc: DomainError) -> str:
    text = MESSAGES.get(exc.code) or labels.ERRORS.get(exc.code) or labels.ERRORS["server_error"]
    return gettext(text)


def _common(request: web.Request) -> dict:
    return {
        "services": tv_labels.SERVICES,
        "states": STAFF_STATES,
        "windows": tv_labels.TIME_WINDOWS,
        "topics": tv_labels.TOPICS,
        "outcomes": OUTCOMES,
        "event_kinds": EVENTS,
        "local": _local,
        "now": time.time(),
    }


async def _ticket(request: web.Request) -> lifecycle.Ticket:
    ticket = await lifecycle.get(request.config_dict[keys.DB], int(request.match_info["cid"]))
    await require_region(request, PERMISSION, ticket.region_code)
    return ticket


# -- the queue -------------------------------------------------------------------------------


@requires(PERMISSION)
async def queue(request: web.Request) -> web.Response:
    db = request.config_dict[keys.DB]
    user = current_user(request)
    scope = _scope(request)
    q = request.query
    status = q.get("status", "open")
    status = status if status in STATUS_FILTERS else "open"
    due = q.get("due", "") if q.get("due", "") in DUE_FILTERS else ""
    service = q.get("service", "") if q.get("service", "") in tv_labels.SERVICES else ""
    offices = await _offices(request, scope)
    office = q.get("office", "")
    if office and office not in {p.code for p in offices}:
        office = ""
    page = max(1, int(q["page"])) if q.get("page", "").isdigit() else 1
    flt = lifecycle.QueueFilter(
        regions=scope,
        office=office,
        status=status,
        service=service,
        due=due,
        assignee_id=user.id if q.get("mine") else None,
    )
    tickets, total = await lifecycle.queue(db, flt, limit=PAGE, offset=(page - 1) * PAGE)
    if user.region_code is None:  # their ticks may be anywhere: each is checked on posting
        staff = [u for u in await accounts.list_users(db) if u.can(PERMISSION) and not u.disabled]
    else:
        staff = await _colleagues(request, user.region_code)
    return render(
        request,
        "admin/callbacks/queue.html",
        tickets=tickets,
        total=total,
        page=page,
        pages=max(1, (total + PAGE - 1) // PAGE),
        overdue=await lifecycle.overdue_count(db, scope),
        offices=offices,
        office_names={p.code: p.name for p in offices},
        staff=staff,
        filters={
            "status": status,
            "due": due,
            "service": service,
            "office": office,
            "mine": q.get("mine", ""),
        },
        status_filters=STATUS_FILTERS,
        error=gettext(MESSAGES[request.query["err"]])
        if request.query.get("err") in MESSAGES
        else "",
        due_filters=DUE_FILTERS,
        **_common(request),
    )


@requires(PERMISSION)
async def today(request: web.Request) -> web.Response:
    """Today's calls: who to ring this morning, afternoon and evening, with when each request
    came in and when its call is due."""
    db = request.config_dict[keys.DB]
    scope = _scope(request)
    window = request.query.get("window", "")
    window = window if window in tv_labels.TIME_WINDOWS else ""
    calls = await lifecycle.todays_calls(db, scope)
    counts = {w: sum(c.window == w for c in calls) for w in tv_labels.TIME_WINDOWS}
    offices = await _offices(request, scope)
    return render(
        request,
        "admin/callbacks/today.html",
        calls=[c for c in calls if not window or c.window == window],
        total=len(calls),
        counts=counts,
        window=window,
        day=clock.today().isoformat(),
        office_names={p.code: p.name for p in offices},
        user_id=current_user(request).id,
        **_common(request),
    )


@requires(PERMISSION)
async def bulk(request: web.Request) -> web.Response:
    """Reassign the ticked requests to a person and/or another office, all or nothing."""
    db = request.config_dict[keys.DB]
    form = await request.post()
    ids = [int(v) for v in form.getall("ids", []) if str(v).isdigit()]
    tickets = [await lifecycle.get(db, i) for i in ids]
    for ticket in tickets:
        await require_region(request, PERMISSION, ticket.region_code)
    assignee = str(form.get("assignee", ""))
    office = str(form.get("office", ""))
    await _check_assignee(request, assignee, tickets)
    try:
        if office and office not in {p.code for p in await _offices(request, _scope(request))}:
            raise DomainError("service_point_invalid", office)
        await lifecycle.assign(
            db,
            ids,
            by_user_id=current_user(request).id,
            assignee_id=int(assignee) if assignee.isdigit() else None,
            office_code=office or None,
            reason=str(form.get("reason", "")),
        )
    except DomainError as exc:
        await log(
            request, "callback.bulk_assign", outcome="failed", detail={"ids": ids, "code": exc.code}
        )
        raise web.HTTPSeeOther(url(request, "admin_callbacks", {"err": exc.code})) from None
    for ticket in tickets:
        await log(
            request,
            "callback.assign",
            object_type="callback",
            object_id=ticket.ref,
            detail={"assignee": assignee, "office": office, "bulk": True},
        )
        await box_refresh.notify(request.config_dict, ticket.device_id)
    raise see_other(request, "admin_callbacks", ok="cb_assigned")


# -- one request -----------------------------------------------------------------------------


async def _detail(
    request: web.Request,
    ticket,
    *,
    status: int = 200,
    error: str = "",
    phone: str = "",
    form: dict | None = None,
) -> web.Response:
    db = request.config_dict[keys.DB]
    scope = _scope(request)
    offices = await _offices(request, scope)
    office = next((p for p in offices if p.code == ticket.office_code), None)
    if office is None and ticket.office_code:
        try:
            office = await directory.get_point(db, ticket.office_code)
        except DomainError:
            office = None
    staff = await _colleagues(request, ticket.region_code)
    return render(
        request,
        "admin/callbacks/detail.html",
        status=status,
        t=ticket,
        office=office,
        offices=offices,
        staff=staff,
        history=await lifecycle.events(db, ticket.id),
        mine=ticket.assignee_id == current_user(request).id,
        phone=phone,
        error=error,
        form=form or {},
        region_full=request.config_dict[keys.REGIONS].full_name(ticket.region_code)
        if ticket.region_code and request.config_dict[keys.REGIONS].get(ticket.region_code)
        else "",
        **_common(request),
    )


@requires(PERMISSION)
async def detail(request: web.Request) -> web.Response:
    ticket = await _ticket(request)
    kept = request.query.get("phone") == "1"
    return await _detail(request, ticket, phone=await _shown_again(request, ticket) if kept else "")


async def _shown_again(request: web.Request, ticket) -> str:
    """The number revealed earlier on this page, shown again after an action there while the
    request is open and still the user's (each showing audited like a reveal); else ''."""
    user = current_user(request)
    if not ticket.open or ticket.assignee_id != user.id:
        return ""
    try:
        phone = await lifecycle.reveal_phone(request.config_dict[keys.DB], ticket.id, user.id)
    except DomainError:
        return ""
    await log(
        request,
        "callback.reveal_phone",
        object_type="callback",
        object_id=ticket.ref,
        detail={"kept": True},
    )
    return phone


def _call_again(value: str) -> float | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise DomainError("call_again_time_invalid", value) from None
    return clock.parse(moment)


@requires(PERMISSION)
async def act(request: web.Request) -> web.Response:
    db = request.config_dict[keys.DB]
    ticket = await _ticket(request)
    user = current_user(request)
    form = await request.post()
    action = str(form.get("action", ""))
    data = {
        k: str(form.get(k, ""))
        for k in (
            "outcome",
            "note",
            "call_again",
            "reason",
            "assignee",
            "office",
            "for_household",
            "complete",
            "keep_phone",
        )
    }
    audit = {"object_type": "callback", "object_id": ticket.ref}
    try:
        if action == "claim":
            await lifecycle.claim(db, ticket.id, user.id)
            ok = "cb_claimed"
        elif action == "assign":
            await _check_assignee(request, data["assignee"], [ticket])
            office = data["office"] or None
            if office and office not in {p.code for p in await _offices(request, _scope(request))}:
                raise DomainError("service_point_invalid", office)
            await lifecycle.assign(
                db,
                [ticket.id],
                by_user_id=user.id,
                assignee_id=int(data["assignee"]) if data["assignee"].isdigit() else None,
                office_code=office,
                reason=data["reason"],
            )
            ok = "cb_assigned"
        elif action == "attempt":
            also_complete = data["complete"] == "1"
            if also_complete and data["outcome"] != "answered":
                raise DomainError("complete_needs_answered", data["outcome"])
            if also_complete and not data["note"].strip():
                raise DomainError("result_required", "")
            await lifecycle.record_attempt(
                db,
                callback_policy.policy(request.config_dict[keys.SETTINGS]),
                ticket.id,
                user.id,
                data["outcome"],
                note=data["note"],
                call_again_at=_call_again(data["call_again"])
                if data["outcome"] == "call_again"
                else None,
            )
            ok = "cb_attempt"
            if also_complete:  # answered and done in one step: the note is the result
                await lifecycle.complete(db, ticket.id, user.id, data["note"])
                ok = "cb_completed"
        elif action == "note":
            await lifecycle.add_note(
                db, ticket.id, user.id, data["note"], for_household=bool(data["for_household"])
            )
            ok = "cb_note"
        elif action == "complete":
            await lifecycle.complete(db, ticket.id, user.id, data["note"])
            ok = "cb_completed"
        elif action == "cancel":
            await lifecycle.cancel_by_staff(db, ticket.id, user.id, data["reason"])
            ok = "cb_cancelled"
        elif action == "reveal":
            number = await lifecycle.reveal_phone(db, ticket.id, user.id)
            await log(request, "callback.reveal_phone", **audit)
            return await _detail(request, ticket, phone=number)
        else:
            raise DomainError("bad_request", action)
    except DomainError as exc:
        await log(
            request,
            f"callback.{action or 'unknown'}",
            outcome="failed",
            detail={"code": exc.code},
            **audit,
        )
        status = 409 if exc.status == 409 else 400
        fresh = await lifecycle.get(db, ticket.id)
        phone = await _shown_again(request, fresh) if data["keep_phone"] == "1" else ""
        return await _detail(
            request, fresh, status=status, error=_message(exc), form=data, phone=phone
        )
    detail_log = {k: v for k, v in data.items() if v and k != "note"}
    if data["note"]:
        detail_log["note"] = data["note"][:100]
    await log(request, f"callback.{action}", detail=detail_log, **audit)
    if action == "attempt" and ok == "cb_completed":
        await log(request, "callback.complete", detail={"note": data["note"][:100]}, **audit)
    await box_refresh.notify(request.config_dict, ticket.device_id)
    # A number revealed on this page stays shown to its assignee while they work the request.
    keep = "1" if data["keep_phone"] == "1" and action not in ("complete", "cancel") else None
    raise web.HTTPSeeOther(url(request, "admin_callback", {"ok": ok, "phone": keep}, cid=ticket.id))


# -- figures and export ----------------------------------------------------------------------


def township_names(request: web.Request, scope: set[str] | None) -> dict[str, str]:
    """Map every village to its township's full name (figures are per township)."""
    tree = request.config_dict[keys.REGIONS]
    out = {}
    for code, region in tree.by_code.items():
        if scope is not None and code not in scope:
            continue
        chain = tree.chain(code)
        township = next((r for r in chain if r.level == "township"), None)
        county = next((r for r in chain if r.level == "county"), None)
        name = "".join(r.name for r in (county, township) if r is not None) or region.name
        out[code] = name
    return out


@requires(PERMISSION)
async def figures(request: web.Request) -> web.StreamResponse:
    db = request.config_dict[keys.DB]
    scope = _scope(request)
    since_text, until_text = request.query.get("since", ""), request.query.get("until", "")
    since = day_start(since_text)
    until = day_start(until_text)
    if until is not None:
        until += 86400  # the end day is included
    numbers = await lifecycle.figures(
        db, scope, since=since, until=until, region_level_of=township_names(request, scope)
    )
    fmt = request.query.get("format", "")
    if fmt in ("csv", "xlsx"):
        await log(
            request,
            "callback.export",
            detail={"format": fmt, "since": since_text, "until": until_text},
        )
        return downloads.table("callbacks", fmt, _header(), _rows(numbers))
    return render(
        request,
        "admin/callbacks/figures.html",
        f=numbers,
        since=since_text,
        until=until_text,
        median=_duration(numbers.median_first_call_seconds),
        **_common(request),
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}"


def _header() -> list[str]:
    return [gettext(N_("分类")), gettext(N_("项目")), gettext(N_("数量"))]


def _rows(f: lifecycle.Figures) -> list[list]:
    """The figures as the office's report table: section, item, count, in Chinese."""
    t = gettext
    services, states = tv_labels.SERVICES, STAFF_STATES
    rows: list[list] = [[t(N_("合计")), "", f.total]]
    rows += [[t(N_("地区")), k, v] for k, v in f.by_region.items()]
    rows += [
        [t(N_("服务")), t(services[k]) if k in services else k, v] for k, v in f.by_service.items()
    ]
    rows += [[t(N_("状态")), t(states[k]) if k in states else k, v] for k, v in f.by_status.items()]
    rows += [[t(N_("日期")), k, v] for k, v in f.by_period.items()]
    rows.append([t(N_("首次回电用时中位数（时:分）")), "", _duration(f.median_first_call_seconds)])
    rows.append([t(N_("按期回电比例")), "", labels.percent(f.within_deadline_share)])
    return rows
