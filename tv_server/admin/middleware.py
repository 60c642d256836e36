"""The admin's gate: load the signed session and check it is still live on the server, require a
login, cap what an anonymous request may send, check CSRF on every unsafe request, refresh the
session cookie."""

from __future__ import annotations

import time

from aiohttp import web

from accounts.users import session_user
from tv_server import keys
from tv_server.admin.common import SESSION, USER, log_refusal
from tv_server.admin.session import COOKIE, Session, SessionSigner, csrf_ok
from tv_server.admin.streamed import CSRF_DEFERRED, is_streamed
from tv_server.middlewares import admin_error_response

SIGNER = web.AppKey("admin_signer", SessionSigner)
PUBLIC = {"admin_login", "admin_login_post"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Bytes an unsafe request without a logged-in user may send (the login form is ~200): refused
# with 413 before anything is parsed or written.
ANONYMOUS_BODY_MAX = 4096


def _route_name(request: web.Request) -> str | None:
    return request.match_info.route.name


def set_session_cookie(request: web.Request, response: web.StreamResponse, session: Session):
    settings = request.config_dict[keys.SETTINGS]
    response.set_cookie(
        COOKIE,
        request.app[SIGNER].dumps(session),
        httponly=True,
        samesite="Strict",
        secure=settings.cookie_secure,
        path="/admin",
        max_age=settings.session_ttl,
    )


def _streamed(request: web.Request) -> bool:
    return is_streamed(getattr(request.match_info, "handler", None))


@web.middleware
async def session_middleware(request: web.Request, handler):
    signer = request.app[SIGNER]
    session = signer.loads(request.cookies.get(COOKIE))
    fresh = session is None
    if session is None:
        session = Session()
    request[SESSION] = session
    if session.user_id is not None:
        user = await session_user(request.config_dict[keys.DB], session.user_id, session.sid)
        if user is None or user.disabled or user.session_epoch != session.epoch:
            # Ended by logging out, a password change, a role change or disabling.
            session = Session()
            request[SESSION] = session
            fresh = True
        else:
            request[USER] = user
    if request.method in UNSAFE and USER not in request and not _streamed(request):
        # A route taking files is never read for a stranger: they are sent to the login below.
        # Capped also while read (a body sent without a length); parsed here once, for the
        # CSRF check and the handler.
        request = request.clone(client_max_size=ANONYMOUS_BODY_MAX)
        request[SESSION] = session
        try:
            if (request.content_length or 0) > ANONYMOUS_BODY_MAX:
                raise web.HTTPRequestEntityTooLarge(ANONYMOUS_BODY_MAX, request.content_length)
            await request.post()
        except web.HTTPRequestEntityTooLarge:
            return admin_error_response(request, 413, "anonymous_too_large")
    if request.method in UNSAFE:
        token = request.headers.get("X-CSRF-Token")
        if token is None and request.content_type == "multipart/form-data" and _streamed(request):
            # A route taking files reads its own body (`streamed`): the token is checked there,
            # before the first file part, and only for a signed-in user (see below).
            request[CSRF_DEFERRED] = True
        else:
            if token is None and request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                token = (await request.post()).get("csrf_token")
            if not csrf_ok(session, token if isinstance(token, str) else None):
                await log_refusal(request, "csrf", outcome="denied", detail={"path": request.path})
                raise web.HTTPForbidden(reason="csrf")
    if USER not in request and _route_name(request) not in PUBLIC:
        raise web.HTTPFound(
            request.app.router["admin_login"]
            .url_for()
            .with_query({"next": request.path_qs} if request.method == "GET" else {})
        )
    response = await handler(request)
    if fresh or time.time() - session.seen > 60:
        session.seen = time.time()
        set_session_cookie(request, response, request[SESSION])
    return response
