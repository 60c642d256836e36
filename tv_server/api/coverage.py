"""`GET /api/v1/coverage?region=CODE`: the dashboard's figures as JSON for operator systems.

Authenticated with an API key holding the `coverage:read` scope, sent in the `X-API-Key` header
or as `Authorization: Bearer KEY` (never in the query string: see `keyauth`), and limited per key
(429 with Retry-After); errors are JSON {"error": {"code", "message"}}. The figures are those of
`as_of`; `stale` is true right after a restart, while the figures kept by the last run are served
and new ones computed. A custom period is computed once for every caller asking at the same time,
and one key cannot start a second computation while its first runs (429). On a very first start
(no figures kept by a last run) the figures are computed in the background while the server
listens: a request waits up to `coverage_first_wait_seconds` for them (so also for new figures
after a staff change), then gets 503 `figures_computing` with Retry-After. Each region also
carries `video_starts` and `completions` (boxes that started a program's video in the period, and
those that watched 90 % of it), beside `views` (program pages shown): computed with the other
figures and as of the same `as_of` (device_registry.coverage), never per request.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from accounts import apikeys
from device_registry import coverage
from storage import Invalid, LimitReached
from tv_server import keys
from tv_server.api import keyauth
from tv_server.ratelimit import retry_after_header

SCOPE = "coverage:read"
CACHE_SECONDS = 120.0  # see tv_server.coverage_tasks


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _retry(response: web.Response, seconds: float) -> web.Response:
    response.headers["Retry-After"] = retry_after_header(seconds)
    return response


def _day(text: str, name: str) -> float | None:
    if not text:
        return None
    try:
        return coverage.day_start(dt.date.fromisoformat(text))
    except ValueError:
        raise Invalid("period_invalid", f"{name} must be a date YYYY-MM-DD") from None


async def get_coverage(request: web.Request) -> web.Response:
    db, tree = request.app[keys.DB], request.app[keys.REGIONS]
    if keyauth.in_query(request):
        return error(400, keyauth.IN_QUERY, keyauth.IN_QUERY_MESSAGE)
    raw = keyauth.presented(request)
    if not raw:
        return error(
            401,
            "api_key_required",
            "send an API key with scope coverage:read in the X-API-Key header",
        )
    try:
        key = await apikeys.authenticate(db, raw, SCOPE)
    except Invalid as exc:
        if exc.code == "api_key_scope":
            return error(403, "api_key_scope", "this API key lacks the scope coverage:read")
        return error(401, "api_key_invalid", "the API key is not valid")
    wait = request.app[keyauth.LIMITS].retry_after("coverage", key.id)
    if wait:
        message = "too many requests for this API key; try again after Retry-After seconds"
        return _retry(error(429, "rate_limited", message), wait)
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
    try:
        wait = request.config_dict[keys.SETTINGS].coverage_first_wait_seconds
        rep = await coverage.report(db, tree, code, cache_seconds=CACHE_SECONDS, wait=wait)
    except coverage.Computing:
        message = "the coverage figures are being computed; try again after Retry-After seconds"
        response = error(503, "figures_computing", message)
        return _retry(response, coverage.COMPUTING_RETRY_SECONDS)
    if since is not None or until is not None:
        default = rep.period
        period = coverage.Period(
            since if since is not None else default.since,
            until + coverage.DAY if until is not None else default.until,
        )
        try:
            rep = await coverage.report(
                db, tree, code, None, period, cache_seconds=CACHE_SECONDS, viewer=f"key:{key.id}"
            )
        except LimitReached:
            message = "this API key's previous coverage computation is still running"
            return _retry(error(429, "computation_running", message), coverage.BUSY_RETRY_SECONDS)
    return web.json_response(coverage.as_json(rep), headers={"Cache-Control": "no-store"})
