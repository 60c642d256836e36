"""Change events: the one path by which a write tells every cache what it may no longer serve.

A write says *what* changed — a `Change(kind, ids, region)` — never which cache to drop. Caches
subscribe to the kinds they depend on (`ChangeHub.subscribe`); the server wires them in one place
(`tv_server.caches`). Writes emit their changes inside their transaction (`Transaction.emit`):
the database publishes them on the hub right after COMMIT, and drops them on ROLLBACK, so a cache
never forgets too early (a reader could refill it with the old rows) nor for a write that did not
happen. A change known only after the fact (a background job) is published with
`ChangeHub.publish`.

Made to cross processes: a change is a small JSON payload (`Change.payload`, well under
PostgreSQL's 8,000-byte NOTIFY limit — ids beyond MAX_IDS collapse into "every object of the
kind"). A transport for several nodes sets `ChangeHub.relay` (called with each committed change
of this node, e.g. to `NOTIFY` in the same transaction) and hands what it receives from the
others to `ChangeHub.receive`; when it loses its connection it calls `ChangeHub.reset`, which
drops every subscribed cache (events may have been missed meanwhile). PostgreSQL's transport is
`storage.pgnodes` (NOTIFY); SQLite's, between the processes on one file, `storage.changelog`.

Also here: `BoundedCache`, the one small in-memory cache (bounded, with hit/miss counters) the
server's caches are built from; every one is registered on the hub by name so /metrics can
report it.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# What can change. A kind names domain data, not a cache.
KINDS = frozenset(
    {
        "box",  # a box's registry record (state, village, household, tokens, language)
        "wave",  # a rollout wave (which regions have the legal section)
        "coverage",  # figures the coverage dashboard counts (installs, households)
        "program",  # a program's TV content (publish, withdraw, edit, expiry)
        "media",  # a rendition finished (screens may name other files now)
        "viewing",  # video positions flushed: how far boxes watched programs (ids: programs)
        "directory",  # legal service points
        "adviser",  # village legal advisers and their sittings
        "appointment",  # appointment slots a point publishes
        "announcement",  # announcements and their targets
        "requests",  # one box's own callback requests and appointments (ids: device ids)
    }
)
MAX_IDS = 200  # more ids than this in one change: "every object of the kind"

Listener = Callable[["Change"], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    ids: tuple[str, ...] = ()  # () = every object of the kind
    region: str = ""  # the region the change concerns, when one does ("" = any)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown change kind {self.kind!r}")

    @classmethod
    def of(cls, kind: str, ids: Iterable[Any] = (), region: str = "") -> Change:
        ids = tuple(str(i) for i in ids)
        return cls(kind, () if len(ids) > MAX_IDS else ids, region or "")

    def payload(self) -> str:
        """The change as compact JSON, for a transport between nodes."""
        body: dict[str, Any] = {"k": self.kind}
        if self.ids:
            body["i"] = list(self.ids)
        if self.region:
            body["r"] = self.region
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_payload(cls, text: str) -> Change:
        body = json.loads(text)
        return cls.of(body["k"], body.get("i", ()), body.get("r", ""))


class BoundedCache:
    """A dict that holds at most `max_entries` (the oldest inserted goes first), counting hits
    and misses. Cheap enough for the hottest path: a get is a dict look-up and an increment."""

    __slots__ = ("name", "max_entries", "_data", "hits", "misses")

    def __init__(self, name: str, max_entries: int) -> None:
        self.name = name
        self.max_entries = max(1, max_entries)
        self._data: dict[Hashable, Any] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            self.misses += 1
            return default
        self.hits += 1
        return value

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """The value without counting a hit or miss."""
        return self._data.get(key, default)

    def put(self, key: Hashable, value: Any) -> Any:
        data = self._data
        if key not in data and len(data) >= self.max_entries:
            del data[next(iter(data))]
        data[key] = value
        return value

    def pop(self, key: Hashable, default: Any = None) -> Any:
        return self._data.pop(key, default)

    def drop_where(self, doomed: Callable[[Hashable, Any], bool]) -> int:
        keys = [k for k, v in self._data.items() if doomed(k, v)]
        for key in keys:
            del self._data[key]
        return len(keys)

    def clear(self) -> None:
        self._data.clear()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


_MISSING = object()


class ChangeHub:
    """Subscribers by kind; publishes changes to them in order. One per database."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self._resets: list[Callable[[], None]] = []
        self.caches: dict[str, BoundedCache] = {}
        self.published: Counter[str] = Counter()  # changes published, by kind
        # Grows with every change published and every reset: whoever remembers an answer
        # decided under the current data (the TV fast lane) compares it, nothing else.
        self.generation = 0
        # Set by a transport between nodes: called with each change committed on this node.
        self.relay: Callable[[Change], None] | None = None

    def cache(self, name: str, max_entries: int) -> BoundedCache:
        """A new bounded cache, registered by name (for /metrics)."""
        cache = self.caches[name] = BoundedCache(name, max_entries)
        return cache

    def subscribe(
        self, kinds: Iterable[str], listener: Listener, *, reset: Callable[[], None] | None = None
    ) -> None:
        """Call `listener(change)` for every change of these kinds (an async listener is
        awaited before the publisher goes on); `reset()` when every cache must be dropped."""
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"unknown change kind {kind!r}")
            self._listeners.setdefault(kind, []).append(listener)
        if reset is not None:
            self._resets.append(reset)

    async def publish(self, *changes: Change, relay: bool = True) -> None:
        """Changes committed on this node: to the local caches and (unless the transaction
        already sent them, `relay=False`) to the other nodes."""
        for change in changes:
            if relay and self.relay is not None:
                self.relay(change)
            await self._deliver(change)

    async def receive(self, payload: str) -> None:
        """A change committed on another node (from the transport)."""
        await self._deliver(Change.from_payload(payload))

    def reset(self) -> None:
        """Events may have been missed (a transport reconnected): every cache is dropped."""
        self.generation += 1
        for reset in self._resets:
            reset()

    async def _deliver(self, change: Change) -> None:
        self.generation += 1
        self.published[change.kind] += 1
        for listener in self._listeners.get(change.kind, ()):
            try:
                result = listener(change)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # the write is committed: never fail it, never keep stale data
                log.exception("a cache failed to follow %s; every cache is dropped", change)
                self.reset()
