"""The application factory: `create_app(settings)` wires storage, caches, background tasks and
routes. Everything shared lives on the app under the typed keys of `tv_server.keys`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp_jinja2
import jinja2
from aiohttp import web

from content.programs import workflow
from content.programs.video import Positions as video_positions
from content.programs.video import WatchingFigures
from device_registry import region_names
from device_registry.regions import RegionTree
from device_registry.usage import UsageRecorder
from storage import clock, database_for
from storage.changes import BoundedCache
from tv_server import (
    __version__,
    appointment_tasks,
    caches,
    callback_tasks,
    coverage_tasks,
    keys,
    logredact,
    metrics,
    mongol_image,
    tvfont,
    video_tasks,
)
from tv_server.admin import setup_admin, to_admin_home
from tv_server.announcement_hub import AnnouncementHub, poll_forever
from tv_server.api import setup_api
from tv_server.boxauth import TokenSigner
from tv_server.boxes import BoxDirectory
from tv_server.demo import apply_demo_mode, ensure_laws, ensure_regions
from tv_server.front import ANSWERED, add_lane
from tv_server.media import serve_media
from tv_server.middlewares import guard
from tv_server.migrations import MIGRATIONS
from tv_server.node import Node
from tv_server.routing import GET, register
from tv_server.screencache import ScreenCache
from tv_server.settings import Settings, ensure_secrets
from tv_server.static import StaticAssets, serve_static
from tv_server.tv import fastlane, home
from tv_server.tv.common import NOTICES
from tv_server.tv.routes import setup_tv
from tv_ui import i18n

log = logging.getLogger(__name__)


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    db = database_for(
        settings.database_url,
        settings.db_path,
        readers=settings.db_readers,
        synchronous=settings.sqlite_synchronous,
    )
    await db.open()
    try:
        await db.migrate(MIGRATIONS)
        await ensure_regions(db)
        await ensure_laws(db)
        await region_names.ensure_bundled(db)
        await apply_demo_mode(db, settings.data_path, settings.demo)
        await workflow.ensure_workflows(db)  # programs made before the workflow (0.1.0)
        app[keys.DB] = db
        app[keys.REGIONS] = await RegionTree.load(db)
        app[keys.BOXES] = BoxDirectory(db, app[keys.REGIONS])
        app[keys.USAGE] = UsageRecorder(db)
        app[keys.VIDEO_POSITIONS] = video_positions(db)
        app[keys.VIDEO_FIGURES] = WatchingFigures(
            db, db.changes.cache("video_figures", WatchingFigures.MAX_ENTRIES)
        )
        app[keys.HUB] = AnnouncementHub(
            db,
            streams_per_box=settings.sse_streams_per_box,
            streams_max=settings.sse_streams_max,
        )
        await app[keys.HUB].refresh()
        caches.wire(app)
        # the other nodes' (processes') changes, before this one serves
        await app[keys.NODE].listen(db, settings.change_poll_seconds)
        yield
    finally:
        with contextlib.suppress(Exception):
            await app[keys.NODE].stop_listening()
        if keys.USAGE in app:
            with contextlib.suppress(Exception):
                await app[keys.USAGE].flush()
        if keys.VIDEO_POSITIONS in app:
            with contextlib.suppress(Exception):
                await app[keys.VIDEO_POSITIONS].flush()
        if keys.HUB in app:
            with contextlib.suppress(Exception):
                await app[keys.HUB].flush_impressions()
        await db.close()


async def _flush_usage_forever(usage: UsageRecorder | video_positions, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await usage.flush()
        except Exception:
            log.exception("usage flush failed; records kept for the next attempt")


async def _background(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    await coverage_tasks.warm_up(app)  # before listening: the first request answers from memory
    # This node's own buffers and memory (tv_server.node): on every node.
    tasks = [
        asyncio.create_task(_flush_usage_forever(app[keys.USAGE], settings.usage_flush_seconds)),
        asyncio.create_task(poll_forever(app[keys.HUB], settings.announcement_poll_seconds)),
        asyncio.create_task(coverage_tasks.follow_forever(app)),
        asyncio.create_task(
            _flush_usage_forever(app[keys.VIDEO_POSITIONS], settings.usage_flush_seconds)
        ),
    ]
    # The installation's work: on the leading node only (the program scheduler, the legal
    # review and the inactive-box sweep check `Node.leads` in their own loops).
    app[keys.NODE].lead(
        app[keys.DB],
        [
            lambda: callback_tasks.run_forever(app),
            lambda: coverage_tasks.run_forever(app),
            lambda: appointment_tasks.run_forever(app),
            lambda: video_tasks.run_forever(app),
            lambda: video_tasks.prune_forever(app),
        ],
    )
    yield
    await app[keys.NODE].stop_leading()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _on_shutdown(app: web.Application) -> None:
    # End open SSE streams so shutdown does not wait for their keep-alive timers.
    if keys.HUB in app:
        app[keys.HUB].close()


HEALTH_TIMEOUT_SECONDS = 2.0


async def healthz(request: web.Request) -> web.Response:
    db = request.app[keys.DB]
    try:
        # A bound on the answer: readers all busy or the file unreachable is a failed check,
        # not a monitoring request left hanging.
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
            database = await db.health()
        status = 200
    except Exception as exc:  # report, never raise: this is what monitoring reads
        database = {"status": "error", "error": type(exc).__name__}
        status = 503
    database["write_queue"] = db.write_queue()  # transactions waiting for the writer
    return web.json_response(
        {
            "status": "ok" if status == 200 else "error",
            "version": __version__,
            "database": database,
            # Which node answered and whether it runs the background work (docs/scaling.md).
            "node": request.app[keys.NODE].health(),
            "front": request.app.get(ANSWERED, {}),
            # Settings that must never be on in production: "demo", "allow_unsigned".
            "warnings": list(request.app[keys.SETTINGS].unsafe_modes),
            # Limits set to 0, which turns them off (tv_server.settings.LIMITS).
            "limits_off": list(request.app[keys.SETTINGS].limits_off),
        },
        status=status,
    )


# The server's own URLs. The apps' are listed in tv_server/tv/routes.py (the TV),
# tv_server/admin/routes.py (the admin, a sub-application under /admin) and
# tv_server/api/routes.py (the JSON APIs).
ROUTES = [
    GET("/healthz", healthz, "healthz"),
    GET("/metrics", metrics.serve, "metrics"),
    GET("/static/{name}", serve_static, "static"),
    GET("/media/{path:.+}", serve_media, "media"),
    GET("/admin", to_admin_home),  # the admin without its slash
]


def create_app(settings: Settings) -> web.Application:
    settings = ensure_secrets(settings)
    clock.set_zone(settings.timezone)
    # 1 MiB for every body read whole (TV, API, login, admin forms); the admin's file routes
    # stream theirs with the upload limits (tv_server/admin/streamed.py).
    logredact.install()  # no log line of the process carries a box token or an API key
    app = web.Application(middlewares=[guard], client_max_size=1024**2)
    app[keys.SETTINGS] = settings
    app[keys.NODE] = Node()
    app[keys.TOKENS] = TokenSigner(settings.launch_secret)
    app[keys.SCREENS] = ScreenCache(settings.screen_cache_entries)
    app[keys.STATIC] = StaticAssets()
    app[keys.PROGRAMS] = BoundedCache("tv_programs", 2000)
    app[keys.POINT_NAMES] = BoundedCache("tv_point_names", 5000)
    app[fastlane.FAST] = fastlane.FastLane()
    home.setup(app)
    app[NOTICES] = BoundedCache("tv_notices", 512)
    app[mongol_image.IMAGES] = mongol_image.MongolianImages(tvfont.find_font())
    app[mongol_image.SCREEN_IMAGES] = mongol_image.ScreenImages(
        tvfont.find_font(), app[keys.STATIC].by_name["tv.css"].body
    )
    app[tvfont.FONT] = tvfont.MongolianFont(
        tvfont.find_font(),
        app[keys.STATIC].by_name["tv.css"].body,
        "".join(app[keys.STATIC].by_name[js].body.decode() for js in ("tv.js", "player.js")),
    )
    app[tvfont.STYLES] = tvfont.ScreenStyles(
        app[keys.STATIC].by_name["tv.css"].body,
        "".join(app[keys.STATIC].by_name[js].body.decode() for js in ("tv.js", "player.js")),
    )
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("tv_ui", "templates"),
                jinja2.PackageLoader("tv_server.admin", "templates"),
            ]
        ),
        autoescape=jinja2.select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Translated into the language of the screen being rendered (tv_ui.i18n.use_language).
    env.install_gettext_callables(
        lambda message: i18n.gettext(message),
        lambda singular, plural, n: i18n.ngettext(singular, plural, n),
        newstyle=True,
    )
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(_on_shutdown)
    metrics.setup(app)
    register(app.router, ROUTES)
    setup_tv(app)
    add_lane(app, "tv_screen", "GET", "/tv/b/", fastlane.answer)
    setup_admin(app)
    setup_api(app)
    return app
