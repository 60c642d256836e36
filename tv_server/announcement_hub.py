"""Announcements for the boxes: the current set kept in memory, refreshed from the database (so
several server processes fan out through it), and pushed live over Server-Sent Events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from content.announcements import notices as ann_domain
from storage import Database
from storage.changes import BoundedCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listener:
    """Who is at the other end of an SSE stream: the box's region chain and device id."""

    chain: tuple[str, ...]
    device_id: int | None = None


class AnnouncementHub:
    """The current announcements, indexed at refresh time by region code (direct and wave
    targets) and by device id, so deciding for one box costs a few dict look-ups."""

    MAX_REMEMBERED = 200_000  # impressions and dismissals kept in memory before forgetting
    MAX_CHAINS = 50_000  # region chains whose answer is remembered

    def __init__(self, db: Database, *, streams_per_box: int = 2, streams_max: int = 0) -> None:
        self.db = db
        # Open SSE streams allowed per box and in all (0: no limit); beyond, the oldest ends.
        self.streams_per_box = streams_per_box
        self.streams_max = streams_max
        self.current: list[ann_domain.Announcement] = []
        self._by_region: dict[str, list[ann_domain.Announcement]] = {}
        self._by_device: dict[int, list[ann_domain.Announcement]] = {}
        # region chain -> (valid from, valid until, active announcements); emptied by every
        # refresh (an "announcement" change, see tv_server.caches, or the periodic poll)
        self.memo = BoundedCache("tv_announcements_by_chain", self.MAX_CHAINS)
        # Bumped whenever what a box would be shown may have changed (fast-lane entries check it).
        self.generation = 0
        self._subscribers: dict[asyncio.Queue, Listener] = {}  # oldest first
        self._streams_of: dict[int, list[asyncio.Queue]] = {}  # device id -> its, oldest first
        self._shown: dict[asyncio.Queue, frozenset[int]] = {}
        self._pending: dict[tuple[int, int], float] = {}  # impressions not written yet
        self._recorded: set[tuple[int, int]] = set()  # impressions known to be written
        self._dismissed: set[tuple[int, int]] = set()  # (announcement, device) overlays closed
        # One refresh at a time: a slow read begun before a write must not land after a newer
        # one (it would show the old list again and bump the generation twice).
        self._refreshing = asyncio.Lock()

    async def refresh(self, now: float | None = None) -> None:
        async with self._refreshing:
            self._apply(await ann_domain.current_announcements(self.db, now))

    def _apply(self, current: list[ann_domain.Announcement]) -> None:
        by_region: dict[str, list[ann_domain.Announcement]] = {}
        by_device: dict[int, list[ann_domain.Announcement]] = {}
        for a in current:
            for code in a.regions | a.wave_regions:
                by_region.setdefault(code, []).append(a)
            for device_id in a.devices:
                by_device.setdefault(device_id, []).append(a)
        if current != self.current:
            self.generation += 1
        self.current, self._by_region, self._by_device = current, by_region, by_device
        self.memo.clear()
        for queue, listener in list(self._subscribers.items()):
            self._push_changes(queue, listener)

    def for_chain(
        self, chain: tuple[str, ...], now: float | None = None, *, device_id: int | None = None
    ) -> list[ann_domain.Announcement]:
        """Active announcements for a box (region chain, device id), the one to show first.

        Asked on every TV request, so the answer for a region chain is remembered until the
        next refresh or the next start/end time among its announcements, whichever is first.
        """
        now = time.time() if now is None else now
        per_device = device_id is not None and device_id in self._by_device
        memo = self.memo
        if not per_device:
            known = memo.peek(chain)
            if known is not None and known[0] <= now < known[1]:
                memo.hits += 1
                return known[2]
            memo.misses += 1
        found: dict[int, ann_domain.Announcement] = {}
        for code in chain:
            for a in self._by_region.get(code, ()):
                found[a.id] = a
        if per_device:
            for a in self._by_device[device_id]:
                found[a.id] = a
        active = sorted((a for a in found.values() if a.active(now)), key=lambda a: a.rank)
        if not per_device:
            until = min(
                [a.starts_at for a in found.values() if a.starts_at > now]
                + [a.ends_at for a in found.values() if a.ends_at and a.ends_at > now]
                + [now + 60.0]
            )
            memo.put(chain, (now, until, active))
        return active

    def stable_until(self, chain: tuple[str, ...], device_id: int | None) -> float:
        """Until when (wall clock) `for_chain` keeps its answer for this box, barring a refresh;
        0 for boxes with announcements of their own (not remembered)."""
        if device_id is not None and device_id in self._by_device:
            return 0.0
        known = self.memo.peek(chain)
        return known[1] if known is not None else 0.0

    # -- what boxes have shown -----------------------------------------------------------

    def record_shown(self, ann_id: int, device_id: int, now: float | None = None) -> None:
        """Note that a box showed an announcement; written by `flush_impressions`."""
        key = (ann_id, device_id)
        if key in self._recorded or key in self._pending:
            return
        self._pending[key] = time.time() if now is None else now

    def dismiss(self, ann_id: int, device_id: int, chain: tuple[str, ...]) -> bool:
        """The household closed an urgent overlay: later screens show it as a banner.

        Only an urgent announcement this box is being shown counts, and only the first time:
        anything else changes nothing (no remembered pair, no new generation, which would send
        every box's next screen down the full path). Returns whether it counted."""
        key = (ann_id, device_id)
        if key in self._dismissed or not any(
            a.id == ann_id and a.level == "urgent"
            for a in self.for_chain(chain, device_id=device_id)
        ):
            return False
        if len(self._dismissed) > self.MAX_REMEMBERED:
            self._dismissed.clear()
        self._dismissed.add(key)
        self.generation += 1
        return True

    def overlay(self, announcement: ann_domain.Announcement | None, device_id: int | None) -> bool:
        return (
            announcement is not None
            and announcement.level == "urgent"
            and (announcement.id, device_id) not in self._dismissed
        )

    @property
    def pending_impressions(self) -> int:
        return len(self._pending)

    async def flush_impressions(self) -> int:
        """Write the impressions noted so far in one transaction; kept for a retry on error."""
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        try:
            await ann_domain.record_impressions(
                self.db, [(a, d, at) for (a, d), at in pending.items()]
            )
        except BaseException:
            for key, value in pending.items():
                self._pending.setdefault(key, value)
            raise
        if len(self._recorded) > self.MAX_REMEMBERED:
            self._recorded.clear()
        self._recorded.update(pending)
        return len(pending)

    # -- streams -------------------------------------------------------------------------

    def _push_changes(self, queue: asyncio.Queue, listener: Listener) -> None:
        active = self.for_chain(listener.chain, device_id=listener.device_id)
        ids = frozenset(a.id for a in active)
        if ids == self._shown.get(queue):
            return
        self._shown[queue] = ids
        if active:
            first = active[0]
            event = ("announcement", first.as_json(self.overlay(first, listener.device_id)))
        else:
            event = ("clear", {})
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:  # a stalled box misses nothing lasting
            return
        if active and listener.device_id is not None:
            self.record_shown(active[0].id, listener.device_id)

    def subscribe(self, chain: tuple[str, ...], device_id: int | None = None) -> asyncio.Queue:
        """A new stream's queue. Over `streams_per_box` for this box or `streams_max` in all,
        the oldest streams (of this box, then of any) are told to end first, so streams opened
        by a looping page or a flood cannot pile up."""
        if device_id is not None and self.streams_per_box > 0:
            mine = self._streams_of.get(device_id, [])
            while len(mine) >= self.streams_per_box:
                self._end(mine[0])
        if self.streams_max > 0:
            while len(self._subscribers) >= self.streams_max:
                self._end(next(iter(self._subscribers)))
        queue: asyncio.Queue = asyncio.Queue(maxsize=32)
        listener = Listener(tuple(chain), device_id)
        self._subscribers[queue] = listener
        if device_id is not None:
            self._streams_of.setdefault(device_id, []).append(queue)
        self._shown[queue] = frozenset(a.id for a in self.for_chain(chain, device_id=device_id))
        return queue

    def _end(self, queue: asyncio.Queue) -> None:
        """Unsubscribe a stream and tell it to close (room is made: a full queue still ends)."""
        self.unsubscribe(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(("close", {}))

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        listener = self._subscribers.pop(queue, None)
        self._shown.pop(queue, None)
        if listener is not None and listener.device_id is not None:
            mine = self._streams_of.get(listener.device_id)
            if mine is not None:
                with contextlib.suppress(ValueError):
                    mine.remove(queue)
                if not mine:
                    del self._streams_of[listener.device_id]

    def broadcast_refresh(self) -> int:
        """Tell every connected box that listed content changed (screens marked
        `data-refresh` reload). Returns how many boxes were told."""
        told = 0
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(("refresh", {}))
                told += 1
        return told

    def notify_device(self, device_id: int) -> int:
        """Tell one box's open streams that its own data changed (e.g. staff acted on its
        callback request): a screen marked `data-refresh` reloads. Returns how many streams
        were told."""
        told = 0
        for queue, listener in list(self._subscribers.items()):
            if listener.device_id != device_id:
                continue
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(("refresh", {}))
                told += 1
        return told

    def close(self) -> None:
        """Tell every open stream to end (server shutdown)."""
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(("close", {}))

    @property
    def listeners(self) -> int:
        return len(self._subscribers)


async def poll_forever(hub: AnnouncementHub, interval: float) -> None:
    """Refresh the announcements and write the impressions noted since the last round."""
    while True:
        try:
            await hub.refresh()
        except Exception:  # a failed refresh must not stop the loop
            log.exception("announcement refresh failed")
        try:
            await hub.flush_impressions()
        except Exception:
            log.exception("impression flush failed; kept for the next attempt")
        await asyncio.sleep(interval)


async def stream(
    request: web.Request,
    hub: AnnouncementHub,
    chain: tuple[str, ...],
    keepalive: float,
    device_id: int | None = None,
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = hub.subscribe(chain, device_id)
    try:
        await response.write(b"retry: 15000\n\n")
        while True:
            try:
                event, data = await asyncio.wait_for(queue.get(), timeout=keepalive)
            except TimeoutError:
                await response.write(f": keep-alive {int(time.time())}\n\n".encode())
                continue
            if event == "close":
                break
            payload = json.dumps(data, ensure_ascii=False)
            await response.write(f"event: {event}\ndata: {payload}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.unsubscribe(queue)
        with contextlib.suppress(Exception):
            await response.write_eof()
    return response
