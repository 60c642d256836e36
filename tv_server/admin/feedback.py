"""Admin slice: the households' ratings. Staff and the city see satisfaction per office,
adviser, service and region for a period (CSV/XLSX); supervisors work through the low ratings
(1–2) and record their follow-up, audited."""

from __future__ import annotations

from aiohttp import web

from advisers import advisers
from content.directory import points as directory
from feedback import ratings
from storage import Conflict, DomainError, NotFound, OutOfScope
from tv_server import keys
from tv_server.admin import downloads, labels
from tv_server.admin.callbacks import township_names
from tv_server.admin.common import (
    current_user,
    day_start,
    deny,
    log,
    render,
    requires,
    see_other,
)
from tv_server.admin.directory import allowed, scope
from tv_ui import labels as tv_labels
from tv_ui.i18n import N_, gettext

FOLLOW_UP = "callbacks.work"  # supervisors: the staff who run the callback queue
GROUPINGS = {
    "office": N_("服务点"),
    "adviser": N_("法律顾问"),
    "service": N_("服务"),
    "region": N_("乡镇"),
}
ERRORS = {
    "note_required": N_("请写明回访或处理情况。"),
    "text_too_long": N_("内容太长。"),
    "already_followed_up": N_("这条评价已经有人处理过了。"),
}


# This slice's messages, found by code by the admin's templates and error pages.
labels.NOTICES.setdefault("followed_up", N_("已记录处理情况。"))


def _period(request: web.Request) -> tuple[str, str, float | None, float | None]:
    since_text, until_text = request.query.get("since", ""), request.query.get("until", "")
    since, until = day_start(since_text), day_start(until_text)
    return since_text, until_text, since, until + 86400 if until is not None else None


async def _names(request: web.Request, by: str) -> dict[str, str]:
    db = request.config_dict[keys.DB]
    if by == "office":
        return {p.code: p.name for p in await directory.all_points(db)}
    if by == "adviser":
        return {str(a.id): a.name for a in await advisers.all_advisers(db)}
    if by == "service":
        return {k: gettext(v) for k, v in tv_labels.SERVICES.items()}
    return {}


@requires("view")
async def satisfaction(request: web.Request) -> web.StreamResponse:
    mine = scope(request)
    by = request.query.get("by", "office")
    by = by if by in GROUPINGS else "office"
    since_text, until_text, since, until = _period(request)
    overall, groups = await ratings.satisfaction(
        request.config_dict[keys.DB],
        mine,
        by,
        since=since,
        until=until,
        region_level_of=township_names(request, mine),
    )
    names = await _names(request, by)
    fmt = request.query.get("format", "")
    if fmt in ("csv", "xlsx"):
        detail = {"format": fmt, "by": by, "since": since_text, "until": until_text}
        await log(request, "feedback.export", detail=detail)
        header = ["by", "key", "name", "ratings", "mean", "satisfied_4_5", "low_1_2"]
        rows = [
            [by, g.key, names.get(g.key, g.key), g.count, round(g.mean, 2), g.satisfied, g.low]
            for g in [*groups]
        ]
        rows.append(["all", "", "", overall.count, round(overall.mean, 2), overall.satisfied,
                     overall.low])  # fmt: skip
        return downloads.table("ratings", fmt, header, rows)
    return render(
        request,
        "admin/feedback/satisfaction.html",
        overall=overall,
        groups=groups,
        names=names,
        by=by,
        groupings=GROUPINGS,
        since=since_text,
        until=until_text,
    )


async def _low_page(request: web.Request, status: int = 200, error: str = "") -> web.Response:
    since_text, until_text, since, until = _period(request)
    items = await ratings.low_ratings(
        request.config_dict[keys.DB],
        scope(request),
        since=since,
        until=until,
        open_only=request.query.get("open") == "1",
    )
    tree = request.config_dict[keys.REGIONS]
    return render(
        request,
        "admin/feedback/low.html",
        status=status,
        items=items,
        error=error,
        since=since_text,
        until=until_text,
        names=await _names(request, "office"),
        advisers={int(k): v for k, v in (await _names(request, "adviser")).items()},
        services={k: gettext(v) for k, v in tv_labels.SERVICES.items()},
        reasons={k: gettext(v) for k, v in tv_labels.RATING_REASONS.items()},
        place=lambda code: tree.full_name(code) if code and tree.get(code) else "",
    )


@requires(FOLLOW_UP)
async def low_list(request: web.Request) -> web.Response:
    await log(request, "feedback.low.view", object_type="rating")
    return await _low_page(request)


@requires(FOLLOW_UP)
async def follow_up(request: web.Request) -> web.Response:
    post = await request.post()
    kind, sid = request.match_info["kind"], int(request.match_info["sid"])
    if kind not in ratings.KINDS:
        raise web.HTTPNotFound()
    note = str(post.get("note", ""))[: ratings.NOTE_MAX + 1]

    async def then(tx, before) -> None:
        await log(request, "feedback.follow_up", object_type="rating", object_id=f"{kind}:{sid}",
                  detail={"ref": before.ref, "score": before.score, "note": note[:200]},
                  tx=tx)  # fmt: skip

    try:
        await ratings.follow_up(
            request.config_dict[keys.DB],
            kind,
            sid,
            current_user(request).id,
            note,
            allowed=allowed(request),
            then=then,
        )
    except OutOfScope:
        raise await deny(request, FOLLOW_UP, rating=f"{kind}:{sid}") from None
    except NotFound:
        raise web.HTTPNotFound() from None
    except (Conflict, DomainError) as exc:
        return await _low_page(request, 400 if exc.code != "already_followed_up" else 409,
                               gettext(ERRORS.get(exc.code, exc.code)))  # fmt: skip
    raise see_other(request, "admin_feedback_low", ok="followed_up")
