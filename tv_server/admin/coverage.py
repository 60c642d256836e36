"""The coverage dashboard in /admin: drill down city → banner → township → village with sortable
tables, server-rendered SVG bar charts and trend line, CSV/XLSX export, the readiness ranking
with "propose the next wave", on-demand snapshots and one box's timeline.
"""

from __future__ import annotations

import datetime as dt
import time

from aiohttp import web

from device_registry import coverage, listing, waves
from storage import DomainError, LimitReached, clock
from tv_server import keys
from tv_server.admin import downloads, labels
from tv_server.admin import waves as wave_views
from tv_server.admin.common import (
    current_user,
    deny,
    log,
    render,
    require_region,
    requires,
    see_other,
    url,
)
from tv_server.middlewares import admin_error_response
from tv_server.ratelimit import retry_after_header
from tv_ui.i18n import N_, gettext

PERMISSION = "view"
EDIT = "registry.edit"
CACHE_SECONDS = 120.0  # the background task refreshes the default period every minute
COLUMNS = {
    "households": N_("户数"),
    "installed": N_("已安装机顶盒"),
    "active7": N_("7天活跃"),
    "active30": N_("30天活跃"),
    "covered": N_("有活跃机顶盒的户数"),
    "coverage": N_("覆盖率"),
    "launches": N_("启动次数"),
    "views": N_("节目观看"),
    "callbacks": N_("回电申请"),
}
READINESS_COLUMNS = {
    "households": N_("户数"),
    "equipped": N_("已装机户数"),
    "share": N_("装机户比例"),
    "active7": N_("活跃机顶盒"),
    "nearness": N_("邻近已覆盖地区"),
    "score": N_("准备度"),
}
BOX_STATES = {
    "pending": N_("待审核"),
    "rejected": N_("已拒绝"),
    "planned": N_("计划安装"),
    "installed": N_("已安装"),
    "activated": N_("已激活"),
    "active": N_("活跃"),
    "inactive": N_("不活跃"),
    "retired": N_("已退役"),
}
NEARNESS = {2: N_("同一苏木乡镇"), 1: N_("同一旗区"), 0: N_("较远")}
MESSAGES = {
    "period_invalid": N_("日期格式不对。"),
    "no_candidate_villages": N_("没有可以提议的嘎查村。"),
    "top_invalid": N_("提议数量要在1到200之间。"),
}
ERRORS = {
    "computation_running": N_("您上一次要求的重新统计还没有完成，请稍等几秒后再刷新。"),
    "figures_computing": N_("覆盖统计正在计算中，请稍等片刻后刷新本页。"),
}
NOTICES = {
    "snapshot_taken": N_("已保存今天的覆盖快照。"),
    "wave_proposed": N_("已生成计划中的批次，请修改后再启动。"),
}
CHART_WIDTH = 560


# This slice's messages, found by code by the admin's templates and error pages.
for code, text in NOTICES.items():
    labels.NOTICES.setdefault(code, text)
for code, text in ERRORS.items():
    labels.ERRORS.setdefault(code, text)


# -- helpers ---------------------------------------------------------------------------------


def _city_code(request: web.Request) -> str:
    tree = request.config_dict[keys.REGIONS]
    return next(r.code for r in tree.by_code.values() if r.level == "city")


async def _region(request: web.Request, permission: str) -> str:
    """The requested region (default: the user's own region, else the city), in scope."""
    user = current_user(request)
    code = request.query.get("region", "") or user.region_code or _city_code(request)
    if request.config_dict[keys.REGIONS].get(code) is None:
        raise web.HTTPNotFound()
    await require_region(request, permission, code)
    return code


def _period(request: web.Request, now: float) -> tuple[coverage.Period | None, str, str]:
    """The chosen period (None: the default last 30 days, served from the shared cache)."""
    since_text = request.query.get("since", "").strip()
    until_text = request.query.get("until", "").strip()
    if not since_text and not until_text:
        return None, "", ""
    default = coverage.default_period(now)
    try:
        since = coverage.day_start(dt.date.fromisoformat(since_text)) if since_text else None
        until = (
            coverage.day_start(dt.date.fromisoformat(until_text)) + coverage.DAY
            if until_text
            else None
        )
    except ValueError:
        raise web.HTTPBadRequest(text=gettext(MESSAGES["period_invalid"])) from None
    return (
        coverage.Period(since or default.since, until or default.until),
        since_text,
        until_text,
    )


def _sorted(rows: list, key: str, desc: bool, value) -> list:
    present = [r for r in rows if value(r, key) is not None]
    missing = [r for r in rows if value(r, key) is None]
    present.sort(key=lambda r: value(r, key), reverse=desc)
    return present + missing


def _figure(row, key: str):
    region, figures = row
    if key == "name":
        return region.code
    return getattr(figures, key)


def bars(rows: list, key: str, scale: float | None = None) -> list[dict]:
    """Bar geometry for an inline SVG chart of one figure per region."""
    values = [
        (r.name, r.code, f.coverage if key == "coverage" else getattr(f, key)) for r, f in rows
    ]
    top = scale or max((v or 0 for _, _, v in values), default=0) or 1
    out = []
    for i, (name, code, v) in enumerate(values):
        v = v or 0
        out.append(
            {
                "name": name,
                "code": code,
                "y": i * 26,
                "width": round(CHART_WIDTH * v / top, 1),
                "label": f"{v * 100:.1f}%" if key == "coverage" else str(v),
            }
        )
    return out


def _with_live(points: list[dict], rep) -> list[dict]:
    """The snapshots with today's point replaced by the figures shown above, so the trend's
    latest value is the one at the top of the page."""
    f = rep.totals
    day = coverage.day_of(rep.computed_at)
    live = {
        "day": day,
        "households": f.households,
        "installed": f.installed,
        "active7": f.active7,
        "active30": f.active30,
        "covered": f.covered,
        "coverage": None if f.coverage is None else round(f.coverage, 4),
    }
    return [p for p in points if p["day"] != day] + [live]


def trend_line(points: list[dict], width: int = 600, height: int = 160) -> dict:
    """Polyline points of the coverage trend (0-100 % on the y axis)."""
    values = [p["coverage"] or 0.0 for p in points]
    if not values:
        return {"points": "", "days": [], "width": width, "height": height}
    step = width / max(1, len(values) - 1)
    coords = [f"{round(i * step, 1)},{round(height - v * height, 1)}" for i, v in enumerate(values)]
    return {
        "dots": [c.split(",") for c in coords],
        "points": " ".join(coords),
        "width": width,
        "height": height,
        "first": points[0]["day"],
        "last": points[-1]["day"],
        "latest": f"{values[-1] * 100:.1f}%",
    }


# The exports' column titles: the dashboard's, and those it does not show.
EXPORT_COLUMNS = {
    **COLUMNS,
    "equipped": N_("已装机户数"),
    "short_villages": N_("导入户数偏少的嘎查村"),
    "short_households": N_("导入户数偏少的户数"),
}
FIGURE_KEYS = [
    "households",
    "equipped",
    "installed",
    "active7",
    "active30",
    "covered",
    "coverage",
    "launches",
    "views",
    "callbacks",
    "short_villages",
    "short_households",
]


def as_of(ts: float, now: float) -> str:
    """When the figures were computed: the time, with the date when it is not today."""
    same_day = coverage.day_of(ts) == coverage.day_of(now)
    return clock.fmt(ts, "%H:%M" if same_day else clock.MINUTE)


def _export_rows(rep: coverage.Report) -> list[list]:
    rows = []
    for region, f in [(rep.region, rep.totals), *rep.rows]:
        d = f.as_dict()
        d["coverage"] = labels.percent(d["coverage"])
        level = gettext(labels.REGION_LEVELS.get(region.level, region.level))
        rows.append([region.code, region.name, level, *[d[k] for k in FIGURE_KEYS]])
    return rows


def _export_header() -> list[str]:
    titles = [gettext(EXPORT_COLUMNS[k]) for k in FIGURE_KEYS]
    return [gettext(N_("地区代码")), gettext(N_("地区")), gettext(N_("级别")), *titles]


# -- the dashboard ---------------------------------------------------------------------------


@requires(PERMISSION)
async def dashboard(request: web.Request) -> web.StreamResponse:
    db, tree = request.config_dict[keys.DB], request.config_dict[keys.REGIONS]
    code = await _region(request, PERMISSION)
    now = time.time()
    period, since_text, until_text = _period(request, now)
    fresh = bool(request.query.get("fresh"))
    settings = request.config_dict[keys.SETTINGS]
    try:
        rep = await coverage.report(
            db,
            tree,
            code,
            now,
            period,
            cache_seconds=CACHE_SECONDS,
            fresh=fresh,
            # Only what a viewer asks for explicitly counts as their computation.
            viewer=f"user:{current_user(request).id}" if fresh or period else None,
            # The default figures not there yet (a very first start, or a staff change at a
            # province's scale): answered "being computed" rather than held for a minute.
            wait=None if fresh or period else settings.coverage_first_wait_seconds,
        )
    except coverage.Computing as exc:
        response = admin_error_response(request, 503, exc.code)
        response.headers["Retry-After"] = retry_after_header(coverage.COMPUTING_RETRY_SECONDS)
        return response
    except LimitReached as exc:
        response = admin_error_response(request, 429, exc.code)
        response.headers["Retry-After"] = retry_after_header(coverage.BUSY_RETRY_SECONDS)
        return response
    fmt = request.query.get("format", "")
    if fmt in ("csv", "xlsx"):
        await log(
            request,
            "coverage.export",
            object_type="region",
            object_id=code,
            detail={"format": fmt, "since": since_text, "until": until_text},
        )
        return downloads.table("coverage", fmt, _export_header(), _export_rows(rep))
    sort = request.query.get("sort", "name")
    sort = sort if sort in COLUMNS or sort == "name" else "name"
    desc = request.query.get("dir", "desc" if sort != "name" else "asc") == "desc"

    def value(row, key):
        return row[1].coverage if key == "coverage" else _figure(row, key)

    rows = _sorted(rep.rows, sort, desc, value)
    user = current_user(request)
    chain = [r for r in reversed(tree.chain(code)) if r.level != "province"]
    if user.region_code:  # no breadcrumb above the user's own region
        keep = [r.code for r in tree.chain(user.region_code)]
        chain = [r for r in chain if r.code not in keep or r.code == user.region_code]
    all_waves = await waves.list_waves(db)
    mine = {r.code for r in tree.chain(code)}
    shown = [
        w
        for w in all_waves
        if any(c in mine or code in {r.code for r in tree.chain(c)} for c in w.regions)
    ]
    return render(
        request,
        "admin/coverage/dashboard.html",
        rep=rep,
        rows=rows,
        chain=chain,
        columns=COLUMNS,
        sort=sort,
        desc=desc,
        since=since_text,
        until=until_text,
        period_text=(coverage.day_of(rep.period.since), coverage.day_of(rep.period.until - 1)),
        computed_at=as_of(rep.computed_at, now),
        stale=rep.stale,
        coverage_bars=bars(rows, "coverage", 1.0),
        installed_bars=bars(rows, "installed"),
        trend=trend_line(_with_live(await coverage.trend(db, code), rep)),
        waves=shown,
        kinds=wave_views.KINDS,
        statuses=wave_views.STATUSES,
        is_village=rep.region.level == "village",
        devices=await listing.village_boxes(db, code) if rep.region.level == "village" else [],
        can_edit=user.can(EDIT),
        box_states=BOX_STATES,
        pct=lambda v: "—" if v is None else f"{v * 100:.1f}%",
    )


@requires(EDIT)
async def snapshot(request: web.Request) -> web.Response:
    db, tree = request.config_dict[keys.DB], request.config_dict[keys.REGIONS]
    user = current_user(request)
    if user.region_code:  # a snapshot covers the whole city
        raise await deny(request, EDIT, action="coverage.snapshot")
    count = await coverage.take_snapshot(db, tree)
    await log(request, "coverage.snapshot", detail={"regions": count})
    raise web.HTTPSeeOther(url(request, "admin_coverage", {"ok": "snapshot_taken"}))


# -- planning aid ----------------------------------------------------------------------------


def _readiness_value(r: coverage.Readiness, key: str):
    if key == "name":
        return r.village.code
    return getattr(r, key)


@requires(PERMISSION)
async def readiness(request: web.Request, error: str = "", status: int = 200):
    db, tree = request.config_dict[keys.DB], request.config_dict[keys.REGIONS]
    code = await _region(request, PERMISSION)
    ranked = await coverage.readiness(db, tree, code, cache_seconds=CACHE_SECONDS)
    sort = request.query.get("sort", "score")
    sort = sort if sort in READINESS_COLUMNS or sort == "name" else "score"
    desc = request.query.get("dir", "asc" if sort == "name" else "desc") == "desc"
    ranked = _sorted(ranked, sort, desc, _readiness_value)
    fmt = request.query.get("format", "")
    if fmt in ("csv", "xlsx"):
        await log(
            request,
            "coverage.export",
            object_type="readiness",
            object_id=code,
            detail={"format": fmt},
        )
        rows = [
            [
                r.village.code,
                tree.full_name(r.village.code),
                r.households,
                r.equipped,
                labels.percent(r.share),
                r.active7,
                gettext(NEARNESS[r.nearness]),
                r.score,
            ]
            for r in ranked
        ]
        header = [
            gettext(N_("地区代码")),
            gettext(N_("嘎查村")),
            *[gettext(t) for t in READINESS_COLUMNS.values()],
        ]
        return downloads.table("readiness", fmt, header, rows)
    return render(
        request,
        "admin/coverage/readiness.html",
        status=status,
        ranked=ranked[:300],
        total=len(ranked),
        region=tree.get(code),
        columns=READINESS_COLUMNS,
        nearness=NEARNESS,
        sort=sort,
        desc=desc,
        error=error,
        can_edit=current_user(request).can(EDIT),
        pct=lambda v: "—" if v is None else f"{v * 100:.1f}%",
    )


@requires(EDIT)
async def propose(request: web.Request) -> web.StreamResponse:
    db, tree = request.config_dict[keys.DB], request.config_dict[keys.REGIONS]
    code = await _region(request, EDIT)
    form = await request.post()
    top_text = form.get("top", "10").strip()
    if not top_text.isdigit() or not 1 <= int(top_text) <= 200:
        return await readiness.__wrapped__(request, gettext(MESSAGES["top_invalid"]), 400)
    user = current_user(request)
    name = form.get("name", "").strip() or gettext(N_("提议批次 %(day)s")) % {
        "day": clock.today().isoformat()
    }
    scope = code if code != _city_code(request) else None
    try:
        wave = await coverage.propose_wave(db, tree, name, int(top_text), scope)
    except DomainError as exc:
        text = MESSAGES.get(exc.code) or wave_views.MESSAGES.get(exc.code)
        message = gettext(text) if text else gettext(labels.ERRORS["server_error"])
        return await readiness.__wrapped__(request, message, 400)
    await log(
        request,
        "wave.propose",
        object_type="wave",
        object_id=wave.id,
        detail={"regions": list(wave.regions), "user_region": user.region_code or ""},
    )
    raise see_other(request, "admin_wave", ok="wave_proposed", wid=wave.id)


# -- one box ---------------------------------------------------------------------------------


@requires(PERMISSION)
async def box_timeline(request: web.Request) -> web.Response:
    db, tree = request.config_dict[keys.DB], request.config_dict[keys.REGIONS]
    try:
        line = await coverage.box_timeline(db, request.match_info["serial"])
    except DomainError:
        raise web.HTTPNotFound() from None
    await require_region(request, PERMISSION, line["village_code"])
    view = await request.config_dict[keys.BOXES].get(line["serial"])
    wave = None
    if view is not None and view.wave_id is not None:
        wave = await waves.get_wave(db, view.wave_id)
    return render(
        request,
        "admin/coverage/box.html",
        line=line,
        wave=wave,
        box_states=BOX_STATES,
        village=tree.full_name(line["village_code"]) if tree.get(line["village_code"]) else "",
        local=lambda ts: clock.minute(ts, "—"),
    )
