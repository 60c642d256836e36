"""Open311 GeoReport v2 for the 12348 hotline platform, under /open311/v2 on the main app.

Services are our callback services; requests are callback requests (created through
`callbacks.hotline.submit`, so routing, deadlines, webhooks and the staff queue apply). JSON only;
errors in the spec's format `[{"code": 400, "description": "…"}]`. The OpenAPI 3.0 description is
served at /open311/v2/openapi.json (see `open311_openapi.py`).

The API key may come as the spec's `api_key` parameter (query string, or form field of a POST) —
the only place in the product that still accepts a key in a URL — or, better, in the `X-API-Key`
header or as `Authorization: Bearer KEY`. Each key's requests are limited per minute (429).
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from accounts import apikeys
from callbacks import hotline, lifecycle
from callbacks.requests import OPEN_STATES, SERVICES, TIME_WINDOWS
from storage import DomainError, clock
from tv_server import callback_policy, keys
from tv_server.api import keyauth
from tv_server.api.open311_openapi import document
from tv_server.ratelimit import retry_after_header
from tv_ui import labels
from tv_ui.i18n import gettext

BASE = "/open311/v2"
MAX_IDS = 100
DEFAULT_DAYS = 90
MAX_RESULTS = 1000
_INVALID = {
    "service_invalid": "service_code is not one of our services",
    "window_invalid": "attribute[time_window] must be morning, afternoon or evening",
    "phone_invalid": "phone is not a mainland China mobile or landline number",
    "service_point_invalid": "attribute[service_point] is not a known service point code",
    "token_invalid": "token / Idempotency-Key must be at most 200 characters",
    "idempotency_key_invalid": "token / Idempotency-Key is invalid",
}


class Open311Error(Exception):
    def __init__(self, status: int, description: str, retry_after: float = 0.0) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


def error_body(status: int, description: str, retry_after: float = 0.0) -> web.Response:
    """The spec's error shape, with the matching HTTP status (and Retry-After for a 429)."""
    response = web.json_response([{"code": status, "description": description}], status=status)
    if retry_after:
        response.headers["Retry-After"] = retry_after_header(retry_after)
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def open311(handler: Handler) -> Handler:
    """Check the `.json` format, and answer errors in the Open311 format."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            if request.match_info.get("fmt", "json") != "json":
                raise Open311Error(400, "only the json format is offered")
            return await handler(request)
        except Open311Error as exc:
            return error_body(exc.status, exc.description, exc.retry_after)
        except DomainError as exc:
            if exc.code in _INVALID:
                return error_body(400, _INVALID[exc.code])
            if exc.status == 404:
                return error_body(404, "not found")
            return error_body(exc.status if exc.status < 500 else 400, exc.code)

    return wrapper


def _iso(ts: float | None) -> str | None:
    return None if ts is None else clock.iso(ts)


def _date(value: str, name: str) -> float:
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise Open311Error(
            400, f"{name} must be a W3C date-time, e.g. 2026-06-01T08:00:00+08:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=clock.zone())
    try:
        return parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        raise Open311Error(400, f"{name} is out of range") from None


async def _key(request: web.Request, params: Mapping[str, str], scope: str) -> apikeys.ApiKey:
    """The key sent in a header or as the spec's api_key parameter, holding `scope`, within its
    requests per minute."""
    raw = keyauth.presented(request) or params.get(keyauth.QUERY_PARAMETER, "")
    if not raw:
        raise Open311Error(403, "api_key is required (or send the X-API-Key header)")
    try:
        key = await apikeys.authenticate(request.app[keys.DB], raw, scope)
    except DomainError as exc:
        if exc.code == "api_key_scope":
            raise Open311Error(403, f"this api_key may not use {scope}") from None
        raise Open311Error(403, "api_key is not valid") from None
    wait = request.app[keyauth.LIMITS].retry_after("open311", key.id)
    if wait:
        raise Open311Error(
            429, "too many requests for this api_key; try again after Retry-After seconds", wait
        )
    return key


def _service(code: str) -> dict:
    name = gettext(labels.SERVICES[code])
    return {
        "service_code": code,
        "service_name": name,
        "description": name,
        "metadata": True,
        "type": "realtime",
        "keywords": code.replace("_", " "),
        "group": "callback",
    }


@open311
async def services(request: web.Request) -> web.Response:
    return web.json_response([_service(code) for code in SERVICES])


@open311
async def service_definition(request: web.Request) -> web.Response:
    code = request.match_info["service_code"]
    if code not in SERVICES:
        raise Open311Error(404, "no service with that service_code")
    windows = [{"key": w, "name": gettext(labels.TIME_WINDOWS[w])} for w in TIME_WINDOWS]
    return web.json_response(
        {
            "service_code": code,
            "attributes": [
                {
                    "variable": True,
                    "code": "time_window",
                    "datatype": "singlevaluelist",
                    "required": True,
                    "datatype_description": "when the household can take the call",
                    "order": 1,
                    "description": "time window",
                    "values": windows,
                },
                {
                    "variable": True,
                    "code": "service_point",
                    "datatype": "string",
                    "required": False,
                    "datatype_description": "a service point code, e.g. sp-150602001",
                    "order": 2,
                    "description": "the office the caller chose (else routed by the rules)",
                },
            ],
        }
    )


def _request_json(ticket: lifecycle.Ticket, offices: dict[str, str], regions) -> dict:
    region = regions.get(ticket.region_code)
    return {
        "service_request_id": ticket.ref,
        "status": "open" if ticket.open else "closed",
        "status_notes": ticket.household_note or None,
        "service_name": gettext(labels.SERVICES.get(ticket.service, ticket.service)),
        "service_code": ticket.service,
        # What the household said the matter is about (土地草场 …), when it chose.
        "description": gettext(labels.TOPICS[ticket.topic])
        if ticket.topic in labels.TOPICS
        else None,
        "agency_responsible": offices.get(ticket.office_code or "") or None,
        "service_notice": None,
        "requested_datetime": _iso(ticket.created_at),
        "updated_datetime": _iso(ticket.updated_at),
        "expected_datetime": _iso(ticket.due_at),
        "address": region.name if region else None,
        "address_id": ticket.region_code,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
        "legaltv_status": ticket.status,
        "legaltv_phone_masked": ticket.phone_masked,
        "legaltv_origin": ticket.origin,
    }


async def _render(request: web.Request, tickets: list[lifecycle.Ticket]) -> web.Response:
    db = request.app[keys.DB]
    offices = await hotline.office_names(db, [t.office_code or "" for t in tickets])
    regions = request.app[keys.REGIONS]
    return web.json_response(
        [_request_json(t, offices, regions) for t in tickets],
        headers={"Cache-Control": "no-store"},
    )


@open311
async def list_requests(request: web.Request) -> web.Response:
    q = request.query
    await _key(request, q, "open311:read")
    refs = None
    if q.get("service_request_id", "").strip():
        refs = [r.strip() for r in q["service_request_id"].split(",") if r.strip()]
        if len(refs) > MAX_IDS:
            raise Open311Error(400, f"at most {MAX_IDS} service_request_id values")
    service = q.get("service_code", "").strip()
    if service and service not in SERVICES:
        raise Open311Error(400, "service_code is not one of our services")
    statuses = None
    if q.get("status", "").strip():
        wanted = {s.strip() for s in q["status"].split(",") if s.strip()}
        if not wanted <= {"open", "closed"}:
            raise Open311Error(400, "status must be open, closed or both")
        if wanted == {"open"}:
            statuses = list(OPEN_STATES)
        elif wanted == {"closed"}:
            statuses = list(lifecycle.CLOSED_STATES)
    since = _date(q["start_date"], "start_date") if q.get("start_date") else None
    until = _date(q["end_date"], "end_date") if q.get("end_date") else None
    if since is not None and until is not None and since > until:
        raise Open311Error(400, "start_date is after end_date")
    if refs is None and since is None and until is None:
        since = time.time() - DEFAULT_DAYS * 86400
    tickets = await lifecycle.find(
        request.app[keys.DB],
        refs=refs,
        service=service,
        statuses=statuses,
        since=since,
        until=until,
        limit=MAX_RESULTS,
    )
    return await _render(request, tickets)


@open311
async def one_request(request: web.Request) -> web.Response:
    await _key(request, request.query, "open311:read")
    ref = request.match_info["service_request_id"]
    tickets = await lifecycle.find(request.app[keys.DB], refs=[ref], limit=1)
    if not tickets:
        raise Open311Error(404, "no request with that service_request_id")
    return await _render(request, tickets)


def _region_chain(request: web.Request, code: str) -> list[str]:
    if not code:
        raise Open311Error(
            400, "address_id (the caller's region code: village, township or banner) is required"
        )
    chain = [r.code for r in request.app[keys.REGIONS].chain(code)]
    if not chain:
        raise Open311Error(400, "address_id is not a known region code")
    return chain


@open311
async def create_request(request: web.Request) -> web.Response:
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(400, "send the parameters form-encoded")
    try:
        form = await request.post()
    except ValueError:
        raise Open311Error(400, "the form could not be read") from None
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    for k, v in request.query.items():
        params.setdefault(k, v)
    key = await _key(request, params, "open311:write")
    service = params.get("service_code", "").strip()
    if not service:
        raise Open311Error(400, "service_code is required")
    if service not in SERVICES:
        raise Open311Error(400, "service_code is not one of our services")
    phone = params.get("phone", "").strip()
    if not phone:
        raise Open311Error(400, "phone is required (the number to call back)")
    window = params.get("attribute[time_window]", "").strip()
    if not window:
        raise Open311Error(400, "attribute[time_window] is required")
    chain = _region_chain(request, params.get("address_id", "").strip())
    token = request.headers.get("Idempotency-Key", "").strip() or params.get("token", "").strip()
    app = request.app
    req, created = await hotline.submit(
        app[keys.DB],
        callback_policy.policy(app[keys.SETTINGS]),
        api_key_id=key.id,
        service=service,
        phone=phone,
        time_window=window,
        region_chain=chain,
        service_point_code=params.get("attribute[service_point]", "").strip() or None,
        token=token or None,
    )
    body = [{"service_request_id": req.ref, "service_notice": None, "account_id": None}]
    return web.json_response(body, status=201 if created else 200)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(), headers={"Cache-Control": "public, max-age=300"})
