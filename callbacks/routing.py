"""Routing a callback request to the office that will call back.

The office the household chose wins; otherwise a rule per service names the kind of service point
(e.g. consultation → the township station of the box's village) and the nearest point of that kind
up the box's region chain takes it, falling back to the nearest point of any higher level. For a
household whose TV is in Mongolian, a point of the same kind that serves in Mongolian (its
`languages` include mn) is preferred, nearest first, at each step.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from content.directory import points as directory
from storage import Database, NotFound
from storage.changes import BoundedCache

# The service points of a region chain, per chain: every submission of a village reads the same
# ones. Dropped by "directory" changes (every directory write emits one); kept at most
# CHAIN_SECONDS, so a change written by another process (a CLI import) is followed soon too.
CHAIN_CACHE = "callbacks_routing_points"
CHAIN_ENTRIES = 5000
CHAIN_SECONDS = 30.0


def _chains(db: Database) -> BoundedCache:
    hub = db.changes
    cache = hub.caches.get(CHAIN_CACHE)
    if cache is None:
        cache = hub.cache(CHAIN_CACHE, CHAIN_ENTRIES)
        hub.subscribe(["directory"], lambda _change: cache.clear(), reset=cache.clear)
    return cache


async def _points_of(db: Database, chain: tuple[str, ...]) -> list[directory.ServicePoint]:
    cache = _chains(db)
    now = time.monotonic()
    known = cache.get(chain)
    if known is not None and now - known[0] < CHAIN_SECONDS:
        return list(known[1])
    generation = db.changes.generation
    points = await directory.points_in_regions(db, list(chain))
    if db.changes.generation == generation:  # no change published while reading
        cache.put(chain, (now, tuple(points)))
    return points


DEFAULT_RULES: dict[str, str] = {
    "consultation": "township_station",
    "mediation": "township_station",
    "lawyer_mediation": "township_station",
    "legal_aid": "banner_centre",
    "notarisation": "banner_centre",
    "appraisal": "banner_centre",
}
# When no point of the ruled kind exists in the chain: try these, nearest level first.
FALLBACK_KINDS = ("village_room", "township_station", "banner_centre", "city_centre", "hotline")


def parse_rules(text: str) -> dict[str, str]:
    """'consultation=township_station, legal_aid=banner_centre' → a dict over the defaults."""
    rules = dict(DEFAULT_RULES)
    for part in text.split(","):
        if not part.strip():
            continue
        service, sep, kind = part.partition("=")
        service, kind = service.strip(), kind.strip()
        if not sep or kind not in directory.KINDS:
            raise ValueError(f"callback routing rule must be SERVICE=KIND, not {part.strip()!r}")
        rules[service] = kind
    return rules


async def route(
    db: Database,
    service: str,
    chosen_point: str | None,
    region_chain: Sequence[str],
    rules: Mapping[str, str] = DEFAULT_RULES,
    language: str = "zh",
) -> str | None:
    """The code of the service point that gets the request (None when no office is known)."""
    if chosen_point:
        try:
            return (await directory.get_point(db, chosen_point)).code
        except NotFound:
            pass  # the office left the directory since: route by the rules instead
    if not region_chain:
        return None
    points = await _points_of(db, tuple(region_chain))
    if language != "zh":
        # Of each kind, those serving in the household's language first (the sort is stable:
        # nearest first among them); the kinds are still tried in the rule's order below.
        points.sort(key=lambda p: language not in p.languages)
    wanted = rules.get(service)
    if wanted:
        for point in points:  # nearest region first
            if point.kind == wanted:
                return point.code
    start = FALLBACK_KINDS.index(wanted) if wanted in FALLBACK_KINDS else 0
    for kind in FALLBACK_KINDS[start:]:
        for point in points:
            if point.kind == kind:
                return point.code
    return points[0].code if points else None
