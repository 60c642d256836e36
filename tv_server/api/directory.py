"""Public, read-only directory endpoints: the HSDS 3.0 export of the service directory.

`GET /api/v1/directory/hsds/services?page=1&per_page=50` answers the HSDS API's Page shape.
"""

from __future__ import annotations

import hashlib
import json

from aiohttp import web

from content.directory import hsds
from tv_server import keys

DEFAULT_PER_PAGE = 50
CACHE_SECONDS = 300


def _error(code: str, message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _positive(request: web.Request, name: str, default: int) -> int | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 1_000_000 else None


async def hsds_services(request: web.Request) -> web.Response:
    page = _positive(request, "page", 1)
    if page is None:
        return _error("page_invalid", "page must be a whole number from 1")
    per_page = _positive(request, "per_page", DEFAULT_PER_PAGE)
    if per_page is None or per_page > hsds.MAX_PER_PAGE:
        return _error(
            "per_page_invalid", f"per_page must be a whole number from 1 to {hsds.MAX_PER_PAGE}"
        )
    body = await hsds.services_page(
        request.app[keys.DB],
        request.app[keys.REGIONS],
        page=page,
        per_page=per_page,
        organization_id=request.query.get("organization_id", "").strip(),
    )
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
    headers = {"Cache-Control": f"public, max-age={CACHE_SECONDS}", "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    response = web.Response(
        body=data, content_type="application/json", charset="utf-8", headers=headers
    )
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response.enable_compression(web.ContentCoding.gzip)  # nested HSDS JSON shrinks ~10x
    return response
