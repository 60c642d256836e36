"""Rendered TV screens kept in memory, ready to send: body, gzip body and ETag.

Entries carry tags (e.g. "program:12", "directory"); publishing invalidates exactly the tags it
touches. LRU-bounded.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict

from tv_server.headers import TV_SCREEN


@dataclass(frozen=True)
class Screen:
    body: bytes
    gzipped: bytes
    etag: str
    tags: frozenset[str]
    # The response headers, prebuilt (each response gets a copy): plain and gzip.
    headers: CIMultiDict[str]
    gzip_headers: CIMultiDict[str]


def make_screen(html: str, tags: Iterable[str] = ()) -> Screen:
    body = html.encode("utf-8")
    return screen_of(body, gzip_body(body), tags)


def screen_of(
    body: bytes, gzipped: bytes, tags: Iterable[str] = (), digest: str | None = None
) -> Screen:
    """A screen whose gzip body is made already (tv_server.tv.home splices it from parts).
    `digest`: a hex digest that changes whenever the body does, known without hashing the whole
    body (the home's: its shell's digest and its parts); by default the body's own."""
    if digest is None:
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    etag = '"' + digest + '"'
    headers = CIMultiDict({**TV_SCREEN, "ETag": etag})
    gzip_headers = CIMultiDict({**headers, "Content-Encoding": "gzip"})
    return Screen(body, gzipped, etag, frozenset(tags), headers, gzip_headers)


def gzip_body(body: bytes) -> bytes:
    """gzip at level 6 with a window no larger than the body: as small for a screen (≤ 32 KB),
    without setting up zlib's full 256 KB of state each time — most of what compressing a
    per-box screen (the home, a few KB) cost."""
    window = min(15, max(9, (len(body) - 1).bit_length()))
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + window, 6)
    return compressor.compress(body) + compressor.flush()


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, no time, OS unknown
DEFLATE_END = b"\x03\x00"  # an empty final block


def deflate_piece(data: bytes) -> bytes:
    """`data` as raw deflate blocks ending byte-aligned and not final (a sync flush), so that
    pieces compressed apart join into one stream: GZIP_HEADER, the pieces in order, DEFLATE_END,
    then `gzip_trailer` of the whole body (tests/test_home_facts.py inflates one)."""
    if not data:
        return b""
    window = min(15, max(9, (len(data) - 1).bit_length()))
    compressor = zlib.compressobj(6, zlib.DEFLATED, -window, 6)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def stored_piece(data: bytes) -> bytes:
    """`data` as stored (uncompressed) deflate blocks, joinable like `deflate_piece`'s output:
    for a short part seen once, where setting up a compressor costs more than it saves."""
    return b"".join(
        b"\x00" + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk
        for chunk in (data[i : i + 0xFFFF] for i in range(0, len(data), 0xFFFF))
    )


def gzip_trailer(body: bytes) -> bytes:
    return struct.pack("<II", zlib.crc32(body), len(body) & 0xFFFFFFFF)


def send(request: web.Request, screen: Screen, *, status: int = 200) -> web.Response:
    """Send a rendered screen with ETag/304 and gzip; boxes revalidate on every visit."""
    asked = request.headers
    if status == 200 and screen.etag in asked.get("If-None-Match", ""):
        return web.Response(status=304, headers=screen.headers.copy())
    if "gzip" in asked.get("Accept-Encoding", ""):
        return web.Response(body=screen.gzipped, status=status, headers=screen.gzip_headers.copy())
    return web.Response(body=screen.body, status=status, headers=screen.headers.copy())


class ScreenCache:
    def __init__(self, max_entries: int = 5000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Screen] = OrderedDict()
        self.hits = 0
        self.misses = 0
        # Bumped by every invalidation: a build that started before it must not be stored.
        self.generation = 0
        # Builds under way, so concurrent requests for one screen wait for a single build.
        self.building: dict[Hashable, asyncio.Future] = {}

    def get(self, key: Hashable) -> Screen | None:
        screen = self._entries.get(key)
        if screen is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return screen

    def holds(self, key: Hashable, screen: Screen) -> bool:
        """Is this very screen still cached under this key (not invalidated or replaced)?"""
        return self._entries.get(key) is screen

    def put(self, key: Hashable, screen: Screen) -> Screen:
        self._entries[key] = screen
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return screen

    def invalidate(self, *tags: str) -> int:
        self.generation += 1
        doomed = [k for k, s in self._entries.items() if s.tags.intersection(tags)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    async def get_or_build(
        self, key: Hashable, tags: Iterable[str], build: Callable[[], Awaitable[str]]
    ) -> Screen:
        """The cached screen, or one build of it shared by every request waiting meanwhile.

        A build that overlapped an invalidation is served to its waiters but not kept, and is
        rebuilt once, so a publish can never be undone by a render that read the old data.
        """
        screen = self.get(key)
        if screen is not None:
            return screen
        pending = self.building.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self.building[key] = future
        try:
            for _attempt in range(2):
                generation = self.generation
                screen = make_screen(await build(), tags)
                if generation == self.generation:
                    self.put(key, screen)
                    break
            future.set_result(screen)
            return screen
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody else needs to
            raise
        finally:
            del self.building[key]

    def __len__(self) -> int:
        return len(self._entries)
