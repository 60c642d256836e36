"""What every TV screen handler shares: who the box is, rendering, caching and sending."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup, escape

from storage.changes import BoundedCache
from tv_server import keys, mongol_image, tvfont
from tv_server.boxauth import BoxAuthError
from tv_server.boxes import BoxView
from tv_server.screencache import (
    DEFLATE_END,
    GZIP_HEADER,
    deflate_piece,
    gzip_trailer,
    make_screen,
    screen_of,
    send,
    stored_piece,
)
from tv_server.tv import fastlane
from tv_ui import i18n, labels
from tv_ui.keymaps import keymap_json

SCREEN_PREFIX = "/tv/b/-/"
# A box whose model is not known (an error before the box is identified) gets its Mongolian as
# images drawn for 4K, the boxes the rollout installs: sharp there, scaled down on smaller ones.
UNKNOWN_BOX_PROFILE = "2160p"


class EarlyResponse(Exception):
    """Raised by helpers to answer the request with a ready response (a TV notice screen)."""

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        super().__init__("early response")


@dataclass(frozen=True)
class TvBox:
    token: str
    view: BoxView
    lang: str = "zh"

    @property
    def id(self) -> int:
        return self.view.box.id

    @property
    def chain(self) -> tuple[str, ...]:
        return self.view.chain

    @property
    def family(self) -> str:
        return self.view.box.keymap_family

    @property
    def profile(self) -> str:
        return self.view.box.screen_profile

    @property
    def webp(self) -> bool:
        return self.view.box.webp

    @property
    def hls(self) -> bool:
        return self.view.box.hls

    def mongolian_text(self) -> bool:
        """The box shapes Mongolian itself (else its Mongolian text comes as images)."""
        return self.view.box.mongolian_text

    @property
    def rendering(self) -> str:
        """What the screen cache tells apart: the language, and for Mongolian on a box that
        cannot shape it, the image path (`mn-img`)."""
        return self.lang if self.lang != "mn" or self.mongolian_text() else "mn-img"


# The box a TV handler resolved (`current_box`), for the error page of a later failure.
TV_BOX: web.RequestKey[TvBox] = web.RequestKey("tv_box", TvBox)


@dataclass(frozen=True)
class Rendering:
    """How a notice or error page is shown: its language, Mongolian as images (the image
    path) or as text with the served font, at which screen profile, and whether the Chinese
    text comes too (the box is not known)."""

    lang: str
    images: bool = False
    profile: str = "1080p"
    also_zh: bool = False


def rendering_for(request: web.Request, view: BoxView | None) -> Rendering:
    """The rendering of a notice or error page. A box known (`view`): its language — the one
    the URL asks for (`lang=`), else the household's choice or its region's default — on its
    model's path. A box not known (a bad or expired launch signature, an unknown serial, a bad
    token) or not enrolled (a pending box: its model is not vouched for) whose URL asks for
    `lang=mn`: Mongolian on the image path, which every box shows
    (its browser need not shape Mongolian, and the model that would tell is unknown), with the
    Chinese text too (the request's language is not verified, and the household's helpers and
    the 12348 hotline read Chinese). Otherwise Chinese."""
    asked = request.query.get("lang", "")
    if view is not None and view.box.admitted:
        lang = asked if asked in i18n.LANGUAGES else box_language(request.app[keys.SETTINGS], view)
        return Rendering(lang, not view.box.mongolian_text, view.box.screen_profile)
    if view is not None and asked not in i18n.LANGUAGES:  # a pending box: its household's
        asked = view.box.language or ""
    if asked == "mn":  # a box not known, or not enrolled (its model is not vouched for)
        return Rendering("mn", True, UNKNOWN_BOX_PROFILE, also_zh=True)
    return Rendering(i18n.DEFAULT_LANGUAGE)


def rendering_of(box: TvBox) -> Rendering:
    return Rendering(box.lang, not box.mongolian_text(), box.profile)


def box_language(settings, view: BoxView) -> str:
    """The box's TV language: the household's choice, else its region's default."""
    if view.box.language in i18n.LANGUAGES:
        return view.box.language
    regions = {c.strip() for c in settings.mongolian_default_regions.split(",") if c.strip()}
    return "mn" if regions.intersection(view.chain) else i18n.DEFAULT_LANGUAGE


def screen_url(request: web.Request, name: str, **parts) -> str:
    """A screen's URL relative to the current one: `p-12-3`, `c-law?p=2`."""
    query = {k: v for k, v in parts.pop("query", {}).items() if v not in (None, "")}
    values = {k: str(v) for k, v in parts.items()}
    url = request.app.router[name].url_for(token="-", **values)  # noqa: S106 - a placeholder
    if query:
        url = url.with_query(query)
    text = str(url)
    return text[len(SCREEN_PREFIX) :] if text.startswith(SCREEN_PREFIX) else text


async def current_box(request: web.Request, *, entitled: bool = True) -> TvBox:
    """The box named by the URL token; a notice screen for an unknown or not-yet-live box."""
    token = request.match_info["token"]
    settings = request.app[keys.SETTINGS]
    try:
        serial = request.app[keys.TOKENS].read(token, ttl=settings.box_token_ttl)
    except BoxAuthError as exc:
        # An expired token still names its box reliably (its signature held): the notice in
        # that box's language.
        signed = request.app[keys.TOKENS].signed_serial(token)
        view = await request.app[keys.BOXES].get(signed) if signed is not None else None
        raise EarlyResponse(notice(request, view, exc.code, status=403)) from None
    view = await request.app[keys.BOXES].get(serial)
    if view is not None and request.app[keys.TOKENS].generation(token) != (
        view.box.token_generation
    ):  # staff revoked this box's TV sessions: back in through the portal only
        raise EarlyResponse(notice(request, view, "token_expired", status=403))
    # 知道了 on these notices comes back here (not to /tv/, which cannot tell who the box is),
    # so the household reads the same message until the box is enrolled or its region is live.
    if view is None or not view.box.admitted:
        again = screen_url(request, "tv_home")
        raise EarlyResponse(notice(request, view, "not_enrolled", again=again))
    if entitled and not view.entitled:
        again = screen_url(request, "tv_home")
        raise EarlyResponse(notice(request, view, "coming_soon", again=again))
    request.app[keys.USAGE].touch(view.box.id)
    lang = box_language(settings, view)
    i18n.use_language(lang)
    i18n.collect_sources()  # the Chinese of this screen's texts, for the image path's alt
    box = TvBox(token, view, lang)
    request[TV_BOX] = box
    return box


def base_context(request: web.Request, box: TvBox | None, **extra) -> dict:
    app = request.config_dict  # also rendered from the admin's preview sub-application
    announcements, overlay = box_announcements(request, box) if box else ([], False)
    # The language's own name (the tag on what serves in Mongolian): 蒙古语 in Chinese.
    i18n.remember_source(labels.SELF_NAMES["mn"], labels.LANGUAGES["mn"])
    context = {
        "static": app[keys.STATIC].url,
        "keymap": keymap_json(box.family if box else None),
        "hotline": app[keys.SETTINGS].hotline,
        "announcements": announcements,
        "ann_overlay": overlay,
        "home_url": screen_url(request, "tv_home") if box else None,
        "events": screen_url(request, "tv_events") if box else None,
        "ann_poll": screen_url(request, "tv_ann") if box else None,
        "u": lambda name, **parts: screen_url(request, name, **parts),
        "profile": box.profile if box else "1080p",
        "demo": app[keys.SETTINGS].demo,
        "lang": box.lang if box else i18n.DEFAULT_LANGUAGE,
        "mn_name": labels.SELF_NAMES["mn"],  # marks what serves in Mongolian
    }
    context.update(extra)
    return context


def render(
    request: web.Request,
    template: str,
    box: TvBox | None,
    *,
    images_at: str | None = None,
    **extra,
) -> str:
    html = aiohttp_jinja2.render_string(template, request, base_context(request, box, **extra))
    return with_mongolian(request, html, box, images_at=images_at)


def with_mongolian(
    request: web.Request, html: str, box: TvBox | None = None, *, images_at: str | None = None
) -> str:
    """A Mongolian screen gets the vertical layout and its font subset (tv_server.tvfont); on a
    box whose model cannot shape Mongolian, its Mongolian text as images instead
    (tv_server.mongol_image). A Chinese screen gets the rules of tv.css it can use. With no box
    (the editors' preview), the font path, or with `images_at` (a profile) the image path drawn
    at that profile, as an old box shows the screen."""
    if box is None:
        return as_rendered(
            request, html, images=images_at is not None, profile=images_at or "1080p"
        )
    return as_rendered(request, html, images=not box.mongolian_text(), profile=box.profile)


def as_rendered(request: web.Request, html: str, *, images: bool, profile: str) -> str:
    """`with_mongolian` for a path chosen by the caller: Mongolian text as images drawn at
    `profile` (`images`), else with the served font; a Chinese screen's trimmed stylesheet."""
    app = request.config_dict
    if i18n.current_language() != "mn":
        styles = app.get(tvfont.STYLES)
        return html if styles is None else styles.attach(html)
    if images:
        drawn = app.get(mongol_image.SCREEN_IMAGES)
        if drawn is not None and drawn.available:
            tree = app[keys.REGIONS]
            names = {mn: tree.by_code[code].name for code, mn in tree.mongolian.items()}
            chinese = drawn.chinese(i18n.catalog_pairs("mn"), tree, names)
            return drawn.screen(html, profile, chinese, i18n.sources())
    fonts = app.get(tvfont.FONT)
    return html if fonts is None else fonts.attach(html)


def render_notice_page(
    request: web.Request, template: str, rendering: Rendering, context: dict
) -> str:
    """A notice or error page in `rendering`'s language and path. With `also_zh`, the page's
    text (the template `tv/<name>_text.html` it includes) comes again in Chinese under it."""
    i18n.use_language(rendering.lang)
    context = {**context, "lang": rendering.lang}
    if rendering.also_zh and rendering.lang != i18n.DEFAULT_LANGUAGE:
        i18n.use_language(i18n.DEFAULT_LANGUAGE)
        text = template.replace(".html", "_text.html")
        twin = {**context, "message": context.get("zh_message", context.get("message"))}
        html = aiohttp_jinja2.render_string(text, request, twin)  # autoescaped
        context["zh_twin"] = Markup(html)  # noqa: S704 - a rendered, autoescaped template
        i18n.use_language(rendering.lang)
    html = aiohttp_jinja2.render_string(template, request, context)
    return as_rendered(request, html, images=rendering.images, profile=rendering.profile)


def send_html(request: web.Request, html: str, *, status: int = 200) -> web.Response:
    return send(request, make_screen(html), status=status)


def box_announcements(request: web.Request, box: TvBox) -> tuple[list, bool]:
    """The box's active announcements (the one shown first) and whether the first shows as an
    overlay; the first one is recorded as shown by this box."""
    hub = request.config_dict[keys.HUB]
    active = hub.for_chain(box.chain, time.time(), device_id=box.id)
    if not active:
        return active, False
    hub.record_shown(active[0].id, box.id)
    return active, hub.overlay(active[0], box.id)


def ann_key(request: web.Request, box: TvBox) -> tuple:
    """The announcement part of a shared screen's cache key: the box's active announcement ids
    and whether the first is an overlay (urgent, not yet closed by this household)."""
    active, overlay = box_announcements(request, box)
    return (tuple(a.id for a in active), overlay)


async def cached(
    request: web.Request,
    box: TvBox,
    key: Hashable,
    tags: Iterable[str],
    build,
    *,
    view: tuple[int, int] | None = None,
) -> web.Response:
    """Serve a shareable screen from the cache, building it with `await build()` on a miss.

    The key gets the box's key-map family, screen profile, language (and Mongolian rendering
    path) and current announcements added, the only per-box inputs of a shared screen. `view`
    (program, page; page 0 for the video) is recorded as viewed by the box, here and on every
    fast-lane repeat of the URL.
    """
    if view is not None:
        request.app[keys.USAGE].record_view(box.id, *view)
    full_key = (key, box.family, box.profile, box.rendering, ann_key(request, box))
    cache = request.app[keys.SCREENS]
    screen = await cache.get_or_build(full_key, tags, build)
    if request.method == "GET":
        until = request.app[keys.HUB].stable_until(box.chain, box.id)
        request.app[fastlane.FAST].remember(request, box, full_key, screen, until, view)
    return send(request, screen)


# Notices rendered once per rendering, key-map family and kind, split where `again` goes (the
# only per-box part: 知道了's link back to the box's own entry). A coming-soon box's home is one.
NOTICES = web.AppKey("tv_notices", BoundedCache)
AGAIN = "\x00again\x00"


def notice(
    request: web.Request,
    view: BoxView | None,
    kind: str,
    status: int = 200,
    *,
    again: str | None = None,
):
    """A polite full-screen notice: not enrolled yet, coming soon, or a bad address. `again` is
    where 知道了 leads (the box's own entry when known, else /tv/). Rendered once per rendering,
    key-map family and kind (`NOTICES`), with `again` spliced in, body and gzip alike
    (tests/test_notice_cache.py compares it with a fresh rendering)."""
    rendering = rendering_for(request, view)
    family = view.box.keymap_family if view else None
    notices = request.app.get(NOTICES)
    key = (rendering, family, kind)
    found = notices.get(key) if notices is not None else None
    if found is None:
        html = render_notice_page(
            request,
            "tv/notice.html",
            rendering,
            {
                "static": request.app[keys.STATIC].url,
                "keymap": keymap_json(family),
                "hotline": request.app[keys.SETTINGS].hotline,
                "announcements": [],
                "kind": kind,
                "again": Markup(AGAIN),  # noqa: S704 - a constant marker, replaced below
            },
        )
        texts = tuple(piece.encode() for piece in html.split(AGAIN))
        lengths_and_texts = b"".join(len(t).to_bytes(4, "big") + t for t in texts)
        digest = hashlib.blake2b(lengths_and_texts, digest_size=16).digest()
        found = (texts, tuple(deflate_piece(t) for t in texts), digest)
        if notices is not None:
            notices.put(key, found)
    else:  # as rendering it would have: the rest of the request speaks the notice's language
        i18n.use_language(rendering.lang)
    texts, deflated, digest = found
    link = str(escape(again or "/tv/")).encode()
    body = link.join(texts)
    gzipped = [GZIP_HEADER, deflated[0]]
    for piece in deflated[1:]:
        gzipped += (stored_piece(link), piece)
    gzipped += (DEFLATE_END, gzip_trailer(body))
    # The ETag from the texts' digest (hashed once) and the link: not the whole body each time.
    etag = hashlib.blake2b(digest + link, digest_size=12).hexdigest()
    response = send(request, screen_of(body, b"".join(gzipped), digest=etag), status=status)
    response.headers["Cache-Control"] = "no-store"
    return response
