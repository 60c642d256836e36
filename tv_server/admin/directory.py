"""Admin slice: the service directory. Editors list, create, change and delete service points
and their organizations; region-scoped editors only see and change their own area. Every change
is audited with its before/after and refreshes the cached TV directory screens.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from content import directory
from content.directory import DirectoryInvalid, Problem
from storage import Conflict
from tv_server import caches, keys
from tv_server.admin import labels
from tv_server.admin.common import (
    NAV,
    current_user,
    log,
    render,
    require_region,
    requires,
    see_other,
)
from tv_ui import labels as tv_labels
from tv_ui.i18n import N_, gettext

PERMISSION = "directory.edit"
PER_PAGE = 50

FIELDS = {
    "code": N_("编号"),
    "name": N_("名称"),
    "kind": N_("类型"),
    "region_code": N_("所在地区"),
    "region_served": N_("服务地区"),
    "organization": N_("所属机构"),
    "address": N_("地址"),
    "hours": N_("开放时间"),
    "phone": N_("电话"),
    "phone_is_sample": N_("示例号码"),
    "services": N_("服务项目"),
    "languages": N_("服务语言"),
    "latitude": N_("经纬度"),
    "longitude": N_("经度"),
    "description": N_("简介"),
    "header": N_("表头"),
    "row": N_("整行"),
    "file": N_("文件"),
}
PROBLEMS = {
    "required": N_("%(field)s：必须填写。"),
    "too_long": N_("%(field)s：内容太长（%(value)s）。"),
    "code_invalid": N_("%(field)s：只能用1到64个字母、数字、点、下划线或横线（%(value)s）。"),
    "code_taken": N_("%(field)s：这个编号已被使用（%(value)s）。"),
    "code_duplicate": N_("%(field)s：文件里前面已有相同的编号（%(value)s）。"),
    "kind_invalid": N_("%(field)s：没有这个类型（%(value)s）。"),
    "region_unknown": N_("%(field)s：没有这个地区代码（%(value)s）。"),
    "region_out_of_scope": N_("%(field)s：这个地区不在您负责的范围内（%(value)s）。"),
    "phone_invalid": N_(
        "%(field)s：请填写正确的手机号、带区号的固定电话或12348热线（%(value)s）。"
    ),
    "flag_invalid": N_("%(field)s：请填1（是）或0（否）（%(value)s）。"),
    "service_unknown": N_("%(field)s：没有这个服务代码（%(value)s）。"),
    "language_unknown": N_("%(field)s：语言只能是 zh（汉语）或 mn（蒙古语）（%(value)s）。"),
    "coordinate_invalid": N_(
        "%(field)s：纬度在-90到90之间、经度在-180到180之间，两项都填或都不填（%(value)s）。"
    ),
    "organization_invalid": N_("%(field)s：机构编号不正确（%(value)s）。"),
    "columns_missing": N_("表头缺少这些列：%(value)s。"),
    "columns_unknown": N_("表头有无法识别的列：%(value)s。"),
    "columns_duplicate": N_("表头有重复的列：%(value)s。"),
    "row_width": N_("这一行的单元格个数与表头不一致（%(value)s）。"),
    "empty_file": N_("文件是空的，没有表头。"),
    "encoding": N_("无法识别文件的编码，请另存为 UTF-8 或 GBK 编码的 CSV 文件。"),
}
MESSAGES = {
    "point_stale": N_("没有保存：这个服务点已被别人修改过。您填写的内容还在下面，请核对后再保存。"),
    "organization_stale": N_("没有保存：这个机构已被别人修改过。请核对最新内容后再保存。"),
    "fix_below": N_("有 %(n)s 处需要修改，请看下面的说明。"),
}
NOTICES = {
    "directory_deleted": N_("服务点已删除。"),
    "directory_imported": N_("导入完成，所有改动已记入审计日志。"),
}
ERRORS = {
    "service_point_not_found": N_("没有找到这个服务点。"),
    "organization_not_found": N_("没有找到这个机构。"),
}


def problem_text(problem: Problem) -> str:
    template = gettext(PROBLEMS.get(problem.code, PROBLEMS["required"]))
    field = gettext(FIELDS.get(problem.field, FIELDS["row"]))
    return template % {"field": field, "value": problem.value}


# --- scope and choices -------------------------------------------------------------------


def subtree(request: web.Request, code: str) -> set[str]:
    tree = request.config_dict[keys.REGIONS]
    out, todo = set(), [code]
    while todo:
        here = todo.pop()
        out.add(here)
        todo.extend(r.code for r in tree.kids(here))
    return out


def scope(request: web.Request) -> set[str] | None:
    """Region codes the user may see and change; None for a user of the whole city."""
    region = current_user(request).region_code
    return subtree(request, region) if region else None


def allowed(request: web.Request) -> Callable[[str], bool] | None:
    codes = scope(request)
    return None if codes is None else codes.__contains__


def region_filter(request: web.Request, chosen: str) -> set[str] | None:
    """The regions a list shows: the chosen area (and everything under it) within the scope."""
    mine = scope(request)
    if not chosen:
        return mine
    wanted = subtree(request, chosen)
    return wanted if mine is None else wanted & mine


def area_choices(request: web.Request) -> list[tuple[str, str]]:
    """Areas to filter by: the city, banners and townships within the user's scope."""
    tree = request.config_dict[keys.REGIONS]
    mine = scope(request)
    out = []

    def walk(region, depth: int) -> None:
        if mine is None or region.code in mine:
            out.append((region.code, tree.full_name(region.code)))
        if depth < 2:
            for kid in tree.kids(region.code):
                walk(kid, depth + 1)

    for root in tree.roots:
        walk(root, 0)
    return out


def region_options(request: web.Request) -> list[tuple[str, str]]:
    """Every region a point may sit in (within scope), for the form's list of suggestions."""
    tree = request.config_dict[keys.REGIONS]
    mine = scope(request)
    return [
        (code, tree.full_name(code))
        for code in sorted(tree.by_code)
        if mine is None or code in mine
    ]


def choices(request: web.Request) -> dict:
    return {
        "kinds": [(k, tv_labels.POINT_KINDS[k]) for k in directory.KINDS],
        "services": [(s, tv_labels.SERVICES[s]) for s in directory.SERVICE_CODES],
        "languages": [(lang, tv_labels.LANGUAGES[lang]) for lang in directory.LANGUAGES],
        "kind_label": lambda k: gettext(tv_labels.POINT_KINDS.get(k, k)),
        "service_label": lambda s: gettext(tv_labels.SERVICES.get(s, s)),
    }


async def invalidate(request: web.Request) -> None:
    """Changed directory data (a "directory" change: the TV directory screens go)."""
    await caches.changed(request.config_dict, "directory")


def _page(request: web.Request) -> int:
    raw = request.query.get("page", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


def _audit(request: web.Request, action: str, object_type: str):
    async def then(tx, before, after) -> None:
        record = after or before
        await log(
            request,
            action,
            object_type=object_type,
            object_id=record.code,
            detail=directory.audit_detail(before, after),
            tx=tx,
        )

    return then


# --- service points ----------------------------------------------------------------------


async def _listing(request: web.Request, fetch, template: str, name: str) -> web.Response:
    """A filtered, paginated list of points or organisations within the user's region."""
    q = request.query
    filters = {k: q.get(k, "").strip() for k in ("region", "kind", "q")}
    page = _page(request)
    rows, total = await fetch(
        request.config_dict[keys.DB],
        regions=region_filter(request, filters["region"]),
        kind=filters["kind"] if filters["kind"] in directory.KINDS else "",
        q=filters["q"],
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    return render(
        request,
        template,
        **{name: rows},
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        filters=filters,
        areas=area_choices(request),
        **choices(request),
    )


@requires(PERMISSION)
async def point_list(request: web.Request) -> web.Response:
    return await _listing(request, directory.list_points, "admin/directory/points.html", "points")


def _point_form(point: directory.ServicePoint) -> dict:
    form = dict(point.snapshot())
    form["latitude"] = "" if point.latitude is None else str(point.latitude)
    form["longitude"] = "" if point.longitude is None else str(point.longitude)
    form["version"] = point.version
    return form


async def _typed_point(request: web.Request) -> dict:
    post = await request.post()
    form = {
        f: str(post.get(f, ""))
        for f in (
            "code",
            "name",
            "kind",
            "region_code",
            "region_served",
            "organization",
            "address",
            "hours",
            "phone",
            "latitude",
            "longitude",
            "description",
            "version",
        )
    }
    form["services"] = [str(s) for s in post.getall("services", [])]
    form["languages"] = [str(s) for s in post.getall("languages", [])]
    form["phone_is_sample"] = "1" if post.get("phone_is_sample") else "0"
    return form


async def _render_point_form(
    request: web.Request,
    *,
    point: directory.ServicePoint | None,
    form: dict,
    problems: list[Problem] = (),
    error: str = "",
    status: int = 200,
) -> web.Response:
    db = request.config_dict[keys.DB]
    orgs = await directory.all_organizations(db, scope(request))
    # A point may belong to an organization outside the editor's area (say the city's): keep
    # it selectable so that saving does not quietly move the point to another organization.
    linked = form.get("organization") or ""
    outside = linked if linked and linked not in {o.code for o in orgs} else ""
    if problems and not error:
        error = gettext(MESSAGES["fix_below"]) % {"n": len(problems)}
    return render(
        request,
        "admin/directory/point_form.html",
        status=status,
        point=point,
        form=form,
        problems=[(p.field, problem_text(p)) for p in problems],
        bad_fields={p.field for p in problems},
        error=error,
        organizations=orgs,
        outside_organization=outside,
        regions=region_options(request),
        **choices(request),
    )


@requires(PERMISSION)
async def point_new(request: web.Request) -> web.Response:
    region = current_user(request).region_code or ""
    form = {"languages": ["zh"], "services": [], "region_code": region, "phone_is_sample": "0"}
    return await _render_point_form(request, point=None, form=form)


@requires(PERMISSION)
async def point_create(request: web.Request) -> web.Response:
    form = await _typed_point(request)
    try:
        point = await directory.create_point(
            request.config_dict[keys.DB],
            form,
            known_regions=request.config_dict[keys.REGIONS].by_code,
            allowed=allowed(request),
            then=_audit(request, "directory.point.create", "service_point"),
        )
    except DirectoryInvalid as exc:
        return await _render_point_form(
            request, point=None, form=form, problems=exc.problems, status=400
        )
    await invalidate(request)
    raise see_other(request, "admin_directory_point", ok="created", pid=point.id)


async def _point_in_scope(request: web.Request) -> directory.ServicePoint:
    point = await directory.get_point_by_id(
        request.config_dict[keys.DB], int(request.match_info["pid"])
    )
    await require_region(request, PERMISSION, point.region_code)
    return point


@requires(PERMISSION)
async def point_edit(request: web.Request) -> web.Response:
    point = await _point_in_scope(request)
    return await _render_point_form(request, point=point, form=_point_form(point))


@requires(PERMISSION)
async def point_update(request: web.Request) -> web.Response:
    point = await _point_in_scope(request)
    form = await _typed_point(request)
    form["code"] = point.code
    version = int(form["version"]) if form["version"].isdigit() else -1
    try:
        await directory.update_point(
            request.config_dict[keys.DB],
            point.id,
            form,
            expected_version=version,
            known_regions=request.config_dict[keys.REGIONS].by_code,
            allowed=allowed(request),
            then=_audit(request, "directory.point.update", "service_point"),
        )
    except DirectoryInvalid as exc:
        return await _render_point_form(
            request, point=point, form=form, problems=exc.problems, status=400
        )
    except Conflict:
        current = await directory.get_point_by_id(request.config_dict[keys.DB], point.id)
        return await _render_point_form(
            request,
            point=current,
            form=form,
            error=gettext(MESSAGES["point_stale"]),
            status=409,
        )
    await invalidate(request)
    raise see_other(request, "admin_directory_point", ok="saved", pid=point.id)


@requires(PERMISSION)
async def point_delete_form(request: web.Request) -> web.Response:
    point = await _point_in_scope(request)
    return render(request, "admin/directory/point_delete.html", point=point, **choices(request))


@requires(PERMISSION)
async def point_delete(request: web.Request) -> web.Response:
    point = await _point_in_scope(request)
    post = await request.post()
    raw = str(post.get("version", ""))
    try:
        await directory.delete_point(
            request.config_dict[keys.DB],
            point.id,
            expected_version=int(raw) if raw.isdigit() else -1,
            then=_audit(request, "directory.point.delete", "service_point"),
        )
    except Conflict:
        current = await directory.get_point_by_id(request.config_dict[keys.DB], point.id)
        return render(
            request,
            "admin/directory/point_delete.html",
            status=409,
            point=current,
            error=gettext(MESSAGES["point_stale"]),
            **choices(request),
        )
    await invalidate(request)
    raise see_other(request, "admin_directory", ok="directory_deleted")


# --- organizations -----------------------------------------------------------------------


@requires(PERMISSION)
async def org_list(request: web.Request) -> web.Response:
    return await _listing(
        request,
        directory.list_organizations,
        "admin/directory/organizations.html",
        "organizations",
    )


def _render_org_form(
    request: web.Request,
    *,
    org: directory.Organization | None,
    form: dict,
    problems: list[Problem] = (),
    error: str = "",
    status: int = 200,
) -> web.Response:
    if problems and not error:
        error = gettext(MESSAGES["fix_below"]) % {"n": len(problems)}
    return render(
        request,
        "admin/directory/organization_form.html",
        status=status,
        org=org,
        form=form,
        problems=[(p.field, problem_text(p)) for p in problems],
        bad_fields={p.field for p in problems},
        error=error,
        regions=region_options(request),
        **choices(request),
    )


async def _typed_org(request: web.Request) -> dict:
    post = await request.post()
    return {
        f: str(post.get(f, ""))
        for f in ("code", "name", "kind", "region_code", "description", "version")
    }


async def _org_in_scope(request: web.Request) -> directory.Organization:
    org = await directory.get_organization(
        request.config_dict[keys.DB], int(request.match_info["oid"])
    )
    await require_region(request, PERMISSION, org.region_code)
    return org


@requires(PERMISSION)
async def org_new(request: web.Request) -> web.Response:
    form = {"region_code": current_user(request).region_code or ""}
    return _render_org_form(request, org=None, form=form)


@requires(PERMISSION)
async def org_create(request: web.Request) -> web.Response:
    form = await _typed_org(request)
    try:
        org = await directory.create_organization(
            request.config_dict[keys.DB],
            form,
            known_regions=request.config_dict[keys.REGIONS].by_code,
            allowed=allowed(request),
            then=_audit(request, "directory.organization.create", "organization"),
        )
    except DirectoryInvalid as exc:
        return _render_org_form(request, org=None, form=form, problems=exc.problems, status=400)
    raise see_other(request, "admin_directory_org", ok="created", oid=org.id)


@requires(PERMISSION)
async def org_edit(request: web.Request) -> web.Response:
    org = await _org_in_scope(request)
    return _render_org_form(request, org=org, form={**org.snapshot(), "version": org.version})


@requires(PERMISSION)
async def org_update(request: web.Request) -> web.Response:
    org = await _org_in_scope(request)
    form = await _typed_org(request)
    form["code"] = org.code
    try:
        await directory.update_organization(
            request.config_dict[keys.DB],
            org.id,
            form,
            expected_version=int(form["version"]) if form["version"].isdigit() else -1,
            known_regions=request.config_dict[keys.REGIONS].by_code,
            allowed=allowed(request),
            then=_audit(request, "directory.organization.update", "organization"),
        )
    except DirectoryInvalid as exc:
        return _render_org_form(request, org=org, form=form, problems=exc.problems, status=400)
    except Conflict:
        current = await directory.get_organization(request.config_dict[keys.DB], org.id)
        return _render_org_form(
            request,
            org=current,
            form=form,
            error=gettext(MESSAGES["organization_stale"]),
            status=409,
        )
    await invalidate(request)
    raise see_other(request, "admin_directory_org", ok="saved", oid=org.id)


def setup(admin: web.Application) -> None:
    """Register this slice's routes (and NAV entries) on the admin sub-application."""
    from tv_server.admin import directory_io

    r = admin.router
    r.add_get("/directory", point_list, name="admin_directory")
    r.add_get("/directory/points/new", point_new, name="admin_directory_point_new")
    r.add_post("/directory/points/new", point_create)
    r.add_get(r"/directory/points/{pid:\d+}", point_edit, name="admin_directory_point")
    r.add_post(r"/directory/points/{pid:\d+}", point_update)
    r.add_get(
        r"/directory/points/{pid:\d+}/delete",
        point_delete_form,
        name="admin_directory_point_delete",
    )
    r.add_post(r"/directory/points/{pid:\d+}/delete", point_delete)
    r.add_get("/directory/organizations", org_list, name="admin_directory_orgs")
    r.add_get("/directory/organizations/new", org_new, name="admin_directory_org_new")
    r.add_post("/directory/organizations/new", org_create)
    r.add_get(r"/directory/organizations/{oid:\d+}", org_edit, name="admin_directory_org")
    r.add_post(r"/directory/organizations/{oid:\d+}", org_update)
    directory_io.setup(admin)
    for table, extra in ((labels.NOTICES, NOTICES), (labels.ERRORS, ERRORS)):
        for key, value in extra.items():
            table.setdefault(key, value)
    entry = (PERMISSION, "admin_directory", N_("服务指南"))
    if entry not in NAV:
        NAV.append(entry)
