"""The TV's static assets under content-hashed URLs (`/static/tv.3f2a9c1b.js`), cached forever."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from tv_server import keys


@dataclass(frozen=True)
class Asset:
    name: str
    hashed: str
    body: bytes
    gzipped: bytes
    content_type: str


FOLDERS = (("tv_ui", "static"), ("tv_server.admin", "static"))


def minify_css(text: str) -> str:
    """Comments and needless white space out (our stylesheets hold no strings that need them)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"\s*([{};,>])\s*", r"\1", text).replace(";}", "}").strip()


class StaticAssets:
    def __init__(self) -> None:
        self.by_name: dict[str, Asset] = {}
        self.by_hashed: dict[str, Asset] = {}
        for package, folder in FOLDERS:
            self._add_folder(resources.files(package).joinpath(folder))

    def _add_folder(self, folder) -> None:
        for entry in folder.iterdir():
            if entry.name.startswith(".") or not entry.is_file():
                continue
            body = entry.read_bytes()
            if entry.name.endswith(".css"):  # the screen budget counts every byte
                body = minify_css(body.decode("utf-8")).encode("utf-8")
            digest = hashlib.sha256(body).hexdigest()[:10]
            stem, dot, ext = entry.name.rpartition(".")
            hashed = f"{stem}.{digest}.{ext}" if dot else f"{entry.name}.{digest}"
            ctype = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            if ctype.startswith("text/") or ctype.endswith("javascript"):
                ctype += "; charset=utf-8"
            asset = Asset(entry.name, hashed, body, gzip.compress(body, 9, mtime=0), ctype)
            if entry.name in self.by_name:
                raise ValueError(f"two static files named {entry.name}")
            self.by_name[entry.name] = asset
            self.by_hashed[hashed] = asset

    def url(self, name: str) -> str:
        return "/static/" + self.by_name[name].hashed


async def serve_static(request: web.Request) -> web.Response:
    asset = request.app[keys.STATIC].by_hashed.get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound()
    gz = "gzip" in request.headers.get("Accept-Encoding", "")
    response = web.Response(
        body=asset.gzipped if gz else asset.body,
        headers={
            "Content-Type": asset.content_type,
            "Cache-Control": "public, max-age=31536000, immutable",
            "Vary": "Accept-Encoding",
        },
    )
    if gz:
        response.headers["Content-Encoding"] = "gzip"
    return response
