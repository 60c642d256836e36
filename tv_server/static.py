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


def minify_js(text: str) -> str:
    """Comment lines, trailing comments and indentation out of our ES5 (a line-based pass: a
    comment is only taken out where no quote follows it and the quotes before it are closed)."""
    out, in_block = [], False
    for line in text.split("\n"):
        s = line.strip()
        if in_block:
            if "*/" not in s:
                continue
            in_block, s = False, s[s.index("*/") + 2 :].strip()
        if s.startswith("/*"):
            if "*/" not in s:
                in_block = True
                continue
            s = s[s.index("*/") + 2 :].strip()
        if s.startswith("//"):
            continue
        for tail in (_TAIL_LINE_COMMENT, _TAIL_BLOCK_COMMENT):
            m = tail.search(s)
            if m and s[: m.start()].count("'") % 2 == 0 and s[: m.start()].count('"') % 2 == 0:
                s = s[: m.start()].rstrip()
        if s:
            out.append(s)
    return "\n".join(out) + "\n"


_TAIL_LINE_COMMENT = re.compile(r"\s//\s[^'\"]*$")
_TAIL_BLOCK_COMMENT = re.compile(r"\s/\*[^'\"]*\*/$")

# The video screen's budget (<= 5 requests before `load`, <= 30 KB of HTML+CSS+JS): its two
# scripts as one, trimmed, and a stylesheet holding only the rules its markup and scripts can use.
PLAYER_SCRIPTS = ("tv.js", "player.js")
PLAYER_MARKUP = ("templates/tv/base.html", "templates/tv/video.html")


class StaticAssets:
    def __init__(self) -> None:
        self.by_name: dict[str, Asset] = {}
        self.by_hashed: dict[str, Asset] = {}
        for package, folder in FOLDERS:
            self._add_folder(resources.files(package).joinpath(folder))
        self._add_player_bundle()

    def _add_player_bundle(self) -> None:
        from tv_server.tvfont import WORD, used_rules  # tvfont imports this module

        ui = resources.files("tv_ui")
        scripts = [ui.joinpath("static", n).read_text("utf-8") for n in PLAYER_SCRIPTS]
        markup = [ui.joinpath(n).read_text("utf-8") for n in PLAYER_MARKUP]
        js = "".join(minify_js(s) for s in scripts).encode("utf-8")
        names = frozenset(WORD.findall(" ".join(scripts + markup)))
        css = used_rules(self.by_name["tv.css"].body.decode("utf-8"), names).encode("utf-8")
        self._add("tv-player.js", js)
        self._add("tv-player.css", css)

    def _add_folder(self, folder) -> None:
        for entry in folder.iterdir():
            if entry.name.startswith(".") or not entry.is_file():
                continue
            body = entry.read_bytes()
            if entry.name.endswith(".css"):  # the screen budget counts every byte
                body = minify_css(body.decode("utf-8")).encode("utf-8")
            self._add(entry.name, body)

    def _add(self, name: str, body: bytes) -> None:
        digest = hashlib.sha256(body).hexdigest()[:10]
        stem, dot, ext = name.rpartition(".")
        hashed = f"{stem}.{digest}.{ext}" if dot else f"{name}.{digest}"
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        asset = Asset(name, hashed, body, gzip.compress(body, 9, mtime=0), ctype)
        if name in self.by_name:
            raise ValueError(f"two static files named {name}")
        self.by_name[name] = asset
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
