"""The server's short-lived view of boxes: who a serial is, its region chain, whether the legal
section is on for it (a started wave and its sticky ramp, see `device_registry.waves`). Cached
for a few seconds so a cached screen costs no database query."""

from __future__ import annotations

import time
from dataclasses import dataclass

from device_registry import records, waves
from device_registry.regions import RegionTree
from storage import Database

TTL_SECONDS = 15.0
MAX_VIEWS = 100_000


@dataclass(frozen=True)
class BoxView:
    box: records.Box
    chain: tuple[str, ...]  # village, township, banner, city codes (nearest first)
    entitled: bool
    wave_id: int | None = None  # the started wave that switched the section on


class BoxDirectory:
    def __init__(self, db: Database, regions: RegionTree) -> None:
        self.db = db
        self.regions = regions
        # serial -> (fetched, view); dropped by change events (tv_server.caches)
        self._boxes = db.changes.cache("box_views", MAX_VIEWS)
        self._live: tuple[float, waves.LiveMap] = (0.0, {})
        # Bumped whenever cached views are dropped (fast-lane entries check it).
        self.generation = 0

    def forget(self) -> None:
        self.generation += 1
        self._boxes.clear()
        self._live = (0.0, {})

    def forget_box(self, serial: str) -> None:
        """Drop one box's cached view (a change to that box); every other view and the
        generation stay, so no other box's fast-lane entries or tokens go cold."""
        self._boxes.pop(serial)

    async def live_waves(self) -> waves.LiveMap:
        """Regions of started waves with their ramps (refreshed every TTL_SECONDS)."""
        fetched, live = self._live
        if not fetched or time.monotonic() - fetched > TTL_SECONDS:
            live = await waves.live_map(self.db)
            self._live = (time.monotonic(), live)
        return live

    async def live_regions(self) -> set[str]:
        return set(await self.live_waves())

    def trusted_until(self, serial: str) -> float:
        """Until when (monotonic) the cached view of this box is used without a query."""
        cached = self._boxes.peek(serial)
        return cached[0] + TTL_SECONDS if cached is not None else 0.0

    def known(self, serial: str) -> BoxView | None:
        """The box's view as last read, however old, with no query (None when not cached):
        enough to pick the language of an error page."""
        cached = self._boxes.peek(serial)
        return cached[1] if cached is not None else None

    async def get(self, serial: str) -> BoxView | None:
        return (await self.get_with(serial))[0]

    async def get_with(self, serial: str, also=None) -> tuple[BoxView | None, list | None]:
        """The box's view, and — when it had to be read — the rows of the reads `also(device
        id)` names, read in the same trip (None when the view came from memory: the caller
        reads them itself if it needs them)."""
        cached = self._boxes.get(serial)
        if cached is not None and time.monotonic() - cached[0] < TTL_SECONDS:
            return cached[1], None
        if also is None:
            box, more = await records.get_box(self.db, serial), None
        else:
            rows, more = await self.db.fetch_after(
                records.box_query(serial), lambda rows: also(rows[0]["id"]) if rows else []
            )
            box = records.box_from(rows[0] if rows else None)
        view = None
        if box is not None:
            chain = tuple(r.code for r in self.regions.chain(box.village_code))
            live = await self.live_waves()
            wave_id = waves.entitling_wave(
                box.serial, box.state, box.village_code, self.regions, live
            )
            view = BoxView(box, chain, wave_id is not None, wave_id)
        self._boxes.put(serial, (time.monotonic(), view))
        return view, more

    async def record_unknown(self, serial: str) -> BoxView:
        box = await records.record_unknown_visit(self.db, serial)
        self._boxes.pop(serial, None)
        return BoxView(box, (), False)
