"""Rating a completed request on the box (满意度): one screen, 1–5 with the number keys, then an
optional reason from a short list. Home sends the household here on its next visit
(`feedback.ratings.due`); the rules of asking live in `feedback/ratings.py`. The screen's key is
the callback's numeric ref (`rate-123`) or `a-` and an attended appointment's booking code
(`rate-a-VHKHT6`)."""

from __future__ import annotations

import time

from aiohttp import web

from content.directory import points as directory
from feedback import ratings
from storage import Invalid, NotFound
from tv_server import keys
from tv_server.tv.common import TvBox, current_box, render, screen_url, send_html
from tv_ui import labels
from tv_ui.i18n import gettext


def _pause(request: web.Request) -> float:
    return request.app[keys.SETTINGS].rating_ask_again_hours * 3600


def due_queries(request: web.Request, device_id: int) -> list[tuple[str, tuple]]:
    """The reads telling whether a completed request waits for a rating ([] when ratings are
    off), run by the home screen with its other facts in one trip; `due_url` reads the rows."""
    settings = request.app[keys.SETTINGS]
    if settings.rating_window_days <= 0:
        return []
    return ratings.due_queries(
        device_id,
        now=time.time(),
        window=settings.rating_window_days * 86400,
        pause=_pause(request),
    )


def due_url(request: web.Request, rows: list) -> str | None:
    """The rating screen to show instead of home, if `due_queries`' rows found a request."""
    found = ratings.due_from(*rows) if rows else None
    return screen_url(request, "tv_rate", ref=_key(found)) if found else None


def _key(subject: ratings.Subject) -> str:
    return "a-" + subject.ref if subject.kind == "appointment" else subject.ref


async def _subject(request: web.Request, box: TvBox) -> ratings.Subject:
    ref = request.match_info["ref"]
    kind = "appointment" if ref.startswith("a-") else "callback"
    return await ratings.subject(request.app[keys.DB], box.id, kind, ref.removeprefix("a-"))


async def _point_name(request: web.Request, subject: ratings.Subject) -> str:
    if subject.kind != "appointment" or not subject.office_code:
        return ""
    try:
        return (await directory.get_point(request.app[keys.DB], subject.office_code)).name
    except NotFound:
        return ""


def _home(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(screen_url(request, "tv_home"))


async def ask(request: web.Request) -> web.Response:
    box = await current_box(request)
    subject = await _subject(request, box)
    db = request.app[keys.DB]
    score, _reason, _asks = await ratings.state(db, subject)
    if score is not None:
        raise web.HTTPSeeOther(screen_url(request, "tv_rate_why", ref=_key(subject)))
    await ratings.mark_asked(db, subject, now=time.time(), pause=_pause(request))
    html = render(
        request,
        "tv/rate.html",
        box,
        subject=subject,
        key=_key(subject),
        point_name=await _point_name(request, subject),
        service_label=gettext(labels.SERVICES.get(subject.service, "")),
        scores=[(n, gettext(labels.SCORES[n])) for n in range(1, 6)],
        back=screen_url(request, "tv_home"),
        back_force=True,
    )
    response = send_html(request, html)
    response.headers["Cache-Control"] = "no-store"
    return response


async def answer(request: web.Request) -> web.Response:
    box = await current_box(request)
    subject = await _subject(request, box)
    form = await request.post()
    db = request.app[keys.DB]
    if form.get("skip"):
        await ratings.skip(db, subject, now=time.time())
        raise _home(request)
    # The digit typed into the score field; without script, the score button pressed (`k`).
    raw = str(form.get("s", "")) or str(form.get("k", ""))
    if raw not in ("1", "2", "3", "4", "5"):
        raise Invalid("score_invalid", raw[:8])
    await ratings.answer(db, subject, int(raw), now=time.time())
    raise web.HTTPSeeOther(screen_url(request, "tv_rate_why", ref=_key(subject)))


async def why(request: web.Request) -> web.Response:
    box = await current_box(request)
    subject = await _subject(request, box)
    score, reason, _asks = await ratings.state(request.app[keys.DB], subject)
    if score is None:
        raise web.HTTPSeeOther(screen_url(request, "tv_rate", ref=_key(subject)))
    if reason:
        raise _home(request)
    html = render(
        request,
        "tv/rate_why.html",
        box,
        subject=subject,
        key=_key(subject),
        score=score,
        reasons=[(code, gettext(labels.RATING_REASONS[code])) for code in ratings.REASONS],
        back=screen_url(request, "tv_home"),
        back_force=True,
    )
    return send_html(request, html)


async def why_post(request: web.Request) -> web.Response:
    box = await current_box(request)
    subject = await _subject(request, box)
    form = await request.post()
    await ratings.give_reason(request.app[keys.DB], subject, str(form.get("r", ""))[:20])
    raise _home(request)
