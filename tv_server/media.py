"""Media files from the data dir: images, renditions, title cards, videos and their transcoded
outputs (HLS playlists and segments, the progressive MP4). Videos are served
with HTTP Range support (aiohttp's FileResponse), all with long cache lifetimes: every file name
is content-addressed."""

from __future__ import annotations

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
    return web.FileResponse(path, headers=headers)
