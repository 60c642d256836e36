"""Admin slice: the service directory. Editors list, create, change and delete service points
and their organizations; region-scoped editors only see and change their own area. Every change
is audited with its before/after and refreshes the cached TV directory screens.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from content.directory import points as directory
from content.directory.points import DirectoryInvalid
from tv_server import keys
from tv_server.admin import crud, labels
from tv_server.admin.common import (
    current_user,
)
from tv_ui import labels as tv_labels
from tv_ui.i18n import N_, gettext

PERMISSION = "directory.edit"

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
    "name_mn": N_("蒙古文名称"),
    "description_mn": N_("蒙古文简介"),
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
    "mongolian_lost": N_(
        "%(field)s：蒙古文变成了问号（%(value)s），请把文件另存为 UTF-8 编码后再导入。"
    ),
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


problem_text = crud.problem_words(PROBLEMS, FIELDS, problem="required", field="row")


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


def _filters(request: web.Request, filters: dict) -> dict:
    """A list's query as the domain's arguments, within the user's region."""
    return {
        "regions": region_filter(request, filters["region"]),
        "kind": filters["kind"] if filters["kind"] in directory.KINDS else "",
        "q": filters["q"],
    }


# What the two kinds share: permission, scope, validation messages, lists and audit.
_COMMON = {
    "permission": PERMISSION,
    "region_of": lambda record: record.region_code,
    "allowed": allowed,
    "invalid": DirectoryInvalid,
    "problem_text": problem_text,
    "audit_detail": directory.audit_detail,
    "fix_below": MESSAGES["fix_below"],
    "helpers": choices,
    "filters": _filters,
    "list_context": lambda request: {"areas": area_choices(request)},
}


# --- service points ----------------------------------------------------------------------


def _point_form(point: directory.ServicePoint) -> dict:
    form = dict(point.snapshot())
    form["latitude"] = "" if point.latitude is None else str(point.latitude)
    form["longitude"] = "" if point.longitude is None else str(point.longitude)
    form["version"] = point.version
    return form


def _new_point(request: web.Request) -> dict:
    region = crud.region_of_user(request)
    return {"languages": ["zh"], "services": [], "region_code": region, "phone_is_sample": "0"}


async def _point_choices(request: web.Request, _point, form: dict) -> dict:
    orgs = await directory.all_organizations(request.config_dict[keys.DB], scope(request))
    # A point may belong to an organization outside the editor's area (say the city's): keep
    # it selectable so that saving does not quietly move the point to another organization.
    linked = form.get("organization") or ""
    outside = linked if linked and linked not in {o.code for o in orgs} else ""
    return {
        "organizations": orgs,
        "outside_organization": outside,
        "regions": region_options(request),
    }


_CHOSEN = ("services", "languages", "phone_is_sample")  # checkboxes, not text
POINTS = crud.Crud(
    **_COMMON | {"fetch_page": directory.list_points},
    route="admin_directory_point",
    list_route="admin_directory",
    key="point_id",
    noun="point",
    object_type="service_point",
    action="directory.point",
    load=directory.get_point_by_id,
    create=directory.create_point,
    update=directory.update_point,
    delete=directory.delete_point,
    stale=MESSAGES["point_stale"],
    form_template="admin/directory/point_form.html",
    delete_template="admin/directory/point_delete.html",
    deleted="directory_deleted",
    form_of=_point_form,
    blank=_new_point,
    form_context=_point_choices,
    text_fields=("code", *(f for f in directory.EDITABLE if f not in _CHOSEN), "version"),
    list_fields=("services", "languages"),
    flag_fields=("phone_is_sample",),
    list_template="admin/directory/points.html",
    list_name="points",
)
points = crud.views(POINTS)


# --- organizations -----------------------------------------------------------------------


async def _org_choices(request: web.Request, _org, _form: dict) -> dict:
    return {"regions": region_options(request)}


ORGANIZATIONS = crud.Crud(
    **_COMMON | {"fetch_page": directory.list_organizations},
    route="admin_directory_org",
    list_route="admin_directory_orgs",
    key="oid",
    noun="org",
    object_type="organization",
    action="directory.organization",
    load=directory.get_organization,
    create=directory.create_organization,
    update=directory.update_organization,
    stale=MESSAGES["organization_stale"],
    form_template="admin/directory/organization_form.html",
    form_of=lambda org: {**org.snapshot(), "version": org.version},
    blank=lambda request: {"region_code": crud.region_of_user(request)},
    form_context=_org_choices,
    text_fields=("code", "name", "kind", "region_code", "description", "version"),
    list_template="admin/directory/organizations.html",
    list_name="organizations",
    changed_by=frozenset({"update"}),  # an organization shows on the TV through its points
)
organizations = crud.views(ORGANIZATIONS)


# This slice's messages, found by code by the admin's templates and error pages.
for table, extra in ((labels.NOTICES, NOTICES), (labels.ERRORS, ERRORS)):
    for key, value in extra.items():
        table.setdefault(key, value)
