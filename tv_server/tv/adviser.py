"""The village's legal adviser on the box: the home card's facts and the adviser's page (what
they can help with, when they sit, a QR card). Asking them to call back goes through the
callback flow's phone step (`cb-phone?a=ID`)."""

from __future__ import annotations

import segno.helpers
from aiohttp import web

from advisers import advisers
from content.programs import uploads
from storage import NotFound, clock
from tv_server import keys
from tv_server.tv.callback import day_label
from tv_server.tv.common import TvBox, current_box, render, screen_url, send_html
from tv_ui import labels
from tv_ui.i18n import gettext

# The photo's rendition per screen profile (the canvas is zoomed 1.5x / 3x on bigger screens).
PHOTO_SPECS = {"720p": "thumb-720p", "1080p": "thumb-720p", "2160p": "thumb-1080p"}


async def of_box(request: web.Request, box: TvBox) -> advisers.Adviser | None:
    return await advisers.for_village(request.app[keys.DB], box.chain[0] if box.chain else None)


async def photo_url(request: web.Request, box: TvBox, adviser: advisers.Adviser) -> str | None:
    if not adviser.photo_shown:
        return None
    spec = PHOTO_SPECS.get(box.profile, "thumb-720p") + ("-webp" if box.webp else "")
    return await uploads.rendition_url(request.app[keys.DB], adviser.photo_media_id, spec)


def sitting_label(adviser: advisers.Adviser, now: float | None = None) -> str:
    """'12月8日 星期二 09:00-12:00' for the next sitting, '' when none is set."""
    found = advisers.next_sitting(adviser.sittings, now)
    if found is None:
        return ""
    start, end = found
    return f"{day_label(start)} {clock.fmt(start, '%H:%M')}-{clock.fmt(end, '%H:%M')}"


def call_url(request: web.Request, adviser: advisers.Adviser) -> str:
    return screen_url(request, "tv_cb_phone", query={"svc": "consultation", "a": adviser.id})


async def card(request: web.Request, box: TvBox) -> dict | None:
    """What the home screen's 我村法律顾问 card shows (None: the village has no adviser)."""
    adviser = await of_box(request, box)
    if adviser is None:
        return None
    return {
        "adviser": adviser,
        "photo": await photo_url(request, box, adviser),
        "sitting": sitting_label(adviser),
        "call_url": call_url(request, adviser),
    }


def _qr_svg(adviser: advisers.Adviser) -> str:
    memo = " ".join(x for x in (adviser.firm, adviser.place) if x)
    qr = segno.helpers.make_mecard(name=adviser.name, phone=adviser.phone or None, memo=memo)
    return qr.svg_inline(scale=3, border=2, dark="#000000", light="#ffffff", omitsize=True)


async def page(request: web.Request) -> web.Response:
    """`adv`: the box's village's adviser (rendered per box: the next sitting moves with time)."""
    box = await current_box(request)
    adviser = await of_box(request, box)
    if adviser is None:
        raise NotFound("adviser_not_found", box.chain[0] if box.chain else "")
    regions = request.app[keys.REGIONS]
    try:
        sittings = advisers.parse_sittings(adviser.sittings)
    except ValueError:
        sittings = []
    html = render(
        request,
        "tv/adviser.html",
        box,
        adviser=adviser,
        photo=await photo_url(request, box, adviser),
        qr=_qr_svg(adviser),
        next_sitting=sitting_label(adviser),
        sittings=[s.text() for s in sittings],
        services=[gettext(labels.SERVICES[s]) for s in adviser.services if s in labels.SERVICES],
        languages=[gettext(labels.LANGUAGES.get(x, x)) for x in adviser.languages],
        villages=len(adviser.villages),
        place=regions.full_name(box.chain[0]) if box.chain else "",
        call_url=call_url(request, adviser),
        back=screen_url(request, "tv_home") + "#t-adv",
    )
    return send_html(request, html)
