"""Handlers of the programs slice: list, write and edit drafts (previewed by the `preview`
slice), review (approve, schedule, send back), publish, unpublish, history and rollback."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable

from aiohttp import web
from markupsafe import Markup, escape

from accounts import audit
from content.programs import live, revisions, uploads, workflow
from content.programs.revisions import Content, Fields
from storage import DomainError, NotFound, clock
from tv_server import keys
from tv_server.admin import labels, legal_flags, program_scope, waves
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

# -- helpers -----------------------------------------------------------------------------------


def _db(request: web.Request):
    return request.config_dict[keys.DB]


def _pid(request: web.Request) -> int:
    return int(request.match_info["pid"])


async def _guard(request: web.Request, permission: str, codes: Iterable[str]) -> None:
    """Refuse (and audit) unless the user has `permission` for every one of these regions."""
    user = current_user(request)
    if not user.can(permission):
        raise await deny(request, permission, object="program")
    for code in list(codes) or [None]:
        await require_region(request, permission, code)


def error_message(exc: DomainError) -> str:
    text = gettext(labels.ERRORS.get(exc.code) or labels.ERRORS["server_error"])
    try:
        return text % exc.params if exc.params else text
    except (KeyError, ValueError, TypeError):
        return text


def _errors(exc: DomainError) -> dict:
    """The refused form's messages: `error` on top, `errors` next to each field."""
    found = getattr(exc, "errors", None) or {}
    messages = {name: error_message(problem) for name, problem in found.items()}
    if len(messages) > 1:
        top = gettext(L.FORM_PROBLEMS) % {"n": len(messages)}
    else:
        top = error_message(exc)
    return {"error": top, "errors": messages}


def audit_hook(request: web.Request) -> workflow.AuditHook:
    async def hook(tx, action: str, program_id: int, detail: dict) -> None:
        await log(request, action, object_type="program", object_id=program_id,
                  detail=detail, tx=tx)  # fmt: skip

    return hook


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
    return clock.minute(ts) if ts else ""


def _parse_when(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise DomainError("date_invalid", value) from None
    return clock.parse(moment)


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


async def _staged(request: web.Request, form: StreamedForm) -> workflow.Staged:
    """The files an earlier, refused form stored and this one refers to (`staged_*` fields)."""
    tokens = {name: [str(v) for v in form.getall(f"staged_{name}", [])] for name in STAGED}
    settings = request.config_dict[keys.SETTINGS]
    return await workflow.resolve_staged(_db(request), settings.data_path, tokens)


async def _refused_files(
    request: web.Request, exc: DomainError, read: StreamedForm, kept: dict | None
) -> dict:
    """What a refused form offers again: `kept` when the domain saw the files, else (refused
    while streaming, or by scope) only what earlier forms had stored."""
    if kept is not None:
        return kept
    media = {"cover": None, "video": None, "poster": None, "staged": await _staged(request, read)}
    return await _keep_files(request, exc, [], media)


STAGED = ("images", "cover", "poster", "video")


async def _keep_files(request: web.Request, exc: DomainError, chosen_files, media) -> dict:
    """The files of a refused form that were fine, stored now and offered again by the page
    (as hidden `staged_*` fields) so nobody has to choose them a second time."""
    bad = set(getattr(exc, "errors", {}) or {exc.code: exc})
    settings = request.config_dict[keys.SETTINGS]
    db = _db(request)
    out: dict[str, list[dict]] = {name: [] for name in STAGED}
    staged: workflow.Staged = media["staged"]
    files = await live.rendition_files(db, list(staged.images.values()), "page-720p")
    for path, mid in staged.images.items():
        sha = await uploads.media_sha(db, mid)
        url = f"/media/{files[mid]}" if mid in files else ""
        out["images"].append({"token": f"{path}:{sha}", "name": path, "url": url})
    for name in ("cover", "poster", "video"):
        mid = getattr(staged, name)
        if mid is not None and name not in bad:
            sha, original = await uploads.media_name(db, mid)  # type: ignore[misc]
            out[name].append({"token": sha, "name": original or sha[:12], "url": ""})
    chosen = [("images", u) for u in chosen_files] + [
        (n, media[n]) for n in ("cover", "poster", "video") if media[n] is not None
    ]
    for name, up in chosen:
        if name in bad or (name != "images" and out[name]):
            continue
        kind = "video" if name == "video" else "image"
        try:
            limit = (
                settings.video_upload_max_bytes if kind == "video" else settings.upload_max_bytes
            )
            path, sha = await workflow.stage_file(
                db, settings.data_path, up, kind=kind, max_bytes=limit
            )
        except DomainError:
            continue
        token = f"{path}:{sha}" if name == "images" else sha
        out[name].append({"token": token, "name": path or up.filename, "url": ""})
    return out


def _picker_context(request: web.Request, codes: list[str], editable: bool) -> dict:
    """The village picker of waves, for the program's regions; the whole city (for users
    without a region scope) is a checkbox of its own above the tree."""
    tree = request.config_dict[keys.REGIONS]
    user = current_user(request)
    cities = []
    if user.region_code is None:
        for root in tree.roots:
            for city in tree.kids(root.code) if root.level == "province" else [root]:
                cities.append((city.code, gettext(L.WHOLE_CITY) % {"name": city.name},
                               city.code in codes))  # fmt: skip
    city_codes = {c[0] for c in cities}
    picker, targets, _shown = waves.region_picker(
        request, [c for c in codes if c not in city_codes], editable=editable
    )
    return {"picker": picker, "targets": targets, "city_options": cities,
            "city_chosen": any(c[2] for c in cities), "levels": waves.LEVELS}  # fmt: skip


async def form_context(
    request: web.Request, state: workflow.ProgramState | None, fields: Fields | None = None
) -> dict:
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
    locked = not (changeable and user.can("program.edit")) or (
        state is not None and state.workflow.state == "in_review"
    )
    codes = list(fields.regions if fields else content.regions if content else [])
    return {
        **_picker_context(request, codes, not locked),
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
        "video": await _video_context(request, content, state.id if state else None),
        "own_work": state is not None and _own_work(user, state),
        "when": _when,
        "page_max": revisions.PAGE_MAX_CHARS,
        "summary_max": revisions.SUMMARY_MAX,
    }


async def _video_context(request: web.Request, content, pid: int | None = None) -> dict | None:
    """The working copy's video and poster for the form's side panel."""
    db = _db(request)
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
        "figures": await admin_video.figures_of(db, pid, request),  # who watched
        "subtitles": await admin_video.subtitles_of(db, pid, content),
        "candidates": await workflow.poster_candidates(db, content.video_media_id),  # frames
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
        **await legal_flags.list_context(request),
    )  # fmt: skip


# -- writing -----------------------------------------------------------------------------------


@requires("program.edit")
async def program_new(request: web.Request) -> web.Response:
    ctx = await form_context(request, None)
    return render(request, "admin/program_form.html", fields=Fields(), slug="", **ctx)


@requires("program.edit")
@streamed
async def program_create(request: web.Request) -> web.Response:
    settings = request.config_dict[keys.SETTINGS]
    read = StreamedForm()
    kept = None
    try:
        async with read_form(request, image_or_video(request, FORM_FILES), into=read) as form:
            _f, fields, uploads, media = _form(form)
            media["staged"] = await _staged(request, form)
            await _guard(request, "program.edit", fields.regions)
            try:
                pid = await workflow.create_program(
                    _db(request), settings.data_path, fields, slug=str(form.get("slug", "")),
                    uploads=uploads, **media, region_exists=_region_exists(request),
                    max_bytes=settings.upload_max_bytes,
                    video_max_bytes=settings.video_upload_max_bytes,
                    video_max_seconds=settings.video_max_seconds,
                    author=current_user(request).username, note=str(form.get("note", "")),
                    audit=audit_hook(request),
                )  # fmt: skip
            except DomainError as exc:  # kept while the files are still on disk
                kept = await _keep_files(request, exc, uploads, media)
                raise
    except DomainError as exc:
        _f, fields, _u, _m = _form(read)
        slug = str(read.get("slug", ""))
        kept = await _refused_files(request, exc, read, kept)
        ctx = await form_context(request, None, fields)
        return render(request, "admin/program_form.html", status=_status(exc), fields=fields,
                      slug=slug, kept=kept, **_errors(exc), **ctx)  # fmt: skip
    raise see_other(request, "admin_program", ok="program_created", pid=pid)


def _status(exc: DomainError) -> int:
    return 413 if exc.code == "upload_too_large" else exc.status


@requires("view")
async def program_edit(request: web.Request) -> web.Response:
    state = await _state_in_scope(request)
    ctx = await form_context(request, state)
    return render(request, "admin/program_form.html", fields=Fields.of(state.draft.content),
                  slug=state.slug, **ctx,
                  **await legal_flags.program_context(request, state.id))  # fmt: skip


@requires("program.edit")
@streamed
async def program_save(request: web.Request) -> web.Response:
    state = await _state_in_scope(request)
    settings = request.config_dict[keys.SETTINGS]
    read = StreamedForm()
    base = 0
    kept = None
    try:
        async with read_form(request, image_or_video(request, FORM_FILES), into=read) as form:
            _f, fields, uploads, media = _form(form)
            media["staged"] = await _staged(request, form)
            base = int(form.get("revision", "0") or 0)
            await _guard(request, "program.edit", [*state.regions, *fields.regions])
            try:
                rev = await workflow.save_draft(
                    _db(request), settings.data_path, state.id, fields, base_revision=base,
                    uploads=uploads, **media, remove_images=form.getall("remove_images", []),
                    remove_video=form.get("remove_video") == "1",
                    title_card=form.get("title_card") == "1", region_exists=_region_exists(request),
                    max_bytes=settings.upload_max_bytes,
                    video_max_bytes=settings.video_upload_max_bytes,
                    video_max_seconds=settings.video_max_seconds,
                    author=current_user(request).username, note=str(form.get("note", "")),
                    audit=audit_hook(request),
                )  # fmt: skip
            except DomainError as exc:  # kept while the files are still on disk
                kept = await _keep_files(request, exc, uploads, media)
                raise
    except DomainError as exc:
        _f, fields, _u, _m = _form(read)
        kept = await _refused_files(request, exc, read, kept)
        ctx = await form_context(request, state, fields)
        return render(request, "admin/program_form.html", status=_status(exc), fields=fields,
                      slug=state.slug, kept=kept, **_errors(exc), **ctx)  # fmt: skip
    notice = "program_unchanged" if rev == base else "program_saved"
    if form.get("then") == "submit":  # the submit button sends what the form holds, saved
        try:
            await workflow.submit(_db(request), state.id, revision=rev or base,
                                  actor=current_user(request).username,
                                  audit=audit_hook(request))  # fmt: skip
        except DomainError as exc:
            state = await workflow.get_state(_db(request), state.id)
            ctx = await form_context(request, state)
            return render(request, "admin/program_form.html", status=exc.status,
                          fields=Fields.of(state.draft.content), slug=state.slug,
                          error=error_message(exc), **ctx)  # fmt: skip
        notice = "program_submitted"
    raise see_other(request, "admin_program", ok=notice, pid=state.id)


@requires("program.edit")
@streamed
async def image_insert(request: web.Request) -> web.Response:
    """插入图片: store one picture before the form is saved; answer where the body refers to it
    (`images/x.jpg`) and the token the form sends back. The picture joins the program when the
    form is saved (and is offered again by a refused form)."""
    settings = request.config_dict[keys.SETTINGS]
    try:
        async with read_form(request, image_or_video(request, {"image": "image"})) as form:
            field = form.get("image")
            if not (isinstance(field, FormFile) and field.filename):
                return _json_error(
                    "upload_not_image", gettext(labels.ERRORS.get("upload_not_image", ""))
                )
            up = workflow.Upload(field.filename, field.path)  # streamed to disk
            size = uploads.source_size(up.data)
            path, sha = await workflow.stage_file(
                _db(request), settings.data_path, up, kind="image",
                max_bytes=settings.upload_max_bytes,
            )  # fmt: skip
    except DomainError as exc:
        return _json_error(exc.code, error_message(exc), status=_status(exc))
    await log(request, "program.image_upload", object_type="media", object_id=sha[:16],
              detail={"path": path, "bytes": size})  # fmt: skip
    files = await live.rendition_files(
        _db(request),
        [await uploads.media_id_of(_db(request), sha)],
        "page-720p",
    )
    alt = gettext(L.IMAGE_ALT)
    return web.json_response({
        "path": path, "token": f"{path}:{sha}", "markdown": f"![{alt}](../{path})",
        "alt": alt, "url": f"/media/{next(iter(files.values()))}" if files else "",
    })  # fmt: skip


def _json_error(code: str, message: str, *, status: int = 400) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


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
    db, user, hook = _db(request), current_user(request), audit_hook(request)
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
            return await _review_page(request, state, status=403, error=error_message(exc),
                                      form=dict(form))  # fmt: skip
        if action in ("approve", "request_changes"):
            return await _review_page(request, state, status=400, error=error_message(exc),
                                      form=dict(form))  # fmt: skip
        ctx = await form_context(request, state)
        return render(request, "admin/program_form.html", status=exc.status,
                      fields=Fields.of(state.draft.content), slug=state.slug,
                      error=error_message(exc), **ctx)  # fmt: skip
    raise see_other(request, "admin_program", ok=notice, pid=state.id)


# -- review ------------------------------------------------------------------------------------


def _plain(line: str) -> tuple[str, str]:
    """A body line as the TV shows its text: ("title" | "text", the words without Markdown)."""
    if line.startswith("# "):
        return "title", line[2:].strip()
    line = revisions.IMAGE_MD_RE.sub(lambda m: gettext(L.IMAGE_IN_TEXT) % {"alt": m.group(1)}, line)
    line = re.sub(r"^\s*(?:[-+*]|\d+[.)])\s+", "• ", line)
    return "text", re.sub(r"\*\*|__|`", "", line).strip()


def _marked(old: str, new: str) -> Markup:
    """One changed line: removed characters in <del>, added ones in <ins> (Chinese has no
    spaces between words, so the diff goes by character)."""
    out = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, a, b, c, d in matcher.get_opcodes():
        if op == "equal":
            out.append(escape(old[a:b]))
            continue
        if b > a:
            out.append(Markup("<del>%s</del>") % old[a:b])
        if d > c:
            out.append(Markup("<ins>%s</ins>") % new[c:d])
    return Markup("").join(out)


def rendered_diff(old: Content | None, new: Content) -> list[tuple[str, Markup]]:
    """The body as rendered text, line by line, with what changed marked: (kind, html) where
    kind is "title" or "text"."""
    before = [_plain(x) for x in (old.body().splitlines() if old else []) if x.strip()]
    after = [_plain(x) for x in new.body().splitlines() if x.strip()]
    out: list[tuple[str, Markup]] = []
    matcher = difflib.SequenceMatcher(None, [t for _, t in before], [t for _, t in after],
                                      autojunk=False)  # fmt: skip
    for op, a, b, c, d in matcher.get_opcodes():
        if op == "equal":
            out += [(kind, escape(text)) for kind, text in after[c:d]]
            continue
        pairs = min(b - a, d - c) if op == "replace" else 0
        for i in range(pairs):
            out.append((after[c + i][0], _marked(before[a + i][1], after[c + i][1])))
        out += [(k, Markup("<del>%s</del>") % t) for k, t in before[a + pairs : b]]
        out += [(k, Markup("<ins>%s</ins>") % t) for k, t in after[c + pairs : d]]
    return out


SEP = "\u3001"  # the ideographic comma `revisions.diff` joins lists with


async def _shown_changes(request: web.Request, changes) -> list[dict]:
    """The changed fields as a reviewer reads them: names, not codes; the cover as a picture."""
    tree = request.config_dict[keys.REGIONS]
    cats = await workflow.category_titles(_db(request))

    def region(code: str) -> str:
        if tree.get(code) is None:
            return code
        names = [r.name for r in reversed(tree.chain(code)) if r.level != "province"]
        return " · ".join(names[1:] if len(names) > 1 else names)

    def shown(name: str, value: str) -> str:
        if not value:
            return ""
        if name == "category":
            return cats.get(value, value)
        if name == "language":
            return gettext(L.LANGUAGES[value]) if value in L.LANGUAGES else value
        if name == "regions":
            return SEP.join(region(c) for c in value.split(SEP))
        if name == "images":
            return SEP.join(p.removeprefix("images/") for p in value.split(SEP))
        return value

    out = []
    for c in changes:
        row = {"field": c.field, "old": shown(c.field, c.old), "new": shown(c.field, c.new)}
        if c.field == "cover":
            row.update(old_url=f"/media/{c.old}" if c.old else "",
                       new_url=f"/media/{c.new}" if c.new else "")  # fmt: skip
        if c.field == "video":  # the video's poster as a picture too
            for side in ("old", "new"):
                found = re.search(r"poster #(\d+)", getattr(c, side))
                url = found and await uploads.rendition_url(
                    _db(request), int(found.group(1)), "thumb-720p"
                )
                row[f"{side}_poster"] = url or ""
        out.append(row)
    return out


async def _review_page(request, state, *, status: int = 200, error: str = "", form=None):
    user = current_user(request)
    changeable = program_scope.can_change(request, state.regions)
    old = state.live.content if state.live else None
    changes, _lines = revisions.diff(old, state.draft.content)
    return render(
        request, "admin/program_review.html", status=status, state=state,
        changes=await _shown_changes(request, changes),
        lines=rendered_diff(old, state.draft.content), fields_label=L.CHANGE_FIELDS,
        states=L.STATES, statuses=L.STATUS,
        when=_when, error=error or None, form=form or {},
        can_publish=user.can("program.publish") and changeable,
        can_review=user.can("program.review") and changeable,
        own_work=_own_work(user, state), read_only_scope=not changeable,
        **await legal_flags.program_context(request, state.id),
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
    db, user, hook = _db(request), current_user(request), audit_hook(request)
    if action in ("restore", "revert"):
        # The regions the program would reach again count as much as its current ones.
        old = await workflow.get_revision(db, state.id, revision)
        regions = [*state.regions, *(c for c in old.content.regions if c not in state.regions)]
    if action == "restore":
        await _guard(request, "program.edit", regions)
        await workflow.restore(db, state.id, revision, base_revision=state.draft.id,
                               author=user.username, audit=hook)  # fmt: skip
        raise see_other(request, "admin_program", ok="program_restored", pid=state.id)
    if action == "revert":
        await _guard(request, "program.publish", regions)
        await workflow.revert(db, state.id, revision, actor=user.username, audit=hook)
        raise see_other(request, "admin_program", ok="program_reverted", pid=state.id)
    raise web.HTTPBadRequest()
