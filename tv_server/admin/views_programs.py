"""Handlers of the programs slice: list, write and edit drafts (previewed by the `preview`
slice), review (approve, schedule, send back), publish, unpublish, history and rollback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from aiohttp import web

from accounts import audit
from content import programs as live
from content import revisions, uploads, workflow
from content.revisions import Fields
from storage import DomainError, NotFound
from tv_server import keys
from tv_server.admin import labels, program_scope
from tv_server.admin import program_labels as L
from tv_server.admin import video as admin_video
from tv_server.admin.common import (
    current_user,
    deny,
    log,
    render,
    require_region,
    requires,
    see_other,
)
from tv_server.admin.streamed import (
    FormFile,
    StreamedForm,
    image_or_video,
    read_form,
    streamed,
)
from tv_ui.i18n import gettext

CST = dt.timezone(dt.timedelta(hours=8))  # the office's clock


# -- helpers -----------------------------------------------------------------------------------


def _db(request: web.Request):
    return request.config_dict[keys.DB]


def _pid(request: web.Request) -> int:
    return int(request.match_info["pid"])


def _visible(request: web.Request):
    """Whether the current user may change a program reaching these regions (every region
    inside their scope); kept for the packages slice, see `program_scope`."""
    return lambda codes: program_scope.can_change(request, codes)


async def _guard(request: web.Request, permission: str, codes: Iterable[str]) -> None:
    """Refuse (and audit) unless the user has `permission` for every one of these regions."""
    user = current_user(request)
    if not user.can(permission):
        raise await deny(request, permission, object="program")
    for code in list(codes) or [None]:
        await require_region(request, permission, code)


def _message(exc: DomainError) -> str:
    text = gettext(labels.ERRORS.get(exc.code) or labels.ERRORS["server_error"])
    try:
        return text % exc.params if exc.params else text
    except (KeyError, ValueError, TypeError):
        return text


def _audit(request: web.Request) -> workflow.AuditHook:
    async def hook(tx, action: str, program_id: int, detail: dict) -> None:
        await log(request, action, object_type="program", object_id=program_id,
                  detail=detail, tx=tx)  # fmt: skip

    return hook


def tv_changed(app: Mapping, program_ids: Iterable[int]) -> None:
    """What boxes show of these programs changed: drop their cached screens and listings and
    tell connected boxes to reload the screens marked for refresh."""
    ids = list(program_ids)
    app[keys.SCREENS].invalidate("programs", *(f"program:{i}" for i in ids))
    for pid in ids:
        app[keys.PROGRAMS].pop(pid, None)
    app[keys.HUB].broadcast_refresh()


def _region_options(request: web.Request) -> list[tuple[str, str]]:
    """Regions a program can be aimed at by this user: the city (unscoped users), banners and
    townships — within the user's scope."""
    tree = request.config_dict[keys.REGIONS]
    user = current_user(request)
    if user.region_code:
        own = tree.get(user.region_code)
        kids = tree.kids(user.region_code)
        return [(own.code, own.name)] + [(k.code, f"{own.name} · {k.name}") for k in kids]
    out = []
    cities = [c for r in tree.roots for c in (tree.kids(r.code) if r.level == "province" else [r])]
    for city in cities:
        out.append((city.code, gettext(L.WHOLE_CITY) % {"name": city.name}))
        for banner in tree.kids(city.code):
            out.append((banner.code, banner.name))
            out.extend((t.code, f"{banner.name} · {t.name}") for t in tree.kids(banner.code))
    return out


def _region_exists(request: web.Request):
    tree = request.config_dict[keys.REGIONS]
    return lambda code: tree.get(code) is not None


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, CST).strftime("%Y-%m-%d %H:%M") if ts else ""


def _parse_when(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise DomainError("date_invalid", value) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CST)
    return moment.timestamp()


# The program form's file fields and what each takes (see `streamed.image_or_video`).
FORM_FILES = {"images": "image", "cover": "image", "poster": "image", "video": "video"}


def _form(form: StreamedForm):
    fields = Fields(
        title=str(form.get("title", "")),
        summary=str(form.get("summary", "")),
        category=str(form.get("category", "")),
        tags=str(form.get("tags", "")),
        language=str(form.get("language", "zh")),
        regions=tuple(str(v) for v in form.getall("regions", [])),
        body=str(form.get("body", "")),
    )

    def upload(field) -> workflow.Upload | None:
        if isinstance(field, FormFile) and field.filename:
            return workflow.Upload(field.filename, field.path)  # read from disk when stored
        return None

    uploads = [u for u in map(upload, form.getall("images", [])) if u is not None]
    media = {
        "cover": upload(form.get("cover")),
        "video": upload(form.get("video")),
        "poster": upload(form.get("poster")),
    }
    return form, fields, uploads, media


async def _form_context(request: web.Request, state: workflow.ProgramState | None) -> dict:
    db = _db(request)
    user = current_user(request)
    content = state.draft.content if state else None
    images = []
    if content:
        files = await live.rendition_files(db, list(content.images.values()), "page-720p")
        images = [
            {"path": path, "url": f"/media/{files[mid]}" if mid in files else "",
             "snippet": f"![{gettext(L.IMAGE_ALT)}](../{path})"}
            for path, mid in sorted(content.images.items())
        ]  # fmt: skip
    cover = content.covers.get("thumb-720p") if content else None
    changeable = state is None or program_scope.can_change(request, state.regions)
    return {
        "state": state,
        "categories": await workflow.category_titles(db),
        "region_options": _region_options(request),
        "languages": L.LANGUAGES,
        "states": L.STATES,
        "statuses": L.STATUS,
        "images": images,
        "cover_url": f"/media/{cover}" if cover else "",
        "can_edit": changeable and user.can("program.edit"),
        "can_review": changeable and user.can("program.review"),
        "can_publish": changeable and user.can("program.publish"),
        "read_only_scope": not changeable,
        "video": await _video_context(db, content, state.id if state else None),
        "own_work": state is not None and _own_work(user, state),
        "when": _when,
        "page_max": revisions.PAGE_MAX_CHARS,
        "summary_max": revisions.SUMMARY_MAX,
    }


async def _video_context(db, content, pid: int | None = None) -> dict | None:
    """The working copy's video and poster for the form's side panel."""
    if content is None or content.video_media_id is None:
        return None
    try:
        info = await uploads.media_info(db, content.video_media_id)
    except NotFound:
        return None
    poster = ""
    if content.poster_media_id is not None:
        files = await live.rendition_files(db, [content.poster_media_id], "thumb-720p")
        poster = f"/media/{files[content.poster_media_id]}" if files else ""
    facts = {
        "name": info["original_name"] or info["sha256"][:12],
        "mb": round(info["bytes"] / 2**20, 1),
        "seconds": content.duration_seconds or "?",
    }
    return {
        "text": gettext(L.VIDEO_INFO) % facts,
        "poster_url": poster,
        "job": await admin_video.status_of(db, content.video_media_id),  # the transcode
        "figures": await admin_video.figures_of(db, pid),  # who watched
    }


def _own_work(user, state: workflow.ProgramState) -> bool:
    """The four-eyes rule of `workflow.approve`, to hide the button it would refuse."""
    if user.role == "admin":
        return False
    return user.username in (state.workflow.submitted_by, state.draft.author)


async def _state_in_scope(request: web.Request) -> workflow.ProgramState:
    state = await workflow.get_state(_db(request), _pid(request))
    if not program_scope.can_view(request, state.regions):
        raise await deny(request, "view", object="program", id=state.id)
    return state


# -- list --------------------------------------------------------------------------------------


@requires("view")
async def program_list(request: web.Request) -> web.Response:
    return await _list(request, queue=False)


@requires("program.review")
async def review_queue(request: web.Request) -> web.Response:
    return await _list(request, queue=True)


async def _list(request: web.Request, *, queue: bool) -> web.Response:
    q = request.query
    filters = {k: q.get(k, "").strip() for k in ("state", "category", "q")}
    if queue:
        filters["state"] = "in_review"
    rows = await workflow.list_programs(
        _db(request), state=filters["state"], category=filters["category"], query=filters["q"],
        visible=lambda codes: program_scope.can_view(request, codes),
    )  # fmt: skip
    tree = request.config_dict[keys.REGIONS]
    return render(
        request, "admin/programs.html", rows=rows, filters=filters, queue=queue,
        categories=await workflow.category_titles(_db(request)), states=L.STATES,
        statuses=L.STATUS, when=_when,
        changeable=lambda row: program_scope.can_change(request, row.regions),
        region_short=lambda code: tree.get(code).name if tree.get(code) else code,
    )  # fmt: skip


# -- writing -----------------------------------------------------------------------------------


@requires("program.edit")
async def program_new(request: web.Request) -> web.Response:
    ctx = await _form_context(request, None)
    return render(request, "admin/program_form.html", fields=Fields(), slug="", **ctx)


@requires("program.edit")
@streamed
async def program_create(request: web.Request) -> web.Response:
    settings = request.config_dict[keys.SETTINGS]
    read = StreamedForm()
    try:
        async with read_form(request, image_or_video(request, FORM_FILES), into=read) as form:
            _f, fields, uploads, media = _form(form)
            await _guard(request, "program.edit", fields.regions)
            pid = await workflow.create_program(
                _db(request), settings.data_path, fields, slug=str(form.get("slug", "")),
                uploads=uploads, **media, region_exists=_region_exists(request),
                max_bytes=settings.upload_max_bytes,
                video_max_bytes=settings.video_upload_max_bytes,
                video_max_seconds=settings.video_max_seconds,
                author=current_user(request).username, note=str(form.get("note", "")),
                audit=_audit(request),
            )  # fmt: skip
    except DomainError as exc:
        _f, fields, _u, _m = _form(read)
        slug = str(read.get("slug", ""))
        ctx = await _form_context(request, None)
        return render(request, "admin/program_form.html", status=_status(exc), fields=fields,
                      slug=slug, error=_message(exc), **ctx)  # fmt: skip
    raise see_other(request, "admin_program", ok="program_created", pid=pid)


def _status(exc: DomainError) -> int:
    return 413 if exc.code == "upload_too_large" else exc.status


@requires("view")
async def program_edit(request: web.Request) -> web.Response:
    state = await _state_in_scope(request)
    ctx = await _form_context(request, state)
    return render(request, "admin/program_form.html", fields=Fields.of(state.draft.content),
                  slug=state.slug, **ctx)  # fmt: skip


@requires("program.edit")
@streamed
async def program_save(request: web.Request) -> web.Response:
    state = await _state_in_scope(request)
    settings = request.config_dict[keys.SETTINGS]
    read = StreamedForm()
    base = 0
    try:
        async with read_form(request, image_or_video(request, FORM_FILES), into=read) as form:
            _f, fields, uploads, media = _form(form)
            base = int(form.get("revision", "0") or 0)
            await _guard(request, "program.edit", [*state.regions, *fields.regions])
            rev = await workflow.save_draft(
                _db(request), settings.data_path, state.id, fields, base_revision=base,
                uploads=uploads, **media, remove_images=form.getall("remove_images", []),
                remove_video=form.get("remove_video") == "1",
                title_card=form.get("title_card") == "1", region_exists=_region_exists(request),
                max_bytes=settings.upload_max_bytes,
                video_max_bytes=settings.video_upload_max_bytes,
                video_max_seconds=settings.video_max_seconds,
                author=current_user(request).username, note=str(form.get("note", "")),
                audit=_audit(request),
            )  # fmt: skip
    except DomainError as exc:
        _f, fields, _u, _m = _form(read)
        ctx = await _form_context(request, state)
        return render(request, "admin/program_form.html", status=_status(exc), fields=fields,
                      slug=state.slug, error=_message(exc), **ctx)  # fmt: skip
    notice = "program_unchanged" if rev == base else "program_saved"
    raise see_other(request, "admin_program", ok=notice, pid=state.id)


# -- workflow actions --------------------------------------------------------------------------

# action → (permission, notice)
ACTIONS = {
    "submit": ("program.edit", "program_submitted"),
    "withdraw": ("program.edit", "program_withdrawn"),
    "cancel_schedule": ("program.publish", "program_withdrawn"),
    "approve": ("program.publish", ""),
    "request_changes": ("program.review", "program_changes_requested"),
    "unpublish": ("program.publish", "program_unpublished"),
    "republish": ("program.publish", "program_republished"),
}


@requires("view")
async def program_action(request: web.Request) -> web.Response:
    state = await _state_in_scope(request)
    form = await request.post()
    action = str(form.get("action", ""))
    if action not in ACTIONS:
        raise web.HTTPBadRequest()
    permission, notice = ACTIONS[action]
    await _guard(request, permission, state.regions)
    db, user, hook = _db(request), current_user(request), _audit(request)
    revision = int(form.get("revision", "0") or 0)
    comment = str(form.get("comment", ""))
    try:
        if action == "submit":
            await workflow.submit(db, state.id, revision=revision, actor=user.username,
                                  audit=hook)  # fmt: skip
        elif action in ("withdraw", "cancel_schedule"):
            await workflow.withdraw(db, state.id, actor=user.username, audit=hook)
        elif action == "request_changes":
            await workflow.request_changes(db, state.id, revision=revision, comment=comment,
                                           actor=user.username, audit=hook)  # fmt: skip
        elif action == "approve":
            if not user.can("program.review"):
                raise await deny(request, "program.review", object="program", id=state.id)
            outcome = await workflow.approve(
                db, state.id, revision=revision, actor=user.username, role=user.role,
                comment=comment,
                go_live_at=_parse_when(str(form.get("go_live_at", ""))),
                expire_at=_parse_when(str(form.get("expire_at", ""))), audit=hook,
            )  # fmt: skip
            notice = f"program_{outcome}"
        elif action == "unpublish":
            await workflow.unpublish(db, state.id, actor=user.username, audit=hook)
        elif action == "republish":
            await workflow.republish(db, state.id, actor=user.username, audit=hook)
    except DomainError as exc:
        if exc.code == "approve_own_work":
            detail = {"revision": revision, "reason": exc.code}
            await log(request, "program.approve", object_type="program", object_id=state.id,
                      outcome="denied", detail=detail)  # fmt: skip
            return await _review_page(request, state, status=403, error=_message(exc),
                                      form=dict(form))  # fmt: skip
        if action in ("approve", "request_changes"):
            return await _review_page(request, state, status=400, error=_message(exc),
                                      form=dict(form))  # fmt: skip
        ctx = await _form_context(request, state)
        return render(request, "admin/program_form.html", status=exc.status,
                      fields=Fields.of(state.draft.content), slug=state.slug,
                      error=_message(exc), **ctx)  # fmt: skip
    if notice in ("program_published", "program_unpublished", "program_republished"):
        tv_changed(request.config_dict, [state.id])
    raise see_other(request, "admin_program", ok=notice, pid=state.id)


# -- review ------------------------------------------------------------------------------------


async def _review_page(request, state, *, status: int = 200, error: str = "", form=None):
    user = current_user(request)
    changeable = program_scope.can_change(request, state.regions)
    changes, lines = revisions.diff(state.live.content if state.live else None,
                                    state.draft.content)  # fmt: skip
    return render(
        request, "admin/program_review.html", status=status, state=state, changes=changes,
        lines=lines, fields_label=L.CHANGE_FIELDS, states=L.STATES, statuses=L.STATUS,
        when=_when, error=error or None, form=form or {},
        can_publish=user.can("program.publish") and changeable,
        can_review=user.can("program.review") and changeable,
        own_work=_own_work(user, state), read_only_scope=not changeable,
    )  # fmt: skip


@requires("program.review")
async def program_review(request: web.Request) -> web.Response:
    return await _review_page(request, await _state_in_scope(request))


# -- history and rollback ----------------------------------------------------------------------


@requires("view")
async def program_history(request: web.Request) -> web.Response:
    state = await _state_in_scope(request)
    db = _db(request)
    entries, _total = await audit.search(db, object_type="program", object_id=str(state.id),
                                         limit=100)  # fmt: skip
    user = current_user(request)
    changeable = program_scope.can_change(request, state.regions)
    return render(
        request, "admin/program_history.html", state=state,
        revisions=await workflow.list_revisions(db, state.id), entries=entries, when=_when,
        actions=L.ACTIONS, states=L.STATES, statuses=L.STATUS,
        can_edit=changeable and user.can("program.edit"),
        can_publish=changeable and user.can("program.publish"), read_only_scope=not changeable,
    )  # fmt: skip


@requires("view")
async def program_history_action(request: web.Request) -> web.Response:
    state = await _state_in_scope(request)
    form = await request.post()
    action = str(form.get("action", ""))
    revision = int(form.get("revision", "0") or 0)
    db, user, hook = _db(request), current_user(request), _audit(request)
    if action == "restore":
        await _guard(request, "program.edit", state.regions)
        await workflow.restore(db, state.id, revision, base_revision=state.draft.id,
                               author=user.username, audit=hook)  # fmt: skip
        raise see_other(request, "admin_program", ok="program_restored", pid=state.id)
    if action == "revert":
        await _guard(request, "program.publish", state.regions)
        await workflow.revert(db, state.id, revision, actor=user.username, audit=hook)
        tv_changed(request.config_dict, [state.id])
        raise see_other(request, "admin_program", ok="program_reverted", pid=state.id)
    raise web.HTTPBadRequest()
