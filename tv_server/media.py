"""Media files from the data dir: images, renditions, title cards, videos and their transcoded
outputs (HLS playlists and segments, the progressive MP4). Videos are served
with HTTP Range support (aiohttp's FileResponse), all with long cache lifetimes: every file name
is content-addressed."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from aiohttp import web

from tv_server import keys

SERVED_FOLDERS = ("media", "renditions", "titlecards", "video")
# A transcoded video's HLS playlists and segments (DATA_DIR/video/, content/programs/video.py).
HLS_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}


async def serve_media(request: web.Request) -> web.StreamResponse:
    rel = request.match_info["path"]
    parts = Path(rel).parts
    if not parts or parts[0] not in SERVED_FOLDERS or ".." in parts or rel.startswith("/"):
        raise web.HTTPNotFound()
    # No ".." and only the served folders: the path stays inside them. Symlinks are not
    # resolved on purpose, so operators may keep media folders on another disk.
    path = request.app[keys.SETTINGS].data_path / Path(*parts)
    if not path.is_file():
        raise web.HTTPNotFound()
    headers = {"Cache-Control": "public, max-age=31536000, immutable"}
    if path.suffix in HLS_TYPES:
        headers["Content-Type"] = HLS_TYPES[path.suffix]
    return MediaFile(path, headers=headers)


class MediaFile(web.FileResponse):
    """aiohttp's FileResponse that closes the file it opened even when the request is cancelled
    while the file is being opened.

    aiohttp opens the file in a worker thread (`_make_response`) and closes it once the answer is
    sent (the `finally` around `_prepare_open_file`). A request cancelled while that thread runs
    (the server shutting down with a box's video range in flight) leaves the thread's open file
    to the garbage collector: a file descriptor held for as long as the finished future is, and a
    ResourceWarning. Here the thread and the cancelled request agree, under a lock, on who closes
    it. tests/test_media.py holds aiohttp's own class to the leak, so an aiohttp that fixes it
    says this class can go; tests/test_aiohttp_hooks.py pins the two private methods it
    overrides."""

    def __init__(self, path: Path, **kwargs) -> None:
        super().__init__(path, **kwargs)
        self._lock = threading.Lock()
        self._opened = None  # the file the thread opened, until aiohttp takes it over
        self._abandoned = False  # the request was cancelled: the thread closes what it opens

    def _make_response(self, request, accept_encoding):  # in a worker thread
        result = super()._make_response(request, accept_encoding)
        opened = result[1]
        with self._lock:
            if self._abandoned and opened is not None:
                opened.close()
            else:
                self._opened = opened
        return result

    async def _prepare_open_file(self, request, fobj, st, file_encoding):
        # Back on the loop with no await since the thread returned: from here aiohttp's
        # `finally` closes the file.
        self._opened = None
        return await super()._prepare_open_file(request, fobj, st, file_encoding)

    async def prepare(self, request):
        try:
            return await super().prepare(request)
        except asyncio.CancelledError:
            with self._lock:
                self._abandoned = True
                opened, self._opened = self._opened, None
            if opened is not None:
                opened.close()
            raise
