"""The video player's position beacon: where a box stopped watching a program's video, so the
home screen's "继续观看" reopens it there, and how far it got (the watching figures). The player
sends it every 15 s while playing, on pause and when leaving (one small GET; nothing per second
of playback); beacons are kept in memory and written in batches
(content.programs.video.Positions)."""

from __future__ import annotations

from aiohttp import web

from tv_server import keys
from tv_server.tv.common import current_box
from tv_server.tv.programs import program_for

MAX_SECONDS = 86_400


def _seconds(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and int(raw) <= MAX_SECONDS else None


async def position(request: web.Request) -> web.Response:
    box = await current_box(request)
    pid = int(request.match_info["pid"])
    detail = await program_for(request, box, pid)
    at, duration = _seconds(request.query.get("s", "")), _seconds(request.query.get("d", "0"))
    if not detail.video_file or at is None or duration is None:
        raise web.HTTPBadRequest()
    if not request.app[keys.VIDEO_POSITIONS].record(box.id, pid, at, max(duration, at)):
        raise web.HTTPServiceUnavailable(headers={"Retry-After": "5"})
    return web.Response(status=204, headers={"Cache-Control": "no-store"})
