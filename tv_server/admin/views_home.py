"""The admin's start page: the figures an editor or staff member looks at first."""

from __future__ import annotations

from aiohttp import web

from content.revisions import Content
from tv_server import keys
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
    mine = await _mine(db, user.username) if user.can("program.edit") else None
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
    return render(request, "admin/home.html", figures=figures, mine=mine, states=L.STATES)
