"""Middlewares: one error renderer for every part (TV screen, JSON, plain text) and security
headers. No stack trace ever reaches a client."""

from __future__ import annotations

import logging
import re

import aiohttp_jinja2
from aiohttp import web

from storage import DomainError
from tv_server import headers as headers_
from tv_server import keys
from tv_server.tv.common import (
    TV_BOX,
    EarlyResponse,
    Rendering,
    render_notice_page,
    rendering_for,
    rendering_of,
)
from tv_ui import i18n, labels
from tv_ui.i18n import gettext
from tv_ui.keymaps import keymap_json

log = logging.getLogger(__name__)

# SERIAL.ISSUED[.GENERATION].MAC (tv_server.boxauth)
_TOKEN_IN_PATH = re.compile(
    r"^/tv/b/([A-Za-z0-9_\-]+\.[0-9a-f]+(?:\.[0-9a-f]+)?\.[A-Za-z0-9_\-]+)/"
)
_HTTP_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


def tv_message(code: str, params: dict, lang: str | None = None) -> str:
    template = labels.ERRORS.get(code) or labels.ERRORS["server_error"]
    text = gettext(template, lang)
    try:
        return text % params if params else text.replace("%%", "%")
    except (KeyError, ValueError, TypeError):
        return text


def _api_message(code: str, detail: str) -> str:
    return gettext(labels.ERRORS.get(code, "")) or detail or code


def _error_rendering(request: web.Request, token: str | None) -> Rendering:
    """The language and path of a TV error page: the box's when a handler resolved it; else
    the box its page token names, as last seen (no query: a 404 before any handler ran); else
    as for a box not known (`rendering_for`: Mongolian as images with the Chinese when the URL
    asks for lang=mn)."""
    box = request.get(TV_BOX)
    if box is not None:
        return rendering_of(box)
    view = None
    if token is not None and keys.TOKENS in request.app and keys.BOXES in request.app:
        # Only the page's language is at stake: a token whose signature holds names its box,
        # expired or not.
        serial = request.app[keys.TOKENS].signed_serial(token)
        view = request.app[keys.BOXES].known(serial) if serial is not None else None
    return rendering_for(request, view)


def tv_error_response(request: web.Request, status: int, code: str, params: dict) -> web.Response:
    match = _TOKEN_IN_PATH.match(request.path)
    home = f"/tv/b/{match.group(1)}/home" if match else None
    rendering = _error_rendering(request, match.group(1) if match else None)
    context = {
        "message": tv_message(code, params, rendering.lang),
        "code": code,
        "status": status,
        "home_url": home,
        "keymap": keymap_json(None),
        "static": request.app[keys.STATIC].url,
    }
    if rendering.also_zh:  # the Chinese twin (tv/error_text.html) needs its own message
        context["zh_message"] = tv_message(code, params, i18n.DEFAULT_LANGUAGE)
    html = render_notice_page(request, "tv/error.html", rendering, context)
    response = web.Response(text=html, status=status, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def admin_error_response(request: web.Request, status: int, code: str) -> web.Response:
    from tv_server.admin import labels as admin_labels
    from tv_server.admin.common import context

    text = (
        admin_labels.ERRORS.get(code)
        or labels.ERRORS.get(code)
        or admin_labels.ERRORS["server_error"]
    )
    ctx = context(request, status=status, message=gettext(text))
    response = aiohttp_jinja2.render_template("admin/error.html", request, ctx, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_response(request: web.Request, status: int, code: str, detail: str = "", params=None):
    params = params or {}
    if request.path.startswith("/tv"):
        return tv_error_response(request, status, code, params)
    if request.path.startswith("/admin"):
        return admin_error_response(request, status, code)
    if request.path.startswith("/open311"):  # the GeoReport v2 error list
        return web.json_response([{"code": status, "description": detail or code}], status=status)
    if request.path.startswith(("/api", "/healthz", "/metrics")):
        return web.json_response(
            {"error": {"code": code, "message": _api_message(code, detail)}}, status=status
        )
    return web.Response(status=status, text=f"{status}: {code}\n")


def secure(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Security headers; a handler's own values (e.g. a preview frame's) are kept. Applied to
    every response: by `guard` on the full path, by the front (tv_server.front) to its lanes'."""
    headers = response.headers
    for name, value in headers_.COMMON.items():
        if name not in headers:
            headers[name] = value
    if "Content-Security-Policy" not in headers:
        path = request.path
        if path.startswith("/tv"):
            headers["Content-Security-Policy"] = headers_.CSP_TV
        elif path.startswith("/admin"):
            headers["Content-Security-Policy"] = headers_.CSP_ADMIN
    return response


@web.middleware
async def guard(request: web.Request, handler):
    """Errors rendered for their audience, and security headers on every response."""
    # Chinese unless a TV handler switches to the box's language: requests on one keep-alive
    # connection share a task, so the previous request's language must not carry over.
    i18n.use_language(i18n.DEFAULT_LANGUAGE)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.empty_body:
            secure(request, exc)
            raise
        response = error_for(request, exc)
    except Exception as exc:
        response = error_for(request, exc)
    return secure(request, response)


def error_for(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The response for an error a handler (or a front lane) raised, rendered for its audience;
    no stack trace ever reaches the client."""
    if isinstance(exc, EarlyResponse):
        return exc.response
    if isinstance(exc, web.HTTPException):
        code = _HTTP_CODES.get(exc.status, "error")
        if exc.reason in ("csrf", "forbidden"):
            code = exc.reason
        return error_response(request, exc.status, code, exc.reason)
    if isinstance(exc, DomainError):
        return error_response(request, exc.status, exc.code, exc.detail, exc.params)
    # With the query, which helps; tokens and keys are masked (tv_server.logredact).
    log.exception("unhandled error on %s %s", request.method, request.path_qs, exc_info=exc)
    return error_response(request, 500, "server_error")
