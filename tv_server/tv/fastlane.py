"""The fast lane for shared TV screens: a box asking again for a screen it was just served.

Boxes revisit the same URLs (a program's pages, the category lists). After a screen has been
served through the full path once, the exact URL is remembered together with everything that
decided it — the cache entry, the box's identity and entitlement (valid as long as the box
directory's own cache), the token's expiry and the announcement state. While all of that still
holds, the next request for that URL is answered from the cache without resolving the box again.
Anything that changes (a publish, an announcement, a retired box after its 15 s directory TTL, an
expired token) sends the request down the full path, which refreshes the entry.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass

from aiohttp import web

from tv_server import keys
from tv_server.screencache import Screen

MAX_ENTRIES = 100_000
FAST = web.AppKey("tv_fastlane", dict)  # raw request path (with query) -> Entry
VIEW = web.RequestKey("tv_view", tuple)  # (program, page) a screen records as viewed


@dataclass(frozen=True, slots=True)
class Entry:
    screen: Screen
    cache_key: Hashable
    device_id: int
    view: tuple[int, int] | None  # (program, page) to record as viewed
    serial: str  # valid while the box directory still trusts its cached view of this box
    wall_until: float  # wall clock: token expiry and the next announcement start/end
    hub_generation: int


def remember(
    request: web.Request, box, cache_key: Hashable, screen: Screen, wall_until: float
) -> None:
    """Remember how this URL was just answered (called by the full path)."""
    app = request.app
    lane = app[FAST]
    if len(lane) >= MAX_ENTRIES:
        lane.clear()
    token_until = app[keys.TOKENS].issued(box.token) + app[keys.SETTINGS].box_token_ttl
    lane[request.raw_path] = Entry(
        screen,
        cache_key,
        box.id,
        request.get(VIEW),
        box.view.box.serial,
        min(wall_until, token_until),
        app[keys.HUB].generation,
    )


def lookup(request: web.Request) -> Entry | None:
    """The remembered answer for this URL, if everything that decided it still holds."""
    app = request.app
    lane = app[FAST]
    entry = lane.get(request.raw_path)
    if entry is None:
        return None
    if (
        entry.hub_generation != app[keys.HUB].generation
        or time.time() >= entry.wall_until
        or time.monotonic() >= app[keys.BOXES].trusted_until(entry.serial)
        or not app[keys.SCREENS].holds(entry.cache_key, entry.screen)
    ):
        del lane[request.raw_path]
        return None
    usage = app[keys.USAGE]
    if entry.view is not None:
        usage.record_view(entry.device_id, *entry.view)
    else:
        usage.touch(entry.device_id)
    return entry
