"""Admin slice: a program's video transcode, live. The program page polls this small JSON
answer (tv_server/admin/static/video_status.js) to show the queue state, the percent done and
the estimated time left; a failed transcode shows FFmpeg's last lines. The watching figures
(content.programs.video.figures, kept by WatchingFigures until new positions are flushed) are
shown beside it. The video's subtitles (content/programs/subtitles.py) are saved here too: per
language, uploaded or typed, optionally burned into the MP4."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from content.programs import subtitle_edits, subtitles, video, workflow
from content.programs.revisions import Fields
from storage import Conflict, Invalid, clock, sheets
from tv_server import keys
from tv_server.admin import directory, downloads, labels, legal_flags, program_scope
from tv_server.admin import program_labels as L
from tv_server.admin.common import current_user, deny, log, render, requires, see_other
from tv_server.admin.streamed import read_small_file, streamed
from tv_ui.i18n import N_, gettext

ETA = N_("预计还要 %(m)s 分 %(s)s 秒")


async def status_of(db, media_id: int | None) -> dict | None:
    """The transcode of a video media as the program page shows it (None without a job)."""
    if media_id is None:
        return None
    job = await video.job_for(db, media_id)
    return None if job is None else describe(job)


def describe(job: video.Job) -> dict:
    """A transcode job as the program page and the preview show it (the JSON they poll)."""
    eta = ""
    if job.state == "running" and job.eta_seconds is not None:
        eta = gettext(ETA) % {"m": job.eta_seconds // 60, "s": job.eta_seconds % 60}
    label = gettext(L.VIDEO_STATES[job.state])
    line = f"{label} {round(job.percent)}%" if job.state == "running" else label
    return {
        "state": job.state,
        "label": label,
        "line": f"{line} · {eta}" if eta else line,  # the state, percent and time left
        "percent": job.percent,
        "eta_seconds": job.eta_seconds,
        "eta": eta,
        "error": job.error if job.state == "failed" else "",
        "renditions": [r["name"] for r in (job.outputs or {}).get("renditions", [])],
    }


FIGURE_DAYS = 30  # the period the program page shows unless the editor picks another


class Period:
    """The region and period of a program's watching figures, from the page's query (`region`,
    `since`, `until` as YYYY-MM-DD, both days included): by default the user's own scope and the
    last 30 days on the office's clock."""

    def __init__(self, request: web.Request) -> None:
        today = clock.today()
        self.region = request.query.get("region", "").strip()
        self.since_text = request.query.get("since", "").strip()
        self.until_text = request.query.get("until", "").strip()
        since = _date(self.since_text) or today - dt.timedelta(days=FIGURE_DAYS - 1)
        until = _date(self.until_text) or today
        if until < since:
            since, until = until, since
        self.since_day, self.until_day = since, until
        self.since, self.until = clock.at(since), clock.at(until + dt.timedelta(days=1))
        self.regions = directory.scope(request)  # None: the whole city

    async def check(self, request: web.Request, program_id: int) -> None:
        """Narrow to the chosen region, which must be within the user's scope (else 403)."""
        if not self.region:
            return
        tree = request.config_dict[keys.REGIONS]
        mine = self.regions
        if tree.get(self.region) is None or (mine is not None and self.region not in mine):
            raise await deny(
                request, "view", object="program_figures", id=program_id, region=self.region
            )
        self.regions = directory.subtree(request, self.region)

    def query(self) -> dict:
        return {
            "region": self.region,
            "since": self.since_day.isoformat(),
            "until": self.until_day.isoformat(),
        }


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


async def figures_of(db, program_id: int | None, request: web.Request) -> dict | None:
    """The program's watching figures for its side panel, for the region and period picked in
    the page's query (None for a program not saved yet)."""
    if program_id is None:
        return None
    period = Period(request)
    await period.check(request, program_id)
    figures = await request.config_dict[keys.VIDEO_FIGURES].figures(
        program_id, regions=period.regions, since=period.since, until=period.until
    )
    return {
        **figures,
        **_percents(figures),
        "period": period.query(),
        "areas": directory.area_choices(request),
    }


def _percents(figures: dict) -> dict:
    return {
        "average_percent": round(100 * figures["average_share"]),
        "curve": [round(100 * share) for share in figures["drop_off"]],
    }


@requires("view")
async def figures_download(request: web.Request) -> web.Response:
    """The program's watching figures for the picked region and period as CSV or XLSX, scoped
    to the user's regions and audited like every export."""
    db = request.config_dict[keys.DB]
    state = await workflow.get_state(db, int(request.match_info["pid"]))
    if not program_scope.can_view(request, state.regions):
        raise await deny(request, "view", object="program", id=state.id)
    fmt = request.query.get("format", "")
    if fmt not in sheets.FORMATS:
        raise web.HTTPBadRequest(reason="format must be csv or xlsx")
    period = Period(request)
    await period.check(request, state.id)
    figures = await request.config_dict[keys.VIDEO_FIGURES].figures(
        state.id, regions=period.regions, since=period.since, until=period.until
    )
    query = period.query()
    await log(request, "program.figures.export", object_type="program", object_id=state.id,
              detail={"format": fmt, **query})  # fmt: skip
    region = query["region"] or current_user(request).region_code or ""
    header = ["program", "region", "since", "until", "starts", "households", "average_share",
              "completions", *[f"still_at_{k * 10}" for k in range(1, 10)]]  # fmt: skip
    row = [state.id, region, query["since"], query["until"], figures["starts"],
           figures["households"], figures["average_share"], figures["completions"],
           *figures["drop_off"]]  # fmt: skip
    return downloads.table(f"program-{state.id}-figures", fmt, header, [row])


@requires("view")
async def video_status(request: web.Request) -> web.Response:
    db = request.config_dict[keys.DB]
    state = await workflow.get_state(db, int(request.match_info["pid"]))
    if not program_scope.can_view(request, state.regions):
        raise await deny(request, "view", object="program", id=state.id)
    status = await status_of(db, state.draft.content.video_media_id) or {"state": "none"}
    status["figures"] = await request.config_dict[keys.VIDEO_FIGURES].figures(
        state.id,
        regions=directory.scope(request),  # the user's regions only, like the page
    )
    return web.json_response(status, headers={"Cache-Control": "no-store"})


# This slice's messages and audit actions, found by code by the admin's templates.
labels.NOTICES.setdefault(
    "subtitles_saved", N_("字幕已存入待审核的版本：审核发布后机顶盒才会显示。")
)
L.ACTIONS.setdefault("program.subtitles", N_("保存字幕"))
L.ACTIONS.setdefault("program.subtitles_remove", N_("删除字幕"))


# -- subtitles ---------------------------------------------------------------------------------

SUBTITLE_LANGUAGES = {"zh": N_("中文字幕"), "mn": N_("蒙古文字幕")}
BURN_STATES = {
    "queued": N_("等待烧录进视频"),
    "running": N_("正在烧录进视频"),
    "done": N_("已烧录进视频（给不能显示字幕的机顶盒）"),
    "failed": N_("烧录失败"),
}
SUBTITLE_ERRORS = {
    "subtitle_too_large": N_("字幕文件太大，最大%(kb)s KB。"),
    "subtitle_not_text": N_("字幕文件不是文字（请用UTF-8或GBK编码的.vtt或.srt文件）。"),
    "subtitle_empty": N_("没有找到字幕：请上传.vtt/.srt文件，或每行写一条“开始 - 结束 文字”。"),
    "subtitle_too_many": N_("字幕条数太多，最多%(max)s条。"),
    "subtitle_bad_line": N_("第%(line)s行看不懂：每行写“0:01 - 0:04 字幕文字”。"),
    "subtitle_bad_time": N_("第%(line)s行的时间不对：结束要晚于开始，分和秒不超过59。"),
    "subtitle_cue_too_long": N_("第%(line)s行的字幕太长，一条最多%(max)s个字。"),
    "subtitle_language": N_("不支持这种字幕语言。"),
    "subtitle_no_video": N_("先上传视频，再加字幕。"),
    "upload_too_large": N_("字幕文件太大，最大%(kb)s KB。"),
}


def subtitle_message(exc: Invalid) -> str:
    text = gettext(SUBTITLE_ERRORS.get(exc.code, SUBTITLE_ERRORS["subtitle_empty"]))
    params = {"kb": subtitles.MAX_BYTES // 1024, **exc.params}
    try:
        return text % params
    except (KeyError, ValueError, TypeError):
        return text


async def subtitles_of(db, program_id: int | None, content) -> list[dict]:
    """The working copy's subtitle tracks as the program page shows them, one entry per
    language."""
    if program_id is None:
        found = {}
    else:
        found = await subtitle_edits.draft_tracks(db, program_id, content)
    out = []
    for lang, label in SUBTITLE_LANGUAGES.items():
        track = found.get(lang)
        cues = subtitles.parse(track.vtt) if track else []
        out.append({
            "lang": lang,
            "label": gettext(label),
            "cues": len(cues),
            "text": subtitles.to_list(cues),
            "burn": bool(track and track.burn),
            "burn_state": gettext(BURN_STATES[track.burn_state])
            if track and track.burn_state in BURN_STATES else "",
            "burn_error": track.burn_error if track else "",
        })  # fmt: skip
    return out


@requires("program.edit")
@streamed
async def subtitles_save(request: web.Request) -> web.Response:
    """保存字幕: a track in one language, from an uploaded .vtt/.srt or the typed cue list (the
    file wins when both are sent), or removed — saved into the working copy, to be reviewed and
    published like any other edit (boxes keep the published tracks until then)."""
    from tv_server.admin import views_programs  # the program page, shown again on a refusal

    db = request.config_dict[keys.DB]
    state = await workflow.get_state(db, int(request.match_info["pid"]))
    if not program_scope.can_change(request, state.regions):
        raise await deny(request, "program.edit", object="program", id=state.id)
    lang, text = "zh", ""
    try:
        form, raw, _name = await read_small_file(request, subtitles.MAX_BYTES, "file")
        lang = str(form.get("lang", ""))
        text = str(form.get("cues", ""))
        if lang not in subtitles.LANGUAGES:
            raise Invalid("subtitle_language", lang)
        if state.draft.content.video_media_id is None:
            raise Invalid("subtitle_no_video", str(state.id))
        cues = None
        if form.get("remove") != "1":
            if raw is not None:
                text = subtitles.decode(raw)
            cues = subtitles.parse(text)
        await subtitle_edits.save_track(
            db, state.id, lang, cues, burn=form.get("burn") == "1",
            author=current_user(request).username, audit=views_programs.audit_hook(request),
        )  # fmt: skip
    except Invalid as exc:
        ctx = await views_programs.form_context(request, state)
        for entry in (ctx["video"] or {}).get("subtitles", []):
            if entry["lang"] == (lang if lang in subtitles.LANGUAGES else "zh"):
                entry["error"] = subtitle_message(exc)
                entry["text"] = text[: subtitles.MAX_BYTES]
        response = render(
            request, "admin/program_form.html", fields=Fields.of(state.draft.content),
            slug=state.slug, **ctx,
            **await legal_flags.program_context(request, state.id),
        )  # fmt: skip
        response.set_status(413 if exc.code == "upload_too_large" else 400)
        return response
    except Conflict as exc:
        ctx = await views_programs.form_context(request, state)
        return render(
            request, "admin/program_form.html", status=exc.status,
            fields=Fields.of(state.draft.content), slug=state.slug,
            error=views_programs.error_message(exc),
            **ctx, **await legal_flags.program_context(request, state.id),
        )  # fmt: skip
    raise see_other(request, "admin_program", ok="subtitles_saved", pid=state.id)
