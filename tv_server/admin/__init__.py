"""The admin under /admin: a desktop web UI in Chinese for editors and staff.

A sub-application with its own gate (sessions, login, CSRF); handlers are grouped in slices
(modules) by concern, every URL and the navigation are listed in `routes.py`, and the
handlers render the namespaced templates in `templates/admin/`.
"""

from __future__ import annotations

from aiohttp import web

from accounts.audit import Folder
from tv_server import keys, routing
from tv_server.admin import laws, programs, routes, streamed, views_auth
from tv_server.admin.common import NAV, REFUSALS
from tv_server.admin.middleware import SIGNER, session_middleware
from tv_server.admin.session import LoginLimiter, SessionSigner
from tv_server.settings import Settings


def create_admin_app(settings: Settings) -> web.Application:
    # No client_max_size here: aiohttp takes it from the main app (1 MiB for every route);
    # the routes that take files stream them (`streamed`) with their own limits.
    admin = web.Application(middlewares=[session_middleware])
    admin[SIGNER] = SessionSigner(settings.secret_key, settings.session_ttl)
    admin[views_auth.LIMITER] = LoginLimiter(settings.login_attempts_per_ip)
    admin[REFUSALS] = Folder(settings.refusal_audit_seconds)
    routing.register(admin.router, routes.ROUTES)
    NAV[:] = routes.NAV
    return admin


async def to_admin_home(_request: web.Request) -> web.Response:
    """/admin without its slash."""
    raise web.HTTPFound("/admin/")


async def _sweep_uploads(app: web.Application) -> None:
    streamed.sweep(app[keys.SETTINGS].data_path)


def setup_admin(app: web.Application) -> None:
    app.add_subapp("/admin", create_admin_app(app[keys.SETTINGS]))
    app.on_startup.append(_sweep_uploads)  # uploads a crash left half-written
    app.cleanup_ctx.append(programs.scheduler)  # scheduled go-live needs the main app's caches
    app.cleanup_ctx.append(laws.legal_task)  # new effective dates, the weekly digest
