"""Rollout waves in /admin: list, create, edit, start, pause and complete, every action audited.

Region-scoped staff see the waves touching their region and change only waves whose target
regions all lie inside it. A change of status takes effect on the boxes at once.
"""

from __future__ import annotations

from aiohttp import web

from device_registry import waves
from storage import DomainError, Invalid
from tv_server import keys
from tv_server.admin import labels
from tv_server.admin.common import add_nav, current_user, log, render, requires, see_other
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
MESSAGES = {
    "wave_name_required": N_("请填写批次名称。"),
    "wave_name_too_long": N_("批次名称太长了。"),
    "wave_name_taken": N_("已有同名的批次。"),
    "wave_kind_invalid": N_("请选择批次类型。"),
    "wave_regions_required": N_("请至少填写一个目标地区代码。"),
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


def setup(admin: web.Application) -> None:
    """Register this slice's routes (and NAV entries) on the admin sub-application."""
    r = admin.router
    r.add_get("/waves", wave_list, name="admin_waves")
    r.add_get("/waves/new", wave_new, name="admin_wave_new")
    r.add_post("/waves/new", wave_create)
    r.add_get("/waves/{wid:\\d+}", wave_edit, name="admin_wave")
    r.add_post("/waves/{wid:\\d+}", wave_act)
    for code, text in NOTICES.items():
        labels.NOTICES.setdefault(code, text)
    add_nav(PERMISSION, "admin_waves", N_("推广批次"))


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
    }


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
        return {"kind": "pilot", "ramp_percent": "100", "target_boxes": "0"}
    return {
        "name": wave.name,
        "kind": wave.kind,
        "position": str(wave.position),
        "regions": "\n".join(wave.regions),
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


def _input(form) -> waves.WaveInput:
    codes = tuple(form.get("regions", "").replace(",", " ").replace("\uff0c", " ").split())
    return waves.WaveInput(
        name=form.get("name", ""),
        kind=form.get("kind", ""),
        regions=codes,
        position=_int(form.get("position", ""), None),
        planned_start=form.get("planned_start", "").strip(),
        planned_end=form.get("planned_end", "").strip(),
        target_boxes=_int(form.get("target_boxes", ""), 0) or 0,
        ramp_percent=_int(form.get("ramp_percent", ""), 100),
        notes=form.get("notes", ""),
    )


def _form_page(request, wave, form, error="", status=200) -> web.Response:
    tree = request.config_dict[keys.REGIONS]
    codes = form.get("regions", "").replace(",", " ").split()
    targets = [(c, tree.full_name(c) if tree.get(c) else "") for c in codes]
    return render(
        request,
        "admin/waves/form.html",
        status=status,
        wave=wave,
        form=form,
        error=error,
        targets=targets,
        editable=wave is None or may_change(request, wave.regions),
        **common(request),
    )


@requires(PERMISSION)
async def wave_new(request: web.Request) -> web.Response:
    return _form_page(request, None, _form_of(None))


@requires(PERMISSION)
async def wave_create(request: web.Request) -> web.Response:
    db, tree = request.config_dict[keys.DB], request.config_dict[keys.REGIONS]
    form = dict(await request.post())
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
    form = dict(await request.post())
    action = form.get("action", "save")
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
    request.config_dict[keys.BOXES].forget()  # the section follows the wave at once
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
