"""The audit log for admins: filter by user, action, object, outcome and date."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from accounts import audit
from storage import clock
from tv_server import keys
from tv_server.admin.common import render, requires

PER_PAGE = 50


def _day(value: str, end: bool = False) -> float | None:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return clock.at(day + dt.timedelta(days=1 if end else 0))


@requires("audit.view")
async def audit_log(request: web.Request) -> web.Response:
    q = request.query
    page = int(q["page"]) if q.get("page", "").isdigit() and int(q["page"]) > 0 else 1
    filters = {
        k: q.get(k, "").strip()
        for k in ("username", "action", "object_type", "object_id", "outcome")
    }
    entries, total = await audit.search(
        request.config_dict[keys.DB],
        **filters,
        since=_day(q.get("since", "")),
        until=_day(q.get("until", ""), end=True),
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    return render(
        request,
        "admin/audit.html",
        entries=entries,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        filters={**filters, "since": q.get("since", ""), "until": q.get("until", "")},
        when=clock.second,
    )
