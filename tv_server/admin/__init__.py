"""The admin under /admin: a desktop web UI in Chinese for editors and staff.

A sub-application with its own gate (sessions, login, CSRF); handlers are grouped in `views_*`
modules by concern and render the namespaced templates in `templates/admin/`.
"""

from __future__ import annotations

from aiohttp import web

from accounts.audit import Folder
from tv_server import keys
from tv_server.admin import (
    advisers,
    announcements,
    appointments,
    appointments_behalf,
    callbacks,
    coverage,
    directory,
    feedback,
    laws,
    media,
    preview,
    program_versions,
    programs,
    registry,
    streamed,
    translation,
    video,
    views_audit,
    views_auth,
    views_home,
    views_users,
    waves,
)
from tv_server.admin.common import REFUSALS
from tv_server.admin.middleware import SIGNER, session_middleware
from tv_server.admin.session import LoginLimiter, SessionSigner
from tv_server.settings import Settings

# Slices of the admin, each registering its own routes and navigation entries.
SLICES = (
    programs, directory, announcements, media, preview, callbacks, registry, waves, coverage, laws,
    advisers, feedback, appointments, appointments_behalf, video, translation, program_versions,
)  # fmt: skip


def create_admin_app(settings: Settings) -> web.Application:
    # No client_max_size here: aiohttp takes it from the main app (1 MiB for every route);
    # the routes that take files stream them (`streamed`) with their own limits.
    admin = web.Application(middlewares=[session_middleware])
    admin[SIGNER] = SessionSigner(settings.secret_key, settings.session_ttl)
    admin[views_auth.LIMITER] = LoginLimiter(settings.login_attempts_per_ip)
    admin[REFUSALS] = Folder()
    r = admin.router
    r.add_get("/", views_home.home, name="admin_home")
    r.add_get("/login", views_auth.login_form, name="admin_login")
    r.add_post("/login", views_auth.login, name="admin_login_post")
    r.add_post("/logout", views_auth.logout, name="admin_logout")
    r.add_get("/users", views_users.user_list, name="admin_users")
    r.add_get("/users/new", views_users.user_new, name="admin_user_new")
    r.add_post("/users/new", views_users.user_create)
    r.add_get("/users/{uid:\\d+}", views_users.user_edit, name="admin_user")
    r.add_post("/users/{uid:\\d+}", views_users.user_update)
    r.add_get("/audit", views_audit.audit_log, name="admin_audit")
    for admin_slice in SLICES:
        admin_slice.setup(admin)
    return admin


async def _to_admin_home(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/admin/")


async def _sweep_uploads(app: web.Application) -> None:
    streamed.sweep(app[keys.SETTINGS].data_path)


def setup_admin(app: web.Application) -> None:
    app.add_subapp("/admin", create_admin_app(app[keys.SETTINGS]))
    app.on_startup.append(_sweep_uploads)  # uploads a crash left half-written
    app.cleanup_ctx.append(programs.scheduler)  # scheduled go-live needs the main app's caches
    app.cleanup_ctx.append(laws.legal_task)  # new effective dates, the weekly digest
    app.router.add_get("/admin", _to_admin_home)
