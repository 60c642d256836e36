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
import glob
import hashlib
import html as _html
import io
import re
from collections import OrderedDict
from dataclasses import dataclass
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


# --- Whole Mongolian screens as images (boxes whose model has mongolian_text = 0) -------------
#
# Old WebKit/iPanel browsers neither shape Mongolian nor know `writing-mode`. They get the same
# screens in the horizontal (Chinese) layout, each Mongolian text block replaced by an <img> of
# that block set vertically: columns top to bottom, left to right (mlreq), wrapped at word breaks
# so no column is longer than the place it sits in allows, drawn at the box's screen profile
# (the canvas is zoomed 1.5x at 1080p and 3x at 2160p, the image is drawn that much sharper), and
# the Chinese text as `alt`. The markup around the text is untouched, so focus, paging and Back
# work exactly as on every other screen.

SCALES = {"720p": 1.0, "1080p": 1.5, "2160p": 3.0}
CJK_FONT_FILE = "NotoSansCJK-Regular.ttc"
CJK_INDEX = 2  # Noto Sans CJK SC in the collection
WHITE, INK = "#ffffff", "#0b1f3a"


@dataclass(frozen=True)
class BlockStyle:
    size: int  # font size, canvas px
    column: int  # longest column, canvas px (a longer block wraps into the next column)
    # A bar of fixed height (the header, the key-hint bar): a word longer than the column would
    # be cut off there, so the block is drawn smaller until its tallest column fits.
    fit: bool = False


# The text's place decides its size and how long a column may be (the horizontal design's boxes).
STYLES = {
    "brand": BlockStyle(22, 104, fit=True),
    "screen-title": BlockStyle(26, 104, fit=True),
    "hotline": BlockStyle(20, 104, fit=True),
    "hints": BlockStyle(18, 84, fit=True),
    "welcome": BlockStyle(20, 84),
    "label": BlockStyle(26, 116),
    "sub": BlockStyle(18, 90),
    "ann": BlockStyle(22, 150),
    "k": BlockStyle(22, 110),
    "btn": BlockStyle(24, 130),
    "home-row": BlockStyle(20, 110),
    "default": BlockStyle(24, 190),
    # The home screen (body.home): the greeting in a panel left of the tiles, each tile's label
    # and line in a few long columns (mongolian_image.css lays the screen out for these).
    "home-welcome": BlockStyle(18, 214),
    "home-label": BlockStyle(26, 200),
    "home-sub": BlockStyle(18, 200),
    "home-home-row": BlockStyle(20, 170),
    "home-k": BlockStyle(22, 170),
    "home-btn": BlockStyle(22, 170),
    # The video page (body.player): the info bar's buttons short enough to leave the video seen.
    "player-btn": BlockStyle(20, 72),
    # A program page (body.reader): its title and paragraphs in columns as long as the page is
    # tall (mongolian_image.css sets them side by side), not short ones under each other.
    "reader-default": BlockStyle(24, 420),
    # A service point's description: long columns, so it stands beside the facts.
    "point-about": BlockStyle(22, 400),
    # The phone step's keypad: 清空 and 删除 inside their 96-px keys (a word drawn smaller to fit).
    "key": BlockStyle(20, 88, fit=True),
}
# Screens (a class of <body>) whose blocks take the screen's own style, when it has one.
SCREEN_STYLES = ("home", "player", "reader")
# A class (or id) of the text's element or an ancestor, nearest first, picks the style.
STYLE_OF = {
    "brand": "brand",
    "screen-title": "screen-title",
    "hotline": "hotline",
    "hints": "hints",
    "welcome": "welcome",
    "label": "label",
    "sub": "sub",
    "ann": "ann",
    "k": "k",
    "btn": "btn",
    "home-row": "home-row",
    "point-about": "point-about",
    "key": "key",
}

# Runs of one kind: a Mongolian word (its suffixes hang on through U+202F), Chinese characters,
# digits, other letters, spaces.
_MONG_CHARS = "\u1800-\u18af\u202f\u200c\u200d"
_HAN_CHARS = "\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\uff00-\uffef"
RUNS = re.compile(
    f"(?P<mong>[{_MONG_CHARS}]+)|(?P<digits>[0-9]+)|(?P<space>\\s+)|(?P<han>[{_HAN_CHARS}])"
    f"|(?P<latin>[^\\s0-9{_MONG_CHARS}{_HAN_CHARS}]+)"
)


def digit_setting(digits: str) -> str:
    """How digits stand in vertical Mongolian (W3C mlreq, numbers in vertical text): one or two
    digits upright side by side in the column (tate-chu-yoko); a long number read digit by digit
    — a phone number, the 12348 hotline — upright one under the other; others (a year, 120)
    turned 90° clockwise like Latin text."""
    if len(digits) <= 2:
        return "tcy"
    if len(digits) >= 5:
        return "upright"
    return "sideways"


@functools.cache
def find_cjk_font() -> str | None:
    for folder in ("/usr/share/fonts", "/usr/local/share/fonts"):
        found = sorted(glob.glob(f"{folder}/**/{CJK_FONT_FILE}", recursive=True))
        if found:
            return found[0]
    return None


@functools.cache
def _cjk(size: int) -> ImageFont.FreeTypeFont | None:
    path = find_cjk_font()
    if path is None:
        return None
    return ImageFont.truetype(path, size, index=CJK_INDEX, layout_engine=ImageFont.Layout.RAQM)


def _slab(kind: str, text: str, mong: ImageFont.FreeTypeFont, px: int, line: int) -> Image.Image:
    """One unbreakable piece of a column, upright in the column: `line` wide."""
    cjk = _cjk(px) or mong
    stroke = max(1, px // 14)

    def horizontal(font, s: str) -> Image.Image:
        length = int(font.getlength(s)) + 2 * stroke + 2
        img = Image.new("RGBA", (max(1, length), line), (0, 0, 0, 0))
        ascent, descent = font.getmetrics()
        y = (line - (ascent + descent)) // 2
        ImageDraw.Draw(img).text(
            (stroke + 1, y), s, font=font, fill=WHITE, stroke_width=stroke, stroke_fill=INK
        )
        return img

    if kind == "han" or (kind == "digits" and digit_setting(text) == "tcy"):
        # Upright as drawn, in a cell one em tall (two digits squeezed to the column's width).
        cell = px + 2 * stroke
        left, top, right, bottom = cjk.getbbox(text, stroke_width=stroke)
        ink = Image.new("RGBA", (max(1, right - left), max(1, bottom - top)), (0, 0, 0, 0))
        ImageDraw.Draw(ink).text(
            (-left, -top), text, font=cjk, fill=WHITE, stroke_width=stroke, stroke_fill=INK
        )
        if ink.width > line:
            ink = ink.resize((line, max(1, ink.height * line // ink.width)))
        box = Image.new("RGBA", (line, max(cell, ink.height)), (0, 0, 0, 0))
        box.alpha_composite(ink, ((line - ink.width) // 2, (box.height - ink.height) // 2))
        return box
    if kind == "digits" and digit_setting(text) == "upright":
        cells = [_slab("han", d, mong, px, line) for d in text]
        step = int(px * 0.82)  # digits are narrower than an em: set a little closer
        box = Image.new("RGBA", (line, step * (len(cells) - 1) + cells[-1].height), (0, 0, 0, 0))
        for i, cell in enumerate(cells):
            box.alpha_composite(cell, (0, i * step))
        return box
    font = mong if kind == "mong" else cjk
    return horizontal(font, text).rotate(-90, expand=True)  # the line read top to bottom


def render_block(text: str, font_path: Path, style: BlockStyle, scale: float) -> Image.Image:
    """`text` set vertically in columns left to right, none longer than `style.column` (a
    word longer than that stands alone in its column, or, with `style.fit`, the whole block is
    drawn smaller until it fits)."""
    limit = round(style.column * scale)
    px = max(8, round(style.size * scale))
    img = _set_block(text, font_path, px, limit)
    while style.fit and img.height > limit and px > 8:
        px = max(8, min(px - 1, int(px * limit / img.height)))
        img = _set_block(text, font_path, px, limit)
    return img


def _set_block(text: str, font_path: Path, px: int, limit: int) -> Image.Image:
    line = round(px * 1.5)
    mong = _font(str(font_path), px)
    gap = px // 3
    columns: list[list[Image.Image | int]] = [[]]
    height = 0
    for match in RUNS.finditer(text):
        kind = match.lastgroup or "latin"
        if kind == "space":
            if columns[-1]:
                columns[-1].append(gap)
                height += gap
            continue
        piece = _slab(kind, match.group(), mong, px, line)
        if columns[-1] and height + piece.height > limit:
            while columns[-1] and isinstance(columns[-1][-1], int):
                columns[-1].pop()
            columns.append([])
            height = 0
        columns[-1].append(piece)
        height += piece.height
    while columns[-1] and isinstance(columns[-1][-1], int):
        columns[-1].pop()
    tallest = max(
        (sum(p if isinstance(p, int) else p.height for p in col) for col in columns), default=1
    )
    out = Image.new("RGBA", (line * len(columns), max(1, tallest)), (0, 0, 0, 0))
    for x, col in enumerate(columns):
        y = 0
        for piece in col:
            if isinstance(piece, int):
                y += piece
            else:
                out.alpha_composite(piece, (x * line, y))
                y += piece.height
    return out


def png_bytes(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.quantize(colors=16, method=Image.Quantize.FASTOCTREE).save(out, "PNG", optimize=True)
    return out.getvalue()


@dataclass
class Block:
    text: str
    style: str
    scale: float
    width: int  # canvas px
    height: int


TAG_OR_TEXT = re.compile(r"(<!--.*?-->|<[^>]*>)", re.S)
TAG_NAME = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9]+)")
ATTR = re.compile(r'(\s[\w:-]+=")([^"]*)(")')
CLASS_ID = re.compile(r'\s(?:class|id)="([^"]*)"')
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
HAS_MONGOLIAN = re.compile("[\u1800-\u18af]")
HAS_HAN = re.compile(f"[{_HAN_CHARS}]")
BETWEEN_HAN = re.compile(f"(?<=[{_HAN_CHARS}])\\s+(?=[{_HAN_CHARS}])")
MONG_RUN = re.compile(f"[{_MONG_CHARS}]+")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# Attributes holding a label a script shows in place of the element's text (the subtitle
# button's 字幕：开 / 字幕：关): on the image path each also gets `NAME-img`, its drawn image.
DRAWN_ATTRIBUTES = ("data-on", "data-off")
STYLE_LINK = re.compile(r'<link rel="stylesheet" href="/static/tv\.[0-9a-f]+\.css">')


class Chinese:
    """The Chinese of Mongolian text on a screen, for `alt`. First the screen's own sources
    (tv_ui.i18n.sources: each UI message's msgid, each content text's zh version); only what
    they leave Mongolian (a message with its placeholders filled, a region name) is read from
    the catalog backwards (with its placeholders) and the region names."""

    def __init__(self, pairs: dict[str, str], names: dict[str, str]) -> None:
        exact = dict(names)
        self.templates: list[tuple[re.Pattern, str]] = []
        for source, translation in pairs.items():
            if not translation or not HAS_MONGOLIAN.search(translation):
                continue
            if PLACEHOLDER.search(translation):
                parts = PLACEHOLDER.split(translation)
                pattern = "".join(
                    re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)
                )
                try:
                    self.templates.append((re.compile(pattern), source))
                except re.error:  # a name twice in one message: no backwards reading
                    continue
            else:
                exact.setdefault(translation, source)
        self.whole = exact
        self.exact = sorted(exact.items(), key=lambda kv: -len(kv[0]))

    def of(self, text: str, sources: dict[str, str] | None = None) -> str:
        sources = sources or {}
        # The text's own source first: a content text is never read backwards word by word.
        known = sources.get(" ".join(text.split()))
        if known is not None:
            return known
        # A whole message next: a placeholder pattern of a shorter message must not eat into it.
        whole = self.whole.get(text.strip())
        if whole is not None:
            return whole
        if sources and HAS_MONGOLIAN.search(text):
            # Texts of the screen inside a longer node ("◀ " and a message, a tag and a name).
            text = " ".join(text.split())
            for mn in sorted(sources, key=len, reverse=True):
                if mn in text:
                    text = text.replace(mn, sources[mn])
            if not HAS_MONGOLIAN.search(text):
                return BETWEEN_HAN.sub("", text)  # Chinese has no spaces between words
        for regex, source in self.templates:
            match = regex.fullmatch(text.strip())
            if match is not None:
                text = PLACEHOLDER.sub(lambda p, m=match: m[p[1]], source)
                break
        out = text
        for regex, source in self.templates:
            out = regex.sub(lambda m, s=source: PLACEHOLDER.sub(lambda p: m[p[1]], s), out)
        for mn, zh in self.exact:
            if mn in out:
                out = out.replace(mn, zh)
        return " ".join(MONG_RUN.sub(" ", out).split())


def text_nodes(html: str) -> list[str]:
    """The text of each text node of `html` holding more than spaces, in order."""
    return [
        " ".join(_html.unescape(t).split())
        for t in TAG_OR_TEXT.split(html)
        if t and not t.startswith("<") and t.strip()
    ]


def paired_texts(shown_html: str, source_html: str) -> list[tuple[str, str]]:
    """(shown, source) for the text nodes of a block in one language (a Mongolian page body)
    and the same block in its source language (the Chinese page). Node by node when both have
    as many; otherwise the first node stands for the whole source text and the others for none
    (alt=""), since no node of one can be matched to a node of the other."""
    shown, source = text_nodes(shown_html), text_nodes(source_html)
    if len(shown) == len(source):
        return list(zip(shown, source, strict=True))
    if not shown:
        return []
    whole = "".join(source) if HAS_HAN.search("".join(source)) else " ".join(source)
    return [(shown[0], whole)] + [(s, "") for s in shown[1:]]


def _style_for(stack: list[tuple[str, set[str]]]) -> str:
    style = "default"
    for _tag, names in reversed(stack):
        found = [STYLE_OF[name] for name in names if name in STYLE_OF]
        if found:
            style = found[0]
            break
    for tag, names in stack:
        if tag == "body":
            for screen in SCREEN_STYLES:
                if screen in names and f"{screen}-{style}" in STYLES:
                    return f"{screen}-{style}"
    return style


def image_css() -> str:
    from importlib import resources

    from tv_server.static import minify_css

    return minify_css(resources.files("tv_ui").joinpath("mongolian_image.css").read_text("utf-8"))


class ScreenImages:
    """Turns a rendered Mongolian screen into its image-path twin and serves the images."""

    def __init__(
        self, font_path: Path | None, base_css: bytes = b"", max_images: int = MAX_IMAGES
    ) -> None:
        self.font_path = font_path
        self.max_images = max_images
        self.blocks: OrderedDict[str, Block] = OrderedDict()  # small: rebuilt images on demand
        self.pngs: OrderedDict[str, bytes] = OrderedDict()
        # tv.css and the image path's rules in one stylesheet: no request more than tv.css alone.
        self.css = base_css + b"\n" + image_css().encode()
        self.css_name = "mi-" + hashlib.blake2b(self.css, digest_size=10).hexdigest()
        self._chinese: tuple[object, Chinese] | None = None

    def chinese(self, pairs: dict[str, str], names_of: object, names: dict[str, str]) -> Chinese:
        """The backwards catalog for a region tree (`names_of`), built again when it changes."""
        if self._chinese is None or self._chinese[0] is not names_of:
            self._chinese = (names_of, Chinese(pairs, names))
        return self._chinese[1]

    @property
    def available(self) -> bool:
        return self.font_path is not None and shaping_available()

    def key(self, text: str, style: str, scale: float) -> str:
        return hashlib.blake2b(f"{style}|{scale}|{text}".encode(), digest_size=10).hexdigest()

    def _draw(self, block: Block) -> tuple[Image.Image, bytes]:
        assert self.font_path is not None
        img = render_block(block.text, self.font_path, STYLES[block.style], block.scale)
        return img, png_bytes(img)

    def block(self, text: str, style: str, scale: float) -> tuple[str, Block]:
        key = self.key(text, style, scale)
        known = self.blocks.get(key)
        if known is None:
            block = Block(text, style, scale, 0, 0)
            img, body = self._draw(block)
            block.width = max(1, round(img.width / scale))
            block.height = max(1, round(img.height / scale))
            self.blocks[key] = known = block
            self._keep(key, body)
            while len(self.blocks) > self.max_images * 10:
                self.blocks.popitem(last=False)
        self.blocks.move_to_end(key)
        return key, known

    def _keep(self, key: str, body: bytes) -> None:
        self.pngs[key] = body
        self.pngs.move_to_end(key)
        while len(self.pngs) > self.max_images:
            self.pngs.popitem(last=False)

    def png(self, key: str) -> bytes | None:
        body = self.pngs.get(key)
        if body is None:
            block = self.blocks.get(key)
            if block is None:
                return None
            body = self._draw(block)[1]
            self._keep(key, body)
        return body

    def screen(
        self, html: str, profile: str, chinese: Chinese, sources: dict[str, str] | None = None
    ) -> str:
        """The screen with every Mongolian text block an image (alt: its Chinese, from `sources`
        first, see `Chinese.of`) and every Mongolian attribute value in Chinese; no Mongolian
        character is left in the page."""
        if not self.available:
            return html
        scale = SCALES.get(profile, 1.5)
        stack: list[tuple[str, set[str]]] = []
        out = []
        for token in TAG_OR_TEXT.split(html):
            if not token:
                continue
            if token.startswith("<"):
                match = TAG_NAME.match(token)
                if match and not token.startswith("<!"):
                    closing, name = match[1], match[2].lower()
                    if closing:
                        for i in range(len(stack) - 1, -1, -1):
                            if stack[i][0] == name:
                                del stack[i:]
                                break
                    elif name not in VOID and not token.endswith("/>"):
                        names: set[str] = set()
                        for value in CLASS_ID.findall(token):
                            names.update(value.split())
                        stack.append((name, names))
                if HAS_MONGOLIAN.search(token):
                    style = _style_for(stack)

                    def attribute(m: re.Match, style: str = style) -> str:
                        if not HAS_MONGOLIAN.search(m[2]):
                            return m[0]
                        text = _html.unescape(m[2])
                        out = m[1] + _html.escape(chinese.of(text, sources)) + m[3]
                        if m[1].strip().rstrip('="') in DRAWN_ATTRIBUTES:
                            # A label a script puts in the element: drawn too, so it can stay
                            # Mongolian (player.js shows "src width height", alt the Chinese).
                            key, block = self.block(text.strip(), style, scale)
                            out += (
                                f'{m[1][:-2]}-img="/tv/mi/{key}.png {block.width} {block.height}"'
                            )
                        return out

                    token = ATTR.sub(attribute, token)
                out.append(token)
                continue
            if not HAS_MONGOLIAN.search(token):
                out.append(token)
                continue
            inside = {tag for tag, _ in stack}
            text = _html.unescape(token)
            if inside & {"script", "style", "title", "textarea", "option"}:
                out.append(_html.escape(chinese.of(text, sources), quote=False))
                continue
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()) :]
            key, block = self.block(text.strip(), _style_for(stack), scale)
            alt = _html.escape(chinese.of(text.strip(), sources))
            out.append(
                f'{lead}<img class="mi" src="/tv/mi/{key}.png" width="{block.width}"'
                f' height="{block.height}" alt="{alt}">{trail}'
            )
        page = "".join(out)
        link = f'<link rel="stylesheet" href="/tv/mi/{self.css_name}.css">'
        return STYLE_LINK.sub(link, page, count=1)


SCREEN_IMAGES = web.AppKey("mongolian_screen_images", ScreenImages)
NAME = re.compile(r"^([0-9a-f]{20})\.png$")


async def serve(request: web.Request) -> web.Response:
    """`/tv/mi/KEY.png`: a Mongolian text block of an image-path screen; `/tv/mi/mi-HASH.css`:
    the image path's stylesheet. Both immutable."""
    images = request.app[SCREEN_IMAGES]
    name = request.match_info["name"]
    if name == images.css_name + ".css":
        body, kind = images.css, "text/css; charset=utf-8"
    else:
        match = NAME.match(name)
        body = images.png(match[1]) if match else None
        kind = "image/png"
    if body is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=body,
        headers={
            "Content-Type": kind,
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )
