"""The admin's start page: the figures an editor or staff member looks at first."""

from __future__ import annotations

from aiohttp import web

from tv_server import keys
from tv_server.admin.common import current_user, render


async def home(request: web.Request) -> web.Response:
    current_user(request)
    db = request.config_dict[keys.DB]
    figures = {
        "programs": await db.fetchval("SELECT COUNT(*) FROM programs WHERE status = 'published'"),
        "points": await db.fetchval("SELECT COUNT(*) FROM service_points"),
        "boxes": await db.fetchval(
            "SELECT COUNT(*) FROM devices WHERE state NOT IN ('pending','rejected','retired')"
        ),
        "pending": await db.fetchval("SELECT COUNT(*) FROM devices WHERE state = 'pending'"),
        "open_callbacks": await db.fetchval(
            "SELECT COUNT(*) FROM callback_requests"
            " WHERE status IN ('submitted','assigned','in_progress')"
        ),
    }
    return render(request, "admin/home.html", figures=figures)
