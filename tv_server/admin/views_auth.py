"""Logging in and out of the admin."""

from __future__ import annotations

import secrets

from aiohttp import web

from accounts.users import LoginFailed, authenticate, end_all_sessions, end_session, start_session
from tv_server import keys
from tv_server.admin import labels
from tv_server.admin.common import SESSION, USER, client_ip, log, log_refusal, render, url
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
    # The body was capped by the gate (an anonymous request): the fields are small.
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "")))
    db = request.config_dict[keys.DB]
    if await request.app[LIMITER].retry_after(db, client_ip(request)):
        await log_refusal(
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
        user = await authenticate(db, username, password)
    except LoginFailed as exc:
        await log_refusal(
            request, "login", outcome="failed", detail={"username": username, "reason": exc.code}
        )
        if exc.locked_now:  # once per lock-out of an existing account: never folded
            await log(
                request,
                "account.locked",
                object_type="user",
                object_id=username,
                outcome="denied",
            )
        return render(
            request,
            "admin/login.html",
            status=401,
            username=username,
            next=next_url,
            # The same message whatever the reason: it must not tell whether the name exists.
            error=gettext(labels.ERRORS["login_failed"]),
        )
    # A new session id, kept on the server, and a new CSRF token.
    session = Session(user_id=user.id, epoch=user.session_epoch, sid=secrets.token_urlsafe(24))
    await start_session(db, user.id, session.sid)
    request[SESSION] = session
    request[USER] = user
    await log(request, "login")
    # A plain 303 response: returning (not raising) an HTTPException is deprecated.
    location = next_url or url(request, "admin_home")
    response = web.Response(status=303, headers={"Location": location})
    set_session_cookie(request, response, session)
    return response


async def logout(request: web.Request) -> web.Response:
    """End this session on the server (a copy of the cookie stops working too); with
    `everywhere`, every session of the account on every device."""
    form = await request.post()
    everywhere = form.get("everywhere") == "1"
    db = request.config_dict[keys.DB]
    user = request.get(USER)
    await log(request, "logout", detail={"everywhere": True} if everywhere else None)
    if everywhere and user is not None:
        await end_all_sessions(db, user.id)
    else:
        await end_session(db, request[SESSION].sid)
    ok = "logged_out_everywhere" if everywhere else "logged_out"
    response = web.Response(
        status=303, headers={"Location": url(request, "admin_login", {"ok": ok})}
    )
    set_session_cookie(request, response, Session())
    return response
