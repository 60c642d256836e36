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

import time
from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup

from callbacks import requests as callback_requests
from storage.changes import BoundedCache
from tv_server import keys
from tv_server.tv import rating
from tv_server.tv.common import TvBox, ann_key, base_context, screen_url

PARTS = ("greeting", "mine_sub", "resume_html", "adviser_html")
MARKS = {name: Markup("\x00%s\x00") % name for name in PARTS}
ADVISER_CARD_SECONDS = 60.0
SHELLS = web.AppKey("tv_home_shells", BoundedCache)
ADVISER_CARDS = web.AppKey("tv_adviser_cards", BoundedCache)
TEMPLATES = web.AppKey("tv_home_templates", dict)


def setup(app: web.Application) -> None:
    app[SHELLS] = BoundedCache("tv_home_shells", 2000)
    app[ADVISER_CARDS] = BoundedCache("tv_adviser_cards", 20_000)
    app[TEMPLATES] = {}


def shell(request: web.Request, box: TvBox, **shared) -> tuple[str, ...]:
    """The shared body of this box's home screen, split at its per-box parts: text, part name,
    text, … (`shared` holds what the shell shows of the village: name, language tile)."""
    key = (box.family, box.profile, box.lang, box.chain[:1], ann_key(request, box))
    shells = request.app[SHELLS]
    pieces = shells.get(key)
    if pieces is None:
        context = base_context(request, box, refresh=True, **shared, **MARKS)
        html = aiohttp_jinja2.render_string("tv/home.html", request, context)
        pieces = shells.put(key, tuple(html.split("\x00")))
    return pieces


def fill(pieces: tuple[str, ...], parts: dict[str, str]) -> str:
    return "".join(parts[p] if i % 2 else p for i, p in enumerate(pieces))


def _template(request: web.Request, name: str):
    """A part's template, looked up once (jinja2 checks the file's mtime on every look-up)."""
    templates = request.app[TEMPLATES]
    found = templates.get(name)
    if found is None:
        found = templates[name] = aiohttp_jinja2.get_env(request.app).get_template(name)
    return found


def _macros(request: web.Request):
    return _template(request, "tv/_home_parts.html").module


def parts(request: web.Request, box: TvBox, *, open_requests: int, resume, adviser_html: str):
    macros = _macros(request)
    return {
        "greeting": str(macros.greeting(box.view.box.household_label)),
        "mine_sub": str(macros.mine_sub(open_requests)),
        "resume_html": str(macros.resume_link(resume)),
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
    open_requests: int  # 我的申请's count
    last: tuple[int, int] | None  # (program, page) read last (page 0: its video)
    video_at: tuple[int, int] | None  # where it stopped that video (seconds, duration)


async def box_facts(request: web.Request, box: TvBox) -> Facts:
    """The box's own facts for its home — open requests, a rating due, where it stopped reading
    and watching — in ONE trip to the database (`Database.fetch_together`): always as committed
    now, whoever wrote them (the box, staff, Open311, another process), so no cache to keep."""
    app = request.app
    usage, positions = app[keys.USAGE], app[keys.VIDEO_POSITIONS]
    progress = usage.progress_query(box.id)
    rate = rating.due_queries(request, box)
    queries = [callback_requests.count_open_query(box.id), positions.box_query(box.id), *rate]
    if progress is not None:
        queries.append(progress)
    rows = await app[keys.DB].fetch_together(*queries)
    last = usage.progress_from(box.id, rows[-1] if progress else [], progress is not None)
    return Facts(
        rate=rating.due_url(request, rows[2 : 2 + len(rate)]),
        open_requests=int(rows[0][0][0]),
        last=last,
        video_at=positions.position_from(box.id, last[0], rows[1]) if last else None,
    )
