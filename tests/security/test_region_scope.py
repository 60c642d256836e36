"""Region scope: a banner's staff stay in their banner.

Every admin route that changes data is listed in ATTACKS below (or in UNSCOPED with the reason it
needs no region check). For each attack a user scoped to 东胜区 (150602) posts a real request,
with a valid CSRF token, aimed at an object of another banner (达拉特旗 150621) or of the whole
city; the request must be refused (403, audited — or the admin's scope message beside the form)
and the tables holding the object must be exactly as before.

`test_every_mutating_admin_route_is_attacked` reads the admin's router: a new POST route that
is neither attacked here nor listed in UNSCOPED fails the suite. Adding a route is one line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from aiohttp import web

from accounts import users
from appointments import bookings, slots
from callbacks import lifecycle
from callbacks import requests as box_requests
from callbacks.deadlines import Calendar
from content.directory import csv_io as directory_io
from content.programs import export, subtitle_edits, subtitles, workflow
from content.programs.revisions import Fields
from device_registry import admission, inventory, replacement
from feedback import ratings
from tests.helpers import (
    CATALOG,
    DEMO_PASSWORD,
    File,
    csrf_of,
    form_data,
    login,
    test_database,
    tree,
)
from tv_server import keys
from tv_server.admin import create_admin_app

OWN = "150602"  # 东胜区: the region of the demo's `staff` and `dsq_editor`
FAR = "150621"  # 达拉特旗: another banner


@dataclass
class Targets:
    """Objects of the demo (and a few made for the test) that the attacks aim at."""

    own_village: str  # a village of 东胜区
    far_village: str  # a village of 达拉特旗
    own_box: str  # an installed box in 东胜区
    far_box: str  # an installed box in 达拉特旗
    own_pending: str  # a pending box announced from a 东胜区 village
    far_pending: str  # a pending box announced from a 达拉特旗 village
    city_program: int  # a demo program aimed at the whole city
    moved_program: int  # aimed at 东胜区 now; its first (published) revision at 达拉特旗
    moved_from: int  # that first revision
    city_slug: str  # the slug of `city_program`
    city_revision: int  # its working copy
    own_video_program: int  # 东胜区's program showing the demo video, with Chinese subtitles
    far_video_program: int  # 达拉特旗's program showing the same video file, its own subtitles
    far_point: int  # a service point of 达拉特旗
    far_point_code: str
    far_org: int  # an organisation of 达拉特旗
    city_announcement: int  # the demo's announcement to the whole city
    city_wave: int  # the demo's pilot wave (东胜区, 达拉特旗 and 乌审旗 villages)
    far_callback: int  # a callback request from a 达拉特旗 box
    far_appointment: int  # a booking at 达拉特旗's point (tomorrow 09:00)
    own_callback: int  # a callback request from a 东胜区 box
    far_staff: int  # `dlt_staff`, staff of 达拉特旗
    city_user: int  # the demo's `viewer` (every region)
    directory_csv: bytes  # the directory as CSV with 达拉特旗's point renamed
    far_adviser: int = 0  # a demo adviser of 达拉特旗 villages
    own_adviser: int = 0  # a demo adviser of 东胜区 villages
    far_rating: int = 0  # a low rating of a completed request from a 达拉特旗 box


@dataclass(frozen=True)
class Attack:
    """One request of a scoped user at another banner's object.

    `route` is the admin route as its router names it ("POST /registry/box/{serial}/replace");
    `path` the request (formatted with `t`, the Targets); `form` the posted fields; `watch` the
    tables that must not change; `refused` "" for HTTP 403 (with a 'denied' audit entry), else
    the scope message the admin shows instead (with a 4xx status)."""

    route: str
    user: str
    path: str
    form: Callable[[Targets], dict]
    watch: tuple[str, ...]
    refused: str = ""


PROGRAM_TABLES = ("programs", "program_revisions", "program_workflow", "program_regions")
SUBTITLE_TABLES = (*PROGRAM_TABLES, "program_subtitles", "subtitle_texts", "subtitle_burns")
BOX_TABLES = ("devices", "households", "household_boxes", "device_attributes", "device_tokens")
POINT_TABLES = ("service_points", "organizations")
ANNOUNCEMENT_TABLES = ("announcements", "announcement_regions", "announcement_devices")
WAVE_TABLES = ("rollout_waves", "wave_regions")
CALLBACK_TABLES = ("callback_requests", "callback_events")
LEGAL_TABLES = (*PROGRAM_TABLES, "program_citations", "legal_flags", "program_legal")
VERSION_TABLES = ("program_versions", "program_version_pages", "program_version_covers")
ADVISER_TABLES = ("advisers", "adviser_villages")
APPOINTMENT_TABLES = ("appointment_patterns", "appointment_exceptions", "appointments",
                      "appointment_events")  # fmt: skip

DIRECTORY_SCOPE = "这个地区不在您负责的范围内"
PACKAGE_SCOPE = "outside the ones you may edit"

ATTACKS = [
    # -- users: only admins manage accounts, and an admin cannot be scoped
    Attack("POST /users/new", "staff", "/admin/users/new",
           lambda t: {"username": "mole", "role": "admin", "password": DEMO_PASSWORD + "x",
                      "password2": DEMO_PASSWORD + "x"}, ("users",)),
    Attack("POST /users/{uid}", "staff", "/admin/users/{t.city_user}",
           lambda t: {"action": "disable"}, ("users",)),
    # -- programs
    Attack("POST /programs/new", "dsq_editor", "/admin/programs/new",
           lambda t: {"title": "达拉特旗的节目", "summary": "摘要", "category": "xianfa",
                      "regions": FAR, "body": "# 一\n\n内容"}, PROGRAM_TABLES),
    Attack("POST /programs/{pid}", "dsq_editor", "/admin/programs/{t.city_program}",
           lambda t: {"title": "改成东胜区的", "summary": "摘要", "category": "xianfa",
                      "regions": OWN, "body": "# 一\n\n内容", "revision": "0"}, PROGRAM_TABLES),
    Attack("POST /programs/{pid}/workflow", "dsq_editor",
           "/admin/programs/{t.city_program}/workflow",
           lambda t: {"action": "submit", "revision": "0"}, PROGRAM_TABLES),
    Attack("POST /programs/{pid}/workflow", "dsq_reviewer",
           "/admin/programs/{t.city_program}/workflow",
           lambda t: {"action": "unpublish"}, PROGRAM_TABLES),
    Attack("POST /programs/{pid}/history", "dsq_editor",
           "/admin/programs/{t.city_program}/history",
           lambda t: {"action": "restore", "revision": str(t.city_revision)}, PROGRAM_TABLES),
    Attack("POST /programs/{pid}/subtitles", "dsq_editor",
           "/admin/programs/{t.city_program}/subtitles",
           lambda t: {"lang": "zh", "cues": "0:01 - 0:02 东胜区改的字幕"}, SUBTITLE_TABLES),
    # A 达拉特旗 program showing the same video file as a 东胜区 one: its subtitles stay its own.
    Attack("POST /programs/{pid}/subtitles", "dsq_editor",
           "/admin/programs/{t.far_video_program}/subtitles",
           lambda t: {"lang": "zh", "cues": "0:01 - 0:02 东胜区改的字幕", "burn": "1"},
           SUBTITLE_TABLES),
    Attack("POST /programs/{pid}/poster", "dsq_editor",
           "/admin/programs/{t.city_program}/poster",
           lambda t: {"revision": str(t.city_revision), "candidate": "1"},
           ("programs", "program_revisions", "program_workflow", "media")),
    Attack("POST /programs/{pid}/legal", "dsq_editor",
           "/admin/programs/{t.city_program}/legal",
           lambda t: {"action": "citations", "revision": "0", "law": "minfadian",
                      "articles": "1", "page": ""}, LEGAL_TABLES),
    Attack("POST /programs/{pid}/legal", "dsq_reviewer",
           "/admin/programs/{t.city_program}/legal",
           lambda t: {"action": "reapprove", "revision": "0"}, LEGAL_TABLES),
    # A city-wide program's Mongolian version: written, reviewed or deleted from 东胜区.
    Attack("POST /programs/{pid}/mn", "dsq_editor", "/admin/programs/{t.city_program}/mn",
           lambda t: {"action": "save", "title": "ᠮᠣᠩᠭᠣᠯ", "summary": "",
                      "page_title_1": "ᠮᠣᠩᠭᠣᠯ", "page_text_1": "ᠮᠣᠩᠭᠣᠯ"}, VERSION_TABLES),
    Attack("POST /programs/{pid}/mn", "dsq_editor", "/admin/programs/{t.city_program}/mn",
           lambda t: {"action": "delete"}, VERSION_TABLES),
    Attack("POST /programs/{pid}/mn", "dsq_reviewer", "/admin/programs/{t.city_program}/mn",
           lambda t: {"action": "review"}, VERSION_TABLES),
    # The program is 东胜区's now, but the revision brought back aimed at 达拉特旗.
    Attack("POST /programs/{pid}/history", "dsq_editor",
           "/admin/programs/{t.moved_program}/history",
           lambda t: {"action": "restore", "revision": str(t.moved_from)}, PROGRAM_TABLES),
    Attack("POST /programs/{pid}/history", "dsq_reviewer",
           "/admin/programs/{t.moved_program}/history",
           lambda t: {"action": "revert", "revision": str(t.moved_from)}, PROGRAM_TABLES),
    # A package aimed at 东胜区 with the slug of a city-wide program: it would overwrite it.
    Attack("POST /packages/import", "dsq_editor", "/admin/packages/import",
           lambda t: {"file": File("bao.zip", package(t.city_slug, OWN), "application/zip")},
           PROGRAM_TABLES, refused=PACKAGE_SCOPE),
    # A new 东胜区 program whose package renames a category every box shares.
    Attack("POST /packages/import", "dsq_editor", "/admin/packages/import",
           lambda t: {"file": File("bao.zip", package("dsq-xin", OWN, category_title="东胜"),
                                   "application/zip")},
           (*PROGRAM_TABLES, "categories"), refused="every region shares"),
    # -- the service directory
    Attack("POST /directory/points/new", "dsq_editor", "/admin/directory/points/new",
           lambda t: {"code": "sp-mole", "name": "服务点", "kind": "legal_aid",
                      "region_code": FAR, "phone": "12348", "phone_is_sample": "0",
                      "languages": "zh"}, POINT_TABLES, refused=DIRECTORY_SCOPE),
    Attack("POST /directory/points/{point_id}", "dsq_editor",
           "/admin/directory/points/{t.far_point}",
           lambda t: {"name": "改名", "kind": "legal_aid", "region_code": OWN, "phone": "12348",
                      "phone_is_sample": "0", "languages": "zh", "version": "1"}, POINT_TABLES),
    Attack("POST /directory/points/{point_id}/delete", "dsq_editor",
           "/admin/directory/points/{t.far_point}/delete", lambda t: {"version": "1"},
           POINT_TABLES),
    Attack("POST /directory/organizations/new", "dsq_editor", "/admin/directory/organizations/new",
           lambda t: {"code": "org-mole", "name": "机构", "kind": "legal_aid",
                      "region_code": FAR}, POINT_TABLES, refused=DIRECTORY_SCOPE),
    Attack("POST /directory/organizations/{oid}", "dsq_editor",
           "/admin/directory/organizations/{t.far_org}",
           lambda t: {"name": "改名", "kind": "legal_aid", "region_code": OWN, "version": "1"},
           POINT_TABLES),
    Attack("POST /directory/import", "dsq_editor", "/admin/directory/import",
           lambda t: {"file": File("d.csv", t.directory_csv, "text/csv")}, POINT_TABLES,
           refused=DIRECTORY_SCOPE),
    Attack("POST /directory/import/apply", "dsq_editor", "/admin/directory/import/apply",
           lambda t: {"name": "d.csv", "payload": b64(t.directory_csv)}, POINT_TABLES,
           refused=DIRECTORY_SCOPE),
    # -- announcements
    Attack("POST /announcements/new", "staff", "/admin/announcements/new",
           lambda t: {"text": "达拉特旗的公告", "level": "info", "region_codes": FAR},
           ANNOUNCEMENT_TABLES, refused="只能向您负责地区内"),
    Attack("POST /announcements/{aid}", "staff", "/admin/announcements/{t.city_announcement}",
           lambda t: {"action": "withdraw"}, ANNOUNCEMENT_TABLES),
    # -- callbacks
    Attack("POST /callbacks/bulk", "staff", "/admin/callbacks/bulk",
           lambda t: {"ids": str(t.far_callback), "assignee": "4"}, CALLBACK_TABLES),
    Attack("POST /callbacks/{cid}", "staff", "/admin/callbacks/{t.far_callback}",
           lambda t: {"action": "claim"}, CALLBACK_TABLES),
    # One's own requests given to another banner's colleague (who could not even open them).
    Attack("POST /callbacks/bulk", "staff", "/admin/callbacks/bulk",
           lambda t: {"ids": str(t.own_callback), "assignee": str(t.far_staff)}, CALLBACK_TABLES),
    Attack("POST /callbacks/{cid}", "staff", "/admin/callbacks/{t.own_callback}",
           lambda t: {"action": "assign", "assignee": str(t.far_staff)}, CALLBACK_TABLES),
    # -- village legal advisers and ratings
    Attack("POST /advisers/new", "staff", "/admin/advisers/new",
           lambda t: {"code": "adv-mole", "name": "律师", "villages": t.far_village},
           ADVISER_TABLES, refused=DIRECTORY_SCOPE),
    Attack("POST /advisers/{aid}", "staff", "/admin/advisers/{t.far_adviser}",
           lambda t: {"name": "改名", "villages": t.own_village}, ADVISER_TABLES),
    # One's own adviser given a village of another banner.
    Attack("POST /advisers/{aid}", "staff", "/admin/advisers/{t.own_adviser}",
           lambda t: {"name": "改名", "villages": t.far_village}, ADVISER_TABLES,
           refused=DIRECTORY_SCOPE),
    Attack("POST /advisers/{aid}/delete", "staff", "/admin/advisers/{t.far_adviser}/delete",
           lambda t: {}, ADVISER_TABLES),
    Attack("POST /advisers/import", "staff", "/admin/advisers/import",
           lambda t: {"file": File("a.csv", adviser_csv(t.far_village), "text/csv")},
           ADVISER_TABLES, refused=DIRECTORY_SCOPE),
    Attack("POST /feedback/low/{kind}/{sid}", "staff",
           "/admin/feedback/low/callback/{t.far_rating}", lambda t: {"note": "已回访"},
           ("ratings",)),
    # -- appointments
    Attack("POST /appointments/point/{code}", "staff",
           "/admin/appointments/point/{t.far_point_code}",
           lambda t: {"action": "add_pattern", "service": "mediation", "weekday": "1",
                      "start": "14:00", "end": "15:00", "capacity": "9"}, APPOINTMENT_TABLES),
    Attack("POST /appointments/point/{code}", "staff",
           "/admin/appointments/point/{t.far_point_code}",
           lambda t: {"action": "add_closed", "day": "2030-01-02", "reason": "x"},
           APPOINTMENT_TABLES),
    Attack("POST /appointments/{aid}", "staff", "/admin/appointments/{t.far_appointment}",
           lambda t: {"action": "no_show"}, APPOINTMENT_TABLES),
    Attack("POST /appointments/{aid}", "staff", "/admin/appointments/{t.far_appointment}",
           lambda t: {"action": "reschedule", "slot": "2030-01-02 09:00"}, APPOINTMENT_TABLES),
    # Booking or cancelling on a household's behalf at another banner's point, even for a box
    # of one's own banner.
    Attack("POST /appointments/point/{code}/behalf", "staff",
           "/admin/appointments/point/{t.far_point_code}/behalf",
           lambda t: {"slot": f"mediation|{tomorrow()} 09:00", "phone": "13900139000",
                      "serial": t.own_box, "key": "a" * 24}, APPOINTMENT_TABLES),
    Attack("POST /appointments/{aid}/cancel", "staff",
           "/admin/appointments/{t.far_appointment}/cancel", lambda t: {}, APPOINTMENT_TABLES),
    # What to bring is one list for the whole city: a banner's staff may not change it.
    Attack("POST /appointments/bring", "staff", "/admin/appointments/bring",
           lambda t: {"service": "notarisation", "text": "只带户口本"}, ("appointment_bring",)),
    # -- the box registry
    # Another banner's pending box accepted into a village of one's own.
    Attack("POST /registry/decide", "staff", "/admin/registry/decide",
           lambda t: {"serials": t.far_pending, "decision": "accept",
                      "village_code": t.own_village}, BOX_TABLES),
    Attack("POST /registry/decide", "staff", "/admin/registry/decide",
           lambda t: {"serials": t.far_pending, "decision": "reject"}, BOX_TABLES),
    Attack("POST /registry/decide", "staff", "/admin/registry/decide",
           lambda t: {"serials": t.own_pending, "decision": "accept",
                      "village_code": t.far_village}, BOX_TABLES),
    Attack("POST /registry/auto-accept", "staff", "/admin/registry/auto-accept",
           lambda t: {"village_code": t.far_village, "on": "1"}, ("auto_accept_villages",)),
    Attack("POST /registry/import", "staff", "/admin/registry/import",
           lambda t: {"file": File("b.csv", registry_csv(t.far_village), "text/csv")},
           BOX_TABLES),
    Attack("POST /registry/households", "staff", "/admin/registry/households",
           lambda t: {"file": File("h.csv", f"village_code,households\n{t.far_village},9\n"
                                   .encode(), "text/csv")}, ("village_households",)),
    # One's own box replaced by another banner's box: that box would move over.
    Attack("POST /registry/box/{serial}/replace", "staff",
           "/admin/registry/box/{t.own_box}/replace",
           lambda t: {"new_serial": t.far_pending}, BOX_TABLES),
    Attack("POST /registry/box/{serial}/replace", "staff",
           "/admin/registry/box/{t.far_box}/replace",
           lambda t: {"new_serial": "MOLE-0001"}, BOX_TABLES),
    Attack("POST /registry/box/{serial}/household", "staff",
           "/admin/registry/box/{t.far_box}/household",
           lambda t: {"label": "王家", "address": "", "contact": ""}, BOX_TABLES),
    Attack("POST /registry/box/{serial}/edit", "staff", "/admin/registry/box/{t.far_box}/edit",
           lambda t: {"firmware": "MOLE", "version": "x"}, BOX_TABLES),
    Attack("POST /registry/box/{serial}/revoke-tv", "staff",
           "/admin/registry/box/{t.far_box}/revoke-tv", lambda t: {}, BOX_TABLES),
    Attack("POST /registry/box/{serial}/revoke-token", "staff",
           "/admin/registry/box/{t.far_box}/revoke-token", lambda t: {},
           (*BOX_TABLES, "device_token_state")),
    # -- waves and coverage
    Attack("POST /waves/new", "staff", "/admin/waves/new",
           lambda t: {"name": "达拉特旗", "kind": "expansion", "regions": FAR,
                      "ramp_percent": "100"}, WAVE_TABLES, refused="目标地区超出了您负责的地区"),
    Attack("POST /waves/{wid}", "staff", "/admin/waves/{t.city_wave}",
           lambda t: {"action": "pause"}, WAVE_TABLES),
    Attack("POST /coverage/snapshot", "staff", "/admin/coverage/snapshot", lambda t: {},
           ("coverage_snapshots",)),
    Attack("POST /coverage/readiness", "staff", f"/admin/coverage/readiness?region={FAR}",
           lambda t: {"top": "5"}, WAVE_TABLES),
]  # fmt: skip

# Mutating routes without an object of a region, and why.
UNSCOPED = {
    "POST /login": "signs in: no object, before any account is known",
    "POST /logout": "ends the caller's own session",
    "POST /media": "stores a file attached to nothing; a program uses it only through its own"
    " region-checked save",
    "POST /laws/new": "the law register is one for the whole city and admin-only (laws.edit);"
    " roles are tested in test_law_register_scope.py",
    "POST /laws/{code}": "the law register: admin-only, no region (test_law_register_scope.py)",
    "POST /laws/import": "the law register: admin-only, no region (test_law_register_scope.py)",
    "POST /programs/images": "插入图片 stores a picture attached to nothing; it joins a program"
    " only through that program's region-checked save",
}


# -- helpers -------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def package(slug: str, region: str, *, category_title: str = "") -> bytes:
    """A zip with the demo's categories.toml and one program (a copy of yichan-jicheng) under
    `slug`, aimed at `region`; `category_title` renames that program's category."""
    categories = (CATALOG / "categories.toml").read_text(encoding="utf-8")
    program = (CATALOG / "yichan-jicheng" / "program.toml").read_text(encoding="utf-8")
    category = re.search(r'category = "(.*)"', program).group(1)
    if category_title:
        categories = re.sub(
            rf'(slug = "{category}"\ntitle = )".*"', rf'\1"{category_title}"', categories
        )
        assert category_title in categories
    files = {"categories.toml": categories.encode()}
    for rel, data in tree(CATALOG / "yichan-jicheng").items():
        if rel == "program.toml":
            text = program.replace('"yichan-jicheng"', f'"{slug}"')
            data = re.sub(r"regions = \[.*\]", f'regions = ["{region}"]', text).encode()
        files[f"{slug}/{rel}"] = data
    return export.zip_files(files)


def adviser_csv(village: str) -> bytes:
    header = "code,name,firm,office_code,phone,languages,services,villages,sittings,place"
    return f"{header},description\nadv-mole,律师,,,,zh,,{village},,,\n".encode()


async def low_rating(client, serial: str) -> int:
    db = client.app[keys.DB]
    request_id = await callback(client, serial, key="rated" * 3)
    admin = await users.find_user(db, "admin")
    await lifecycle.claim(db, request_id, admin.id)
    await lifecycle.complete(db, request_id, admin.id, "已电话解答")
    device_id = await db.fetchval("SELECT id FROM devices WHERE serial = ?", (serial,))
    ref = await db.fetchval("SELECT ref FROM callback_requests WHERE id = ?", (request_id,))
    subject = await ratings.subject(db, device_id, "callback", ref)
    await ratings.answer(db, subject, 1, now=time.time())
    return request_id


def registry_csv(village: str) -> bytes:
    header = "serial,mac,model,firmware,village_code,household_label,installed_at,state"
    return f"{header}\nMOLE-0002,,,,{village},,,\n".encode()


def admin_app(app: web.Application) -> web.Application:
    """The admin sub-application mounted under /admin."""
    for resource in app.router.resources():
        info = resource.get_info()
        if info.get("prefix") == "/admin" and "app" in info:
            return info["app"]
    raise AssertionError("no admin sub-application")


def mutating_routes(admin: web.Application) -> set[str]:
    """Every admin route that is not a read, as "METHOD /path" (registered, without /admin)."""
    return {
        f"{route.method} {route.resource.canonical.removeprefix('/admin')}"
        for route in admin.router.routes()
        if route.method not in ("GET", "HEAD", "OPTIONS")
    }


async def snapshot(db, tables: tuple[str, ...]) -> dict[str, list[tuple]]:
    return {
        table: [tuple(r) for r in await db.fetchall(f"SELECT * FROM {table} ORDER BY rowid")]
        for table in tables
    }


async def first_village(db, prefix: str) -> str:
    return await db.fetchval(
        "SELECT code FROM regions WHERE level = 'village' AND code LIKE ? ORDER BY code LIMIT 1",
        (prefix + "%",),
    )


async def moved_program(db, data_dir) -> tuple[int, int]:
    """A program first published for 达拉特旗, then moved to 东胜区 (published again)."""
    category = next(iter(await workflow.category_titles(db)))
    fields = Fields(title="先在达拉特旗", summary="摘要", category=category, regions=(FAR,),
                    body="# 一\n\n内容")  # fmt: skip
    common = {"region_exists": lambda code: True, "max_bytes": 10**7, "author": "editor"}
    pid = await workflow.create_program(db, data_dir, fields, **common)
    first = (await workflow.get_state(db, pid)).draft.id
    await workflow.submit(db, pid, revision=first, actor="editor")
    await workflow.approve(db, pid, revision=first, actor="reviewer", role="reviewer")
    moved = Fields(**{**fields.__dict__, "title": "后到东胜区", "regions": (OWN,)})
    second = await workflow.save_draft(db, data_dir, pid, moved, base_revision=first, **common)
    await workflow.submit(db, pid, revision=second, actor="editor")
    await workflow.approve(db, pid, revision=second, actor="reviewer", role="reviewer")
    assert (await workflow.get_state(db, pid)).regions == [OWN]
    return pid, first


async def video_programs(db, data_dir) -> tuple[int, int]:
    """Two published programs showing the demo's video file, one for 东胜区 and one for
    达拉特旗, each with its own Chinese subtitles."""
    media = await db.fetchval(
        "SELECT video_media_id FROM programs WHERE slug = 'fang-dianxin-zhapian'"
    )
    category = next(iter(await workflow.category_titles(db)))
    common = {"region_exists": lambda code: True, "max_bytes": 10**7, "author": "editor"}
    out = []
    for region, words in ((OWN, "东胜区的字幕"), (FAR, "达拉特旗的字幕")):
        fields = Fields(title=f"同一个视频{region}", summary="摘要", category=category,
                        regions=(region,), body="# 一\n\n内容")  # fmt: skip
        pid = await workflow.create_program(
            db, data_dir, fields, staged=workflow.Staged(video=media, duration=60), **common
        )
        await subtitle_edits.save_track(
            db, pid, "zh", subtitles.parse(f"0:01 - 0:03 {words}"), author="editor"
        )
        rev = (await workflow.get_state(db, pid)).draft.id
        await workflow.submit(db, pid, revision=rev, actor="editor")
        await workflow.approve(db, pid, revision=rev, actor="reviewer", role="reviewer")
        out.append(pid)
    return out[0], out[1]


async def shown_subtitles(db, pid: int) -> str:
    """The Chinese subtitles boxes are shown with a program's video."""
    file = await db.fetchval(
        "SELECT m.file FROM programs p JOIN media m ON m.id = p.video_media_id WHERE p.id = ?",
        (pid,),
    )
    return (await subtitles.tracks_of_program(db, pid, file))["zh"].vtt


async def callback(client, serial: str, key: str = "outside" * 3) -> int:
    db = client.app[keys.DB]
    device_id, village = await db.fetchone(
        "SELECT id, village_code FROM devices WHERE serial = ?", (serial,)
    )
    chain = [r.code for r in client.app[keys.REGIONS].chain(village)]
    draft = box_requests.validate("legal_aid", "13900139000", "evening", key)
    request, _ = await lifecycle.submit(db, lifecycle.Policy(), device_id, draft, chain, max_open=3)
    return request.id


def tomorrow() -> str:
    return (slots.today() + dt.timedelta(days=1)).isoformat()


async def appointment(client, serial: str, point_code: str) -> int:
    """A booking for tomorrow 09:00 at this point (which gets a daily mediation slot)."""
    db = client.app[keys.DB]
    device_id = await db.fetchval("SELECT id FROM devices WHERE serial = ?", (serial,))
    await slots.add_patterns(db, point_code, "mediation", list(range(1, 8)), "09:00", "09:30", 2)
    draft = await bookings.save_draft(db, device_id, "mediation", point_code, "13900139000")
    tomorrow = slots.today() + dt.timedelta(days=1)
    made, _ = await bookings.book(
        db, Calendar(), device_id, draft, tomorrow, "09:00", horizon_days=14, max_active=3
    )
    return made.id


async def targets(client, data_dir) -> Targets:
    db = client.app[keys.DB]
    own_village, far_village = await first_village(db, OWN), await first_village(db, FAR)
    await admission.register_pending(db, "OWN-PEND-0001", own_village)
    await admission.register_pending(db, "FAR-PEND-0001", far_village)
    far_box = await db.fetchval(
        "SELECT serial FROM devices WHERE village_code LIKE ? AND state = 'installed'"
        " ORDER BY serial LIMIT 1",
        (FAR + "%",),
    ) or await db.fetchval(
        "SELECT serial FROM devices WHERE village_code LIKE ? AND serial LIKE 'DEMO-%'"
        " ORDER BY serial LIMIT 1",
        (FAR + "%",),
    )
    city_program, city_slug = await db.fetchone(
        "SELECT p.id, p.slug FROM programs p JOIN program_regions r ON r.program_id = p.id"
        " WHERE r.region_code = '1506' AND p.slug = 'yichan-jicheng'"
    )
    # Demo programs get their workflow row when first read: read it before the snapshots.
    city_revision = (await workflow.get_state(db, city_program)).draft.id
    moved, first = await moved_program(db, data_dir)
    own_video, far_video = await video_programs(db, data_dir)
    point_id, point_code = await db.fetchone(
        "SELECT id, code FROM service_points WHERE region_code = ?", (FAR,)
    )
    rows = list(csv.reader(io.StringIO(directory_io.decode(await directory_io.export_csv(db)))))
    header, far_row = rows[0], next(r for r in rows if r[0] == point_code)
    far_row[header.index("name")] += "（改）"
    out = io.StringIO()
    csv.writer(out).writerows([header, far_row])
    await users.create_user(db, "dsq_reviewer", DEMO_PASSWORD, "reviewer", region_code=OWN)
    return Targets(
        own_village=own_village,
        far_village=far_village,
        own_box="DEMO-0001",
        far_box=far_box,
        own_pending="OWN-PEND-0001",
        far_pending="FAR-PEND-0001",
        city_program=city_program,
        moved_program=moved,
        moved_from=first,
        city_slug=city_slug,
        city_revision=city_revision,
        own_video_program=own_video,
        far_video_program=far_video,
        far_point=point_id,
        far_point_code=point_code,
        far_org=await db.fetchval("SELECT id FROM organizations WHERE region_code = ?", (FAR,)),
        city_announcement=await db.fetchval("SELECT MIN(id) FROM announcements"),
        city_wave=await db.fetchval("SELECT MIN(id) FROM rollout_waves"),
        far_callback=await callback(client, far_box),
        far_appointment=await appointment(client, far_box, point_code),
        own_callback=await callback(client, "DEMO-0001"),
        far_staff=(
            await users.create_user(db, "dlt_staff", DEMO_PASSWORD, "staff", region_code=FAR)
        ).id,
        city_user=(await users.find_user(db, "viewer")).id,
        directory_csv=out.getvalue().encode("utf-8"),
        far_adviser=await db.fetchval(
            "SELECT MIN(adviser_id) FROM adviser_villages WHERE village_code LIKE ?", (FAR + "%",)
        ),
        own_adviser=await db.fetchval(
            "SELECT MIN(adviser_id) FROM adviser_villages WHERE village_code LIKE ?", (OWN + "%",)
        ),
        far_rating=await low_rating(client, far_box),
    )


# -- the tests -----------------------------------------------------------------------------------


def unattacked(admin: web.Application) -> list[str]:
    return sorted(mutating_routes(admin) - {a.route for a in ATTACKS} - set(UNSCOPED))


async def test_every_mutating_admin_route_is_attacked(client):
    admin = admin_app(client.app)  # the admin as served
    routes = mutating_routes(admin)
    attacked = {a.route for a in ATTACKS}
    missing = unattacked(admin)
    assert not missing, (
        f"admin routes that change data without a region-scope attack: {missing} — add a row"
        " to ATTACKS in tests/security/test_region_scope.py (or to UNSCOPED, with the reason)"
    )
    stale = sorted((attacked | set(UNSCOPED)) - routes)
    assert not stale, f"rows for routes the admin does not have: {stale}"
    assert not attacked & set(UNSCOPED)


def test_a_new_route_without_a_row_is_caught(settings):
    admin = create_admin_app(settings)
    assert unattacked(admin) == []

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    admin.router.add_post("/registry/box/{serial}/new-button", handler)
    admin.router.add_delete("/waves/{wid}", handler)
    assert unattacked(admin) == ["DELETE /waves/{wid}", "POST /registry/box/{serial}/new-button"]


@pytest.mark.parametrize("attack", ATTACKS, ids=[f"{a.route}#{i}" for i, a in enumerate(ATTACKS)])
async def test_a_scoped_user_cannot_change_another_banners_object(client, data_dir, attack):
    db = client.app[keys.DB]
    t = await targets(client, data_dir)
    response = await login(client, attack.user)
    assert response.status == 303, f"{attack.user} cannot log in"
    token = await csrf_of(client)
    before = await snapshot(db, attack.watch)
    last_audit = await db.fetchval("SELECT COALESCE(MAX(id), 0) FROM audit_log")

    response = await client.post(
        attack.path.format(t=t),
        data=form_data(token, attack.form(t)),
        allow_redirects=False,
    )
    body = await response.text()

    if attack.refused:
        assert 400 <= response.status < 500, (response.status, body[:500])
        assert attack.refused in body, body[:2000]
    else:
        assert response.status == 403, (response.status, body[:500])
        denied = await db.fetchall(
            "SELECT action FROM audit_log WHERE id > ? AND outcome = 'denied' AND username = ?",
            (last_audit, attack.user),
        )
        assert denied and "csrf" not in [r[0] for r in denied], denied
    assert await snapshot(db, attack.watch) == before


async def test_inside_their_banner_the_same_actions_still_work(client, data_dir):
    """The checks refuse only what crosses the banner: 东胜区's staff still accept their pending
    box, replace their box with a fresh one and give their requests to a colleague of theirs;
    东胜区's editor restores and imports their own program."""
    db = client.app[keys.DB]
    t = await targets(client, data_dir)
    await admission.register_pending(db, "FRESH-0001")  # a new box that announced no village
    assert (await login(client, "staff")).status == 303
    token = await csrf_of(client)
    fields = {"serials": t.own_pending, "decision": "accept", "village_code": t.own_village}
    response = await client.post(
        "/admin/registry/decide", data=form_data(token, fields), allow_redirects=False
    )
    assert response.status == 303
    assert (await inventory.device_details(db, t.own_pending))["state"] == "installed"
    response = await client.post(
        f"/admin/registry/box/{t.own_box}/replace",
        data=form_data(token, {"new_serial": "FRESH-0001"}),
        allow_redirects=False,
    )
    assert response.status == 303
    fresh = await inventory.device_details(db, "FRESH-0001")
    assert fresh["village_code"].startswith(OWN)
    assert fresh["village_code"] == (await inventory.device_details(db, t.own_box))["village_code"]

    # Their requests go to colleagues who can open them: 达拉特旗's staff are not offered.
    page = await (await client.get(f"/admin/callbacks/{t.own_callback}")).text()
    staff_id = (await users.find_user(db, "staff")).id
    assert f'<option value="{staff_id}">' in page
    assert f'<option value="{t.far_staff}">' not in page
    response = await client.post(
        f"/admin/callbacks/{t.own_callback}",
        data=form_data(token, {"action": "assign", "assignee": str(staff_id)}),
        allow_redirects=False,
    )
    assert response.status == 303
    assert (await lifecycle.get(db, t.own_callback)).assignee_id == staff_id

    assert (await login(client, "dsq_editor")).status == 303
    token = await csrf_of(client)
    state = await workflow.get_state(db, t.moved_program)
    response = await client.post(
        f"/admin/programs/{t.moved_program}/history",
        data=form_data(token, {"action": "restore", "revision": str(state.live.id)}),
        allow_redirects=False,
    )
    assert response.status == 303
    response = await client.post(
        "/admin/packages/import",
        data=form_data(token, {"file": File("bao.zip", package(state.slug, OWN))}),
    )
    assert response.status == 200, await response.text()
    latest = await workflow.get_state(db, t.moved_program)
    assert latest.draft.id > state.draft.id + 1  # restored, then imported
    assert latest.draft.content.title == "遗产怎么继承：遗嘱与法定继承"

    # 东胜区's program shares its video file with a 达拉特旗 one: its editor changes the
    # subtitles of theirs (a draft), 东胜区's reviewer publishes them; 达拉特旗's stay.
    response = await client.post(
        f"/admin/programs/{t.own_video_program}/subtitles",
        data=form_data(token, {"lang": "zh", "cues": "0:01 - 0:03 东胜区改过的字幕"}),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    assert "东胜区的字幕" in await shown_subtitles(db, t.own_video_program)  # not yet reviewed
    revision = (await workflow.get_state(db, t.own_video_program)).draft.id
    for user, action in (("dsq_editor", "submit"), ("dsq_reviewer", "approve")):
        assert (await login(client, user)).status == 303
        response = await client.post(
            f"/admin/programs/{t.own_video_program}/workflow",
            data=form_data(await csrf_of(client), {"action": action, "revision": str(revision)}),
            allow_redirects=False,
        )
        assert response.status == 303, await response.text()
    assert "东胜区改过的字幕" in await shown_subtitles(db, t.own_video_program)
    assert "达拉特旗的字幕" in await shown_subtitles(db, t.far_video_program)


async def test_the_registry_checks_the_scope_inside_its_transaction(data_dir):
    """Called with `allowed`, the domain refuses a box outside it — whichever box or village —
    and writes nothing (what the admin passes for a scoped account)."""
    from storage import OutOfScope
    from tv_server.migrations import MIGRATIONS

    db = test_database(data_dir)
    await db.open()
    try:
        await db.migrate(MIGRATIONS)
        own, far = await first_village(db, OWN), await first_village(db, FAR)
        await admission.register_pending(db, "OWN-PEND-0002", own)
        await admission.register_pending(db, "NOWHERE-0001")

        def allowed(code: str | None) -> bool:
            return bool(code) and code.startswith(OWN)

        before = await snapshot(db, BOX_TABLES)
        with pytest.raises(OutOfScope):  # the target village
            await admission.decide_pending(db, ["OWN-PEND-0002"], True, far, allowed=allowed)
        with pytest.raises(OutOfScope):  # a box placed in no village yet
            await admission.decide_pending(
                db, ["OWN-PEND-0002", "NOWHERE-0001"], True, own, allowed=allowed
            )
        far_box = await db.fetchval(
            "SELECT serial FROM devices WHERE village_code LIKE ? ORDER BY serial", (FAR + "%",)
        )
        with pytest.raises(OutOfScope):  # the old box
            await replacement.replace_box(db, far_box, "MOLE-0003", allowed=allowed)
        assert await snapshot(db, BOX_TABLES) == before
        assert await admission.decide_pending(db, ["OWN-PEND-0002"], True, own, allowed=allowed)
    finally:
        await db.close()
