"""The admin's start page: the figures an editor or staff member looks at first, counted over
the viewer's own region, each one a link to the list it counts."""

from __future__ import annotations

from aiohttp import web

from content.directory import points as directory
from content.programs import live as programs
from content.programs import workflow
from tv_server import keys
from tv_server.admin import callbacks, registry
from tv_server.admin import program_labels as L
from tv_server.admin.common import current_user, render


async def home(request: web.Request) -> web.Response:
    user = current_user(request)
    db = request.config_dict[keys.DB]
    scope = callbacks.region_scope(request)  # region codes under the user's region, or None
    mine = await workflow.my_copies(db, user.username) if user.can("program.edit") else None
    figures = {
        "programs": await programs.count_published(db),
        "points": len(await directory.all_points(db, scope)),
        "boxes": await registry.box_count(request),
    }
    if user.can(registry.PERMISSION):  # only who can accept a pending box is told of one
        figures["pending"] = await registry.pending_count(request)
    if user.can(callbacks.PERMISSION):
        figures["open_callbacks"] = await callbacks.open_count(request, scope)
    tree = request.config_dict[keys.REGIONS]
    region = tree.full_name(user.region_code) if user.region_code else ""
    return render(
        request, "admin/home.html", figures=figures, region=region, mine=mine, states=L.STATES
    )
