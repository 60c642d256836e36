"""Admin slice: the village legal advisers. Staff list advisers per region, create and change
them (photo with consent, streamed), delete them, import and export them as CSV, and see the
figures (villages without an adviser per banner; callbacks per adviser). A banner's staff only
touch advisers all of whose villages lie in their banner; every change is audited. The list,
form and delete screens are declared (`crud.Crud`) like the service directory's."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from advisers import advisers, figures, sheet
from content.directory import points as directory
from content.directory.points import Problem
from content.programs import uploads
from storage import DomainError, Invalid, OutOfScope
from tv_server import keys
from tv_server.admin import crud, downloads, labels
from tv_server.admin.common import current_user, day_start, log, render, requires
from tv_server.admin.directory import MESSAGES as DIRECTORY_MESSAGES
from tv_server.admin.directory import PROBLEMS as DIRECTORY_PROBLEMS
from tv_server.admin.directory import allowed, region_filter, scope
from tv_server.admin.streamed import (
    FormFile,
    image_limit,
    image_or_video,
    read_form,
    read_small_file,
    streamed,
)
from tv_ui import labels as tv_labels
from tv_ui.i18n import N_, gettext

PERMISSION = "advisers.edit"
FIELDS = {
    "code": N_("编号"),
    "name": N_("姓名"),
    "firm": N_("律师事务所"),
    "office_code": N_("回电服务点"),
    "phone": N_("工作电话"),
    "languages": N_("服务语言"),
    "services": N_("可以帮助的事项"),
    "villages": N_("服务的村"),
    "sittings": N_("坐班时间"),
    "place": N_("坐班地点"),
    "description": N_("说明"),
    "photo": N_("照片"),
    "header": N_("表头"),
    "row": N_("整行"),
    "file": N_("文件"),
}
PROBLEMS = {
    **DIRECTORY_PROBLEMS,
    "sittings_invalid": N_("%(field)s：请写成“周二 09:00-12:00”，多个用分号隔开（%(value)s）。"),
    "office_unknown": N_("%(field)s：服务指南里没有这个服务点编号（%(value)s）。"),
    "village_unknown": N_("%(field)s：没有这个村的代码（%(value)s）。"),
    "village_twice": N_("%(field)s：这个村在文件里已经分给了别的顾问（%(value)s 行）。"),
    "too_many_rows": N_("文件行数太多：最多 %(value)s 行。"),
    "consent_missing": N_("%(field)s：上传照片前，请确认本人已同意在电视上展示。"),
    "upload_not_image": N_("%(field)s：请上传 JPEG、PNG 或 WebP 图片。"),
    "upload_too_large": N_("%(field)s：图片太大。"),
    "upload_bomb": N_("%(field)s：图片尺寸太大。"),
    "upload_truncated": N_("%(field)s：图片文件不完整。"),
}
MESSAGES = {
    "no_file": N_("请选择要导入的 CSV 文件。"),
    "has_problems": N_("文件中有 %(n)s 处问题，没有导入任何内容。请在 Excel 中改正后重新上传。"),
    "imported": N_("已导入：新建 %(c)s 位，修改 %(u)s 位。"),
}


# This slice's messages, found by code by the admin's templates and error pages.
labels.NOTICES.setdefault("adviser_deleted", N_("已删除。"))
labels.ERRORS.setdefault("adviser_not_found", N_("没有找到这位法律顾问。"))


problem_text = crud.problem_words(PROBLEMS, FIELDS)


class AdviserInvalid(Invalid):
    """An adviser's form with problems (or with a photo refused while it streamed)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("adviser_invalid", "; ".join(f"{p.field}: {p.code}" for p in problems))


def _villages(known_regions) -> set[str]:
    return {c for c, r in known_regions.items() if r.level == "village"}


async def _office_codes(db) -> set[str]:
    return {p.code for p in await directory.all_points(db)}


# -- the list, the form and the delete page (crud.Crud) ------------------------------------------


async def _page(db, *, regions, limit: int, offset: int) -> tuple[list, int]:
    """A page of the advisers serving a village among `regions` (None: all), by name."""
    items = await advisers.all_advisers(db, regions)
    return items[offset : offset + limit], len(items)


def _list_context(request: web.Request) -> dict:
    tree = request.config_dict[keys.REGIONS]
    return {
        "village_names": lambda a: gettext(N_("、")).join(
            tree.get(v).name for v in a.villages[:6] if tree.get(v)
        )
    }


def _outside(request: web.Request, adviser: advisers.Adviser) -> dict | None:
    """Every village of the adviser must lie in the user's scope (an adviser of no village
    belongs to the whole city); else what the refusal's audit entry records."""
    rule = allowed(request)
    if rule is None or (adviser.villages and all(map(rule, adviser.villages))):
        return None
    return {"adviser": adviser.code}


def _form_of(a: advisers.Adviser) -> dict:
    form = {f: getattr(a, f) for f in ("code", "name", "firm", "phone", "sittings", "place",
                                       "description")}  # fmt: skip
    return form | {"office_code": a.office_code or "", "languages": list(a.languages),
                   "services": list(a.services), "villages": " ".join(a.villages)}  # fmt: skip


async def _form_context(request: web.Request, adviser, _form: dict) -> dict:
    """The form's choices and the adviser's photo."""
    db = request.config_dict[keys.DB]
    points = await directory.all_points(db, scope(request))
    photo = None
    if adviser is not None and adviser.photo_media_id is not None:
        photo = await uploads.rendition_url(db, adviser.photo_media_id, "thumb-720p")
    return {
        "offices": [(p.code, p.name) for p in points if p.kind != "hotline"],
        "services": [(s, tv_labels.SERVICES[s]) for s in tv_labels.SERVICES],
        "languages": [(x, tv_labels.LANGUAGES[x]) for x in advisers.LANGUAGES],
        "photo": photo,
    }


_TEXT = ("code", "name", "firm", "office_code", "phone", "villages", "sittings", "place",
         "description", "consent", "remove_photo")  # fmt: skip
_LISTS = ("languages", "services")


@contextlib.asynccontextmanager
async def _read(request: web.Request) -> AsyncIterator[dict]:
    """The streamed form, its photo on disk until the adviser is written; a photo refused
    while it streams (not an image, too large) is the form's one problem."""
    async with contextlib.AsyncExitStack() as files:
        try:
            accept = image_or_video(request, {"photo": "image"})
            post = await files.enter_async_context(read_form(request, accept))
        except Invalid as exc:
            raise AdviserInvalid([Problem("photo", exc.code, "")]) from None
        form = crud.read_fields(post, _TEXT, _LISTS)
        form["photo"] = post.get("photo") if isinstance(post.get("photo"), FormFile) else None
        yield form


def _photo_args(request: web.Request) -> dict:
    """Where a photo is stored, how large it may be, who records the adviser's consent."""
    return {
        "data_path": request.config_dict[keys.SETTINGS].data_path,
        "max_bytes": image_limit(request),
        "user": current_user(request).username,
    }


async def _write(db, adviser_id, form, *, known_regions, allowed, then, data_path, max_bytes,
                 user) -> advisers.Adviser:  # fmt: skip
    """Check and write one adviser (create when `adviser_id` is None): a photo is stored only
    with the adviser's consent recorded and only once the rest of the form is right."""
    data, problems = advisers.clean(form, _villages(known_regions), await _office_codes(db),
                                    allowed=allowed, with_code=adviser_id is None)  # fmt: skip
    photo = None
    if form["photo"] is not None:
        if form["consent"] != "1":
            problems.append(Problem("photo", "consent_missing"))
        elif not problems:
            upload = form["photo"]
            media_id = await uploads.store_upload(
                db, data_path, upload.filename, upload.path, max_bytes=max_bytes
            )
            photo = advisers.Photo(media_id, user)
    elif form["remove_photo"] == "1":
        photo = advisers.Photo(None, "")
    if problems:
        raise AdviserInvalid(problems)
    try:
        return await advisers.save(
            db, data, adviser_id=adviser_id, allowed=allowed, photo=photo, then=then
        )
    except OutOfScope:
        raise
    except DomainError as exc:  # the code is taken
        raise AdviserInvalid([Problem("code", exc.code, exc.detail)]) from None


async def _create(db, form, **how) -> advisers.Adviser:
    return await _write(db, None, form, **how)


def _audit_detail(before, after) -> dict:
    """Before and after; with a photo given or removed, who recorded the consent."""
    if after is None:
        return {"before": before.audit()}
    detail = {"before": before.audit() if before else None, "after": after.audit()}
    if after.photo_consent_at != (before.photo_consent_at if before else None):
        detail["photo_consent_by"] = after.photo_consent_by
    return detail


ADVISERS = crud.Crud(
    permission=PERMISSION,
    route="admin_adviser",
    list_route="admin_advisers",
    key="aid",
    noun="adviser",
    object_type="adviser",
    action="adviser",
    audit_key="id",
    load=advisers.get,
    outside=_outside,
    refused_as="villages",
    allowed=allowed,
    versioned=False,
    create=_create,
    update=_write,
    delete=advisers.delete,
    invalid=AdviserInvalid,
    problem_text=problem_text,
    audit_detail=_audit_detail,
    fix_below=DIRECTORY_MESSAGES["fix_below"],
    form_template="admin/advisers/form.html",
    form_of=_form_of,
    blank=lambda _request: {"languages": ["zh"], "services": []},
    form_context=_form_context,
    text_fields=_TEXT,
    list_fields=_LISTS,
    read=_read,
    write_args=_photo_args,
    list_template="admin/advisers/list.html",
    list_name="items",
    fetch_page=_page,
    filters=lambda request, chosen: {"regions": region_filter(request, chosen["region"])},
    list_context=_list_context,
    delete_template="admin/advisers/delete.html",
    created="saved",
    deleted="adviser_deleted",
)
views = crud.views(ADVISERS)


# -- CSV ----------------------------------------------------------------------------------------


@requires(PERMISSION)
async def export_csv(request: web.Request) -> web.Response:
    items = await advisers.all_advisers(request.config_dict[keys.DB], scope(request))
    data = sheet.export_csv(items)
    await log(request, "adviser.export", object_type="adviser", detail={"rows": len(items)})
    return downloads.dated(data, "csv", "legaltv-advisers")


def _import_page(request, status=200, **ctx) -> web.Response:
    return render(
        request,
        "admin/advisers/import.html",
        status=status,
        columns=sheet.COLUMNS,
        max_mb=sheet.MAX_BYTES // 2**20,
        **ctx,
    )


@requires(PERMISSION)
async def import_form(request: web.Request) -> web.Response:
    return _import_page(request)


@requires(PERMISSION)
@streamed
async def import_csv(request: web.Request) -> web.Response:
    try:
        _post, raw, name = await read_small_file(request, sheet.MAX_BYTES)
    except Invalid:
        return _import_page(request, status=413, error=gettext(MESSAGES["no_file"]))
    if not raw or not raw.strip():
        return _import_page(request, status=400, error=gettext(MESSAGES["no_file"]))

    async def then(tx, before, after) -> None:
        await log(request, "adviser.import", object_type="adviser", object_id=after.id,
                  detail={"file": name, "before": before.audit() if before else None,
                          "after": after.audit()}, tx=tx)  # fmt: skip

    try:
        plan = await sheet.import_csv(
            request.config_dict[keys.DB],
            sheet.decode(raw),
            _villages(request.config_dict[keys.REGIONS].by_code),
            await _office_codes(request.config_dict[keys.DB]),
            allowed=allowed(request),
            then=then,
        )
    except DomainError as exc:  # the encoding
        problems = getattr(exc, "problems", [Problem("file", "encoding", "", 1)])
        plan = sheet.Plan(problems=problems)
    await log(
        request,
        "adviser.import.file",
        object_type="adviser",
        outcome="ok" if plan.ok else "failed",
        detail={"file": name, "problems": len(plan.problems), "create": plan.create,
                "update": plan.update},
    )  # fmt: skip
    if not plan.ok:
        return _import_page(
            request,
            status=400,
            name=name,
            report=[(p.line, problem_text(p)) for p in plan.problems],
            error=gettext(MESSAGES["has_problems"]) % {"n": len(plan.problems)},
        )
    return _import_page(
        request, done=gettext(MESSAGES["imported"]) % {"c": plan.create, "u": plan.update}
    )


# -- figures ------------------------------------------------------------------------------------


@requires("view")
async def adviser_figures(request: web.Request) -> web.StreamResponse:
    db = request.config_dict[keys.DB]
    tree = request.config_dict[keys.REGIONS]
    mine = scope(request)
    since_text, until_text = request.query.get("since", ""), request.query.get("until", "")
    since, until = day_start(since_text), day_start(until_text)
    if until is not None:
        until += 86400
    banners = await figures.villages_without_adviser(db, tree, mine)
    per_adviser = await figures.callbacks_per_adviser(db, mine, since=since, until=until)
    fmt = request.query.get("format", "")
    if fmt in ("csv", "xlsx"):
        await log(request, "adviser.figures.export", detail={"format": fmt, "since": since_text,
                                                             "until": until_text})  # fmt: skip
        rows: list[list] = [
            ["banner", b.code, b.name, b.villages, b.with_adviser, b.without_adviser]
            for b in banners
        ]
        rows += [["adviser", a.code, a.name, a.total, a.completed, a.open] for a in per_adviser]
        header = ["section", "code", "name", "count_a", "count_b", "count_c"]
        return downloads.table("advisers", fmt, header, rows)
    return render(
        request,
        "admin/advisers/figures.html",
        banners=banners,
        per_adviser=per_adviser,
        since=since_text,
        until=until_text,
    )
