"""The box registry in /admin: pending boxes accepted or rejected one by one or in bulk, the
auto-accept rule by village, a box's page (fields, attributes, household history, replacement,
corrections of its registry fields and inventory attributes) and the operator's CSV upload with
the same line-by-line report as the CLI. Region-scoped and audited.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from device_registry import (
    activity,
    admission,
    corrections,
    enrolment,
    households,
    inventory,
    listing,
    records,
    registry_io,
    replacement,
    validation,
)
from device_registry.states import DeviceState
from storage import Conflict, DomainError, Invalid, OutOfScope, clock
from tv_server import keys
from tv_server.admin import labels
from tv_server.admin.common import (
    current_user,
    deny,
    log,
    render,
    require_region,
    requires,
    see_other,
    url,
)
from tv_server.admin.streamed import read_small_file, streamed
from tv_ui.i18n import N_, gettext
from tv_ui.keymaps import DEFAULT_FAMILY, FAMILIES

PERMISSION = "registry.edit"
PAGE = 100
ACCEPTED_SHOWN = 20  # accepted boxes offered their household form after a decision
MAX_UPLOAD = 20 * 1024 * 1024

STATES = {
    DeviceState.PENDING: N_("待审核"),
    DeviceState.REJECTED: N_("已拒绝"),
    DeviceState.PLANNED: N_("计划安装"),
    DeviceState.INSTALLED: N_("已安装"),
    DeviceState.ACTIVATED: N_("已激活"),
    DeviceState.ACTIVE: N_("活跃"),
    DeviceState.INACTIVE: N_("不活跃"),
    DeviceState.RETIRED: N_("已退役"),
}
NOTICES = {
    "registry_accepted": N_("已接受所选机顶盒。"),
    "registry_rejected": N_("已拒绝所选机顶盒。"),
    "registry_replaced": N_("已完成换机，旧机顶盒已退役。"),
    "registry_imported": N_("机顶盒清单已导入。"),
    "registry_auto": N_("自动接受规则已更新。"),
    "registry_households": N_("各村户数已更新。"),
    "registry_box_saved": N_("机顶盒信息已保存。"),
    "registry_box_unchanged": N_("没有需要保存的修改。"),
    "registry_tv_revoked": N_("已让这台机顶盒的电视页面地址全部失效，它需从门户重新进入。"),
    "registry_token_revoked": N_(
        "已吊销这台机顶盒的设备令牌：它的心跳将被拒绝，直到重新签发令牌。"
    ),
    "registry_token_none": N_("这台机顶盒没有设备令牌，无需吊销。"),
}
MESSAGES = {
    "nothing_selected": N_("请先勾选机顶盒。"),
    "village_unknown": N_("请填写一个有效的村（嘎查）代码。"),
    "device_unknown": N_("找不到这台机顶盒。"),
    "device_retired": N_("这台机顶盒已退役。"),
    "device_rejected": N_("这台机顶盒已被拒绝。"),
    "device_pending": N_("这台机顶盒还在等待审核。"),
    "serial_invalid": N_("序列号格式不正确。"),
    "replacement_same_box": N_("新旧机顶盒不能是同一台。"),
    "replacement_box_in_use": N_("新机顶盒已在其他家庭使用。"),
    "no_file": N_("请选择要上传的 CSV 文件。"),
    "household_label_invalid": N_("请填写户名（最多 100 个字）。"),
    "household_address_invalid": N_("地址最多 200 个字。"),
    "too_large": N_("文件太大，最大 %(mb)s MB。"),
    "not_text": N_("文件不是 UTF-8 或 GBK 编码的 CSV。"),
    "has_problems": N_("有 %(n)s 行需要修改，没有写入任何数据。"),
    "dry_run_ok": N_("检查通过：%(n)s 行都没有问题（未写入）。"),
    # Corrections on a box's page (device_registry.corrections.update_device).
    "device_changed": N_("没有保存：这台机顶盒刚被修改过（上方是最新信息）。请核对后再保存。"),
    "field_invalid": N_("有一项内容格式不对。"),
    "model_unknown": N_("请选择一个已登记的型号。"),
    "mac_invalid": N_("MAC 地址格式不正确，应类似 AC:DB:48:00:01:23。"),
    "mac_taken": N_("这个 MAC 地址已属于另一台机顶盒。"),
    "firmware_invalid": N_("固件版本只能用字母、数字和 . _ + -，最多 64 个字符，不能有空格。"),
    "screen_profile_invalid": N_("画面规格只能是 720p、1080p 或 2160p。"),
    "keymap_family_invalid": N_("请选择遥控器键位类型。"),
    "installed_at_invalid": N_("安装日期要写成 年-月-日，在 2000 年以后，且不晚于今天。"),
    "activated_at_invalid": N_("激活时间格式不对，或者晚于现在。"),
    "activated_before_installed": N_("激活时间不能早于安装日期。"),
    "state_unknown": N_("请选择状态。"),
    "state_change_invalid": N_("状态不能从“%(current)s”改为“%(wanted)s”。"),
    "attribute_key_invalid": N_(
        "属性名“%(key)s”不对：以小写字母开头，只用小写字母、数字和 . _ -，最多 40 位。"
    ),
    "attribute_key_missing": N_("请给新属性填写属性名。"),
    "attribute_value_invalid": N_("属性“%(key)s”的值最多 200 个字，而且只能写一行。"),
    "attribute_value_required": N_("请填写属性“%(key)s”的值。"),
    "attribute_key_repeated": N_("属性“%(key)s”已经有了，请直接修改它的值。"),
    "attributes_too_many": N_("每台机顶盒最多 %(max)s 个属性。"),
}
# Key-map families staff may give a box ("default" is for boxes of unknown models).
EDITABLE_FAMILIES = tuple(sorted(f for f in FAMILIES if f != DEFAULT_FAMILY))
NEW_ATTRIBUTE_ROWS = 3
MINUTE_FORMAT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">, the office's clock

SEPARATOR = N_("；")
# The import report's issue codes (device_registry.registry_io) in Chinese.
ISSUES = {
    "file_empty": N_("文件是空的。"),
    "columns_unknown": N_("不认识的列：%(names)s"),
    "columns_missing": N_("缺少的列：%(names)s"),
    "columns_repeated": N_("重复的列：%(names)s"),
    "columns_expected": N_("应有的列：%(names)s"),
    "column_count": N_("应有 %(expected)s 列，实际 %(found)s 列"),
    "serial_invalid": N_("序列号格式不正确：%(value)s"),
    "serial_repeated": N_("序列号 %(value)s 重复（第 %(other)s 行也有）"),
    "serial_registered": N_("序列号 %(value)s 已经登记过"),
    "mac_invalid": N_("MAC 地址格式不正确：%(value)s"),
    "mac_repeated": N_("MAC 地址 %(value)s 重复（第 %(other)s 行也有）"),
    "mac_registered": N_("MAC 地址 %(value)s 已属于机顶盒 %(other)s"),
    "model_unknown": N_("不认识的型号：%(value)s"),
    "firmware_invalid": N_("固件版本格式不正确：%(value)s"),
    "village_unknown": N_("不认识的村代码：%(value)s"),
    "household_label_invalid": N_("户名超过 100 个字"),
    "installed_at_invalid": N_("安装日期不是 年-月-日 格式：%(value)s"),
    "state_invalid": N_("状态 %(value)s 不对，只能是 planned、installed 或 activated"),
    "header_invalid": N_("第一行必须是 village_code,households"),
    "households_invalid": N_("户数必须是不超过 %(max)s 的整数"),
    "village_repeated": N_("村 %(value)s 在第 %(other)s 行已经有了"),
}


def issue_rows(issues: list[tuple[int, str, dict]]) -> list[tuple[int, str]]:
    """Import problems in Chinese, one row per bad line."""
    rows: dict[int, list[str]] = {}
    for line, code, params in issues:
        rows.setdefault(line, []).append(gettext(ISSUES[code]) % params)
    return [(line, gettext(SEPARATOR).join(texts)) for line, texts in rows.items()]


# This slice's messages, found by code by the admin's templates and error pages.
for code, text in NOTICES.items():
    labels.NOTICES.setdefault(code, text)


def _message(code: str, **params) -> str:
    text = gettext(MESSAGES.get(code) or labels.ERRORS.get(code) or labels.ERRORS["server_error"])
    return text % params if params else text


def _when(ts: float | None) -> str:
    return clock.minute(ts) if ts else ""


def _scope_villages(request: web.Request) -> list[str] | None:
    """Village codes the user may see (None: every region)."""
    user = current_user(request)
    if user.region_code is None:
        return None
    tree = request.config_dict[keys.REGIONS]
    out, stack = [], [user.region_code]
    while stack:
        code = stack.pop()
        region = tree.get(code)
        if region is not None and region.level == "village":
            out.append(code)
        stack.extend(r.code for r in tree.kids(code))
    return out


def sees_unplaced(request: web.Request) -> bool:
    """Pending boxes with no region yet belong to the city's staff (unscoped or scoped to the
    city itself): they are the ones who place them in a village."""
    user = current_user(request)
    if user.region_code is None:
        return True
    region = request.config_dict[keys.REGIONS].get(user.region_code)
    return region is not None and region.level in ("province", "city")


def _village_allowed(request: web.Request) -> admission.VillageAllowed | None:
    """Whether a box in this village (None: in no village) lies in the user's region; None for
    a user of every region."""
    user = current_user(request)
    if user.region_code is None:
        return None
    tree = request.config_dict[keys.REGIONS]
    return lambda code: bool(code) and user.region_code in [r.code for r in tree.chain(code)]


async def _listing(request: web.Request, state: str, query: str, page: int) -> tuple[list, int]:
    return await listing.list_boxes(
        request.config_dict[keys.DB],
        _scope_villages(request),
        unplaced=sees_unplaced(request),
        state=state,
        query=query,
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )


async def pending_count(request: web.Request) -> int:
    """Pending boxes this user sees in 机顶盒 › 待审核 (and can accept or reject)."""
    return await listing.count_pending(
        request.config_dict[keys.DB], _scope_villages(request), unplaced=sees_unplaced(request)
    )


async def box_count(request: web.Request) -> int:
    """Registered boxes (not pending, rejected or retired) this user sees."""
    return await listing.count_registered(
        request.config_dict[keys.DB], _scope_villages(request), unplaced=sees_unplaced(request)
    )


async def _index(request: web.Request, status: int = 200, **extra) -> web.Response:
    state = request.query.get("state", "")
    state = state if state in STATES else ""
    query = request.query.get("q", "").strip()[:64]
    page = request.query.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    boxes, total = await _listing(request, state, query, page)
    accepted = [
        s
        for s in request.query.get("accepted", "")[:2000].split(",")
        if validation.SERIAL_RE.match(s)
    ][:ACCEPTED_SHOWN]
    auto = await admission.auto_accept_villages(request.config_dict[keys.DB])
    scope = _scope_villages(request)
    if scope is not None:
        auto = [code for code in auto if code in set(scope)]
    return render(
        request,
        "admin/registry/index.html",
        status=status,
        boxes=boxes,
        total=total,
        pending=await pending_count(request),
        page=page,
        pages=max(1, -(-total // PAGE)),
        states=STATES,
        filters={"state": state, "q": query},
        accepted=accepted,
        auto_villages=auto,
        when=_when,
        effective=lambda b: activity.effective_state(b["state"], b["last_seen"]),
        **extra,
    )


@requires(PERMISSION)
async def index(request: web.Request) -> web.Response:
    return await _index(request)


@requires(PERMISSION)
async def decide(request: web.Request) -> web.Response:
    post = await request.post()
    serials = sorted({s for s in post.getall("serials", []) if isinstance(s, str) and s})
    accept = post.get("decision") == "accept"
    village = str(post.get("village_code", "")).strip() or None
    if not serials:
        return await _index(request, status=400, error=_message("nothing_selected"))
    db = request.config_dict[keys.DB]
    tree = request.config_dict[keys.REGIONS]
    if village is not None:
        region = tree.get(village)
        if region is None or region.level != "village":
            return await _index(
                request, status=400, error=_message("village_unknown"), typed_village=village
            )
        await require_region(request, PERMISSION, village)
    try:
        # Every selected box's current village and the target village, inside the transaction.
        changed = await admission.decide_pending(
            db, serials, accept, village, allowed=_village_allowed(request)
        )
    except OutOfScope as exc:
        raise await deny(request, PERMISSION, **{"village": village, **exc.params}) from None
    except DomainError as exc:
        return await _index(request, status=400, error=_message(exc.code))
    action = "device.accept" if accept else "device.reject"
    for serial in changed:
        await log(
            request, action, object_type="device", object_id=serial, detail={"village": village}
        )
    # Back to the list as it was filtered; accepted boxes are offered their household form.
    query = {
        "ok": "registry_accepted" if accept else "registry_rejected",
        "state": request.query.get("state", ""),
        "q": request.query.get("q", ""),
        "accepted": ",".join(changed[:ACCEPTED_SHOWN]) if accept else "",
    }
    raise web.HTTPSeeOther(url(request, "admin_registry", query))


@requires(PERMISSION)
async def auto_accept(request: web.Request) -> web.Response:
    post = await request.post()
    village = str(post.get("village_code", "")).strip()
    on = post.get("on") == "1"
    region = request.config_dict[keys.REGIONS].get(village)
    if region is None or region.level != "village":
        return await _index(
            request, status=400, error=_message("village_unknown"), typed_auto=village
        )
    await require_region(request, PERMISSION, village)
    await admission.set_auto_accept(request.config_dict[keys.DB], village, on)
    await log(
        request, "device.auto_accept", object_type="region", object_id=village, detail={"on": on}
    )
    raise see_other(request, "admin_registry", ok="registry_auto")


async def _box(request: web.Request, serial: str, viewing: bool = False) -> dict:
    try:
        box = await inventory.device_details(request.config_dict[keys.DB], serial)
    except DomainError:
        raise web.HTTPNotFound() from None
    unplaced = box["village_code"] is None and box["state"] == DeviceState.PENDING
    if not (viewing and unplaced and sees_unplaced(request)):  # the city's staff look at it
        await require_region(request, PERMISSION, box["village_code"])
    return box


async def _box_page(request: web.Request, box: dict, status: int = 200, **extra):
    db = request.config_dict[keys.DB]
    history, household = [], None
    if box["household_id"] is not None:
        household = await households.get_household(db, box["household_id"])
        history = await households.box_history(db, box["household_id"])
    models = await inventory.list_models(db)
    model = next((m for m in models if m["model"] == box["model"]), None)
    extra.setdefault("edit", _edit_form(box))
    return render(
        request,
        "admin/registry/box.html",
        status=status,
        box=box,
        history=history,
        household=household,
        states=STATES,
        when=_when,
        models=models,
        model_profile=model["screen_profile"] if model else records.DEFAULT_PROFILE,
        model_family=model["keymap_family"] if model else records.DEFAULT_FAMILY,
        profiles=records.PROFILES,
        families=EDITABLE_FAMILIES,
        next_states=corrections.STATE_CHANGES.get(box["state"], ()),
        **extra,
    )


@requires(PERMISSION)
async def box_page(request: web.Request) -> web.Response:
    return await _box_page(request, await _box(request, request.match_info["serial"], True))


@requires(PERMISSION)
async def replace(request: web.Request) -> web.Response:
    serial = request.match_info["serial"]
    box = await _box(request, serial)
    post = await request.post()
    new_serial = str(post.get("new_serial", "")).strip()
    db = request.config_dict[keys.DB]
    try:
        await replacement.replace_box(db, serial, new_serial, allowed=_village_allowed(request))
    except OutOfScope as exc:
        raise await deny(request, PERMISSION, serial=serial, new=new_serial, **exc.params) from None
    except DomainError as exc:
        return await _box_page(
            request, box, status=400, error=_message(exc.code), typed_serial=new_serial
        )
    await log(
        request,
        "device.replace",
        object_type="device",
        object_id=serial,
        detail={"new": new_serial},
    )
    raise see_other(request, "admin_registry_box", ok="registry_replaced", serial=new_serial)


@requires(PERMISSION)
async def household(request: web.Request) -> web.Response:
    """Record the household a box serves: label, address, contact (kept masked)."""
    serial = request.match_info["serial"]
    box = await _box(request, serial)
    post = await request.post()
    typed = {k: str(post.get(k, "")) for k in ("label", "address", "contact")}
    try:
        household_id = await households.assign_household(
            request.config_dict[keys.DB],
            serial,
            typed["label"],
            typed["address"],
            typed["contact"],
        )
    except DomainError as exc:
        return await _box_page(
            request, box, status=400, error=_message(exc.code), typed_household=typed
        )
    await log(
        request,
        "household.assign",
        object_type="device",
        object_id=serial,
        detail={"household": household_id, "label": typed["label"]},
    )
    raise see_other(request, "admin_registry_box", ok="saved", serial=serial)


@requires(PERMISSION)
async def revoke_tv(request: web.Request) -> web.Response:
    """End the box's TV sessions (e.g. a leaked page URL): its old URLs are refused until the
    next launch from the operator's portal."""
    serial = request.match_info["serial"]
    await _box(request, serial)  # 404 unknown, 403 (audited) outside the user's region

    async def audited(tx, generation: int) -> None:
        await log(
            request,
            "device.revoke_tv_sessions",
            object_type="device",
            object_id=serial,
            detail={"generation": generation},
            tx=tx,
        )

    await records.revoke_tv_sessions(request.config_dict[keys.DB], serial, audit=audited)
    raise see_other(request, "admin_registry_box", ok="registry_tv_revoked", serial=serial)


@requires(PERMISSION)
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke the box's device API token (as `legaltv devices revoke-token` does, e.g. a box
    stolen or its token leaked): its heartbeats are refused until a new token is issued; the box
    stays enrolled."""
    serial = request.match_info["serial"]
    await _box(request, serial)  # 404 unknown, 403 (audited) outside the user's region

    async def audited(tx, had: bool) -> None:
        await log(
            request,
            "device.token_revoke",
            object_type="device",
            object_id=serial,
            detail={"had_token": had},
            tx=tx,
        )

    had = await enrolment.revoke_token(request.config_dict[keys.DB], serial, audit=audited)
    ok = "registry_token_revoked" if had else "registry_token_none"
    raise see_other(request, "admin_registry_box", ok=ok, serial=serial)


# -- corrections of a box's fields and attributes ------------------------------------------------


def _minute(ts: float | None) -> str:
    return clock.fmt(ts, MINUTE_FORMAT)


def _edit_form(box: dict) -> dict:
    """The correction form as rendered from a box's record."""
    return {
        "fields": {
            "model": box["model"] or "",
            "mac": box["mac"] or "",
            "firmware": box["firmware"] or "",
            "screen_profile": box["screen_profile_override"] or "",
            "keymap_family": box["keymap_family_override"] or "",
            "installed_at": box["installed_at"] or "",
            "activated_at": _minute(box["activated_at"]),
            "state": box["state"],
        },
        "attributes": [(k, v, False) for k, v in box["attributes"].items()],
        "new": [("", "")] * NEW_ATTRIBUTE_ROWS,
        "version": box["version"],
    }


def _typed_edit(post) -> dict:
    """The correction form as posted (only the fields the form showed)."""
    removed = {str(k) for k in post.getall("attr_remove", [])}
    old_keys = [str(k) for k in post.getall("attr_key", [])]
    old_values = [str(v) for v in post.getall("attr_value", [])]
    new_keys = [str(k) for k in post.getall("new_key", [])]
    new_values = [str(v) for v in post.getall("new_value", [])]
    new = list(zip(new_keys, new_values, strict=False))
    return {
        "fields": {
            name: str(post.get(name, "")).strip()
            for name in corrections.EDITABLE_FIELDS
            if name in post
        },
        "attributes": [(k, v, k in removed) for k, v in zip(old_keys, old_values, strict=False)],
        "new": new + [("", "")] * max(0, NEW_ATTRIBUTE_ROWS - len(new)),
        "version": str(post.get("version", "")),
    }


def _changes(typed: dict, shown: dict) -> dict:
    """What the staff member changed: the typed form against the form as it was shown."""
    changes: dict = {
        name: value
        for name, value in typed["fields"].items()
        if value != shown["fields"].get(name, "")
    }
    if "activated_at" in changes and changes["activated_at"]:
        try:
            local = dt.datetime.strptime(changes["activated_at"], MINUTE_FORMAT)
        except ValueError:
            raise Invalid("activated_at_invalid", changes["activated_at"]) from None
        changes["activated_at"] = clock.parse(local)
    current = {key: value for key, value, _removed in shown["attributes"]}
    attributes: dict[str, str | None] = {}
    for key, value, removed in typed["attributes"]:
        if key not in current:
            continue
        value = value.strip()
        if removed or not value:
            attributes[key] = None
        elif value != current[key]:
            attributes[key] = value
    for key, value in typed["new"]:
        key, value = key.strip().lower(), value.strip()
        if not key and not value:
            continue
        if not key:
            raise Invalid("attribute_key_missing", "")
        if not value:
            raise Invalid("attribute_value_required", key, key=key)
        if key in current or key in attributes:
            raise Invalid("attribute_key_repeated", key, key=key)
        attributes[key] = value
    if attributes:
        changes["attributes"] = attributes
    return changes


def _error_text(exc: DomainError) -> str:
    params = dict(exc.params)
    for name in ("current", "wanted"):
        if name in params:
            params[name] = gettext(STATES.get(params[name], params[name]))
    return _message(exc.code, **params)


@requires(PERMISSION)
async def edit(request: web.Request) -> web.Response:
    """Correct a box's registry fields and attributes: validated, one transaction, audited
    with before and after; refused (409) when the box changed since the form was shown."""
    serial = request.match_info["serial"]
    box = await _box(request, serial)
    typed = _typed_edit(await request.post())
    db = request.config_dict[keys.DB]

    async def audited(tx, before: dict, after: dict) -> None:
        await log(
            request,
            "device.update",
            object_type="device",
            object_id=serial,
            detail={"before": before, "after": after},
            tx=tx,
        )
        tx.emit("box", [serial])
        if "state" in after:
            tx.emit("coverage")  # installed/retired counts change at once

    try:
        if typed["version"] != box["version"]:
            raise Conflict("device_changed", serial)
        changes = _changes(typed, _edit_form(box))
        if not changes:
            raise see_other(
                request, "admin_registry_box", ok="registry_box_unchanged", serial=serial
            )
        _before, after = await corrections.update_device(
            db,
            serial,
            changes,
            models=await enrolment.known_models(db),
            families=EDITABLE_FAMILIES,
            expected_version=typed["version"],
            then=audited,
        )
    except DomainError as exc:
        if exc.code == "device_changed":
            # Show the latest record above and keep what was typed, now against the latest
            # version: saving again is a deliberate decision.
            box = await _box(request, serial)
            typed["version"] = box["version"]
        return await _box_page(request, box, status=exc.status, error=_error_text(exc), edit=typed)
    raise see_other(request, "admin_registry_box", ok="registry_box_saved", serial=serial)


def _import_page(request: web.Request, status: int = 200, **extra) -> web.Response:
    return render(
        request, "admin/registry/import.html", status=status, columns=registry_io.COLUMNS, **extra
    )


@requires(PERMISSION)
async def import_form(request: web.Request) -> web.Response:
    return _import_page(request)


@requires(PERMISSION)
@streamed
async def import_upload(request: web.Request) -> web.Response:
    if current_user(request).region_code is not None:
        raise await deny(request, PERMISSION, action="device.import")
    try:
        post, raw, filename = await read_small_file(request, MAX_UPLOAD)
    except Invalid as exc:
        if exc.code != "upload_too_large":
            return _import_page(request, status=400, error=_message("no_file"))
        return _import_page(
            request, status=413, error=_message("too_large", mb=MAX_UPLOAD // 2**20)
        )
    dry_run = post.get("dry_run") == "1"
    if raw is None:
        return _import_page(request, status=400, error=_message("no_file"), dry_run=dry_run)
    try:
        text = registry_io.decode(raw)
    except UnicodeDecodeError:
        return _import_page(request, status=400, error=_message("not_text"), dry_run=dry_run)
    report = await registry_io.import_devices(request.config_dict[keys.DB], text, dry_run=dry_run)
    if report.problems:
        return _import_page(
            request,
            status=400,
            report=report,
            problems=issue_rows(report.issues),
            dry_run=dry_run,
            error=_message("has_problems", n=len(report.problems)),
        )
    if dry_run:
        return _import_page(
            request, report=report, dry_run=True, checked=_message("dry_run_ok", n=report.rows)
        )
    await log(
        request,
        "device.import",
        object_type="device",
        object_id=filename,
        detail={"new": report.new, "accepted": report.accepted},
    )
    raise see_other(request, "admin_registry", ok="registry_imported")


@requires(PERMISSION)
@streamed
async def households_upload(request: web.Request) -> web.Response:
    """Household totals per village: CSV `village_code,households`, all or nothing."""
    if current_user(request).region_code is not None:
        raise await deny(request, PERMISSION, action="households.import")
    try:
        _post, raw, filename = await read_small_file(request, MAX_UPLOAD)
    except Invalid as exc:
        if exc.code != "upload_too_large":
            return _import_page(request, status=400, error=_message("no_file"))
        return _import_page(
            request, status=413, error=_message("too_large", mb=MAX_UPLOAD // 2**20)
        )
    if raw is None:
        return _import_page(request, status=400, error=_message("no_file"))
    try:
        count = await households.import_totals(
            request.config_dict[keys.DB], registry_io.decode(raw)
        )
    except UnicodeDecodeError:
        return _import_page(request, status=400, error=_message("not_text"))
    except households.HouseholdImportError as exc:
        return _import_page(
            request,
            status=400,
            household_problems=issue_rows(exc.issues),
            error=_message("has_problems", n=len(exc.problems)),
        )
    await log(
        request,
        "households.import",
        object_type="region",
        object_id=filename,
        detail={"villages": count},
    )
    raise see_other(request, "admin_registry_import", ok="registry_households")
