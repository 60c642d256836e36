"""The household's TV screens under /tv. Every screen after launch lives at /tv/b/TOKEN/NAME, so
all links between screens are relative and a rendered screen can be shared between boxes."""

from aiohttp import web

from tv_server.ratelimit import SlidingWindow
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


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/tv", entry.root)
    r.add_get("/tv/", entry.root, name="tv_root")
    r.add_get("/tv/launch", entry.launch, name="tv_launch")
    b = "/tv/b/{token}/"
    # The router tries these in order: the screens boxes ask for most come first.
    r.add_get(b + "p-{pid:\\d+}-{n:\\d+}", programs.page, name="tv_page")
    r.add_get(b + "home", entry.home, name="tv_home")
    r.add_get(b + "c-{slug}", programs.category, name="tv_category")
    r.add_get(b + "programs", programs.categories, name="tv_categories")
    r.add_get(b + "p-{pid:\\d+}", programs.resume, name="tv_program")
    r.add_get(b + "v-{pid:\\d+}", programs.video, name="tv_video")
    r.add_get(b + "v-{pid:\\d+}/at", player.position, name="tv_video_at")
    r.add_get(b + "v-{pid:\\d+}/subs", player.subtitles_choice, name="tv_video_subs")
    r.add_get("/tv/subs/{name}", player.subtitle_file, name="tv_subs")
    r.add_get(b + "events", push.events_stream, name="tv_events")
    r.add_get(b + "dir", services.my_chain, name="tv_directory")
    r.add_get(b + "dir-{code:\\d+}", services.region, name="tv_region")
    r.add_get(b + "o-{pid:\\d+}", services.point, name="tv_point")
    r.add_get(b + "mine", callback.mine, name="tv_mine")
    r.add_get(b + "cb", callback.choose_service, name="tv_cb")
    r.add_get(b + "cb-topic", callback.topic, name="tv_cb_topic")
    r.add_get(b + "cb-phone", callback.phone, name="tv_cb_phone")
    r.add_post(b + "cb-phone", callback.phone_post)
    r.add_get(b + "cb-time", callback.time_window, name="tv_cb_time")
    r.add_get(b + "cb-confirm", callback.confirm, name="tv_cb_confirm")
    r.add_post(b + "cb-submit", callback.submit, name="tv_cb_submit")
    r.add_get(b + "r-{ref:\\d+}", callback.receipt, name="tv_receipt")
    r.add_get(b + "m-{ref:\\d+}", callback.detail, name="tv_request")
    r.add_get(b + "mc-{ref:\\d+}", callback.cancel_confirm, name="tv_cb_cancel")
    r.add_post(b + "mc-{ref:\\d+}", callback.cancel)
    r.add_get(b + "ap", appointments.choose_service, name="tv_ap")
    r.add_get(b + "ap-pt", appointments.choose_point, name="tv_ap_point")
    r.add_get(b + "ap-day", appointments.choose_day, name="tv_ap_day")
    r.add_get(b + "ap-slot", appointments.choose_slot, name="tv_ap_slot")
    r.add_get(b + "ap-phone", appointments.phone, name="tv_ap_phone")
    r.add_post(b + "ap-phone", appointments.phone_post)
    r.add_get(b + "ap-confirm", appointments.confirm, name="tv_ap_confirm")
    r.add_post(b + "ap-submit", appointments.submit, name="tv_ap_submit")
    r.add_get(b + "a-{code:[A-Za-z0-9]{6}}", appointments.receipt, name="tv_ap_receipt")
    r.add_get(b + "ac-{code:[A-Za-z0-9]{6}}", appointments.cancel_confirm, name="tv_ap_cancel")
    r.add_post(b + "ac-{code:[A-Za-z0-9]{6}}", appointments.cancel)
    r.add_get(b + "ann.json", push.poll, name="tv_ann")
    r.add_get(b + "adv", adviser.page, name="tv_adviser")
    r.add_get(b + "rate-{ref:\\d+}", rating.ask, name="tv_rate")
    r.add_post(b + "rate-{ref:\\d+}", rating.answer)
    r.add_get(b + "rate-{ref:\\d+}-why", rating.why, name="tv_rate_why")
    r.add_post(b + "rate-{ref:\\d+}-why", rating.why_post)
    r.add_post(b + "lang", entry.choose_language, name="tv_lang")
    app[entry.LANG_CHANGES] = SlidingWindow(entry.LANG_CHANGES_PER_10_MIN, 600)
