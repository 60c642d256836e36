"""The home screen from shared parts: one rendering of the template shared by every box of the
same key-map family, screen profile, language, village and announcement set (the *shell*), and
the few per-box parts spliced into it — the greeting with the household's name, 我的申请's count,
继续观看 and the village adviser's card — without rendering the template again.

The shell is rendered with a marker in place of each per-box part and kept split at the markers;
a request joins the pieces with its own parts (`tv/_home_parts.html` macros and
`tv/_adviser_card.html`). Shells are dropped by "announcement" changes (tv_server.caches); the
adviser card of a village is kept ADVISER_CARD_SECONDS (its next sitting moves with the clock) and
dropped by "adviser" and "media" changes.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup, escape

from callbacks import requests as callback_requests
from storage.changes import BoundedCache
from tv_server import keys, tvfont
from tv_server.screencache import (
    DEFLATE_END,
    GZIP_HEADER,
    Screen,
    deflate_piece,
    gzip_trailer,
    make_screen,
    screen_of,
    stored_piece,
)
from tv_server.tv import rating
from tv_server.tv.common import (
    TvBox,
    ann_key,
    base_context,
    screen_url,
    with_mongolian,
)
from tv_ui.i18n import N_, gettext

PARTS = ("greeting", "mine_sub", "resume_html", "adviser_html", "css")
MARKS = {name: Markup("\x00%s\x00") % name for name in PARTS}
ADVISER_CARD_SECONDS = 60.0
NO_NAMES: set[str] = set()  # a page's parts: the script names are in the shell's already
PREFETCH_SECONDS = 2.0
OWN_PARTS = frozenset({"greeting", "resume_html"})  # parts hardly any two boxes share
PACKED_PARTS = web.AppKey("tv_home_packed_parts", BoundedCache)
SHELL_SETS = web.AppKey("tv_home_shell_sets", BoundedCache)
PREFETCHED = web.AppKey("tv_home_prefetched", BoundedCache)
SHELLS = web.AppKey("tv_home_shells", BoundedCache)
ADVISER_CARDS = web.AppKey("tv_adviser_cards", BoundedCache)
TEMPLATES = web.AppKey("tv_home_templates", dict)


def setup(app: web.Application) -> None:
    app[SHELLS] = BoundedCache("tv_home_shells", 2000)
    app[ADVISER_CARDS] = BoundedCache("tv_adviser_cards", 20_000)
    app[TEMPLATES] = {}
    # Launches of PREFETCH_SECONDS at the evening's peak rate, and then some (oldest out first).
    app[PREFETCHED] = BoundedCache("tv_home_prefetched", 2_000)
    app[PACKED_PARTS] = BoundedCache("tv_home_packed_parts", 2_000)
    app[SHELL_SETS] = BoundedCache("tv_home_shell_sets", 256)


@dataclass(frozen=True, slots=True)
class Shell:
    """A home screen's shared body, split at the per-box parts (text, part name, text, …), its
    texts already set for the screen's language — the stylesheet link is a part too ("css") — and
    what the link is chosen from: the texts' class/id names and Mongolian characters."""

    pieces: tuple[str, ...]  # the texts ("" in modes zh and mn: see `encoded`), the part names
    mode: str  # "zh": pruned tv.css; "mn": vertical layout and font subset; "": see `page`
    names: frozenset[str] = frozenset()  # reduced by the mode's RuleNames.key_of
    codepoints: frozenset[int] = frozenset()
    base_link: str = ""  # the whole tv.css (kept when a screen has no Mongolian character)
    # The texts as UTF-8 and compressed (screencache.deflate_piece; None at the parts' places):
    # a request compresses only its own parts.
    encoded: tuple[bytes | None, ...] = ()
    deflated: tuple[bytes | None, ...] = ()
    # The texts and part names hashed once: a page's ETag hashes this and its parts only (the
    # whole body, tens of KB at 4K, cost more to hash than all the parts to build).
    digest: bytes = b""


def shell(request: web.Request, box: TvBox, shared) -> Shell:
    """The shared body of this box's home screen (`shared()` gives what the shell shows of the
    village: name, language tile), rendered once per family, profile, language, village and
    announcement set."""
    key = (box.family, box.profile, box.rendering, box.chain[:1], ann_key(request, box))
    shells = request.app[SHELLS]
    found = shells.get(key)
    if found is None:
        context = base_context(request, box, refresh=True, **shared(), **MARKS)
        html = aiohttp_jinja2.render_string("tv/home.html", request, context)
        found = shells.put(key, _split(request, box, html))
    return found


def _split(request: web.Request, box: TvBox, html: str) -> Shell:
    app = request.app
    link = tvfont.BASE_LINK.search(html)
    styles, fonts = app.get(tvfont.STYLES), app.get(tvfont.FONT)
    mode, script_names, rules = "", set(), None
    if link is not None and box.lang != "mn" and styles is not None:
        mode, script_names, rules = "zh", styles.script_names, styles.rule_names
    elif link is not None and box.rendering == "mn" and fonts is not None and fonts.available:
        mode, script_names, rules = "mn", fonts.script_names, fonts.rule_names
        html = tvfont.vertical_digits(html)  # the markers hold no digit
        link = tvfont.BASE_LINK.search(html)
    if link is None or mode == "":  # no link to choose, or Mongolian as images: see `page`
        return Shell(tuple(html.split("\x00")), "")
    html = html[: link.start()] + "\x00css\x00" + html[link.end() :]
    pieces = html.split("\x00")
    encoded = tuple(None if i % 2 else p.encode() for i, p in enumerate(pieces))
    # Kept small (a shell per village and announcement set, thousands at the evening peak): the
    # texts only as bytes, and the name and character sets, alike in most shells, shared.
    sets = app[SHELL_SETS]
    # Reduced once to what decides the stylesheet (RuleNames.key_of): a page reduces its parts'.
    names = rules.key_of(tvfont.screen_names(html, script_names))
    chars = frozenset(ord(c) for c in set(tvfont.MONGOLIAN.findall(html)))
    return Shell(
        tuple(p if i % 2 else "" for i, p in enumerate(pieces)),
        mode,
        sets.get(names) or sets.put(names, names),
        sets.get(chars) or sets.put(chars, chars),
        link.group(0),
        encoded,
        tuple(None if b is None else deflate_piece(b) for b in encoded),
        _digest(p.encode() if i % 2 else encoded[i] for i, p in enumerate(pieces)),
    )


def _digest(pieces) -> bytes:
    """A digest of byte strings in order (each length-prefixed: no two lists hash alike)."""
    h = hashlib.blake2b(digest_size=16)
    for piece in pieces:
        h.update(len(piece).to_bytes(4, "big"))
        h.update(piece)
    return h.digest()


@dataclass(frozen=True, slots=True)
class Part:
    """One per-box part as the page carries it: its bytes (Mongolian: numbers set vertical), its
    class/id names reduced to the stylesheet's key, its Mongolian characters, and its gzip piece
    — a stored block for the household's own parts, compressed once for the shared ones (a
    village's adviser card, a count, a stylesheet link: kept in PACKED_PARTS, so a page scans and
    compresses only the greeting and the resume)."""

    data: bytes
    key: frozenset[str] = frozenset()
    chars: frozenset[int] = frozenset()
    gzipped: bytes = b""


def _part(request: web.Request, found: Shell, name: str, text: str) -> Part:
    shared = name not in OWN_PARTS
    packed = request.app[PACKED_PARTS]
    if shared:
        known = packed.get((found.mode, text))
        if known is not None:
            return known
    shown = tvfont.vertical_digits(text) if found.mode == "mn" else text
    rules = request.app[tvfont.STYLES if found.mode == "zh" else tvfont.FONT].rule_names
    data = shown.encode()
    part = Part(
        data,
        rules.key_of(tvfont.screen_names(shown, NO_NAMES)),
        frozenset(ord(c) for c in set(tvfont.MONGOLIAN.findall(shown)))
        if found.mode == "mn"
        else frozenset(),
        deflate_piece(data) if shared else stored_piece(data),
    )
    return packed.put((found.mode, text), part) if shared else part


def page(request: web.Request, box: TvBox, found: Shell, parts: dict[str, str]) -> Screen:
    """The box's home: the shell with its parts, and the stylesheet link for the whole — chosen
    from the shell's names and characters and the parts', as `with_mongolian` would choose it
    scanning the whole page — with its gzip body joined from the shell's compressed texts and
    the parts' pieces (`Part`; tests/test_home_facts.py checks both)."""
    app = request.app
    if found.mode == "":  # Mongolian as images (or no stylesheet to choose): the whole page
        html = "".join(parts[p] if i % 2 else p for i, p in enumerate(found.pieces))
        return make_screen(with_mongolian(request, html, box))
    own = {name: _part(request, found, name, text) for name, text in parts.items()}
    key = found.names.union(*(p.key for p in own.values()))
    if found.mode == "zh":
        link = f'<link rel="stylesheet" href="/tv/css/{app[tvfont.STYLES].register_key(key)}.css">'
    else:
        chars = found.codepoints.union(*(p.chars for p in own.values()))
        name = app[tvfont.FONT].register_found(chars, key, keyed=True)
        link = (
            found.base_link
            if name is None
            else f'<link rel="stylesheet" href="/tv/font/{name}.css">'
        )
    own["css"] = _part(request, found, "css", link)
    body, gzipped, own_parts = [], [GZIP_HEADER], [found.digest]
    for i, piece in enumerate(found.pieces):
        if i % 2:
            part = own[piece]
            body.append(part.data)
            own_parts.append(part.data)
            gzipped.append(part.gzipped)
        else:
            body.append(found.encoded[i])
            gzipped.append(found.deflated[i])
    whole = b"".join(body)
    gzipped += (DEFLATE_END, gzip_trailer(whole))
    # The ETag: the shell's digest and the parts (the shell's texts decide the rest of the body).
    return screen_of(whole, b"".join(gzipped), digest=_digest(own_parts)[:12].hex())


def _template(request: web.Request, name: str):
    """A part's template, looked up once (jinja2 checks the file's mtime on every look-up)."""
    templates = request.app[TEMPLATES]
    found = templates.get(name)
    if found is None:
        found = templates[name] = aiohttp_jinja2.get_env(request.app).get_template(name)
    return found


def _macros(request: web.Request):
    return _template(request, "tv/_home_parts.html").module


GREETING, GREETING_NO_NAME = N_("%(name)s，您好！"), N_("您好！")
MINE_OPEN, MINE_NONE = N_("%(n)s 个正在办理"), N_("查看办理进度")


def parts(request: web.Request, box: TvBox, *, open_requests: int, resume, adviser_html: str):
    # The greeting and 我的申请's line are one translated string each, formatted here as the
    # template's `_()` would (the catalog's text as is, the household's name escaped): a template
    # macro cost more than everything else of the parts.
    household = box.view.box.household_label
    return {
        "greeting": gettext(GREETING) % {"name": escape(household)}
        if household
        else gettext(GREETING_NO_NAME),
        "mine_sub": gettext(MINE_OPEN) % {"n": open_requests}
        if open_requests
        else gettext(MINE_NONE),
        "resume_html": str(_macros(request).resume_link(resume)) if resume else "",
        "adviser_html": adviser_html,
    }


async def adviser_card(request: web.Request, box: TvBox, build) -> str:
    """The village adviser's card as HTML ('' without an adviser), kept for a minute per village,
    profile and language; `build()` gives the card's facts (tv_server.tv.adviser.card)."""
    key = (box.chain[:1], box.profile, box.webp, box.lang)
    cards = request.app[ADVISER_CARDS]
    now = time.monotonic()
    found = cards.get(key)
    if found is not None and found[0] > now:
        return found[1]
    card = await build()
    html = ""
    if card is not None:
        u = lambda name, **parts: screen_url(request, name, **parts)  # noqa: E731
        html = _template(request, "tv/_adviser_card.html").render(adviser=card, u=u)
    cards.put(key, (now + ADVISER_CARD_SECONDS, html))
    return html


@dataclass(frozen=True, slots=True)
class Facts:
    """What the home shows of the box's own affairs, as read for this request."""

    rate: str | None  # a completed request waits for its rating: that screen instead of home
    open_requests: int  # open callback requests (the count on the requests tile)
    last: tuple[int, int] | None  # (program, page) read last (page 0: its video)
    video_at: tuple[int, int] | None  # where it stopped that video (seconds, duration)


def facts_queries(request: web.Request, device_id: int) -> list[tuple[str, tuple]]:
    """The reads of a box's facts (`facts_from` reads their rows): its open requests, its stored
    video positions, a rating due (two reads, none when ratings are off) and, unless this
    process knows it already, where it stopped reading."""
    app = request.app
    progress = app[keys.USAGE].progress_query(device_id)
    return [
        callback_requests.count_open_query(device_id),
        app[keys.VIDEO_POSITIONS].box_query(device_id),
        *rating.due_queries(request, device_id),
        *([progress] if progress is not None else []),
    ]


def facts_from(request: web.Request, device_id: int, rows: list) -> Facts:
    app = request.app
    usage, positions = app[keys.USAGE], app[keys.VIDEO_POSITIONS]
    rated = 2 if request.app[keys.SETTINGS].rating_window_days > 0 else 0
    read = len(rows) > 2 + rated  # the progress was read (else known in memory)
    last = usage.progress_from(device_id, rows[-1] if read else [], read)
    return Facts(
        rate=rating.due_url(request, rows[2 : 2 + rated]),
        open_requests=int(rows[0][0][0]),
        last=last,
        video_at=positions.position_from(device_id, last[0], rows[1]) if last else None,
    )


def prefetch(request: web.Request, device_id: int, rows: list | None, commits: int) -> None:
    """Keep the facts a launch read with the box's record (same trip) for the home it redirects
    to: that home then costs no trip. Single use, and only while no transaction of this process
    committed since (any write here may have changed them) and for PREFETCH_SECONDS (writes of
    other processes: the home shows them as a read that much earlier would). `commits` is the
    database's count of this process's commits before the read."""
    if rows is not None:  # kept compact: plain tuples, and most boxes have nothing to show
        kept = [[tuple(row) for row in found] if found else () for found in rows]
        request.app[PREFETCHED].put(device_id, (commits, time.monotonic(), kept))


async def box_facts(request: web.Request, box: TvBox) -> Facts:
    """The box's own facts for its home — open requests, a rating due, where it stopped reading
    and watching — read as committed now, whoever wrote them (the box, staff, Open311, another
    process), in ONE read (`Database.fetch_together`: on SQLite on the loop's own thread, no
    trip to a reader's), or none right after the launch that read them with the box's record
    (`prefetch`)."""
    app = request.app
    db = app[keys.DB]
    kept = app[PREFETCHED].pop(box.id)
    if kept is not None and kept[0] == db.commits and time.monotonic() - kept[1] < PREFETCH_SECONDS:
        return facts_from(request, box.id, kept[2])
    return facts_from(request, box.id, await db.fetch_together(*facts_queries(request, box.id)))
