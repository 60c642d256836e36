"""Announcements for the boxes: the current set kept in memory, refreshed from the database (so
several server processes fan out through it), and pushed live over Server-Sent Events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from aiohttp import web

from content import announcements as ann_domain
from storage import Database

log = logging.getLogger(__name__)


class AnnouncementHub:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.current: list[ann_domain.Announcement] = []
        self._subscribers: dict[asyncio.Queue, tuple[str, ...]] = {}
        self._shown: dict[asyncio.Queue, frozenset[int]] = {}

    async def refresh(self) -> None:
        self.current = await ann_domain.current_announcements(self.db)
        for queue, chain in list(self._subscribers.items()):
            self._push_changes(queue, chain)

    def for_chain(self, chain: tuple[str, ...], now: float | None = None):
        return ann_domain.for_regions(self.current, list(chain), now)

    def _push_changes(self, queue: asyncio.Queue, chain: tuple[str, ...]) -> None:
        active = self.for_chain(chain)
        ids = frozenset(a.id for a in active)
        if ids == self._shown.get(queue):
            return
        self._shown[queue] = ids
        if active:
            newest = max(active, key=lambda a: a.id)
            event = ("announcement", newest.as_json())
        else:
            event = ("clear", {})
        with contextlib.suppress(asyncio.QueueFull):  # a stalled box misses nothing lasting
            queue.put_nowait(event)

    def subscribe(self, chain: tuple[str, ...]) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=32)
        self._subscribers[queue] = chain
        self._shown[queue] = frozenset(a.id for a in self.for_chain(chain))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.pop(queue, None)
        self._shown.pop(queue, None)

    def broadcast_refresh(self) -> int:
        """Tell every connected box that listed content changed (screens marked
        `data-refresh` reload). Returns how many boxes were told."""
        told = 0
        for queue in list(self._subscribers):
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
    while True:
        try:
            await hub.refresh()
        except Exception:  # a failed refresh must not stop the loop
            log.exception("announcement refresh failed")
        await asyncio.sleep(interval)


async def stream(
    request: web.Request, hub: AnnouncementHub, chain: tuple[str, ...], keepalive: float
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = hub.subscribe(chain)
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
