"""Rendered TV screens kept in memory, ready to send: body, gzip body and ETag.

Entries carry tags (e.g. "program:12", "directory"); publishing invalidates exactly the tags it
touches. LRU-bounded.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Screen:
    body: bytes
    gzipped: bytes
    etag: str
    tags: frozenset[str]


def make_screen(html: str, tags: Iterable[str] = ()) -> Screen:
    body = html.encode("utf-8")
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    return Screen(body, gzip.compress(body, compresslevel=6, mtime=0), etag, frozenset(tags))


class ScreenCache:
    def __init__(self, max_entries: int = 5000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Screen] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Screen | None:
        screen = self._entries.get(key)
        if screen is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return screen

    def put(self, key: Hashable, screen: Screen) -> Screen:
        self._entries[key] = screen
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return screen

    def invalidate(self, *tags: str) -> int:
        doomed = [k for k, s in self._entries.items() if s.tags.intersection(tags)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
