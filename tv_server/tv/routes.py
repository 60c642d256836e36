"""Every URL of the household's TV screens (under /tv), with its handler and name.

Every screen after launch lives at /tv/b/TOKEN/NAME, so all links between screens are relative
and a rendered screen can be shared between boxes (`screen_url` builds them from these names).
A new TV screen is a handler in its module and a line here; `tests/test_routes.py` fails when a
route is registered anywhere else.
"""

from __future__ import annotations

from aiohttp import web

from tv_server import keys, mongol_image, tvfont
from tv_server.ratelimit import SlidingWindow
from tv_server.routing import GET, POST, register
from tv_server.tv import (
    adviser,
    appointments,
    callback,
    entry,
    player,
    programs,
    push,
    rating,
    services,
)

B = "/tv/b/{token}/"  # a box's screens

ROUTES = [
    GET("/tv", entry.root),
    GET("/tv/", entry.root, "tv_root"),
    GET("/tv/launch", entry.launch, "tv_launch"),
    # The router tries these in order: the screens boxes ask for most come first.
    GET(B + "p-{pid:\\d+}-{n:\\d+}", programs.page, "tv_page"),
    GET(B + "home", entry.home, "tv_home"),
    GET(B + "c-{slug}", programs.category, "tv_category"),
    GET(B + "programs", programs.categories, "tv_categories"),
    GET(B + "p-{pid:\\d+}", programs.resume, "tv_program"),
    GET(B + "v-{pid:\\d+}", programs.video, "tv_video"),
    GET(B + "v-{pid:\\d+}/at", player.position, "tv_video_at"),
    GET(B + "v-{pid:\\d+}/subs", player.subtitles_choice, "tv_video_subs"),
    GET(B + "events", push.events_stream, "tv_events"),
    GET(B + "dir", services.my_chain, "tv_directory"),
    GET(B + "dir-{code:\\d+}", services.region, "tv_region"),
    GET(B + "o-{point_id:\\d+}", services.point, "tv_point"),
    GET(B + "mine", callback.mine, "tv_mine"),
    GET(B + "cb", callback.choose_service, "tv_cb"),
    GET(B + "cb-topic", callback.topic, "tv_cb_topic"),
    GET(B + "cb-phone", callback.phone, "tv_cb_phone"),
    POST(B + "cb-phone", callback.phone_post),
    GET(B + "cb-time", callback.time_window, "tv_cb_time"),
    GET(B + "cb-confirm", callback.confirm, "tv_cb_confirm"),
    POST(B + "cb-submit", callback.submit, "tv_cb_submit"),
    GET(B + "r-{ref:\\d+}", callback.receipt, "tv_receipt"),
    GET(B + "m-{ref:\\d+}", callback.detail, "tv_request"),
    GET(B + "mc-{ref:\\d+}", callback.cancel_confirm, "tv_cb_cancel"),
    POST(B + "mc-{ref:\\d+}", callback.cancel),
    GET(B + "ap", appointments.choose_service, "tv_ap"),
    GET(B + "ap-pt", appointments.choose_point, "tv_ap_point"),
    GET(B + "ap-day", appointments.choose_day, "tv_ap_day"),
    GET(B + "ap-slot", appointments.choose_slot, "tv_ap_slot"),
    GET(B + "ap-phone", appointments.phone, "tv_ap_phone"),
    POST(B + "ap-phone", appointments.phone_post),
    GET(B + "ap-confirm", appointments.confirm, "tv_ap_confirm"),
    POST(B + "ap-submit", appointments.submit, "tv_ap_submit"),
    GET(B + "a-{code:[A-Za-z0-9]{6}}", appointments.receipt, "tv_ap_receipt"),
    GET(B + "ac-{code:[A-Za-z0-9]{6}}", appointments.cancel_confirm, "tv_ap_cancel"),
    POST(B + "ac-{code:[A-Za-z0-9]{6}}", appointments.cancel),
    GET(B + "ann.json", push.poll, "tv_ann"),
    GET(B + "adv", adviser.page, "tv_adviser"),
    GET(B + "rate-{ref:\\d+|a-[A-Z0-9]{6}}", rating.ask, "tv_rate"),
    POST(B + "rate-{ref:\\d+|a-[A-Z0-9]{6}}", rating.answer),
    GET(B + "rate-{ref:\\d+|a-[A-Z0-9]{6}}-why", rating.why, "tv_rate_why"),
    POST(B + "rate-{ref:\\d+|a-[A-Z0-9]{6}}-why", rating.why_post),
    POST(B + "lang", entry.choose_language, "tv_lang"),
    GET("/tv/font/{name}", tvfont.serve, "tv_font"),
    GET("/tv/subs/{name}", player.subtitle_file, "tv_subs"),
    GET("/tv/css/{name}", tvfont.serve_sheet, "tv_css"),
    GET("/tv/mi/{name}", mongol_image.serve, "tv_mongolian_image"),
]


def setup_tv(app: web.Application) -> None:
    """The TV's routes and the state its handlers share."""
    register(app.router, ROUTES)
    app[entry.LANG_CHANGES] = SlidingWindow(entry.LANG_CHANGES_PER_10_MIN, 600)
    app[entry.ENTRY] = entry.entry_headers(app)
    failures = app[keys.SETTINGS].launch_failures_per_ip
    if failures > 0:
        app[entry.LAUNCH_FAILURES] = SlidingWindow(failures, 60)
