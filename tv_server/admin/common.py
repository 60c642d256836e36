"""What the admin handlers share: the current user, permissions, rendering and auditing."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from accounts import audit
from accounts.users import User, in_scope
from storage import clock
from tv_server import keys
from tv_server.admin import labels
from tv_server.proxies import client_address
from tv_ui.i18n import gettext

USER = web.RequestKey("user", User)
# The admin's navigation: (permission needed, route name, label), as `routes.NAV` lists it.
NAV: list[tuple[str, str, str]] = []
SESSION = web.RequestKey("session", object)
# Refusals anyone can cause (failed logins, CSRF failures): one row per address a minute.
REFUSALS = web.AppKey("admin_refusals", audit.Folder)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def current_user(request: web.Request) -> User:
    user = request.get(USER)
    if user is None:
        raise web.HTTPFound(request.app.router["admin_login"].url_for())
    return user


def client_ip(request: web.Request) -> str:
    return client_address(request)


async def log(
    request: web.Request,
    action: str,
    *,
    object_type: str = "",
    object_id: str | int = "",
    outcome: str = "ok",
    detail: dict | None = None,
    tx=None,
) -> None:
    """Write an audit entry for the current user (inside `tx` when given)."""
    await audit.record(
        tx or request.config_dict[keys.DB],
        user=request.get(USER),
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        detail=detail,
        ip=client_ip(request),
    )


async def log_refusal(
    request: web.Request, action: str, *, outcome: str, detail: dict | None = None
) -> None:
    """Audit a refusal anyone can cause: at most one row per address and action a minute, the
    others counted into the next row (`folded`)."""
    await request.app[REFUSALS].record(
        request.config_dict[keys.DB],
        user=request.get(USER),
        action=action,
        outcome=outcome,
        detail=detail,
        ip=client_ip(request),
    )


async def deny(request: web.Request, permission: str, **what) -> web.HTTPForbidden:
    await log(request, permission, outcome="denied", detail={"path": request.path, **what})
    return web.HTTPForbidden(reason="forbidden")


def requires(permission: str) -> Callable[[Handler], Handler]:
    """Only users whose role has `permission` get through; refusals are audited."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            user = current_user(request)
            if not user.can(permission):
                raise await deny(request, permission)
            return await handler(request)

        return checked

    return wrap


async def require_region(request: web.Request, permission: str, region_code: str | None):
    """Refuse (and audit) when the region lies outside the user's scope."""
    user = current_user(request)
    chain = [r.code for r in request.config_dict[keys.REGIONS].chain(region_code)]
    if region_code and not in_scope(user, chain):
        raise await deny(request, permission, region=region_code)
    if not region_code and user.region_code:
        raise await deny(request, permission, region="")


def url(request: web.Request, name: str, query: dict | None = None, **parts) -> str:
    # The admin's routes, also from the main app's error middleware (request.app is the main
    # app there).
    apps = reversed(request.match_info.apps)
    router = next((a.router for a in apps if name in a.router), request.app.router)
    built = router[name].url_for(**{k: str(v) for k, v in parts.items()})
    if query:
        built = built.with_query({k: v for k, v in query.items() if v not in (None, "")})
    return str(built)


def context(request: web.Request, **extra) -> dict:
    user = request.get(USER)
    session = request.get(SESSION)
    tree = request.config_dict[keys.REGIONS]
    return {
        "user": user,
        "csrf_token": session.csrf if session else "",
        "static": request.config_dict[keys.STATIC].url,
        "url": lambda name, query=None, **parts: url(request, name, query, **parts),
        "region_name": lambda code: tree.full_name(code) if code and tree.get(code) else "",
        "roles": labels.ROLES,
        "path": request.path,
        "notice": gettext(labels.NOTICES.get(request.query.get("ok", ""), "")) or "",
        "with_query": lambda **changes: "?" + urlencode({**request.query, **changes}),
        "nav": NAV,
        "unsafe_modes": request.config_dict[keys.SETTINGS].unsafe_modes,
        **extra,
    }


def render(request: web.Request, template: str, status: int = 200, **extra) -> web.Response:
    response = aiohttp_jinja2.render_template(
        template, request, context(request, **extra), status=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def see_other(request: web.Request, name: str, ok: str = "", **parts) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(url(request, name, {"ok": ok} if ok else None, **parts))


def day_start(value: str) -> float | None:
    """The start of a day written YYYY-MM-DD (a figures form's date), as a timestamp in the
    server's zone; None when it is not such a date."""
    try:
        return clock.at(dt.date.fromisoformat(value))
    except ValueError:
        return None
