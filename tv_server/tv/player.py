"""The video player's position beacon: where a box stopped watching a program's video, so the
home screen's "继续观看" reopens it there, and how far it got (the watching figures). The player
sends it every 15 s while playing, on pause and when leaving (one small GET; nothing per second
of playback); beacons are kept in memory and written in batches (content.programs.video.Positions).
Also the box's subtitles on/off choice and the WebVTT tracks the player draws."""

from __future__ import annotations

import re

from aiohttp import web

from content.programs import subtitles
from tv_server import caches, keys
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


async def subtitles_choice(request: web.Request) -> web.Response:
    """The box turns subtitles on (`?on=1`) or off (`?on=0`) with the colour key or the info
    bar; remembered per box (the next video screen comes with that choice)."""
    box = await current_box(request)
    raw = request.query.get("on", "")
    if raw not in ("0", "1"):
        raise web.HTTPBadRequest()
    db = request.app[keys.DB]
    if (await subtitles.box_choice(db, box.id))[0] != (raw == "1"):  # a write only on a change
        await subtitles.set_box_choice(db, box.id, raw == "1")
        # Its remembered screens (the fast lane's) show the old choice: drop this box's.
        await caches.changed(request.app, "box", [box.view.box.serial])
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


_SUBS_NAME = re.compile(r"^(\d{1,12})-(zh|mn)-([0-9a-f]{16})\.vtt$")


async def subtitle_file(request: web.Request) -> web.Response:
    """A WebVTT track, named by its video, language and a prefix of its hash: the name is
    unguessable and changes with the text, so it is cached for good. Only a text a published
    program shows: a draft's (which may be unreviewed) is served by the editors' preview,
    to editors who may see that program."""
    match = _SUBS_NAME.match(request.match_info["name"])
    if match is None:
        raise web.HTTPNotFound()
    vtt = await subtitles.published_text_by_prefix(request.app[keys.DB], match.group(3))
    if vtt is None:
        raise web.HTTPNotFound()
    return web.Response(
        text=vtt,
        content_type="text/vtt",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
