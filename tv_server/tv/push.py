"""Announcements pushed to the box: Server-Sent Events, and a JSON poll for boxes without
EventSource."""

from __future__ import annotations

from aiohttp import web

from tv_server import events, keys
from tv_server.tv.common import current_box


async def events_stream(request: web.Request) -> web.StreamResponse:
    box = await current_box(request)
    settings = request.app[keys.SETTINGS]
    return await events.stream(
        request, request.app[keys.HUB], box.chain, settings.sse_keepalive_seconds
    )


async def poll(request: web.Request) -> web.Response:
    box = await current_box(request)
    active = request.app[keys.HUB].for_chain(box.chain)
    return web.json_response(
        {"announcements": [a.as_json() for a in active]},
        headers={"Cache-Control": "no-store"},
    )
