"""Mongolian text pre-rendered as an image, for boxes whose browser cannot shape Mongolian or lay
it out vertically (and for the single Mongolian word on Chinese screens, the language tile).

The text is shaped by Pillow with libraqm (HarfBuzz) in the same font the screens serve (Noto Sans
Mongolian) on one horizontal line, as the font draws it, then turned 90° clockwise: traditional
Mongolian is that line read top to bottom (W3C mlreq). Images are kept by a hash of (text, style,
size) in a bounded LRU.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
from collections import OrderedDict
from pathlib import Path

from aiohttp import web
from PIL import Image, ImageDraw, ImageFont, features

MAX_IMAGES = 2000
IMAGES = web.AppKey("mongolian_images", "MongolianImages")


def shaping_available() -> bool:
    return bool(features.check("raqm"))


@functools.cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.RAQM)


def render_vertical(
    text: str, font_path: Path, size: int, colour: str = "#0b1f3a", background: str = "#ffffff"
) -> bytes:
    """A PNG of `text` written vertically (one column, top to bottom)."""
    font = _font(str(font_path), size)
    left, top, right, bottom = font.getbbox(text, direction="ltr")
    pad = max(2, size // 6)
    line = Image.new("RGB", (right - left + 2 * pad, bottom - top + 2 * pad), background)
    ImageDraw.Draw(line).text((pad - left, pad - top), text, font=font, fill=colour)
    column = line.rotate(-90, expand=True)
    out = io.BytesIO()
    column.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(out, "PNG", optimize=True)
    return out.getvalue()


class MongolianImages:
    def __init__(self, font_path: Path | None) -> None:
        self.font_path = font_path
        self._images: OrderedDict[str, bytes] = OrderedDict()

    def key(self, text: str, style: str, size: int) -> str:
        return hashlib.blake2b(f"{style}|{size}|{text}".encode(), digest_size=10).hexdigest()

    def png(self, text: str, size: int = 30, style: str = "dark-on-white") -> bytes | None:
        if self.font_path is None or not shaping_available():
            return None
        key = self.key(text, style, size)
        body = self._images.get(key)
        if body is None:
            colour, background = ("#0b1f3a", "#ffffff")
            body = render_vertical(text, self.font_path, size, colour, background)
            self._images[key] = body
            while len(self._images) > MAX_IMAGES:
                self._images.popitem(last=False)
        self._images.move_to_end(key)
        return body

    def data_uri(self, text: str, size: int = 30) -> str | None:
        body = self.png(text, size)
        return "data:image/png;base64," + base64.b64encode(body).decode() if body else None
