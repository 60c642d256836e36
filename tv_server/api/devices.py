"""The device API under /api/v1/devices: enrolment by the operator's systems (API key
`devices:write`), heartbeats from boxes (per-device token, written in batches) and entitlement
for the operator's portal (device token or API key `devices:read`). Described by the OpenAPI
document at /api/v1/openapi.json (`openapi_devices.py`). Errors: {"error": {"code","message"}}.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import orjson
from aiohttp import web
from multidict import CIMultiDict

from accounts import apikeys, audit
from device_registry import (
    activity,
    admission,
    corrections,
    enrolment,
    inventory,
    tokens,
    validation,
)
from device_registry.heartbeats import MAX_UPTIME_SECONDS, Beat, HeartbeatWriter, timestamp_ok
from device_registry.states import REFUSED_STATES, DeviceState
from storage import DomainError
from storage.changes import BoundedCache
from tv_server import headers as headers_
from tv_server import keys
from tv_server.api import keyauth
from tv_server.api.openapi_devices import document
from tv_server.front import add_lane
from tv_server.middlewares import error_for
from tv_server.proxies import client_address
from tv_server.ratelimit import SharedLimit, retry_after_header
from tv_ui.keymaps import DEFAULT_FAMILY, FAMILIES, keymap

log = logging.getLogger(__name__)

HEARTBEATS = web.AppKey("heartbeats", HeartbeatWriter)
AUTH_TTL_SECONDS = 10.0
# Signed tokens: the revocation ledger is re-read after every commit of this process and every
# flush interval (the background task); a request finding it older than this re-reads it itself.
TOKEN_RECHECK_SECONDS = 10.0
INACTIVE_SWEEP_SECONDS = 3600.0
MAX_BODY = 4096
MESSAGES = {
    "api_key_invalid": "a valid API key is required (Authorization: Bearer ltv_…)",
    "api_key_scope": "this API key lacks the scope needed here",
    "token_invalid": "a valid device token is required (Authorization: Bearer ltvd_…)",
    "device_unknown": "no box with this serial is registered",
    "device_retired": "this box is retired; it was replaced or taken out of service",
    "device_rejected": "this box was rejected by staff",
    "device_pending": "this box waits for staff to accept it",
    "body_invalid": "the body must be a JSON object",
    "body_too_large": f"the body must be at most {MAX_BODY} bytes",
    "field_unknown": "the body holds fields this endpoint does not know",
    "field_invalid": "a field has the wrong type",
    "serial_invalid": "serial: 3-64 letters, digits, '.', '_' or '-'",
    "mac_invalid": "mac must look like AA:BB:CC:DD:EE:FF",
    "mac_taken": "this MAC address belongs to another box",
    "model_unknown": "model is not a known box model",
    "firmware_invalid": "firmware: 1-64 letters, digits, '.', '_', '+' or '-'",
    "portal_version_invalid": "portal_version: 1-64 letters, digits, '.', '_', '+' or '-'",
    "uptime_invalid": "uptime must be a whole number of seconds, 0 to 10 years",
    "timestamp_invalid": "at must be within a day before and 5 minutes after the server's clock",
    "village_unknown": "village_code is not a known village code",
    "household_label_invalid": "household_label is at most 100 characters",
    "state_invalid": "state must be planned, installed or activated",
    "state_unknown": "state is not a known box state",
    "state_change_invalid": "this change of state is not allowed (see docs/device-api.md)",
    "screen_profile_invalid": "screen_profile must be 720p, 1080p, 2160p or null",
    "keymap_family_invalid": "keymap_family is not a known key-map family",
    "installed_at_invalid": "installed_at must be a date YYYY-MM-DD from 2000 to today, or null",
    "activated_at_invalid": (
        "activated_at must be epoch seconds or ISO 8601 with a time zone, not in the future"
    ),
    "activated_before_installed": "activated_at lies before installed_at",
    "attribute_key_invalid": "attribute keys: a lowercase letter, then up to 39 of a-z 0-9 . _ -",
    "attribute_value_invalid": "attribute values: text of at most 200 characters, one line",
    "attributes_too_many": f"a box has at most {corrections.ATTRIBUTES_MAX} attributes",
    "version_mismatch": "the box changed since you read it (If-Match); read it again",
    "rate_limited": "too many registrations; try again after Retry-After seconds",
    keyauth.IN_QUERY: keyauth.IN_QUERY_MESSAGE,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail


def error(status: int, code: str, detail: str = "") -> web.Response:
    message = MESSAGES.get(code, code)
    if detail:
        message = f"{message} ({detail})"
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _error_of(exc: ApiError | DomainError) -> web.Response:
    if isinstance(exc, ApiError):
        return error(exc.status, exc.code, exc.detail)
    status = 401 if exc.code.startswith("api_key") else exc.status
    if exc.code == "api_key_scope":
        status = 403
    detail = exc.detail if exc.code in ("field_unknown", "field_invalid") else ""
    return error(status, exc.code, detail)


def no_store(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


def api_error(exc: ApiError | DomainError) -> web.Response:
    """An API error as every device API answer carries it (routed or from the front lane)."""
    return no_store(_error_of(exc))


def api(handler: Handler) -> Handler:
    """Answer our errors and domain errors in the API's JSON error shape; refuse an API key in
    the URL (keys go in headers here)."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            if keyauth.in_query(request):
                raise ApiError(400, keyauth.IN_QUERY)
            response = await handler(request)
        except (ApiError, DomainError) as exc:
            response = _error_of(exc)
        no_store(response)
        return response

    return wrapper


def _bearer(request: web.Request) -> str:
    value = request.headers.get("Authorization", "")
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return request.headers.get("X-API-Key", "").strip()


async def _api_key(request: web.Request, scope: str) -> apikeys.ApiKey:
    return await apikeys.authenticate(request.app[keys.DB], _bearer(request), scope)


class AuthCache:
    """Legacy device tokens (stored hash, see `device_registry.tokens`) verified lately.

    Per serial: the box's record as read, when, the box directory generation then, and the
    Authorization header last verified for it. An entry serves for AUTH_TTL_SECONDS while the
    generation holds (any registry change made through the admin or the API makes the box
    directory forget its views, which drops every entry), so a box's next heartbeats cost
    neither a query nor a hash."""

    MAX_ENTRIES = 200_000

    @dataclass(slots=True)
    class Entry:
        fetched: float  # monotonic
        auth: enrolment.DeviceAuth | None
        generation: int
        verified: str = ""  # the Authorization header verified for this box ("": none yet)

    def __init__(self, boxes) -> None:
        self.boxes = boxes
        self.entries = BoundedCache("device_auth", self.MAX_ENTRIES)

    def get(self, serial: str) -> AuthCache.Entry | None:
        """The box's entry while it is still good, else None (counted as a hit or a miss)."""
        entry = self.entries.peek(serial)
        if (
            entry is None
            or entry.generation != self.boxes.generation
            or time.monotonic() - entry.fetched >= AUTH_TTL_SECONDS
        ):
            self.entries.misses += 1
            return None
        self.entries.hits += 1
        return entry

    def verified(self, serial: str, header: str | None) -> enrolment.DeviceAuth | None:
        """The box's record when `header` is the Authorization header verified for it lately."""
        entry = self.get(serial)
        if entry is None or not header or entry.verified != header:
            return None
        return entry.auth

    def put(self, serial: str, auth: enrolment.DeviceAuth | None) -> AuthCache.Entry:
        entry = AuthCache.Entry(time.monotonic(), auth, self.boxes.generation)
        return self.entries.put(serial, entry)

    def changed(self, change) -> None:
        """A change event for boxes (tv_server.caches): one box's entry, or every entry."""
        if not change.ids:
            self.entries.clear()
        for serial in change.ids:
            self.entries.pop(serial)


AUTH_CACHE = web.AppKey("device_auth_cache", AuthCache)


class SignedTokens:
    """Signed device tokens (`device_registry.tokens`), checked in memory against the ledger of
    revoked generations. The ledger is re-read (one query for what changed) when this process
    committed a transaction or the box directory forgot its views since the last reading — so a
    box retired, rejected, replaced or revoked here is refused on its very next beat — and every
    flush interval by the background task, for changes made by other processes."""

    def __init__(self, db, boxes, key: bytes) -> None:
        self.db = db
        self.boxes = boxes
        self.key = key
        self.ledger = tokens.TokenLedger(db, key)
        self._seen = (-1, -1)  # (db commits, box directory generation) at the last reading
        self._lock = asyncio.Lock()

    def fresh(self) -> bool:
        return (
            self._seen[0] == self.db.commits
            and self._seen[1] == self.boxes.generation
            and time.monotonic() - self.ledger.refreshed_at < TOKEN_RECHECK_SECONDS
        )

    async def refresh(self, force: bool = False) -> None:
        """Re-read the ledger unless another request did since this one found it stale (many
        requests may find it stale at once, after a heartbeat flush: one query serves them)."""
        seen = (self.db.commits, self.boxes.generation)
        async with self._lock:
            if not force and self._seen == seen and self.fresh():
                return
            await self.ledger.refresh()
            self._seen = seen

    def device_id(self, serial: str, raw: str) -> int | None:
        """The box's id for a good token; None for a bad MAC (the caller looks the serial up
        to answer as for any wrong token); the matching ApiError for a revoked one. Call only
        when `fresh()`."""
        verified = tokens.verify(self.key, serial, raw)
        if verified is None:
            return None
        refusal = self.ledger.refusal(*verified)
        if refusal is None:
            return verified[0]
        if refusal == "unknown":
            raise ApiError(404, "device_unknown")
        if refusal == "revoked":
            raise ApiError(401, "token_invalid")
        raise ApiError(403 if refusal == DeviceState.PENDING else 410, f"device_{refusal}")


SIGNED_TOKENS = web.AppKey("signed_device_tokens", SignedTokens)


async def _device(app: web.Application, request: web.Request, serial: str) -> int:
    """The id of the box whose token was presented; raise the matching 4xx otherwise.

    A signed token is checked in memory (`SignedTokens`): no query. A legacy token is checked
    against the stored hash, its verdict cached (`AuthCache`)."""
    raw = _bearer(request)
    if tokens.is_signed(raw):
        signed = app[SIGNED_TOKENS]
        if not signed.fresh():
            await signed.refresh()
        device_id = signed.device_id(serial, raw)
        if device_id is not None:
            return device_id
    cache = app[AUTH_CACHE]
    header = request.headers.get("Authorization", "")
    auth = cache.verified(serial, header)
    if auth is not None:
        return auth.device_id
    entry = cache.get(serial)
    if entry is None:
        entry = cache.put(serial, await enrolment.device_auth(app[keys.DB], serial))
    auth = entry.auth
    if auth is None:
        raise ApiError(404, "device_unknown")
    if auth.state in REFUSED_STATES:
        raise ApiError(403 if auth.state == DeviceState.PENDING else 410, f"device_{auth.state}")
    if tokens.is_signed(raw) or not enrolment.token_matches(auth, raw):
        raise ApiError(401, "token_invalid")
    entry.verified = header
    return auth.device_id


def _parse_body(raw: bytes) -> dict:
    if len(raw) > MAX_BODY:
        raise ApiError(413, "body_too_large")
    try:
        # orjson: strict UTF-8 and RFC 8259 (no NaN), and far cheaper per call than the stdlib
        # in a busy server (the heartbeat bench in bench/RESULTS.md measures the difference).
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "body_invalid") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body_invalid")
    return body


async def _json_body(request: web.Request) -> dict:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "body_too_large")
    return _parse_body(await request.content.read(MAX_BODY + 1))


def _timestamp(value: object, now: float) -> float:
    if value is None:
        return now
    if isinstance(value, bool):
        raise ApiError(400, "timestamp_invalid")
    if isinstance(value, (int, float)):
        at = float(value)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
            if parsed.tzinfo is None:
                raise ValueError
            at = parsed.timestamp()
        except (ValueError, OverflowError, OSError):
            raise ApiError(400, "timestamp_invalid") from None
    else:
        raise ApiError(400, "timestamp_invalid")
    if not math.isfinite(at) or not timestamp_ok(at, now):
        raise ApiError(400, "timestamp_invalid")
    return at


_HEARTBEAT_FIELDS = frozenset({"firmware", "portal_version", "uptime", "at"})


# Version strings already found valid: a fleet runs a handful of firmware and portal versions,
# so a set lookup replaces the pattern for nearly every heartbeat. Bounded; cleared when full.
_VALID_VERSIONS: set[str] = set()


def _version_ok(value: object) -> bool:
    if value.__class__ is not str:
        return False
    if not value or value in _VALID_VERSIONS:
        return True
    if not validation.valid_version(value):
        return False
    if len(_VALID_VERSIONS) >= 10_000:
        _VALID_VERSIONS.clear()
    _VALID_VERSIONS.add(value)
    return True


def parse_heartbeat(body: dict, device_id: int, now: float) -> Beat:
    """Validate a heartbeat body (firmware, portal_version, uptime, optional at)."""
    if not body.keys() <= _HEARTBEAT_FIELDS:
        raise ApiError(400, "field_unknown", ", ".join(sorted(body.keys() - _HEARTBEAT_FIELDS)))
    firmware = body.get("firmware", "")
    if not _version_ok(firmware):
        raise ApiError(400, "firmware_invalid")
    portal = body.get("portal_version", "")
    if not _version_ok(portal):
        raise ApiError(400, "portal_version_invalid")
    uptime = body.get("uptime")
    if uptime is not None and (
        isinstance(uptime, bool)
        or not isinstance(uptime, int)
        or not 0 <= uptime <= MAX_UPTIME_SECONDS
    ):
        raise ApiError(400, "uptime_invalid")
    at = body.get("at")
    return Beat(device_id, now if at is None else _timestamp(at, now), firmware, portal, uptime)


@api
async def enrol(request: web.Request) -> web.Response:
    key = await _api_key(request, "devices:write")
    body = await _json_body(request)
    created, token = await enrolment.enrol(
        request.app[keys.DB], request.app[keys.REGIONS], body, key=request.app[SIGNED_TOKENS].key
    )
    serial = body["serial"].strip()
    await audit.record(
        request.app[keys.DB],
        user=None,
        action="device.enrol",
        object_type="device",
        object_id=serial,
        detail={"api_key": key.name, "created": created},
        ip=client_address(request),
    )
    details = await inventory.device_details(request.app[keys.DB], serial)
    return web.json_response(
        {"serial": serial, "state": details["state"], "token": token},
        status=201 if created else 200,
    )


class RegisterLimits:
    """How fast boxes may announce themselves: per client address, and new boxes from all
    addresses together (settings register_attempts_per_ip, register_new_per_minute; 0: off),
    on every node together (tv_server.ratelimit.SharedLimit)."""

    WINDOW = 60.0

    def __init__(self, per_address: int, new_boxes: int) -> None:
        self.per_address = (
            SharedLimit("register", per_address, self.WINDOW) if per_address > 0 else None
        )
        self.new_boxes = (
            SharedLimit("register_new", new_boxes, self.WINDOW) if new_boxes > 0 else None
        )

    async def address(self, db, address: str) -> float:
        """0 (and counted) or the seconds this address must wait."""
        return await self.per_address.retry_after(db, address) if self.per_address else 0.0

    async def new_box(self, db) -> float:
        """0 (and counted) or the seconds until another new box may be added."""
        return await self.new_boxes.retry_after(db, "") if self.new_boxes else 0.0


REGISTER_LIMITS = web.AppKey("register_limits", RegisterLimits)


def _rate_limited(seconds: float) -> web.Response:
    response = error(429, "rate_limited")
    response.headers["Retry-After"] = retry_after_header(seconds)
    return response


@api
async def register(request: web.Request) -> web.Response:
    """A box announcing itself: it becomes pending for staff (or is accepted at once when its
    village has the auto-accept rule). No token yet: staff or the operator issue one.
    A known box announcing itself again changes nothing and drops no cache (anyone may call
    this, so it must not be a way to keep every box's cached screens and tokens cold).
    Rate-limited per client address, and new boxes per minute overall (429, Retry-After)."""
    limits = request.app[REGISTER_LIMITS]
    db = request.app[keys.DB]
    wait = await limits.address(db, client_address(request))
    if wait:
        return _rate_limited(wait)
    serial = request.match_info["serial"]
    body = await _json_body(request)
    extra = sorted(set(body) - {"village_code"})
    if extra:
        raise ApiError(400, "field_unknown", ", ".join(extra))
    village = body.get("village_code")
    if village is not None and not isinstance(village, str):
        raise ApiError(400, "field_invalid", "village_code")
    region = request.app[keys.REGIONS].get(village)
    new = validation.valid_serial(serial) and await enrolment.device_auth(db, serial) is None
    if new and (not village or (region is not None and region.level == "village")):
        wait = await limits.new_box(db)
        if wait:
            log.warning("self-registration of new boxes over register_new_per_minute")
            return _rate_limited(wait)
    state = await admission.register_pending(db, serial, village or None)
    return web.json_response({"serial": serial, "state": state}, status=202)


# Key-map families a box may be given by hand ("default" is for boxes of unknown models).
EDITABLE_FAMILIES = tuple(sorted(f for f in FAMILIES if f != DEFAULT_FAMILY))
# Domain errors answered with their detail (which key, which field, which change).
_DETAILED = {
    "field_unknown",
    "field_invalid",
    "attribute_key_invalid",
    "attribute_value_invalid",
    "state_change_invalid",
}


def _if_match(request: web.Request) -> str | None:
    """The version an If-Match header names (None: no precondition)."""
    raw = request.headers.get("If-Match", "").strip()
    if not raw or raw == "*":
        return None
    return raw.removeprefix("W/").strip('"')


@api
async def update(request: web.Request) -> web.Response:
    """Correct a box's registry fields and attributes (API key `devices:write`); `null` clears
    a field or removes an attribute. Audited with the key's name, before and after."""
    key = await _api_key(request, "devices:write")
    serial = request.match_info["serial"]
    body = await _json_body(request)
    db = request.app[keys.DB]

    async def audited(tx, before: dict, after: dict) -> None:
        await audit.record(
            tx,
            user=None,
            action="device.update",
            object_type="device",
            object_id=serial,
            detail={"api_key": key.name, "before": before, "after": after},
            ip=client_address(request),
        )
        tx.emit("box", [serial])  # published once this commits (tv_server.caches)
        if "state" in after:
            tx.emit("coverage")  # installed/retired counts change at once

    try:
        _before, after = await corrections.update_device(
            db,
            serial,
            body,
            models=await enrolment.known_models(db),
            families=EDITABLE_FAMILIES,
            expected_version=_if_match(request),
            then=audited,
        )
    except DomainError as exc:
        if exc.code == "device_changed":
            raise ApiError(412, "version_mismatch") from None
        if exc.code in _DETAILED:
            raise ApiError(exc.status, exc.code, exc.detail) from None
        raise
    details = await inventory.device_details(db, serial)
    details.pop("id", None)
    return web.json_response(details, headers={"ETag": f'"{details["version"]}"'})


_ACCEPTED_HEADERS = CIMultiDict(
    {
        **headers_.COMMON,
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": "no-store",
    }
)


def _accepted(serial: str) -> web.Response:
    answer = b'{"status": "accepted", "serial": ' + orjson.dumps(serial) + b"}"
    return web.Response(body=answer, status=202, headers=_ACCEPTED_HEADERS.copy())


async def _heartbeat(app: web.Application, request: web.Request, serial: str) -> web.Response:
    device_id = await _device(app, request, serial)
    app[HEARTBEATS].record(parse_heartbeat(await _json_body(request), device_id, time.time()))
    return _accepted(serial)


@api
async def heartbeat(request: web.Request) -> web.Response:
    return await _heartbeat(request.app, request, request.match_info["serial"])


_HEARTBEAT_PATH = re.compile(r"/api/v1/devices/([A-Za-z0-9._-]{1,64})/heartbeat")
_SIGNED_BEARER = "Bearer " + tokens.PREFIX


class HeartbeatLane:
    """The front lane for heartbeats (see tv_server.front): answered before routing, with the
    same statuses, bodies and headers as the routed `heartbeat` handler. The usual heartbeat —
    a good signed token while the revocation ledger is current (or a legacy token `_device`
    verified a moment ago), its body arrived with its headers — is answered right here, without
    a coroutine or a query; the rest goes through `_heartbeat`.
    One per app; it binds the app's objects at its first request (they exist from start-up)."""

    def __init__(self) -> None:
        self.writer: HeartbeatWriter | None = None

    def __call__(self, app: web.Application, request: web.Request):
        match = _HEARTBEAT_PATH.fullmatch(request.raw_path)
        if match is None:
            return None  # a query string, an encoded serial: the full path decides
        serial = match.group(1)
        if self.writer is None:
            self.cache, self.signed, self.writer = (
                app[AUTH_CACHE],
                app[SIGNED_TOKENS],
                app[HEARTBEATS],
            )
        content = request.content
        if not content.is_eof():
            return _heartbeat_answer(app, request, serial)
        header = request.headers.get("Authorization")
        device_id = None
        if header is not None and header.startswith(_SIGNED_BEARER):
            if self.signed.fresh():
                try:
                    device_id = self.signed.device_id(serial, header[7:])
                except ApiError:
                    device_id = None  # refused: the full path answers (and reads no body first)
        else:
            auth = self.cache.verified(serial, header)
            device_id = None if auth is None else auth.device_id
        if device_id is not None:
            try:
                body = _parse_body(content.read_nowait())
                self.writer.record(parse_heartbeat(body, device_id, time.time()))
            except (ApiError, DomainError) as exc:
                return api_error(exc)
            except Exception as exc:  # the body is read: answer here rather than hand it on
                return error_for(request, exc)
            return _accepted(serial)
        return _heartbeat_answer(app, request, serial)


async def _heartbeat_answer(app: web.Application, request: web.Request, serial: str):
    """The lane's answer when it must read the body: errors built as on the routed path (the
    `api` decorator's `api_error`, the middleware's `error_for`); the front adds the security
    headers as `guard` does."""
    try:
        return await _heartbeat(app, request, serial)  # carries its headers already
    except (ApiError, DomainError) as exc:
        return api_error(exc)
    except Exception as exc:  # as `guard` answers the routed handler's
        return error_for(request, exc)


@api
async def entitlement(request: web.Request) -> web.Response:
    serial = request.match_info["serial"]
    if _bearer(request).startswith(enrolment.TOKEN_PREFIX):
        await _device(request.app, request, serial)
    else:
        await _api_key(request, "devices:read")
    view = await request.app[keys.BOXES].get(serial)
    if view is None:
        raise ApiError(404, "device_unknown")
    box = view.box
    return web.json_response(
        {
            "serial": box.serial,
            "state": box.state,
            "entitled": bool(view.entitled),
            "village_code": box.village_code,
            "regions": list(view.chain),
            "keymap_family": box.keymap_family,
            "keymap": {str(code): action for code, action in keymap(box.keymap_family).items()},
            "screen_profile": box.screen_profile,
        }
    )


@api
async def device_record(request: web.Request) -> web.Response:
    await _api_key(request, "devices:read")
    details = await inventory.device_details(request.app[keys.DB], request.match_info["serial"])
    details.pop("id", None)
    return web.json_response(details)


async def openapi(_request: web.Request) -> web.Response:
    return web.json_response(document(), headers={"Cache-Control": "public, max-age=300"})


async def _flush_forever(app: web.Application, interval: float) -> None:
    last_sweep = 0.0
    while True:
        await asyncio.sleep(interval)
        try:
            await app[HEARTBEATS].flush()
            await app[SIGNED_TOKENS].refresh(force=True)  # other processes' revocations too
            if (
                time.monotonic() - last_sweep > INACTIVE_SWEEP_SECONDS and app[keys.NODE].leads
            ):  # the sweep once for the installation (tv_server.node)
                await activity.mark_inactive(app[keys.DB])
                last_sweep = time.monotonic()
        except Exception:
            log.exception("heartbeat flush failed; beats kept for the next attempt")


async def heartbeat_writer(app: web.Application) -> AsyncIterator[None]:
    """The batched heartbeat writer and its flush task (every usage_flush_seconds); the cache
    of legacy device tokens and the ledger of signed ones (read in full here, at start)."""
    app[HEARTBEATS] = HeartbeatWriter(app[keys.DB])
    app[AUTH_CACHE] = AuthCache(app[keys.BOXES])
    hub = app[keys.DB].changes
    hub.caches[app[AUTH_CACHE].entries.name] = app[AUTH_CACHE].entries  # for /metrics
    hub.subscribe(["box"], app[AUTH_CACHE].changed, reset=app[AUTH_CACHE].entries.clear)
    key = tokens.key_of(app[keys.SETTINGS].device_token_secret)
    app[SIGNED_TOKENS] = SignedTokens(app[keys.DB], app[keys.BOXES], key)
    await app[SIGNED_TOKENS].refresh()
    task = asyncio.create_task(_flush_forever(app, app[keys.SETTINGS].usage_flush_seconds))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await app[HEARTBEATS].flush()


def setup(app: web.Application) -> None:
    """The heartbeat writer, its front lane and the registration limits on the main application
    (the device routes: `routes.py`)."""
    settings = app[keys.SETTINGS]
    app[REGISTER_LIMITS] = RegisterLimits(
        settings.register_attempts_per_ip, settings.register_new_per_minute
    )
    app.cleanup_ctx.append(heartbeat_writer)
    add_lane(app, "heartbeat", "POST", "/api/v1/devices/", HeartbeatLane())
