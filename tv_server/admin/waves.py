"""Rollout waves in /admin: list, create, edit, start, pause and complete, every action audited.

Region-scoped staff see the waves touching their region and change only waves whose target
regions all lie inside it. A change of status takes effect on the boxes at once. Targets are
picked from the region tree (banner → township → village checkboxes, searchable with
static/wave_picker.js) or pasted as codes.
"""

from __future__ import annotations

import re

from aiohttp import web

from device_registry import waves
from device_registry.regions import Region, RegionTree
from storage import DomainError, Invalid
from tv_server import keys
from tv_server.admin import labels
from tv_server.admin.common import current_user, log, render, requires, see_other
from tv_server.admin.common import deny as _deny
from tv_ui.i18n import N_, gettext

PERMISSION = "registry.edit"
KINDS = {"pilot": N_("试点"), "expansion": N_("推广")}
STATUSES = {
    "planned": N_("计划中"),
    "started": N_("已启动"),
    "paused": N_("已暂停"),
    "completed": N_("已完成"),
}
ACTIONS = {"start": N_("启动"), "pause": N_("暂停"), "complete": N_("完成")}
LEVELS = {"county": N_("旗区"), "township": N_("苏木乡镇"), "village": N_("嘎查村")}
FIELDS = (
    "name",
    "kind",
    "position",
    "planned_start",
    "planned_end",
    "target_boxes",
    "ramp_percent",
    "notes",
)
_SEPARATORS = re.compile(r"[\s,\uff0c\u3001;\uff1b]+")
MESSAGES = {
    "wave_name_required": N_("请填写批次名称。"),
    "wave_name_too_long": N_("批次名称太长了。"),
    "wave_name_taken": N_("已有同名的批次。"),
    "wave_kind_invalid": N_("请选择批次类型。"),
    "wave_regions_required": N_("请至少选择一个目标地区。"),
    "wave_region_invalid": N_("目标地区代码不对：只能是旗区、苏木乡镇或嘎查村。"),
    "wave_start_invalid": N_("计划开始日期格式不对。"),
    "wave_end_invalid": N_("计划结束日期格式不对。"),
    "wave_end_before_start": N_("计划结束日期早于开始日期。"),
    "wave_target_invalid": N_("目标机顶盒数量不对。"),
    "wave_ramp_invalid": N_("开通比例要在0到100之间。"),
    "wave_notes_too_long": N_("备注太长了。"),
    "wave_position_invalid": N_("顺序要是正整数。"),
    "wave_first_must_be_pilot": N_("第一批必须是试点。"),
    "wave_completed": N_("已完成的批次不能再修改。"),
    "wave_transition_invalid": N_("当前状态下不能进行这个操作。"),
    "wave_out_of_scope": N_("目标地区超出了您负责的地区。"),
    "number_invalid": N_("请填写数字。"),
}
NOTICES = {
    "wave_saved": N_("批次已保存。"),
    "wave_start": N_("批次已启动，目标地区的机顶盒将开通法律服务专区。"),
    "wave_pause": N_("批次已暂停。"),
    "wave_complete": N_("批次已完成。"),
}


# This slice's messages, found by code by the admin's templates and error pages.
for code, text in NOTICES.items():
    labels.NOTICES.setdefault(code, text)


# -- scope -----------------------------------------------------------------------------------


def _chain(request: web.Request, code: str) -> list[str]:
    return [r.code for r in request.config_dict[keys.REGIONS].chain(code)]


def may_change(request: web.Request, wave_regions: tuple[str, ...] | list[str]) -> bool:
    """Every target region lies inside the user's region (unscoped users: always)."""
    user = current_user(request)
    if user.region_code is None:
        return True
    return bool(wave_regions) and all(user.region_code in _chain(request, c) for c in wave_regions)


def may_see(request: web.Request, wave: waves.Wave) -> bool:
    """A target lies inside the user's region, or the wave covers the user's region."""
    user = current_user(request)
    if user.region_code is None:
        return True
    mine = _chain(request, user.region_code)
    return any(user.region_code in _chain(request, c) or c in mine for c in wave.regions)


def common(request: web.Request) -> dict:
    return {
        "kinds": KINDS,
        "statuses": STATUSES,
        "actions": ACTIONS,
        "transitions": waves.TRANSITIONS,
        "levels": LEVELS,
    }


# -- the target picker -----------------------------------------------------------------------


def _picker_roots(request: web.Request) -> list[Region]:
    """The regions at the top of the user's picker: every banner, or the user's own region."""
    tree: RegionTree = request.config_dict[keys.REGIONS]
    code = current_user(request).region_code
    tops = [tree.get(code)] if code else list(tree.roots)
    out: list[Region] = []
    for region in tops:
        if region is None:
            continue
        if region.level in waves.TARGET_LEVELS:
            out.append(region)
        else:  # the city (or province): its banners
            out.extend(r for r in tree.kids(region.code) if r.level in waves.TARGET_LEVELS)
    return out


def _node(tree: RegionTree, region: Region, selected: set[str], shown: set[str]) -> dict:
    shown.add(region.code)
    kids = [
        _node(tree, kid, selected, shown)
        for kid in tree.kids(region.code)
        if kid.level in waves.TARGET_LEVELS
    ]
    villages = sum(k["villages"] for k in kids) + (region.level == "village")
    return {
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "checked": region.code in selected,
        "open": any(k["checked"] or k["open"] for k in kids),
        "villages": villages,
        "kids": kids,
    }


def target_label(tree: RegionTree, code: str) -> str:
    """A target's names from its banner down (东胜区 · 巴音门克街道 · 某村)."""
    chain = [r.name for r in reversed(tree.chain(code)) if r.level in waves.TARGET_LEVELS]
    return " · ".join(chain)


def split_codes(values: list[str]) -> list[str]:
    """Region codes from checkboxes and pasted text (any blanks, commas or semicolons), in
    order, each once."""
    codes = (code for value in values for code in _SEPARATORS.split(str(value)))
    return list(dict.fromkeys(code for code in codes if code))


def message(exc: DomainError) -> str:
    text = MESSAGES.get(exc.code) or labels.ERRORS.get(exc.code) or labels.ERRORS["server_error"]
    return gettext(text)


# -- handlers --------------------------------------------------------------------------------


@requires(PERMISSION)
async def wave_list(request: web.Request) -> web.Response:
    all_waves = await waves.list_waves(request.config_dict[keys.DB])
    shown = [w for w in all_waves if may_see(request, w)]
    return render(
        request,
        "admin/waves/list.html",
        waves=shown,
        editable={w.id for w in shown if may_change(request, w.regions)},
        **common(request),
    )


def _form_of(wave: waves.Wave | None) -> dict:
    if wave is None:
        return {"kind": "pilot", "ramp_percent": "100", "target_boxes": "0", "regions": []}
    return {
        "name": wave.name,
        "kind": wave.kind,
        "position": str(wave.position),
        "regions": list(wave.regions),
        "planned_start": wave.planned_start,
        "planned_end": wave.planned_end,
        "target_boxes": str(wave.target_boxes),
        "ramp_percent": str(wave.ramp_percent),
        "notes": wave.notes,
    }


def _int(value: str, default: int | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return default
    if not value.lstrip("-").isdigit():
        raise Invalid("number_invalid", value)
    return int(value)


def _posted(post) -> dict:
    """The wave form as posted: its fields, and the targets ticked in the picker or pasted."""
    form = {name: str(post.get(name, "")) for name in FIELDS}
    form["regions"] = split_codes([*post.getall("regions", []), post.get("regions_paste", "")])
    return form


def _input(form) -> waves.WaveInput:
    return waves.WaveInput(
        name=form.get("name", ""),
        kind=form.get("kind", ""),
        regions=tuple(form.get("regions", ())),
        position=_int(form.get("position", ""), None),
        planned_start=form.get("planned_start", "").strip(),
        planned_end=form.get("planned_end", "").strip(),
        target_boxes=_int(form.get("target_boxes", ""), 0) or 0,
        ramp_percent=_int(form.get("ramp_percent", ""), 100),
        notes=form.get("notes", ""),
    )


def region_picker(request: web.Request, codes: list[str], *, editable: bool = True):
    """The village picker's tree (empty when not `editable`), the chosen targets as chips, and
    the codes the tree shows — for admin/_region_picker.html and static/wave_picker.js (also
    used by the program form)."""
    tree: RegionTree = request.config_dict[keys.REGIONS]
    shown: set[str] = set()
    picker = [_node(tree, r, set(codes), shown) for r in _picker_roots(request)] if editable else []
    if len(picker) == 1:  # a banner's (or township's) staff: their own region, opened
        picker[0]["open"] = True
    targets = []
    for code in codes:
        region = tree.get(code)
        targets.append(
            {
                "code": code,
                "name": target_label(tree, code) if region else "",
                "level": region.level if region else "",
                "in_picker": code in shown,
            }
        )
    return picker, targets, shown


def _form_page(request, wave, form, error="", status=200) -> web.Response:
    codes = list(form.get("regions", ()))
    editable = wave is None or may_change(request, wave.regions)
    picker, targets, shown = region_picker(request, codes, editable=editable)
    # Codes the picker cannot show (unknown, or outside the user's region) stay in the paste
    # box, so nothing typed is lost.
    paste = "\n".join(code for code in codes if code not in shown)
    return render(
        request,
        "admin/waves/form.html",
        status=status,
        wave=wave,
        form=form,
        error=error,
        targets=targets,
        picker=picker,
        paste=paste,
        editable=editable,
        **common(request),
    )


@requires(PERMISSION)
async def wave_new(request: web.Request) -> web.Response:
    return _form_page(request, None, _form_of(None))


@requires(PERMISSION)
async def wave_create(request: web.Request) -> web.Response:
    db, tree = request.config_dict[keys.DB], request.config_dict[keys.REGIONS]
    form = _posted(await request.post())
    try:
        data = _input(form)
        data = waves.validate(data, tree)
        if not may_change(request, data.regions):
            await log(
                request,
                PERMISSION,
                outcome="denied",
                detail={"path": request.path, "regions": list(data.regions)},
            )
            raise Invalid("wave_out_of_scope", "")
        wave = await waves.create_wave(db, data, tree)
    except DomainError as exc:
        return _form_page(request, None, form, message(exc), status=400)
    await log(
        request,
        "wave.create",
        object_type="wave",
        object_id=wave.id,
        detail={"name": wave.name, "regions": list(wave.regions)},
    )
    raise see_other(request, "admin_wave", ok="wave_saved", wid=wave.id)


async def _wave(request: web.Request) -> waves.Wave:
    wave = await waves.get_wave(request.config_dict[keys.DB], int(request.match_info["wid"]))
    if not may_see(request, wave):
        raise await _deny(request, PERMISSION, wave=wave.id)
    return wave


@requires(PERMISSION)
async def wave_edit(request: web.Request) -> web.Response:
    wave = await _wave(request)
    return _form_page(request, wave, _form_of(wave))


@requires(PERMISSION)
async def wave_act(request: web.Request) -> web.Response:
    db, tree = request.config_dict[keys.DB], request.config_dict[keys.REGIONS]
    wave = await _wave(request)
    post = await request.post()
    form = _posted(post)
    action = str(post.get("action", "save"))
    if not may_change(request, wave.regions):
        raise await _deny(request, PERMISSION, wave=wave.id)
    try:
        if action == "save":
            data = waves.validate(_input(form), tree)
            if not may_change(request, data.regions):
                await log(
                    request,
                    PERMISSION,
                    outcome="denied",
                    detail={"path": request.path, "regions": list(data.regions)},
                )
                raise Invalid("wave_out_of_scope", "")
            updated = await waves.update_wave(db, wave.id, data, tree)
        else:
            updated = await waves.change_status(db, wave.id, action)
    except DomainError as exc:
        if action == "save":
            return _form_page(request, wave, form, message(exc), status=400)
        return _form_page(request, wave, _form_of(wave), message(exc), status=409)
    await log(
        request,
        f"wave.{'update' if action == 'save' else action}",
        object_type="wave",
        object_id=wave.id,
        detail={
            "status": updated.status,
            "ramp_percent": updated.ramp_percent,
            "regions": list(updated.regions),
        },
    )
    raise see_other(
        request,
        "admin_wave",
        ok="wave_saved" if action == "save" else f"wave_{action}",
        wid=wave.id,
    )
