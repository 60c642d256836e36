"""Admin slice: choosing a program video's poster — one of the candidate frames its transcode
took (content.programs.video, `POSTER_SHARES`) or an uploaded image. The choice is a new
revision of the working copy (content.programs.workflow.set_poster), reviewed like any other
edit and audited as `program.poster`."""

from __future__ import annotations

from aiohttp import web

from content.programs import workflow
from content.programs.revisions import Fields
from storage import DomainError, Invalid
from tv_server import keys
from tv_server.admin import labels, legal_flags, program_scope, views_programs
from tv_server.admin import program_labels as L
from tv_server.admin.common import current_user, deny, render, requires, see_other
from tv_server.admin.streamed import FormFile, image_or_video, read_form, streamed
from tv_ui.i18n import N_

labels.NOTICES.setdefault("poster_saved", N_("海报已换好，送审通过后机顶盒上显示。"))
L.ACTIONS.setdefault("program.poster", N_("更换视频海报"))


def _candidate(raw) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise Invalid("poster_candidate", str(raw)[:20]) from None


@requires("program.edit")
@streamed
async def poster_save(request: web.Request) -> web.Response:
    """设为海报: the chosen candidate frame, or the uploaded picture (which wins when both are
    sent), as the poster of the working copy."""
    db = request.config_dict[keys.DB]
    settings = request.config_dict[keys.SETTINGS]
    state = await workflow.get_state(db, int(request.match_info["pid"]))
    if not program_scope.can_change(request, state.regions):
        raise await deny(request, "program.edit", object="program", id=state.id)
    base = state.workflow.draft_revision_id
    try:
        async with read_form(request, image_or_video(request, {"poster": "image"})) as form:
            base = int(str(form.get("revision", "0") or 0))
            picture = form.get("poster")
            upload = None
            if isinstance(picture, FormFile) and picture.filename:
                upload = workflow.Upload(picture.filename, picture.path)
            rev = await workflow.set_poster(
                db, settings.data_path, state.id, base_revision=base,
                candidate=None if upload else _candidate(form.get("candidate")), upload=upload,
                max_bytes=settings.upload_max_bytes, author=current_user(request).username,
                audit=views_programs.audit_hook(request),
            )  # fmt: skip
    except DomainError as exc:
        state = await workflow.get_state(db, state.id)
        ctx = await views_programs.form_context(request, state)
        if ctx.get("video"):
            ctx["video"]["poster_error"] = views_programs.error_message(exc)
        status = 413 if exc.code == "upload_too_large" else exc.status
        return render(
            request, "admin/program_form.html", status=status,
            fields=Fields.of(state.draft.content), slug=state.slug, **ctx,
            **await legal_flags.program_context(request, state.id),
        )  # fmt: skip
    notice = "program_unchanged" if rev == base else "poster_saved"
    raise see_other(request, "admin_program", ok=notice, pid=state.id)
