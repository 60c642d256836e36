"""How machine clients present API keys, and how fast one key may call.

A key travels in the `X-API-Key` header or as `Authorization: Bearer KEY`. A key in a URL ends
up in access logs, proxies and browser histories, so `api_key` in the query string is refused
everywhere except the Open311 GeoReport v2 endpoints, whose specification defines it.

Open311 and the coverage API count each key's requests in a sliding minute (setting
`api_key_requests_per_minute`; each API apart) and answer 429 with Retry-After beyond it.
"""

from __future__ import annotations

from aiohttp import web

from tv_server import keys
from tv_server.ratelimit import SlidingWindow

QUERY_PARAMETER = "api_key"
HEADER = "X-API-Key"
IN_QUERY = "api_key_in_query"
IN_QUERY_MESSAGE = (
    "api_key in the query string is refused (URLs are logged): send the key in the X-API-Key"
    " header or as Authorization: Bearer KEY"
)


def presented(request: web.Request) -> str:
    """The key sent in `Authorization: Bearer …` or `X-API-Key` ('' when none)."""
    value = request.headers.get("Authorization", "")
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return request.headers.get(HEADER, "").strip()


def in_query(request: web.Request) -> bool:
    """Whether the URL carries an API key (refused outside Open311)."""
    return QUERY_PARAMETER in request.query


class KeyLimits:
    """Requests per key and API within the last minute (0: no limit)."""

    WINDOW = 60.0

    def __init__(self, per_minute: int) -> None:
        self.window = SlidingWindow(per_minute, self.WINDOW) if per_minute > 0 else None

    def retry_after(self, api: str, key_id: int) -> float:
        """0 (and counted) or the seconds until this key may call this API again."""
        return self.window.retry_after(f"{api}:{key_id}") if self.window else 0.0


LIMITS = web.AppKey("api_key_limits", KeyLimits)


def setup(app: web.Application) -> None:
    app[LIMITS] = KeyLimits(app[keys.SETTINGS].api_key_requests_per_minute)
