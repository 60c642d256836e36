"""The Mongolian font of the TV, served per screen as a subset, and the vertical layout.

Boxes rarely carry a Mongolian font, so every Mongolian screen links, instead of tv.css, a
stylesheet `/tv/font/mv-HASH.css`: tv.css, then the vertical layout of tv_ui/mongolian.css, then
an @font-face declaring the font family `LtvMong` from a subset of Noto Sans
Mongolian (SIL OFL, Debian fonts-noto-core) holding exactly the Mongolian characters of that
screen (plus the joiners, variation selectors and the narrow no-break space that shaping needs),
with every OpenType layout feature kept (init/medi/fina/isol, rlig, vert…), as WOFF2 with a WOFF
fallback. HASH names the font file, the stylesheet and the set of characters, so the URLs are
content-hashed and cached forever; screens with the same characters and classes share one.

The stylesheet holds only the rules the screen can use (`used_rules`): a rule is kept when each
class and id of one of its selectors is named by the screen's class/id attributes or by the TV
scripts (which add classes such as `hidden`, `ann-urgent` later). That keeps a Mongolian screen
— tv.css plus the vertical layout — within the 30 KB budget; nothing the screen shows is dropped.

Chinese screens get the same pruning without the font (`ScreenStyles`): each links
`/tv/css/zs-HASH.css`, the rules of tv.css its class/id attributes and the TV scripts can use,
content-hashed and cached forever (screens of one template share it). That keeps the heaviest
Chinese screens (a service point's page with its QR code) within the 30 KB budget.

A subset is made on first request (fontTools' subsetter, in a worker thread) and kept in a
bounded LRU; the character sets themselves are remembered (small) so a subset evicted from the
LRU is rebuilt when asked for again.
"""

from __future__ import annotations

import asyncio
import glob
import gzip
import hashlib
import io
import logging
import re
from collections import OrderedDict
from importlib import resources
from pathlib import Path

from aiohttp import web

from storage.changes import BoundedCache
from tv_server.static import minify_css

log = logging.getLogger(__name__)

FONT_FILE = "NotoSansMongolian-Regular.ttf"
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
FAMILY = "LtvMong"
MONGOLIAN = re.compile("[\u1800-\u18af]")
# Needed by shaping whatever the text: free variation selectors, MVS, ZWNJ, ZWJ, NNBSP, space.
ALWAYS = (0x180B, 0x180C, 0x180D, 0x180E, 0x200C, 0x200D, 0x202F, 0x20)
MAX_SETS = 20_000
MAX_BUILT = 200
NAME_RE = re.compile(r"^(mv-[0-9a-f]{20})\.(css|woff2|woff)$")
SHEET_RE = re.compile(r"^(zs-[0-9a-f]{20})\.css$")
BASE_LINK = re.compile(r'<link rel="stylesheet" href="/static/tv\.[0-9a-f]+\.css">')
SELECTOR_NAMES = re.compile(r"[.#](-?[_a-zA-Z][\w-]*)")
ATTR_NAMES = re.compile(r'\s(?:class|id)="([^"]*)"')
WORD = re.compile(r"[A-Za-z_][\w-]*")
MAX_SHEETS = 500
TYPES = {"css": "text/css; charset=utf-8", "woff2": "font/woff2", "woff": "font/woff"}

FONT = web.AppKey("mongolian_font", "MongolianFont")
STYLES = web.AppKey("screen_styles", "ScreenStyles")


def vertical_css() -> bytes:
    return minify_css(
        resources.files("tv_ui").joinpath("mongolian.css").read_text("utf-8")
    ).encode()


def _blocks(css: str):
    """(prelude, body) of each top-level block of a stylesheet without comments."""
    i = 0
    while True:
        start = css.find("{", i)
        if start < 0:
            return
        depth, end = 0, start
        while end < len(css):
            depth += {"{": 1, "}": -1}.get(css[end], 0)
            if depth == 0:
                break
            end += 1
        yield css[i:start].strip(), css[start + 1 : end]
        i = end + 1


def used_rules(css: str, names: set[str] | frozenset[str]) -> str:
    """The rules of `css` whose selectors can match: every class and id of a selector is in
    `names`, or starts with one of its entries ending in "-" (a class a script builds, `ann-`).
    @media and @supports blocks are pruned inside; other at-rules are kept whole."""
    prefixes = tuple(n for n in names if n.endswith("-"))

    def known(name: str) -> bool:
        return name in names or name.startswith(prefixes)

    out = []
    for prelude, body in _blocks(css):
        if prelude.startswith(("@media", "@supports")):
            inner = used_rules(body, names)
            if inner:
                out.append(f"{prelude}{{{inner}}}")
        elif prelude.startswith("@"):
            out.append(f"{prelude}{{{body}}}")
        else:
            kept = [
                sel
                for sel in prelude.split(",")
                if all(known(n) for n in SELECTOR_NAMES.findall(sel))
            ]
            if kept:
                out.append(f"{','.join(kept)}{{{body}}}")
    return "".join(out)


def screen_names(html: str, script_names: set[str]) -> frozenset[str]:
    """The class and id names a screen can carry: its attributes' and the TV scripts' words."""
    names = set(script_names)
    for value in ATTR_NAMES.findall(html):
        names.update(value.split())
    return frozenset(names)


class RuleNames:
    """What decides `used_rules(css, names)` for a screen: the names of its class/id attributes
    that a selector of `css` names, and those ending in "-" (prefixes) — the TV scripts' names
    are the same for every screen. Screens with the same key get the same rules, so the pruned
    sheet is remembered by it: a per-box screen's own ids (`req-20260412…` on 我的申请) would
    otherwise make every screen a new key and prune tv.css again each time."""

    def __init__(self, css: str, script_names: set[str]) -> None:
        self.selector_names = frozenset(SELECTOR_NAMES.findall(css))
        self.script_names = frozenset(script_names)

    def key(self, html: str) -> frozenset[str]:
        names: set[str] = set()
        for value in ATTR_NAMES.findall(html):
            names.update(value.split())
        return self.key_of(names)

    def key_of(self, names: set[str] | frozenset[str]) -> frozenset[str]:
        """The key of a screen whose class/id names are known (`screen_names`, or a screen
        assembled from parts that unions its parts' names)."""
        prefixes = {n for n in names if n.endswith("-")}
        return frozenset(names.intersection(self.selector_names).union(prefixes))

    def names(self, key: frozenset[str]) -> frozenset[str]:
        """The names `used_rules` is given for a key (the same rules as the screen's own)."""
        return key | self.script_names


class ScreenStyles:
    """Per-screen pruned tv.css for the Chinese screens (see the module's docstring)."""

    def __init__(self, base_css: bytes, scripts: str) -> None:
        self.base = base_css.decode("utf-8")
        self.script_names = set(WORD.findall(scripts))
        self.rule_names = RuleNames(self.base, self.script_names)
        self.memo = BoundedCache("tv_sheet_names", MAX_SHEETS)  # relevant names → sheet name
        # Sheet name → body. Few distinct bodies (one per template and variant); a name once
        # linked from a cached screen must stay servable, so these are kept (bounded).
        self.sheets: OrderedDict[str, bytes] = OrderedDict()
        self.zipped: OrderedDict[str, bytes] = OrderedDict()

    def register(self, html: str) -> str:
        return self._register_key(self.rule_names.key(html))

    def register_names(self, found: frozenset[str]) -> str:
        """The sheet for a screen whose class/id names are `found` (`screen_names`): a screen
        assembled from parts unions its parts' names instead of scanning the whole page."""
        return self._register_key(self.rule_names.key_of(found))

    def register_key(self, key: frozenset[str]) -> str:
        """`register_names` for names already reduced by `rule_names.key_of` (which gives the
        same for the union of two screens' keys as for the union of their names: a page joined
        from a shell reduced once and small parts reduces only the parts)."""
        return self._register_key(key)

    def _register_key(self, found: frozenset[str]) -> str:
        name = self.memo.get(found)
        if name is None:
            sheet = used_rules(self.base, self.rule_names.names(found)).encode()
            name = "zs-" + hashlib.blake2b(sheet, digest_size=10).hexdigest()
            self.sheets[name] = sheet
            self.memo.put(found, name)
            while len(self.sheets) > MAX_SETS:
                self.sheets.popitem(last=False)
        self.sheets.move_to_end(name)
        return name

    def gzipped(self, name: str) -> bytes:
        body = self.zipped.get(name)
        if body is None:
            body = gzip.compress(self.sheets[name], 9, mtime=0)
            self.zipped[name] = body
            while len(self.zipped) > MAX_SHEETS:
                self.zipped.popitem(last=False)
        return body

    def attach(self, html: str) -> str:
        if BASE_LINK.search(html) is None:
            return html
        link = f'<link rel="stylesheet" href="/tv/css/{self.register(html)}.css">'
        return BASE_LINK.sub(link, html, count=1)


async def serve_sheet(request: web.Request) -> web.Response:
    """`/tv/css/zs-HASH.css`, immutable."""
    match = SHEET_RE.match(request.match_info["name"])
    styles: ScreenStyles = request.app[STYLES]
    if match is None:
        raise web.HTTPNotFound()
    body = styles.sheets.get(match.group(1))
    if body is None:
        # A screen rendered before a restart (or by another process) names a sheet this
        # process has not made: the whole stylesheet styles it right, and is not kept.
        return web.Response(
            body=styles.base.encode(),
            headers={"Content-Type": TYPES["css"], "Cache-Control": "no-store"},
        )
    headers = {
        "Content-Type": TYPES["css"],
        "Cache-Control": "public, max-age=31536000, immutable",
        "Vary": "Accept-Encoding",
    }
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        body = styles.gzipped(match.group(1))
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=headers)


NUMBER = re.compile(r"[0-9]+(?: [0-9]+)*")
TAG_OR_TEXT = re.compile(r"(<!--.*?-->|<[^>]*>)", re.S)
RAW = re.compile(r"<(script|style|title|textarea)\b", re.I)


def vertical_digits(html: str) -> str:
    """Numbers in the vertical text as mlreq describes (tv_server.mongol_image.digit_setting):
    one or two digits upright side by side (`tcy`, text-combine-upright), a long number read
    digit by digit — a phone number, the 12348 hotline — upright one under the other (`upr`),
    others left turned 90° clockwise like Latin (the default of vertical-lr)."""
    from tv_server.mongol_image import digit_setting

    def wrap(match: re.Match) -> str:
        kind = digit_setting(match[0].replace(" ", ""))
        if kind == "sideways":
            return match[0]
        return f'<span class="{"tcy" if kind == "tcy" else "upr"}">{match[0]}</span>'

    out, raw = [], False
    for token in TAG_OR_TEXT.split(html):
        if token.startswith("<"):
            if RAW.match(token):
                raw = True
            elif raw and token.startswith("</"):
                raw = False
            out.append(token)
        elif raw or not token.strip():
            out.append(token)
        else:
            out.append(NUMBER.sub(wrap, token))
    return "".join(out)


def find_font() -> Path | None:
    for folder in FONT_DIRS:
        found = sorted(glob.glob(f"{folder}/**/{FONT_FILE}", recursive=True))
        if found:
            return Path(found[0])
    return None


def subset_font(font_bytes: bytes, codepoints: frozenset[int], flavor: str) -> bytes:
    from fontTools import subset

    options = subset.Options()
    options.layout_features = ["*"]  # Mongolian joins through init/medi/fina/isol and rlig
    options.flavor = flavor
    options.name_IDs = []
    options.notdef_outline = True
    font = subset.load_font(io.BytesIO(font_bytes), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints | set(ALWAYS)))
    subsetter.subset(font)
    out = io.BytesIO()
    subset.save_font(font, out, options)
    return out.getvalue()


class MongolianFont:
    def __init__(self, path: Path | None, base_css: bytes = b"", scripts: str = "") -> None:
        self.path = path
        self._bytes: bytes | None = None
        self._digest = b""
        if path is not None:
            self._bytes = path.read_bytes()
            self._digest = hashlib.sha256(self._bytes).digest()
        else:
            log.warning("%s not found: Mongolian screens use the box's own fonts", FONT_FILE)
        # One request for all the screen's CSS: the ≤ 5 requests before first paint still hold.
        self.layout = (base_css + b"\n" + vertical_css()).decode("utf-8")
        self.script_names = set(WORD.findall(scripts))
        self.rule_names = RuleNames(self.layout, self.script_names)
        # The stylesheet per set of class/id names: few distinct ones (templates), many screens.
        self.sheets = BoundedCache("tv_mongolian_sheets", MAX_SHEETS)
        self.sets: OrderedDict[str, tuple[frozenset[int], bytes]] = OrderedDict()
        self.built: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        # (characters, rule key) → set name, so a screen seen before costs no hashing.
        self._names = BoundedCache("tv_mongolian_set_names", MAX_SETS)
        self._lock = asyncio.Lock()

    @property
    def available(self) -> bool:
        return self._bytes is not None

    def register(self, text: str) -> str | None:
        """The stylesheet and subset name for the Mongolian characters of `text` (None when it
        has none or the font is missing)."""
        if self._bytes is None:
            return None
        codepoints = frozenset(ord(c) for c in set(MONGOLIAN.findall(text)))
        return self.register_found(codepoints, screen_names(text, self.script_names))

    def register_found(
        self, codepoints: frozenset[int], found: frozenset[str], *, keyed: bool = False
    ) -> str | None:
        """`register` for a screen whose Mongolian characters and class/id names are known (a
        screen assembled from parts unions its parts' instead of scanning the whole page);
        `keyed`: the names are already reduced by `rule_names.key_of` (see `register_key`)."""
        if self._bytes is None or not codepoints:
            return None
        if not keyed:
            found = self.rule_names.key_of(found)
        known = self._names.get((codepoints, found))
        if known is not None and known in self.sets:
            self.sets.move_to_end(known)
            return known
        sheet = self.sheets.get(found)
        if sheet is None:
            names = self.rule_names.names(found)
            sheet = self.sheets.put(found, used_rules(self.layout, names).encode())
        key = self._digest + sheet + ",".join(map(str, sorted(codepoints))).encode()
        name = "mv-" + hashlib.blake2b(key, digest_size=10).hexdigest()
        self.sets[name] = (codepoints, sheet)
        self.sets.move_to_end(name)
        while len(self.sets) > MAX_SETS:
            self.sets.popitem(last=False)
        self._names.put((codepoints, found), name)
        return name

    def attach(self, html: str) -> str:
        """A Mongolian screen with its stylesheet (the rules of tv.css and of the vertical layout
        it uses, the font) in place of tv.css, its numbers set for vertical text."""
        html = vertical_digits(html)
        name = self.register(html)
        if name is None:
            return html
        link = f'<link rel="stylesheet" href="/tv/font/{name}.css">'
        return BASE_LINK.sub(link, html, count=1)

    def css(self, name: str) -> bytes:
        face = (
            f'\n@font-face{{font-family:"{FAMILY}";'
            f'src:url({name}.woff2) format("woff2"),url({name}.woff) format("woff")}}\n'
        ).encode()
        return self.sets[name][1] + face

    async def font(self, name: str, flavor: str) -> bytes | None:
        entry = self.sets.get(name)
        if entry is None or self._bytes is None:
            return None
        codepoints = entry[0]
        key = (name, flavor)
        body = self.built.get(key)
        if body is None:
            async with self._lock:  # one subsetting at a time (CPU)
                body = self.built.get(key)
                if body is None:
                    loop = asyncio.get_running_loop()
                    body = await loop.run_in_executor(
                        None, subset_font, self._bytes, codepoints, flavor
                    )
                    self.built[key] = body
                    while len(self.built) > MAX_BUILT:
                        self.built.popitem(last=False)
        self.built.move_to_end(key)
        return body


async def serve(request: web.Request) -> web.Response:
    """`/tv/font/mn-HASH.(css|woff2|woff)`, immutable."""
    match = NAME_RE.match(request.match_info["name"])
    if match is None:
        raise web.HTTPNotFound()
    name, ext = match.groups()
    fonts: MongolianFont = request.app[FONT]
    if name not in fonts.sets:
        raise web.HTTPNotFound()
    body = fonts.css(name) if ext == "css" else await fonts.font(name, ext)
    if body is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=body,
        headers={
            "Content-Type": TYPES[ext],
            "Cache-Control": "public, max-age=31536000, immutable",
            "Access-Control-Allow-Origin": "*",
        },
    )
