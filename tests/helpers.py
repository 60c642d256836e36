"""Helpers shared by test modules: settings, entering the TV as a box, logging in to the admin,
and the steps several tests take (import them from here, never from another test module or
from conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestServer
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from accounts import apikeys, users
from accounts.users import find_user
from appointments import bookings, slots
from callbacks import lifecycle
from callbacks import requests as box_requests
from content.directory import csv_io as directory_io
from content.programs import subtitle_edits, subtitles, workflow
from device_registry import records, tokens
from device_registry.regions import RegionTree
from storage import Database, database_for
from tv_server import caches, callback_policy, keys
from tv_server.boxauth import launch_signature
from tv_server.demo import catalog_root, ensure_laws, ensure_regions, load_demo
from tv_server.front import FrontRunner
from tv_server.migrations import MIGRATIONS
from tv_server.settings import load_settings

# -- settings, the app behind the front, entering the TV, logging in to the admin ------------------

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
TEST_SECRET = "test-launch-secret-0123456789"
CHROMIUM = "/usr/bin/chromium"  # the browser tests' (tests/browser/conftest.py)
# `LEGALTV_TEST_BACKEND=postgresql` runs the suite on PostgreSQL (a throwaway cluster,
# tests/pgcluster.py; `make test-pg`): every test's data dir then names its own database, a copy
# of the demo's (tests/conftest.py).
BACKEND = os.environ.get("LEGALTV_TEST_BACKEND", "sqlite")
URL_FILE = "database.url"  # in a test's data dir: the database it uses, when not the file
PG_TEMPLATE = "legaltv_demo"
SCREEN_LINK = re.compile(r'href="([a-z]+-[^"#]*|home|programs|dir|cb|mine)"')


def make_settings(data_dir: Path, **overrides):
    values = {
        "launch_secret": TEST_SECRET,
        "demo": True,
        "allow_unsigned": True,
        "usage_flush_seconds": 0.2,
        # Uploaded videos are transcoded in the background: one rung keeps that cheap here
        # (tests/test_video.py encodes the whole ladder once).
        "video_ladder": "540:1200",
    }
    url_file = Path(data_dir) / URL_FILE
    if url_file.exists():
        values["database_url"] = url_file.read_text()
    values.update(overrides)
    return load_settings(env={}, data_dir=str(data_dir), **values)


def test_database(data_dir: Path, **kwargs):
    """The database of a test's data dir (not opened): its SQLite file, or the PostgreSQL
    database the data dir names when the suite runs on PostgreSQL."""
    url_file = data_dir / URL_FILE
    url = url_file.read_text() if url_file.exists() else ""
    return database_for(url, data_dir / "legaltv.sqlite3", **kwargs)


test_database.__test__ = False  # a helper, not a test


def build_demo(data_dir: Path) -> None:
    """Migrate the data dir's database and load the bundled demo into it."""

    async def build() -> None:
        db = test_database(data_dir)
        await db.open()
        try:
            await db.migrate(MIGRATIONS)
            await load_demo(db, data_dir)
        finally:
            await db.close()

    asyncio.run(build())


async def value_in(data_dir: Path, sql: str, params=()):
    """One value read from a data dir's database by a connection of its own (as another
    process would; for tests whose server runs in a subprocess), on either backend."""
    db = test_database(data_dir)
    await db.open()
    try:
        return await db.fetchval(sql, params)
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def write_lock_held(data_dir: Path):
    """Hold a data dir's database write lock from a connection of its own, as another process's
    long write would: the server's write transactions wait until the block ends. Either
    backend (PostgreSQL: the advisory lock every write transaction takes first)."""
    url_file = data_dir / URL_FILE
    if url_file.exists():
        import asyncpg

        from storage.pg import WRITE_LOCK

        conn = await asyncpg.connect(url_file.read_text())
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", WRITE_LOCK)
            yield
        finally:
            await conn.close()  # the session ends: the lock is free
        return
    conn = sqlite3.connect(
        data_dir / "legaltv.sqlite3", isolation_level=None, timeout=30, check_same_thread=False
    )
    try:
        await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
        yield
        await asyncio.to_thread(conn.execute, "ROLLBACK")
    finally:
        conn.close()


def rows_in(data_dir: Path, sql: str, params=()) -> list[tuple]:
    """`value_in` for a test with no event loop running: every row, as tuples."""

    async def read():
        db = test_database(data_dir)
        await db.open()
        try:
            return [tuple(r) for r in await db.fetchall(sql, params)]
        finally:
            await db.close()

    return asyncio.run(read())


def write_in(data_dir: Path, sql: str, rows=((),)) -> None:
    """One statement per row of parameters, in one transaction of a connection of its own (as
    another process would), for a test with no event loop running; either backend."""

    async def write():
        db = test_database(data_dir)
        await db.open()
        try:
            async with db.transaction() as tx:
                await tx.executemany(sql, rows)
        finally:
            await db.close()

    asyncio.run(write())


async def stored_bytes(db, data_dir: Path) -> bytes:
    """What the database holds, to search for a value that must be gone. On SQLite the bytes of
    its file and WAL (free pages and overwritten records included: erased means gone from the
    file). On PostgreSQL every row of every table as text: the server's own files keep dead
    row versions until VACUUM reuses them, which no test can wait for (docs/scaling.md)."""
    if db.backend == "sqlite":
        files = [data_dir / "legaltv.sqlite3", data_dir / "legaltv.sqlite3-wal"]
        return b"".join(path.read_bytes() for path in files if path.exists())
    parts = []
    for table in await db.tables():
        rows = await db.fetchall(f'SELECT t::text FROM "{table}" t')
        parts.extend(row[0].encode("utf-8") for row in rows)
    return b"\n".join(parts)


def demo_copy(template: Path, target: Path, cluster=None) -> str:
    """Make `target` a data dir holding a copy of the demo database of `template` (the
    `demo_template` fixture's folder; on PostgreSQL, with the session's `cluster`, a new
    database made from the demo's); media folders are shared links. Return the database URL
    the data dir names ("" for its SQLite file)."""
    target.mkdir()
    url = ""
    if cluster is not None:
        name = "t_" + uuid.uuid4().hex[:16]
        cluster.psql(f"CREATE DATABASE {name} TEMPLATE {PG_TEMPLATE}")
        url = cluster.url(name)
        (target / URL_FILE).write_text(url)
    else:
        # Closing the template database checkpointed its WAL, so the main file is complete.
        shutil.copyfile(template / "legaltv.sqlite3", target / "legaltv.sqlite3")
    for name in ("media", "renditions", "titlecards"):
        (target / name).symlink_to(template / name)
    return url


def device_token_key(app: web.Application) -> bytes:
    """The key the app signs device tokens with (for `enrolment.issue_token` in tests)."""
    return tokens.key_of(app[keys.SETTINGS].device_token_secret)


async def legacy_device_token(db: Database, serial: str) -> str:
    """A device token as issued before signed tokens: random, only its hash stored."""
    import hashlib
    import secrets

    raw = "ltvd_" + secrets.token_urlsafe(32)
    await db.execute(
        "INSERT INTO device_tokens (device_id, token_hash, issued_at)"
        " SELECT id, ?, 0 FROM devices WHERE serial = ?"
        " ON CONFLICT (device_id) DO UPDATE SET token_hash = excluded.token_hash",
        (hashlib.sha256(raw.encode()).hexdigest(), serial),
    )
    return raw


class FrontTestServer(TestServer):
    """The test server with the front installed (tv_server.front), as `legaltv serve` runs."""

    async def _make_runner(self, **kwargs) -> FrontRunner:
        return FrontRunner(self.app, **kwargs)


async def enter(client, serial: str = "DEMO-0001") -> str:
    """Enter the TV as the demo entry does; return the box's screen base `/tv/b/TOKEN/`."""
    response = await client.get("/tv/", params={"stb": serial}, allow_redirects=False)
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    assert location.endswith("/home")
    return location[: -len("home")]


DEMO_PASSWORD = "ordos-demo-2026"


async def login(client, username: str, password: str = DEMO_PASSWORD):
    """Log in to the admin as a person would: fetch the form, post it with its CSRF token."""
    html = await (await client.get("/admin/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = await client.post(
        "/admin/login",
        data={"csrf_token": token, "username": username, "password": password},
        allow_redirects=False,
    )
    return response


async def csrf_of(client, path: str = "/admin/") -> str:
    """The CSRF token printed in an admin page's forms."""
    html = await (await client.get(path)).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# -- callback requests: made on the box, worked in the admin ---------------------------------------


async def new_request(client, serial="DEMO-0001", service="consultation", phone="13800138000"):
    box = await enter(client, serial)
    response = await client.post(
        box + "cb-phone", data={"svc": service, "phone": phone}, allow_redirects=False
    )
    draft = re.search(r"d=([0-9a-f]+)", response.headers["Location"]).group(1)
    response = await client.post(
        box + "cb-submit", data={"d": draft, "w": "morning"}, allow_redirects=False
    )
    ref = response.headers["Location"].rsplit("r-", 1)[1]
    cid = await client.app[keys.DB].fetchval(
        "SELECT id FROM callback_requests WHERE ref = ?", (ref,)
    )
    return box, ref, cid


async def act_on_callback(client, cid, **data):
    token = await csrf_of(client, f"/admin/callbacks/{cid}")
    return await client.post(
        f"/admin/callbacks/{cid}", data={"csrf_token": token, **data}, allow_redirects=False
    )


# -- programs in the admin -------------------------------------------------------------------------

BODY = (
    "# 第一页标题\n\n草场流转要签书面合同，写清面积、年限和价格。\n\n"
    "# 第二页\n\n有纠纷先找村调解委员会，也可拨打12348。\n"
)


def form(**changes) -> dict:
    data = {
        "title": "草场流转新规定",
        "summary": "签书面合同，写清面积年限。",
        "category": "caoyuan-tudi",
        "tags": "草场，合同",
        "language": "zh",
        "regions": "1506",
        "body": BODY,
    }
    data.update(changes)
    return data


async def create(client, **changes) -> int:
    token = await csrf_of(client, "/admin/programs/new")
    response = await client.post(
        "/admin/programs/new", data={"csrf_token": token, **form(**changes)}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    return int(re.search(r"/programs/(\d+)", response.headers["Location"]).group(1))


async def save_with_video(client, pid: int, path: Path, name: str, **extra):
    """The program editor's form of program `pid` posted with a video file (and `extra` images,
    name → (filename, bytes)) by the logged-in editor; the response."""
    state = await workflow.get_state(client.app[keys.DB], pid)
    token = await csrf_of(client, f"/admin/programs/{pid}")
    data = FormData()
    for key, value in {"csrf_token": token, "revision": str(state.draft.id), **form()}.items():
        data.add_field(key, value)
    raw = await asyncio.to_thread(path.read_bytes)
    data.add_field("video", raw, filename=name, content_type="application/octet-stream")
    for key, (filename, content) in extra.items():
        data.add_field(key, content, filename=filename, content_type="image/jpeg")
    return await client.post(f"/admin/programs/{pid}", data=data, allow_redirects=False)


async def create_with_video(client, path: Path, name: str) -> int:
    """A new program saved with a video file by the logged-in editor; its id."""
    pid = await create(client)
    saved = await save_with_video(client, pid, path, name)
    assert saved.status == 303, await saved.text()
    return pid


async def act_on_program(client, pid: int, action: str, **extra):
    token = await csrf_of(client, f"/admin/programs/{pid}")
    state = await workflow.get_state(client.app[keys.DB], pid)
    data = {"csrf_token": token, "action": action, "revision": state.draft.id, **extra}
    return await client.post(f"/admin/programs/{pid}/workflow", data=data, allow_redirects=False)


async def publish_subtitles(app, pid: int, text: str, lang: str = "zh") -> None:
    """Subtitles typed into a program's working copy, submitted by an editor and published by
    a reviewer (subtitles reach boxes only so)."""
    db = app[keys.DB]
    await subtitle_edits.save_track(db, pid, lang, subtitles.parse(text), author="editor")
    revision = (await workflow.get_state(db, pid)).draft.id
    await workflow.submit(db, pid, revision=revision, actor="editor")
    await workflow.approve(db, pid, revision=revision, actor="reviewer", role="reviewer")
    await caches.changed(app, "program", [pid])  # what the admin's workflow page publishes


async def switch(client, admin_as, username: str):
    client.session.cookie_jar.clear()
    await admin_as(username)


# -- the TV in Chromium: sizes, focus, key presses, screenshots ------------------------------------

SIZES = [pytest.param((1280, 720), id="720p"), pytest.param((3840, 2160), id="2160p")]
FOCUSED = "document.activeElement ? document.activeElement.id : ''"
ON_BODY = "!document.activeElement || document.activeElement === document.body"


# JavaScript functions for checks of what shows: `inside(r, b)` (rectangle r wholly inside b),
# `pos(r)`, `boxCut(el, r, stop)`: el's rectangle r cut off by an ancestor that clips (overflow
# other than visible) below the element with id `stop`, and `clipped(el, r, stop)`: that, or r
# not wholly inside `stop`.
CLIP_FUNCTIONS = """
  function inside(r, b) { return r.width > 0 && r.left >= b.left - 1 && r.top >= b.top - 1
    && r.right <= b.right + 1 && r.bottom <= b.bottom + 1; }
  function pos(r) { return [Math.round(r.left), Math.round(r.top), Math.round(r.right),
    Math.round(r.bottom)]; }
  function boxCut(el, r, stop) {
    for (var p = el.parentNode; p && p.id !== stop; p = p.parentNode) {
      if (getComputedStyle(p).overflow !== 'visible' && !inside(r, p.getBoundingClientRect())) {
        return true; }
    }
    return false; }
  function clipped(el, r, stop) {
    return boxCut(el, r, stop) || !inside(r, document.getElementById(stop).getBoundingClientRect());
  }
"""
# The Mongolian text images (img.mi) shown on an image-path screen that are not wholly visible:
# [alt, left, top, right, bottom]. Each must lie inside the canvas, cut off by no box around it.
# With `scrolls`, an image in #main may lie above or below it (a list the focus scrolls into
# view) but not off its sides, nor cut off by a box of its own.
IMAGES_CUT_OFF = (
    """(scrolls) => {"""
    + CLIP_FUNCTIONS
    + """
  var out = [], imgs = document.querySelectorAll('img.mi'), main = document.getElementById('main');
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].getClientRects().length) { continue; }  // not shown
    var r = imgs[i].getBoundingClientRect(), m = main && main.getBoundingClientRect(), cut;
    if (scrolls && main && main.contains(imgs[i])) {
      cut = boxCut(imgs[i], r, 'main') || r.left < m.left - 1 || r.right > m.right + 1;
    } else {
      cut = clipped(imgs[i], r, 'canvas');
    }
    if (cut) { out.push([imgs[i].alt].concat(pos(r))); }
  }
  return out; }"""
)

# The focused element lies wholly inside the visible part of the screen's main area.
FOCUS_VISIBLE = """(() => { var el = document.activeElement, m = document.getElementById('main');
  if (!el || !m || !m.contains(el)) { return true; }
  var r = el.getBoundingClientRect(), b = m.getBoundingClientRect();
  return r.top >= b.top - 1 && r.bottom <= b.bottom + 1 && r.left >= b.left - 1
    && r.right <= b.right + 1; })()"""


async def open_box(tv, size, serial="DEMO-0001"):
    server, browser = tv
    page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url(f"/tv/?stb={serial}")))
    page.errors = errors
    return page


# The Mongolian TV in Chromium: a box entering in Mongolian, a box forced to the image path.
async def open_mn(tv, size, serial="DEMO-0001"):
    server, browser = tv
    page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url(f"/tv/?stb={serial}&lang=mn")))
    page.errors = errors
    return page


# Text nodes holding Mongolian letters, and images that did not load.
IMAGE_PATH_STATE = """() => {
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, null, false);
  var mongolian = [];
  while (walker.nextNode()) {
    if (/[\\u1800-\\u18af]/.test(walker.currentNode.nodeValue)) {
      mongolian.push(walker.currentNode.nodeValue); }
  }
  var imgs = document.querySelectorAll('img.mi'), broken = [];
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) { broken.push(imgs[i].src); }
  }
  return {mongolian: mongolian, images: imgs.length, broken: broken,
          mode: getComputedStyle(document.getElementById('canvas')).writingMode}; }"""


async def force_image_path(server, serial):
    async with server.app[keys.DB].transaction() as tx:
        await tx.execute(
            "INSERT INTO device_models (model, vendor, keymap_family, screen_profile,"
            " mongolian_text) VALUES ('OLD-WEBKIT', 'test', 'browser', '1080p', 0)"
        )
        await tx.execute("UPDATE devices SET model = 'OLD-WEBKIT' WHERE serial = ?", (serial,))


async def assert_image_path(page):
    await page.wait_for_load_state("load")
    state = await page.evaluate(IMAGE_PATH_STATE)
    assert state["mongolian"] == [], (page.url, state["mongolian"][:3])
    assert state["images"] > 0 and state["broken"] == [], (page.url, state)
    assert state["mode"] == "horizontal-tb"  # the box cannot write vertically: no need to


async def press(page, key, *, wait_nav=False):
    if wait_nav:
        # Wait for a real page change: tv.js records the focused id in the URL's hash
        # (history.replaceState) just before leaving, which is a navigation of its own.
        before = page.url.split("#")[0]
        async with page.expect_navigation(url=lambda url: url.split("#")[0] != before):
            await page.keyboard.press(key)
    else:
        await page.keyboard.press(key)
        await page.wait_for_timeout(100)
    assert not await page.evaluate(ON_BODY), f"focus fell to body after {key} on {page.url}"
    assert await page.evaluate(FOCUS_VISIBLE), f"focused element clipped after {key} on {page.url}"


async def shot(page, name, size):
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}-{size[0]}x{size[1]}.png"))


async def no_overflow(page):
    """Nothing sticks out of the 1280x720 canvas at any output size."""
    overflow = await page.evaluate(
        """() => { var c = document.getElementById('canvas').getBoundingClientRect();
        return [document.documentElement.scrollWidth > window.innerWidth,
                document.documentElement.scrollHeight > window.innerHeight,
                Math.round(c.width), Math.round(c.height), window.innerWidth]; }"""
    )
    assert overflow[:2] == [False, False], overflow
    # The canvas fills the screen: scaled 1x, 1.5x or 3x.
    assert overflow[2] == overflow[4], overflow


# -- the front's fast lane -------------------------------------------------------------------------


async def front_screens(client) -> int:
    return (await (await client.get("/healthz")).json())["front"]["tv_screen"]


async def warm_screen(client, box) -> str:
    """A shared screen the box has been served twice (the second by the fast lane)."""
    program_id = await client.app[keys.DB].fetchval(
        "SELECT id FROM programs WHERE status = 'published' LIMIT 1"
    )
    url = f"{box}p-{program_id}-1"
    assert (await client.get(url)).status == 200
    before = await front_screens(client)
    assert (await client.get(url)).status == 200
    assert await front_screens(client) == before + 1
    return url


# -- a claimed callback request --------------------------------------------------------------------


async def claimed_request(app) -> tuple[int, str]:
    """A request of DEMO-0001 made and claimed by the scoped staff member (domain functions on
    the server's own database)."""
    db = app[keys.DB]
    device_id, village = await db.fetchone(
        "SELECT id, village_code FROM devices WHERE serial = 'DEMO-0001'"
    )
    chain = [r.code for r in app[keys.REGIONS].chain(village)]
    draft = box_requests.validate("consultation", "13800138000", "morning", "live" * 4)
    req, _ = await lifecycle.submit(db, lifecycle.Policy(), device_id, draft, chain, max_open=3)
    staff = await find_user(db, "staff")
    await lifecycle.claim(db, req.id, staff.id)
    return req.id, req.ref


# -- the admin in Chromium -------------------------------------------------------------------------


def contract_picture() -> bytes:
    """A recognisable page picture: a blue sheet with ruled lines, as PNG."""
    image = Image.new("RGB", (1200, 800), (232, 240, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 60, 1120, 740), outline=(20, 70, 150), width=12)
    for y in range(160, 700, 70):
        draw.line((140, y, 1060, y), fill=(40, 90, 170), width=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def log_in(page, base: str, username: str) -> None:
    await page.context.clear_cookies()
    await page.goto(base + "/admin/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/admin/")


async def shots(page, name: str, *, full_page: bool = True) -> None:
    """Screenshots of the current page at 1280×720 and 3840×2160."""
    for width, height in ((1280, 720), (3840, 2160)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.wait_for_timeout(150)
        path = ARTIFACTS / f"{name}-{width}x{height}.png"
        await page.screenshot(path=str(path), full_page=full_page)
    await page.set_viewport_size({"width": 1280, "height": 900})


# -- text measured on a rendered screen ------------------------------------------------------------

# For every element with its own text: font size in canvas px, and the contrast between its
# colour and the first opaque background behind it (WCAG relative luminance).
MEASURE = """() => {
  function rgb(s) { var m = s.match(/[\\d.]+/g); return m ? m.map(Number) : [0,0,0,0]; }
  function lum(c) { var a = c.slice(0,3).map(function (v) { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2]; }
  function bg(el) { while (el) { var c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0.5) { return c; } el = el.parentElement; } return [255,255,255]; }
  var out = [], all = document.querySelectorAll('#canvas *');
  for (var i = 0; i < all.length; i++) {
    var el = all[i], own = '';
    for (var n = el.firstChild; n; n = n.nextSibling) { if (n.nodeType === 3) own += n.nodeValue; }
    own = own.trim();
    var r = el.getBoundingClientRect();
    if (!own || r.width === 0 || r.height === 0) { continue; }
    var st = getComputedStyle(el), a = lum(rgb(st.color)), b = lum(bg(el));
    var ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    out.push({text: own.slice(0, 20), size: parseFloat(st.fontSize), contrast: ratio});
  }
  return out; }"""


# -- posted forms with files -----------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    """An uploaded file in a posted form."""

    name: str
    data: bytes
    content_type: str = "application/octet-stream"


def form_data(token: str, fields: dict) -> FormData:
    data = FormData()
    data.add_field("csrf_token", token)
    for name, value in fields.items():
        if isinstance(value, File):
            data.add_field(name, value.data, filename=value.name, content_type=value.content_type)
        else:
            data.add_field(name, value)
    return data


# -- appointments booked on the box ----------------------------------------------------------------

POINT = "sp-150602001"  # the township station of DEMO-0001's village
ALL_WEEK = [1, 2, 3, 4, 5, 6, 7]


def tomorrow() -> dt.date:
    return slots.today() + dt.timedelta(days=1)


async def publish(client, service="notarisation", capacity=1, start="09:00", end="09:30"):
    await slots.add_patterns(client.app[keys.DB], POINT, service, ALL_WEEK, start, end, capacity)


async def phone_step(client, box, day, start="09:00", service="notarisation", phone="13800138000"):
    response = await client.post(
        box + "ap-phone",
        data={"svc": service, "sp": POINT, "day": day.isoformat(), "at": start, "phone": phone},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    return re.search(r"d=([0-9a-f]+)", response.headers["Location"]).group(1)


async def book(client, box, draft, day, start="09:00"):
    return await client.post(
        box + "ap-submit",
        data={"d": draft, "day": day.isoformat(), "at": start},
        allow_redirects=False,
    )


# -- `legaltv serve` in a subprocess ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- Debian's nginx in front, with the shipped deploy/nginx/legaltv.conf -----------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NGINX_SITE = ROOT / "deploy" / "nginx" / "legaltv.conf"


def nginx_confs(
    folder: Path, *, upstreams: list[int], listen: int, root: Path, connections: int = 256
) -> Path:
    """Write into `folder` the shipped site file with its EDIT places (and the Debian paths)
    pointed here — the LegalTV processes on the `upstreams` ports, nginx on `listen`, the data
    dir `root` — and a main nginx.conf (one worker, `connections` connections) including it;
    return the main file. The tests and bench/pg_fleet_bench.py run nginx with these."""
    site = NGINX_SITE.read_text()
    one = "    server 127.0.0.1:8080 max_fails=3 fail_timeout=10s;\n"
    servers = "".join(
        f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in upstreams
    )
    for old, new in [
        (one, servers),
        ("listen 80;", f"listen 127.0.0.1:{listen};"),
        ("root /var/lib/legaltv;", f"root {root};"),
        ("/var/cache/nginx/legaltv", str(folder / "cache")),
        ("/var/log/nginx/legaltv.access.log", str(folder / "access.log")),
    ]:
        assert site.count(old) == 1, f"the shipped config no longer has {old!r}"
        site = site.replace(old, new)
    (folder / "legaltv.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root (CI containers) nginx's workers would drop to `nobody`, who cannot write the
    # cache folder the master made in this test's temporary dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = folder / "nginx.conf"
    main.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\nevents {{ worker_connections {connections}; }}\n"
        f"http {{\n{temp}\n    include {folder / 'legaltv.conf'};\n}}\n"
    )
    return main


class ServeProcess:
    """`legaltv serve` in a subprocess on a loopback port."""

    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        env = database_env(
            self.data_dir,
            {
                **os.environ,
                "LEGALTV_LAUNCH_SECRET": TEST_SECRET,
                "LEGALTV_SQLITE_SYNCHRONOUS": "FULL",
            },
        )
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
                [
                    sys.executable,
                    "-m",
                    "tv_server.cli",
                    "serve",
                    "--demo",
                    "--allow-unsigned",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, self.log.read_text()
                try:
                    async with session.get(self.base + "/healthz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("server did not start:\n" + self.log.read_text())

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# -- callback requests on the box ------------------------------------------------------------------


async def draft_for(client, box, phone="13800138000", service="consultation", sp=""):
    response = await client.post(
        box + "cb-phone",
        data={"svc": service, "sp": sp, "d": "", "phone": phone},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    return re.search(r"d=([0-9a-f]+)", response.headers["Location"]).group(1)


async def submit(client, box, draft, window="morning"):
    return await client.post(
        box + "cb-submit", data={"d": draft, "w": window}, allow_redirects=False
    )


async def box_village(client, serial="DEMO-0001") -> str:
    return await client.app[keys.DB].fetchval(
        "SELECT village_code FROM devices WHERE serial = ?", (serial,)
    )


async def ask_adviser(client, box, adviser_id) -> str:
    """请他/她回电 on the box: a callback asked of the adviser through the phone step, the
    confirm and the submit; its ref."""
    response = await client.post(
        box + "cb-phone",
        data={"svc": "consultation", "a": str(adviser_id), "phone": "13800138000"},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    draft = re.search(r"d=(\w+)", response.headers["Location"]).group(1)
    confirm = await (await client.get(box + f"cb-confirm?d={draft}&w=morning")).text()
    assert "法律顾问" in confirm
    response = await client.post(
        box + "cb-submit", data={"d": draft, "w": "morning"}, allow_redirects=False
    )
    assert response.status == 303
    return response.headers["Location"].rsplit("r-", 1)[1]


# -- content packages and the `legaltv` command ----------------------------------------------------

CATALOG = catalog_root()


async def open_db(folder: Path) -> Database:
    os.makedirs(folder, exist_ok=True)
    db = Database(folder / "legaltv.sqlite3")
    await db.open()
    await db.migrate(MIGRATIONS)
    await ensure_regions(db)
    await ensure_laws(db)  # as `serve` does: the bundled programs cite laws of the register
    return db


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def database_env(data_dir: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` for a `legaltv` subprocess on `data_dir`: its database is the one the data dir
    names (a PostgreSQL database when the suite runs on PostgreSQL), else the data dir's file."""
    env = dict(env)
    url_file = Path(data_dir) / URL_FILE
    if url_file.exists():
        env["LEGALTV_DATABASE_URL"] = url_file.read_text()
    else:
        env.pop("LEGALTV_DATABASE_URL", None)
    return env


def legaltv(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = database_env(data_dir, {**os.environ, "LEGALTV_DATA_DIR": str(data_dir)})
    env.pop("LEGALTV_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "tv_server.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


# -- the device API --------------------------------------------------------------------------------


async def wave_village(db, live: bool) -> str:
    wave = await records.started_wave_regions(db)
    rows = await db.fetchall("SELECT code FROM regions WHERE level = 'village' ORDER BY code")
    tree = await RegionTree.load(db)
    for (code,) in rows:
        on = any(r.code in wave for r in tree.chain(code))
        if on == live:
            return code
    raise AssertionError("no such village")


async def api_key_header(client, *scopes: str) -> dict:
    name = "op-" + "-".join(s.replace(":", "_") for s in scopes)
    _key_obj, raw = await apikeys.create(client.app[keys.DB], name, list(scopes))
    return {"Authorization": f"Bearer {raw}"}


async def enrol(client, body: dict, headers: dict):
    return await client.post("/api/v1/devices", json=body, headers=headers)


# -- signed launch URLs ----------------------------------------------------------------------------


def launch_params(serial="DEMO-0001", ts=None, secret=TEST_SECRET):
    ts = int(time.time()) if ts is None else ts
    return {"stb": serial, "ts": str(ts), "sig": launch_signature(secret, serial, ts)}


# -- pictures and videos to upload -----------------------------------------------------------------

DEMO_VIDEO = ROOT / "content/catalog/fang-dianxin-zhapian/media/video.mp4"
ORIENTATION = 0x0112
MAKE = 0x010F
BLUE = (0, 0, 255)


def photo(size: tuple[int, int]) -> Image.Image:
    """A photo-like picture (gradients and noise) with a blue top-left quarter as a marker."""
    width, height = size
    noise = Image.effect_noise(size, 30)
    gx = Image.linear_gradient("L").rotate(90).resize(size)
    gy = Image.linear_gradient("L").resize(size)
    im = Image.merge("RGB", (ImageChops.blend(gx, noise, 0.3), gy, noise))
    im = im.filter(ImageFilter.GaussianBlur(1))
    im.paste(BLUE, (0, 0, width // 4, height // 4))
    return im


def encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kwargs)
    return out.getvalue()


def jpeg_with_orientation(size=(600, 400), orientation=6) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "TestCam"
    return encode(photo(size), "JPEG", quality=90, exif=exif)


def blank_bomb() -> bytes:
    """A real, valid PNG of 8000 × 6000 blank pixels: 48 MP, compressed to a few kB."""
    return encode(Image.new("1", (8000, 6000)), "PNG", optimize=True)


def snapshot(data_dir: Path) -> set[str]:
    return {str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file()}


async def home_goes_to(client, box) -> str | None:
    response = await client.get(box + "home", allow_redirects=False)
    if response.status == 200:
        return None
    assert response.status == 303
    return response.headers["Location"]


async def completed_request(client, serial="DEMO-0001", service="legal_aid", key="rated" * 3):
    db = client.app[keys.DB]
    device_id, village = await db.fetchone(
        "SELECT id, village_code FROM devices WHERE serial = ?", (serial,)
    )
    chain = [r.code for r in client.app[keys.REGIONS].chain(village)]
    draft = box_requests.validate(service, "13900139000", "evening", key)
    req, _ = await lifecycle.submit(db, lifecycle.Policy(), device_id, draft, chain, max_open=3)
    admin = await users.find_user(db, "admin")
    await lifecycle.claim(db, req.id, admin.id)
    await lifecycle.complete(db, req.id, admin.id, "已电话解答")
    return req


PHONE = "13912345678"
FORMS = (PHONE, "+86" + PHONE, "139 1234 5678", "139-1234-5678", "+86-139-1234-5678")


async def attended_in(
    app,
    serial="DEMO-0001",
    service="notarisation",
    start="09:00",
    mark="attended",
    phone="13900139000",
    before_mark=None,
):
    """A booking made yesterday morning for yesterday's slot, then marked by staff today."""
    db = app[keys.DB]
    cal = callback_policy.policy(app[keys.SETTINGS]).calendar
    device_id, village = await db.fetchone(
        "SELECT id, village_code FROM devices WHERE serial = ?", (serial,)
    )
    end = f"{int(start[:2]):02d}:30"
    await slots.add_patterns(db, POINT, service, [1, 2, 3, 4, 5, 6, 7], start, end, 5)
    yesterday = slots.today() - dt.timedelta(days=1)
    earlier = slots.starts_at(yesterday, start) - 3600
    draft = await bookings.save_draft(db, device_id, service, POINT, phone, now=earlier)
    appt, _ = await bookings.book(
        db, cal, device_id, draft, yesterday, start, horizon_days=14, max_active=3,
        region_code=village, now=earlier,
    )  # fmt: skip
    if before_mark is not None:
        await before_mark(appt)
    admin = await users.find_user(db, "admin")
    await bookings.mark(db, appt.id, mark, user_id=admin.id)
    return await bookings.get(db, appt.id)


async def linked_code_bytes(client, html: str) -> int:
    """Bytes of the stylesheets and scripts a screen links (before compression)."""
    total = 0
    for url in re.findall(r'(?:href|src)="(/(?:static|tv/css)/[^"]+\.(?:css|js))"', html):
        response = await client.get(url, headers={"Accept-Encoding": "identity"})
        total += len(await response.read())
    return total


GOOD = {
    "code": "sp-test-1",
    "name": "测试服务室",
    "kind": "village_room",
    "region_code": "150602",
    "region_served": "",
    "organization": "",
    "address": "东胜区测试路1号",
    "hours": "周一至周五 9:00—12:00",
    "phone": "0477-8512345",
    "phone_is_sample": "1",
    "services": "consultation;mediation",
    "languages": "zh;mn",
    "latitude": "39.8173",
    "longitude": "109.9803",
    "description": "",
    "name_mn": "",
    "description_mn": "",
}


def csv_text(rows: list[dict], columns=directory_io.COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def changed(pairs, **values) -> list[tuple[str, str]]:
    """The pairs with single-valued fields replaced (names as in the form)."""
    out = [(k, values.pop(k) if k in values else v) for k, v in pairs]
    return out + list(values.items())


def form_pairs(html: str, form_id: str = "reg-edit") -> list[tuple[str, str]]:
    parser = _Form(form_id)
    parser.feed(html)
    return parser.pairs


class _Form(HTMLParser):
    """The (name, value) pairs a browser would submit for one form of a page."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.disabled = False
        self.pairs: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "fieldset" and "disabled" in a:
            self.disabled = True
        if self.disabled or "name" not in a and tag != "option":
            return
        if tag == "input":
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            if a.get("type") != "submit":
                self.pairs.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.pairs.append((a["name"], ""))

    def handle_data(self, data):
        if self._textarea is not None:
            name, value = self.pairs.pop()
            self.pairs.append((name, value + data))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "fieldset":
            self.disabled = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = next((v for v, on in self._options if on), self._options[0][0])
            self.pairs.append((self._select, chosen))
            self._select = None
