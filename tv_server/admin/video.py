"""Admin slice: a program's video transcode, live. The program page polls this small JSON
answer (tv_server/admin/static/video_status.js) to show the queue state, the percent done and
the estimated time left; a failed transcode shows FFmpeg's last lines. The watching figures
(content.programs.video.figures) are shown beside it."""

from __future__ import annotations

from aiohttp import web

from content.programs import video, workflow
from tv_server import keys
from tv_server.admin import program_labels as L
from tv_server.admin import program_scope
from tv_server.admin.common import deny, requires
from tv_ui.i18n import N_, gettext

ETA = N_("预计还要 %(m)s 分 %(s)s 秒")


async def status_of(db, media_id: int | None) -> dict | None:
    """The transcode of a video media as the program page shows it (None without a job)."""
    if media_id is None:
        return None
    job = await video.job_for(db, media_id)
    if job is None:
        return None
    eta = ""
    if job.state == "running" and job.eta_seconds is not None:
        eta = gettext(ETA) % {"m": job.eta_seconds // 60, "s": job.eta_seconds % 60}
    return {
        "state": job.state,
        "label": gettext(L.VIDEO_STATES[job.state]),
        "percent": job.percent,
        "eta_seconds": job.eta_seconds,
        "eta": eta,
        "error": job.error if job.state == "failed" else "",
        "renditions": [r["name"] for r in (job.outputs or {}).get("renditions", [])],
    }


async def figures_of(db, program_id: int | None) -> dict | None:
    """The program's watching figures for its side panel (None before anyone watched)."""
    if program_id is None:
        return None
    figures = await video.figures(db, program_id)
    if not figures["starts"]:
        return None
    return {
        **figures,
        "average_percent": round(100 * figures["average_share"]),
        "curve": [round(100 * share) for share in figures["drop_off"]],
    }


@requires("view")
async def video_status(request: web.Request) -> web.Response:
    db = request.config_dict[keys.DB]
    state = await workflow.get_state(db, int(request.match_info["pid"]))
    if not program_scope.can_view(request, state.regions):
        raise await deny(request, "view", object="program", id=state.id)
    status = await status_of(db, state.draft.content.video_media_id) or {"state": "none"}
    status["figures"] = await video.figures(db, state.id)
    return web.json_response(status, headers={"Cache-Control": "no-store"})
