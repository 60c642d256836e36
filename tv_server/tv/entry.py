"""Entry to the TV section: the operator portal's signed launch, the demo entry and home."""

from __future__ import annotations

from aiohttp import web

from device_registry import records
from storage import NotFound
from tv_server import keys, mongol_image
from tv_server.boxauth import BoxAuthError, verify_launch
from tv_server.proxies import client_address
from tv_server.ratelimit import SlidingWindow, retry_after_header
from tv_server.screencache import send
from tv_server.tv import adviser
from tv_server.tv import home as home_parts
from tv_server.tv.common import current_box, notice, screen_url
from tv_server.tv.programs import program_for
from tv_ui import i18n, labels

COOKIE = "ltv_box"


def _enter(request: web.Request, serial: str, generation: int = 0) -> web.Response:
    """The 303 to the box's home with its new token, returned rather than raised (no exception
    through the middleware for the launch of every box): the same bytes as a raised
    `web.HTTPSeeOther` (tests/test_launch.py compares the two)."""
    token = request.app[keys.TOKENS].issue(serial, generation=generation)
    location, cookie = request.app[ENTRY]
    response = web.Response(status=303, text="303: See Other")
    response.headers["Location"] = token.join(location)
    # A cookie where the box keeps one, so /tv/ finds the box again; the URL token is what counts.
    response.headers["Set-Cookie"] = token.join(cookie)
    return response


# The launch's Location and Set-Cookie around the token (a token needs no quoting or encoding:
# base64url, hex and dots), built once by the router and aiohttp's set_cookie.
ENTRY = web.AppKey("tv_entry_headers", tuple)
_TOKEN = "TOKEN"  # noqa: S105 - the placeholder the token replaces


def entry_headers(app: web.Application) -> tuple[tuple[str, str], tuple[str, str]]:
    settings = app[keys.SETTINGS]
    location = str(app.router["tv_home"].url_for(token=_TOKEN))
    probe = web.Response()
    probe.set_cookie(
        COOKIE,
        _TOKEN,
        max_age=settings.box_token_ttl,
        httponly=True,
        samesite="Lax",
        path="/tv",
        secure=settings.cookie_secure or settings.public_url.lower().startswith("https://"),
    )
    cookie = probe.cookies[COOKIE].OutputString()
    before, after = location.split(_TOKEN), cookie.split(_TOKEN)
    assert len(before) == len(after) == 2, "the token's place in the launch's headers"  # noqa: S101
    return (before[0], before[1]), (after[0], after[1])


# Language changes from the home screen's tile, per box: each one drops that box's fast-lane
# answers (a scan), so a token holder cannot make the server do it without end.
LANG_CHANGES = web.AppKey("tv_lang_changes", SlidingWindow)
LANG_CHANGES_PER_10_MIN = 10


async def remember_language(request: web.Request, serial: str, lang: str) -> None:
    """Store a box's (and its household's) TV language; its cached view and screens follow
    (the write emits the box's change)."""
    await records.set_language(request.app[keys.DB], serial, lang)


async def _admit(request: web.Request, serial: str, lang: str = "") -> web.StreamResponse:
    boxes = request.app[keys.BOXES]
    # The box's record, and with it (same trip) the facts its home will show.
    commits = request.app[keys.DB].commits
    view, facts = await boxes.get_with(serial, lambda i: home_parts.facts_queries(request, i))
    if view is not None and view.box.admitted and lang and lang != view.box.language:
        await remember_language(request, serial, lang)
    if view is None or not view.box.admitted:
        # Recorded (as pending when new) so staff can enrol it; each visit is counted.
        await boxes.record_unknown(serial)
        token = request.app[keys.TOKENS].issue(serial)
        again = str(request.app.router["tv_home"].url_for(token=token))
        return notice(request, view, "not_enrolled", again=again)
    request.app[keys.USAGE].record_launch(view.box.id)
    home_parts.prefetch(request, view.box.id, facts, commits)
    return _enter(request, serial, view.box.token_generation)


# Failed launches per client address (setting launch_failures_per_ip): forged or stale signatures
# cannot be tried without end. Only failures are counted: valid signed launches (many boxes
# behind one operator NAT, the launch bench) never meet the limit.
LAUNCH_FAILURES = web.AppKey("tv_launch_failures", SlidingWindow)


def _launch_refused(request: web.Request, kind: str, status: int) -> web.StreamResponse:
    limit = request.app.get(LAUNCH_FAILURES)
    wait = limit.retry_after(client_address(request)) if limit is not None else 0.0
    if wait:
        response = notice(request, None, "rate_limited", status=429)
        response.headers["Retry-After"] = retry_after_header(wait)
        return response
    return notice(request, None, kind, status=status)


async def launch(request: web.Request) -> web.StreamResponse:
    """`/tv/launch?stb=SERIAL&ts=UNIX[&lang=mn|zh]&sig=HEX` from the operator's portal."""
    settings = request.app[keys.SETTINGS]
    q = request.query
    serial = q.get("stb", "").strip()
    lang = q.get("lang", "")
    try:
        verify_launch(
            settings.launch_secret,
            serial,
            q.get("ts", ""),
            q.get("sig", ""),
            max_skew=settings.launch_max_skew,
            lang=lang,
        )
    except BoxAuthError as exc:
        return _launch_refused(request, exc.code, 403)
    if lang and lang not in i18n.LANGUAGES:
        return _launch_refused(request, "launch_bad_signature", 400)
    return await _admit(request, serial, lang)


async def root(request: web.Request) -> web.StreamResponse:
    """`/tv/`: the demo's unsigned entry (`?stb=`), or back in through the box's cookie."""
    settings = request.app[keys.SETTINGS]
    serial = request.query.get("stb", "").strip()
    if serial:
        if not settings.unsigned_allowed:
            return notice(request, None, "launch_missing", status=403)
        lang = request.query.get("lang", "")
        if len(serial) > 64 or (lang and lang not in i18n.LANGUAGES):
            return notice(request, None, "launch_bad_signature", status=400)
        return await _admit(request, serial, lang)
    token = request.cookies.get(COOKIE)
    if token:
        try:
            request.app[keys.TOKENS].read(token, ttl=settings.box_token_ttl)
        except BoxAuthError:
            pass
        else:
            raise web.HTTPSeeOther(request.app.router["tv_home"].url_for(token=token))
    return notice(request, None, "launch_missing", status=403)


async def home(request: web.Request) -> web.Response:
    box = await current_box(request)
    app = request.app
    facts = await home_parts.box_facts(request, box)  # one trip to the database
    if facts.rate is not None:  # a request was completed since: ask how it went, once per visit
        raise web.HTTPSeeOther(facts.rate)
    last, open_requests = facts.last, facts.open_requests
    resume = None
    if last is not None:
        try:
            detail = await program_for(request, box, last[0])
        except NotFound:  # withdrawn or no longer visible: no resume tile
            detail = None
        at = None
        if detail is not None and last[1] == 0 and detail.video_file:  # last seen: the video
            at = facts.video_at
        if detail is not None and at is not None:
            resume = {
                "title": detail.card.title,
                "at": f"{at[0] // 60}:{at[0] % 60:02d}",
                "url": screen_url(request, "tv_video", pid=detail.card.id, query={"t": at[0]}),
            }
        elif detail is not None:
            page = min(max(last[1], 1), len(detail.pages))
            resume = {
                "title": detail.card.title,
                "page": page,
                "pages": len(detail.pages),
                "url": screen_url(request, "tv_page", pid=detail.card.id, n=page)
                if detail.pages
                else screen_url(request, "tv_video", pid=detail.card.id),
            }
    regions = app[keys.REGIONS]
    village = regions.get(box.chain[0]) if box.chain else None
    other = "zh" if box.lang == "mn" else "mn"  # what the language tile switches to
    # The shared body (rendered once per family, profile, language, village and announcement
    # set) with this box's own parts spliced in: tv_server/tv/home.py.
    found = home_parts.shell(
        request,
        box,
        lambda: {
            "place": regions.full_name(village.code, box.lang) if village else "",
            "other_lang": other,
            "other_lang_name": labels.SELF_NAMES[other],
            # On a Chinese screen the one Mongolian word comes as an image: no font download.
            "other_lang_img": app[mongol_image.IMAGES].data_uri(labels.SELF_NAMES["mn"])
            if other == "mn"
            else None,
        },
    )
    card = await home_parts.adviser_card(request, box, lambda: adviser.card(request, box))
    own = home_parts.parts(
        request, box, open_requests=open_requests, resume=resume, adviser_html=card
    )
    response = send(request, home_parts.page(request, box, found, own))
    # Never from the browser's cache, not even on Back: "继续观看" must show where the box
    # stopped a moment ago (a Back-restored copy would show the position before).
    response.headers["Cache-Control"] = "no-store"
    return response


async def choose_language(request: web.Request) -> web.StreamResponse:
    """The home screen's language tile (POST l=mn|zh): remembered for the box and household."""
    box = await current_box(request, entitled=False)
    form = await request.post()
    lang = form.get("l", "")
    if lang not in i18n.LANGUAGES:
        raise web.HTTPBadRequest(reason="bad_request")
    if lang != box.view.box.language:
        limit = request.app.get(LANG_CHANGES)
        if limit is not None and not limit.allow(box.view.box.serial):
            raise web.HTTPTooManyRequests(reason="rate_limited")
        await remember_language(request, box.view.box.serial, lang)
    raise web.HTTPSeeOther(request.app.router["tv_home"].url_for(token=box.token))
