"""Which cache depends on which change: the server's subscriptions to the change hub.

Writes say what changed (`storage.changes.Change`, emitted in their transaction or published by
`changed()` below); this module is the one place that turns a change into dropped cache entries.
Nothing else in the server drops a cache entry by hand (a test checks it): a new cache subscribes
here, a new write emits its change.

    change        drops
    box           the box directory's views (one box's, or all), its fast-lane answers and its
                  verified legacy token (tv_server.api.devices subscribes that one itself);
                  the watching figures (they count a box in its village and household)
    wave          every box view (entitlement follows the wave)
    coverage      the shared coverage figures (the background task recomputes them at once)
    program       the program's screens and listings, its remembered detail; boxes showing a
                  screen marked for refresh reload it
    media         every screen and program detail, the adviser cards (a rendition finished)
    viewing       the watching figures of those programs, and the per-region video views
    directory     the directory screens, the service point names of 我的申请 (and the points
                  routing remembers per region chain: callbacks.routing subscribes itself)
    adviser       screens tagged "advisers", the home screen's adviser cards
    (reset)       everything above
    appointment   screens tagged "appointments"
    announcement  the announcement hub re-reads the current announcements (its answers per region
                  chain go); the home shells go
    requests      (no cache) the box's open announcement streams are told to reload screens
                  marked data-refresh, such as 我的申请
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from callbacks import phones
from device_registry import coverage
from storage.changes import Change
from tv_server import keys, tvfont
from tv_server.tv import fastlane, home
from tv_server.tv.common import NOTICES


async def changed(app: Mapping, kind: str, ids: Iterable[Any] = (), region: str = "") -> None:
    """Publish a change already committed (for writes whose transaction did not emit it)."""
    await app[keys.DB].changes.publish(Change.of(kind, ids, region))


def wire(app: Mapping) -> None:
    """Subscribe the server's caches to the changes they depend on (once, at start)."""
    db = app[keys.DB]
    hub = db.changes
    boxes, screens, programs = app[keys.BOXES], app[keys.SCREENS], app[keys.PROGRAMS]
    announcements, fast = app[keys.HUB], app[fastlane.FAST]
    shells, cards = app[home.SHELLS], app[home.ADVISER_CARDS]
    point_names = app[keys.POINT_NAMES]
    watching = app[keys.VIDEO_FIGURES]
    # Nothing drops these: packed parts are a function of their bytes; facts read with a launch
    # check the database's commit count themselves (tv_server.tv.home.prefetch).
    packed, prefetched = app[home.PACKED_PARTS], app[home.PREFETCHED]
    sets = app[home.SHELL_SETS]

    def box(change: Change) -> None:
        if not change.ids:
            boxes.forget()  # its generation also retires fast-lane answers and cached tokens
            return
        for serial in change.ids:
            boxes.forget_box(serial)
        fast.forget_serials(set(change.ids))  # one pass over the remembered answers

    def program(change: Change) -> None:
        screens.invalidate("programs", *(f"program:{i}" for i in change.ids))
        if change.ids:
            for pid in change.ids:
                programs.pop(int(pid))
        else:
            programs.clear()
        announcements.broadcast_refresh()

    def media(_change: Change) -> None:
        programs.clear()
        cards.clear()  # an adviser's photo rendition
        screens.clear()  # rare (one transcode finished): simpler than finding programs

    def tag(name: str):
        return lambda _change: screens.invalidate(name)

    def directory(_change: Change) -> None:
        screens.invalidate("directory")
        point_names.clear()

    async def announcement(_change: Change) -> None:
        await announcements.refresh()
        shells.clear()  # an announcement edited in place keeps its id

    def everything() -> None:
        boxes.forget()
        screens.clear()
        programs.clear()
        fast.entries.clear()
        shells.clear()
        cards.clear()
        point_names.clear()
        coverage.forget(db)
        watching.forget()

    # Pruned stylesheets depend on tv.css alone (no change drops them): counted in /metrics.
    # So are the phone numbers' forms (a pure function of the number).
    # And the verdicts on box tokens' signatures (expiry and revocation are checked on each read),
    # and the rendered notices (their rendering, key-map family and kind decide them).
    pure = (
        app[NOTICES],
        app[tvfont.STYLES].memo,
        app[tvfont.FONT].sheets,
        *phones.CACHES,
        app[keys.TOKENS].verified_tokens,
    )
    hub.caches.update(
        {
            c.name: c
            for c in (
                programs,
                fast.entries,
                shells,
                cards,
                point_names,
                announcements.memo,
                packed,
                prefetched,
                sets,
                *pure,
            )
        },
        tv_screens=screens,
    )
    hub.subscribe(["box"], box, reset=everything)
    hub.subscribe(["wave"], lambda _change: boxes.forget())
    hub.subscribe(["coverage"], lambda _change: coverage.forget(db))
    hub.subscribe(["program"], program)
    hub.subscribe(["media"], media)
    hub.subscribe(["viewing"], lambda change: watching.forget(change.ids))
    hub.subscribe(["box"], lambda _change: watching.forget())
    hub.subscribe(["directory"], directory)
    hub.subscribe(["adviser"], tag("advisers"))
    hub.subscribe(["adviser"], lambda _change: cards.clear())
    hub.subscribe(["appointment"], tag("appointments"))
    hub.subscribe(["announcement"], announcement)
    hub.subscribe(
        ["requests"], lambda change: [announcements.notify_device(int(i)) for i in change.ids]
    )
