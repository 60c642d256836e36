"""Logging in and out of the admin."""

from __future__ import annotations

from aiohttp import web

from accounts.users import LoginFailed, authenticate
from tv_server import keys
from tv_server.admin import labels
from tv_server.admin.common import SESSION, USER, client_ip, log, render, url
from tv_server.admin.middleware import set_session_cookie
from tv_server.admin.session import Session
from tv_ui.i18n import gettext

LIMITER = web.AppKey("admin_login_limiter", object)


def _safe_next(value: str) -> str:
    # Only a path inside the admin: never an absolute URL (open redirect).
    return value if value.startswith("/admin") and not value.startswith("//") else ""


async def login_form(request: web.Request) -> web.Response:
    if USER in request:
        raise web.HTTPFound(url(request, "admin_home"))
    return render(request, "admin/login.html", next=_safe_next(request.query.get("next", "")))


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "")))
    if not request.app[LIMITER].allow(client_ip(request)):
        await log(
            request, "login", outcome="denied", detail={"username": username, "reason": "rate"}
        )
        return render(
            request,
            "admin/login.html",
            status=429,
            username=username,
            next=next_url,
            error=gettext(labels.ERRORS["login_rate"]),
        )
    try:
        user = await authenticate(request.config_dict[keys.DB], username, password)
    except LoginFailed as exc:
        await log(
            request, "login", outcome="failed", detail={"username": username, "reason": exc.code}
        )
        return render(
            request,
            "admin/login.html",
            status=401,
            username=username,
            next=next_url,
            error=gettext(labels.ERRORS[exc.code]),
        )
    session = Session(user_id=user.id, epoch=user.session_epoch)  # a new session id and token
    request[SESSION] = session
    request[USER] = user
    await log(request, "login")
    # A plain 303 response: returning (not raising) an HTTPException is deprecated.
    location = next_url or url(request, "admin_home")
    response = web.Response(status=303, headers={"Location": location})
    set_session_cookie(request, response, session)
    return response


async def logout(request: web.Request) -> web.Response:
    await log(request, "logout")
    location = url(request, "admin_login", {"ok": "logged_out"})
    response = web.Response(status=303, headers={"Location": location})
    set_session_cookie(request, response, Session())
    return response
