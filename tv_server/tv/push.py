"""Announcements pushed to the box: Server-Sent Events, and a JSON poll for boxes without
EventSource (which also takes `?ok=ID` when the household closes an urgent overlay)."""

from __future__ import annotations

from aiohttp import web

from tv_server import keys
from tv_server.announcement_hub import stream
from tv_server.tv.common import box_announcements, current_box


async def events_stream(request: web.Request) -> web.StreamResponse:
    box = await current_box(request)
    settings = request.app[keys.SETTINGS]
    return await stream(
        request, request.app[keys.HUB], box.chain, settings.sse_keepalive_seconds, box.id
    )


async def poll(request: web.Request) -> web.Response:
    box = await current_box(request)
    hub = request.app[keys.HUB]
    closed = request.query.get("ok", "")
    if closed.isascii() and closed.isdigit() and len(closed) <= 18:
        hub.dismiss(int(closed), box.id, box.chain)  # only an overlay this box is shown
    active, overlay = box_announcements(request, box)
    return web.json_response(
        {"announcements": [a.as_json(overlay and i == 0) for i, a in enumerate(active)]},
        headers={"Cache-Control": "no-store"},
    )
