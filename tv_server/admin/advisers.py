"""Admin slice: the village legal advisers. Staff list advisers per region, create and change
them (photo with consent, streamed), delete them, import and export them as CSV, and see the
figures (villages without an adviser per banner; callbacks per adviser). A banner's staff only
touch advisers all of whose villages lie in their banner; every change is audited."""

from __future__ import annotations

from aiohttp import web

from advisers import advisers, figures, sheet
from content.directory import points as directory
from content.directory.points import Problem
from content.programs import uploads
from storage import DomainError, Invalid, NotFound, OutOfScope
from tv_server import keys
from tv_server.admin import crud, downloads, labels
from tv_server.admin.common import (
    current_user,
    day_start,
    deny,
    log,
    render,
    requires,
    see_other,
)
from tv_server.admin.directory import PROBLEMS as DIRECTORY_PROBLEMS
from tv_server.admin.directory import allowed, region_filter, scope
from tv_server.admin.streamed import (
    FormFile,
    check_named,
    image_limit,
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


problem_text = crud.problem_words(PROBLEMS, FIELDS)


async def _choices(request: web.Request) -> dict:
    db = request.config_dict[keys.DB]
    mine = scope(request)
    points = await directory.all_points(db, mine)
    return {
        "offices": [(p.code, p.name) for p in points if p.kind != "hotline"],
        "services": [(s, tv_labels.SERVICES[s]) for s in tv_labels.SERVICES],
        "languages": [(x, tv_labels.LANGUAGES[x]) for x in advisers.LANGUAGES],
    }


def _villages(request: web.Request) -> set[str]:
    return {c for c, r in request.config_dict[keys.REGIONS].by_code.items() if r.level == "village"}


async def _office_codes(request: web.Request) -> set[str]:
    return {p.code for p in await directory.all_points(request.config_dict[keys.DB])}


@requires(PERMISSION)
async def adviser_list(request: web.Request) -> web.Response:
    chosen = request.query.get("region", "")
    regions = region_filter(request, chosen)
    items = await advisers.all_advisers(request.config_dict[keys.DB], regions)
    tree = request.config_dict[keys.REGIONS]
    return render(
        request,
        "admin/advisers/list.html",
        items=items,
        region=chosen,
        village_names=lambda a: gettext(N_("、")).join(
            tree.get(v).name for v in a.villages[:6] if tree.get(v)
        ),
    )


def _form_of(a: advisers.Adviser) -> dict:
    return {
        "code": a.code,
        "name": a.name,
        "firm": a.firm,
        "office_code": a.office_code or "",
        "phone": a.phone,
        "languages": list(a.languages),
        "services": list(a.services),
        "villages": " ".join(a.villages),
        "sittings": a.sittings,
        "place": a.place,
        "description": a.description,
    }


async def _form_page(
    request, adviser=None, form=None, problems=(), status=200, photo=None
) -> web.Response:
    return render(
        request,
        "admin/advisers/form.html",
        status=status,
        adviser=adviser,
        form=form or (_form_of(adviser) if adviser else {"languages": ["zh"], "services": []}),
        problems=[problem_text(p) for p in problems],
        photo=photo,
        **await _choices(request),
    )


async def _photo_of(request, adviser: advisers.Adviser | None) -> str | None:
    if adviser is None or adviser.photo_media_id is None:
        return None
    return await uploads.rendition_url(
        request.config_dict[keys.DB], adviser.photo_media_id, "thumb-720p"
    )


@requires(PERMISSION)
async def adviser_new(request: web.Request) -> web.Response:
    return await _form_page(request)


async def _adviser_in_scope(request: web.Request) -> advisers.Adviser:
    try:
        adviser = await advisers.get(request.config_dict[keys.DB], int(request.match_info["aid"]))
    except NotFound:
        raise web.HTTPNotFound() from None
    rule = allowed(request)
    if rule is not None and not (adviser.villages and all(map(rule, adviser.villages))):
        raise await deny(request, PERMISSION, adviser=adviser.code)
    return adviser


@requires(PERMISSION)
async def adviser_edit(request: web.Request) -> web.Response:
    adviser = await _adviser_in_scope(request)
    return await _form_page(request, adviser, photo=await _photo_of(request, adviser))


def _typed(post) -> dict:
    return crud.read_fields(
        post,
        ("code", "name", "firm", "office_code", "phone", "villages", "sittings", "place",
         "description"),
        lists=("languages", "services"),
    )  # fmt: skip


async def _save(request: web.Request, adviser: advisers.Adviser | None) -> web.Response:
    db = request.config_dict[keys.DB]
    settings = request.config_dict[keys.SETTINGS]

    def accept(field: str, kind: str | None, filename: str, _form) -> int:
        if field != "photo":
            raise Invalid("upload_kind", field)
        if kind not in uploads.IMAGE_KINDS:
            raise Invalid("upload_not_image", str(kind))
        check_named(kind, filename, "upload_not_image")
        return image_limit(request)

    typed: dict = {}
    photo_problem = None
    try:
        async with read_form(request, accept) as post:
            typed = _typed(post)
            data, problems = advisers.clean(
                typed,
                _villages(request),
                await _office_codes(request),
                allowed=allowed(request),
                with_code=adviser is None,
            )
            upload = post.get("photo")
            photo = None
            if isinstance(upload, FormFile):
                if post.get("consent") != "1":
                    problems.append(Problem("photo", "consent_missing"))
                elif not problems:
                    media_id = await uploads.store_upload(
                        db,
                        settings.data_path,
                        upload.filename,
                        upload.path,
                        max_bytes=image_limit(request),
                    )
                    photo = advisers.Photo(media_id, current_user(request).username)
            elif post.get("remove_photo") == "1":
                photo = advisers.Photo(None, "")
    except Invalid as exc:
        photo_problem = Problem("photo", exc.code, "")
        data, problems = {}, [photo_problem]
    if problems:
        return await _form_page(
            request, adviser, typed or None, problems, status=400,
            photo=await _photo_of(request, adviser),
        )  # fmt: skip

    async def then(tx, before, after) -> None:
        action = "adviser.create" if before is None else "adviser.update"
        detail = {"before": before.audit() if before else None, "after": after.audit()}
        if photo is not None:
            detail["photo_consent_by"] = photo.consent_by
        await log(request, action, object_type="adviser", object_id=after.id, detail=detail, tx=tx)

    try:
        saved = await advisers.save(
            db,
            data,
            adviser_id=adviser.id if adviser else None,
            allowed=allowed(request),
            photo=photo,
            then=then,
        )
    except OutOfScope as exc:
        raise await deny(request, PERMISSION, **{"villages": exc.detail}) from None
    except DomainError as exc:
        return await _form_page(
            request, adviser, typed, [Problem("code", exc.code, exc.detail)], status=400
        )
    raise see_other(request, "admin_adviser", ok="saved", aid=saved.id)


@requires(PERMISSION)
@streamed
async def adviser_create(request: web.Request) -> web.Response:
    return await _save(request, None)


@requires(PERMISSION)
@streamed
async def adviser_update(request: web.Request) -> web.Response:
    return await _save(request, await _adviser_in_scope(request))


@requires(PERMISSION)
async def adviser_delete(request: web.Request) -> web.Response:
    adviser = await _adviser_in_scope(request)

    async def then(tx, before, _after) -> None:
        await log(request, "adviser.delete", object_type="adviser", object_id=before.id,
                  detail={"before": before.audit()}, tx=tx)  # fmt: skip

    try:
        await advisers.delete(
            request.config_dict[keys.DB], adviser.id, allowed=allowed(request), then=then
        )
    except OutOfScope:
        raise await deny(request, PERMISSION, adviser=adviser.code) from None
    raise see_other(request, "admin_advisers", ok="adviser_deleted")


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
            _villages(request),
            await _office_codes(request),
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
