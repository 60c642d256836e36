"""`GET /api/v1/coverage?region=CODE`: the dashboard's figures as JSON for operator systems.

Authenticated with an API key holding the `coverage:read` scope, passed as `api_key` or as
`Authorization: Bearer KEY`; errors are JSON {"error": {"code", "message"}}. The figures are those
of `as_of`; `stale` is true right after a restart, while the figures kept by the last run are
served and new ones computed.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from accounts import apikeys
from device_registry import coverage
from storage import Invalid
from tv_server import keys

SCOPE = "coverage:read"
CACHE_SECONDS = 120.0  # see tv_server.coverage_tasks


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _presented_key(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query.get("api_key", "")


def _day(text: str, name: str) -> float | None:
    if not text:
        return None
    try:
        return coverage.day_start(dt.date.fromisoformat(text))
    except ValueError:
        raise Invalid("period_invalid", f"{name} must be a date YYYY-MM-DD") from None


async def get_coverage(request: web.Request) -> web.Response:
    db, tree = request.app[keys.DB], request.app[keys.REGIONS]
    raw = _presented_key(request)
    if not raw:
        return error(401, "api_key_required", "send an API key with scope coverage:read")
    try:
        await apikeys.authenticate(db, raw, SCOPE)
    except Invalid as exc:
        if exc.code == "api_key_scope":
            return error(403, "api_key_scope", "this API key lacks the scope coverage:read")
        return error(401, "api_key_invalid", "the API key is not valid")
    code = request.query.get("region", "")
    if not code:
        code = next(r.code for r in tree.by_code.values() if r.level == "city")
    if tree.get(code) is None:
        return error(404, "region_not_found", f"no region {code}")
    try:
        since = _day(request.query.get("since", ""), "since")
        until = _day(request.query.get("until", ""), "until")
    except Invalid as exc:
        return error(400, exc.code, exc.detail)
    rep = await coverage.report(db, tree, code, cache_seconds=CACHE_SECONDS)
    if since is not None or until is not None:
        default = rep.period
        period = coverage.Period(
            since if since is not None else default.since,
            until + coverage.DAY if until is not None else default.until,
        )
        rep = await coverage.report(db, tree, code, None, period, cache_seconds=CACHE_SECONDS)
    return web.json_response(coverage.as_json(rep), headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/coverage", get_coverage, name="api_coverage")
