"""`GET /api/v1/appointments` and `GET /api/v1/appointments/{code}`: bookings at service points,
read-only, for the 12348 hotline (an operator asking "when is my appointment?"). Appointments are
not Open311 service requests, so they live here, described at /api/v1/appointments/openapi.json.

An API key with the `appointments:read` scope in the X-API-Key header or as Authorization: Bearer
(never in the query string), limited per key (429 with Retry-After). Numbers are masked.
"""

from __future__ import annotations

from aiohttp import web

from accounts import apikeys
from appointments import bookings, slots
from storage import DomainError, Invalid, NotFound
from tv_server import keys
from tv_server.api import keyauth
from tv_server.api.openapi_appointments import document
from tv_server.ratelimit import retry_after_header

SCOPE = "appointments:read"
LIMIT = 200


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def _authorised(request: web.Request) -> web.Response | None:
    """None when the request may read; else the error response."""
    if keyauth.in_query(request):
        return error(400, keyauth.IN_QUERY, keyauth.IN_QUERY_MESSAGE)
    raw = keyauth.presented(request)
    if not raw:
        return error(401, "api_key_required", f"send an API key with scope {SCOPE}")
    try:
        key = await apikeys.authenticate(request.app[keys.DB], raw, SCOPE)
    except Invalid as exc:
        if exc.code == "api_key_scope":
            return error(403, "api_key_scope", f"this API key lacks the scope {SCOPE}")
        return error(401, "api_key_invalid", "the API key is not valid")
    wait = request.app[keyauth.LIMITS].retry_after("appointments", key.id)
    if wait:
        response = error(429, "rate_limited", "too many requests for this API key")
        response.headers["Retry-After"] = retry_after_header(wait)
        return response
    return None


def as_json(a: bookings.Appointment) -> dict:
    return {
        "code": a.code,
        "service": a.service,
        "point": a.point_code,
        "region": a.region_code,
        "day": a.day,
        "start": a.start,
        "end": a.end,
        "status": a.status,
        "completed": a.completed,
        "moved_from": a.moved_from or None,
        "phone_masked": a.phone_masked,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


async def list_appointments(request: web.Request) -> web.Response:
    refused = await _authorised(request)
    if refused is not None:
        return refused
    point = request.query.get("point", "")[:64] or None
    day_text = request.query.get("day", "")
    if not point and not day_text:
        return error(400, "filter_required", "give point=CODE and/or day=YYYY-MM-DD")
    try:
        day = slots.day_param(day_text) if day_text else None
    except DomainError:
        return error(400, "day_invalid", "day must be a date YYYY-MM-DD")
    found = await bookings.search(request.app[keys.DB], point_code=point, day=day, limit=LIMIT)
    return web.json_response(
        {"appointments": [as_json(a) for a in found], "truncated": len(found) >= LIMIT},
        headers={"Cache-Control": "no-store"},
    )


async def get_appointment(request: web.Request) -> web.Response:
    refused = await _authorised(request)
    if refused is not None:
        return refused
    try:
        code = bookings.code_param(request.match_info["code"])
    except NotFound:
        return error(404, "appointment_not_found", "no appointment with this code")
    found = await bookings.search(request.app[keys.DB], code=code, limit=1)
    if not found:
        return error(404, "appointment_not_found", "no appointment with this code")
    return web.json_response(as_json(found[0]), headers={"Cache-Control": "no-store"})


async def openapi(_request: web.Request) -> web.Response:
    return web.json_response(document())
