"""The fast lane for shared TV screens: a box asking again for a screen it was just served.

Boxes revisit the same URLs (a program's pages, the category lists). After a screen has been
served through the full path once, the exact URL is remembered together with everything that
decided it — the cache entry, the box's identity and entitlement (valid as long as the box
directory's own cache), the token's expiry and the announcement state. While all of that still
holds, the next request for that URL is answered from the cache without resolving the box again.
Anything that changes (a publish, an announcement, a retired box after its 15 s directory TTL, an
expired token) sends the request down the full path, which refreshes the entry.

The check is kept to a few comparisons, since it runs for most requests a server gets: an entry
carries the sum of the generation counters of the screen cache, the announcement hub and the box
directory (each only ever grows, so any change anywhere changes the sum) and the earliest moment
it may no longer hold, on both clocks. Answering is the front's job (`tv_server.front`): the
lane runs before routing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from storage.changes import BoundedCache
from tv_server import keys
from tv_server.screencache import Screen, send

MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class Entry:
    screen: Screen
    device_id: int
    serial: str
    view: tuple[int, int] | None  # (program, page) to record as viewed
    stamp: int  # the sum of the generations it was decided under
    trusted_until: float  # monotonic: the box directory's trust in its view of the box
    wall_until: float  # wall clock: token expiry and the next announcement start/end


class FastLane:
    """Remembered answers by raw request path (with query)."""

    def __init__(self) -> None:
        self.entries = BoundedCache("tv_fastlane", MAX_ENTRIES)
        self._bound = False

    def _bind(self, app: web.Application) -> None:
        self.hub, self.screens, self.boxes = app[keys.HUB], app[keys.SCREENS], app[keys.BOXES]
        self.usage, self.tokens = app[keys.USAGE], app[keys.TOKENS]
        self.token_ttl = app[keys.SETTINGS].box_token_ttl
        self._bound = True

    def stamp(self) -> int:
        return self.hub.generation + self.screens.generation + self.boxes.generation

    def remember(
        self,
        request: web.Request,
        box,
        cache_key,
        screen: Screen,
        wall_until: float,
        view: tuple[int, int] | None = None,
    ) -> None:
        """Remember how this URL was just answered (called by `tv.common.cached` only, which
        recorded `view` for this request; a repeat records it again)."""
        if not self._bound:
            self._bind(request.app)
        if not self.screens.holds(cache_key, screen):
            return  # a build that overlapped an invalidation: served once, never remembered
        token_until = self.tokens.issued(box.token) + self.token_ttl
        self.entries.put(
            request.raw_path,
            Entry(
                screen,
                box.id,
                box.view.box.serial,
                view,
                self.stamp(),
                self.boxes.trusted_until(box.view.box.serial),
                min(wall_until, token_until),
            ),
        )

    def forget_serials(self, serials: set[str]) -> None:
        """Drop these boxes' remembered answers (a change to them), in one pass; every other
        box's stay. Called by the change hub's subscription (tv_server.caches) only."""
        self.entries.drop_where(lambda _path, entry: entry.serial in serials)

    def lookup(self, request: web.Request) -> Entry | None:
        """The remembered answer for this URL, if everything that decided it still holds."""
        entry = self.entries.get(request.raw_path)
        if entry is None:
            return None
        if (
            entry.stamp != self.hub.generation + self.screens.generation + self.boxes.generation
            or time.monotonic() >= entry.trusted_until
            or time.time() >= entry.wall_until
        ):
            self.entries.pop(request.raw_path)
            return None
        if entry.view is not None:
            self.usage.record_view(entry.device_id, *entry.view)
        else:
            self.usage.touch(entry.device_id)
        return entry


FAST = web.AppKey("tv_fastlane", FastLane)


def answer(app: web.Application, request: web.Request) -> web.Response | None:
    """The front lane for `GET /tv/b/…` (see tv_server.front): the remembered screen, or None."""
    entry = app[FAST].lookup(request)
    return None if entry is None else send(request, entry.screen)
