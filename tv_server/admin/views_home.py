"""The admin's start page: the figures an editor or staff member looks at first, counted over
the viewer's own region, each one a link to the list it counts."""

from __future__ import annotations

from aiohttp import web

from content.directory import points as directory
from content.programs.revisions import Content
from tv_server import keys
from tv_server.admin import callbacks, registry
from tv_server.admin import program_labels as L
from tv_server.admin.common import current_user, render

# 我的稿件: the states of an editor's own copies still in their hands or a reviewer's.
MINE_STATES = ("needs_changes", "draft", "in_review")


async def _mine(db, username: str) -> dict[str, list]:
    """My drafts, my copies waiting for review and those returned to me: programs whose
    working copy I wrote last or submitted."""
    rows = await db.fetchall(
        "SELECT p.id, r.content, w.state, w.updated_at, w.comment FROM program_workflow w"
        " JOIN programs p ON p.id = w.program_id"
        " JOIN program_revisions r ON r.id = w.draft_revision_id"
        " WHERE w.state IN ('needs_changes', 'draft', 'in_review')"
        " AND (r.author = ? OR w.submitted_by = ?) ORDER BY w.updated_at DESC LIMIT 300",
        (username, username),
    )
    out: dict[str, list] = {state: [] for state in MINE_STATES}
    for r in rows:
        title = Content.from_json(r["content"]).title
        out[r["state"]].append({"id": r["id"], "title": title, "comment": r["comment"]})
    return out


async def home(request: web.Request) -> web.Response:
    user = current_user(request)
    db = request.config_dict[keys.DB]
    scope = callbacks.region_scope(request)  # region codes under the user's region, or None
    mine = await _mine(db, user.username) if user.can("program.edit") else None
    figures = {
        "programs": await db.fetchval("SELECT COUNT(*) FROM programs WHERE status = 'published'"),
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
