"""Admin slice: announcements. Editors and staff write a short notice for regions, rollout waves
or single boxes, with a level, an optional picture and a time window; they edit or withdraw it
and see how many of the targeted boxes have shown it. Region-scoped users stay in their region.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time

from aiohttp import web

from accounts.users import User, in_scope
from content.announcements import notices as ann
from content.programs.uploads import name_matches
from storage import DomainError, Invalid, clock
from tv_server import keys
from tv_server.admin import streamed as streamed_forms
from tv_server.admin.common import current_user, deny, log, render, requires, see_other
from tv_ui.i18n import N_, gettext

PERMISSION = "announcement.edit"
# China keeps one time zone without daylight saving: a fixed offset is exact.
TIME_FORMAT = "%Y-%m-%dT%H:%M"

LEVELS = {"info": N_("一般"), "important": N_("重要"), "urgent": N_("紧急（弹窗）")}
STATUSES = {
    "scheduled": N_("待开始"),
    "active": N_("显示中"),
    "ended": N_("已结束"),
    "withdrawn": N_("已撤回"),
}
NOTICES = {
    "created": N_("公告已发布。"),
    "saved": N_("公告已保存。"),
    "withdrawn": N_("公告已撤回，电视上不再显示。"),
}
ERRORS = {
    "announcement_text_empty": N_("请填写公告内容。"),
    "announcement_text_long": N_("公告内容最多120个字。"),
    "announcement_level": N_("请选择公告级别。"),
    "announcement_no_target": N_("请至少选择一个地区、推广批次或机顶盒。"),
    "announcement_region_unknown": N_("没有这个地区代码：%(values)s"),
    "announcement_wave_unknown": N_("没有这个推广批次。"),
    "announcement_box_unknown": N_("没有这些机顶盒序列号：%(values)s"),
    "announcement_too_many_boxes": N_("单独指定的机顶盒最多500台，更多请按地区或批次发布。"),
    "announcement_out_of_scope": N_("只能向您负责地区内的地区、批次和机顶盒发布公告。"),
    "announcement_time": N_("时间格式不正确，请按“年-月-日 时:分”填写。"),
    "announcement_start_past": N_("开始时间不能早于现在。"),
    "announcement_window": N_("结束时间必须晚于开始时间。"),
    "announcement_end_past": N_("结束时间必须晚于现在。"),
    "announcement_ended": N_("这条公告已结束或已撤回，不能再修改。"),
    "announcement_image_large": N_("图片太大，最大%(limit)s MB。"),
    "announcement_image_type": N_("图片只能是JPEG或PNG格式。"),
    "announcement_image_bomb": N_("图片像素太多，请缩小后再上传。"),
    "server_error": N_("系统出错了，请稍后再试。"),
}
FIELDS = ("text", "level", "region_codes", "serials", "starts_at", "ends_at")


# -- helpers ---------------------------------------------------------------------------------


def _local(ts: float | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return clock.fmt(ts, fmt)


def _parse_time(value: str) -> float | None:
    value = value.strip().replace(" ", "T")
    if not value:
        return None
    try:
        parsed = dt.datetime.strptime(value[:16], TIME_FORMAT)
    except ValueError:
        raise Invalid("announcement_time", value) from None
    return clock.parse(parsed)


def _split(value: str) -> list[str]:
    return [part for part in value.replace(",", " ").replace("\uff0c", " ").split() if part]


def _message(request: web.Request, exc: DomainError) -> str:
    text = gettext(ERRORS.get(exc.code, ERRORS["server_error"]))
    values = exc.params.get("values")
    limit = request.config_dict[keys.SETTINGS].upload_max_bytes // (1024 * 1024)
    return text % {"values": ", ".join(map(str, values or [])), "limit": limit}


def _in_scope(request: web.Request, user: User, code: str | None) -> bool:
    chain = [r.code for r in request.config_dict[keys.REGIONS].chain(code)]
    return bool(chain) and in_scope(user, chain)


def _record_in_scope(request: web.Request, user: User, record: ann.AnnouncementRecord) -> bool:
    if user.region_code is None:
        return True
    codes = [*record.regions, *record.wave_regions, *record.box_villages]
    return len(record.box_villages) == len(record.serials) and all(
        _in_scope(request, user, code) for code in codes
    )


def _check_scope(request: web.Request, user: User, targets: ann.Targets) -> None:
    if user.region_code is None:
        return
    codes = [*targets.regions, *(c for codes in targets.wave_regions.values() for c in codes)]
    villages = [village for _id, village in targets.boxes.values()]
    if any(not _in_scope(request, user, code) for code in [*codes, *villages]):
        raise Invalid("announcement_out_of_scope", user.region_code)


def _region_choices(request: web.Request, user: User) -> list[tuple[str, str]]:
    """The city, banners and townships the user may target (villages are typed as codes)."""
    tree = request.config_dict[keys.REGIONS]
    out = []
    for root in tree.roots:
        for city in [root, *tree.kids(root.code)] if root.level == "province" else [root]:
            if city.level != "city":
                continue
            out.append((city.code, city.name))
            for banner in tree.kids(city.code):
                out.append((banner.code, f"{city.name} · {banner.name}"))
                out.extend((t.code, f"{banner.name} · {t.name}") for t in tree.kids(banner.code))
    return [(code, label) for code, label in out if _in_scope(request, user, code)]


async def _wave_choices(request: web.Request, user: User) -> list[dict]:
    waves = await ann.list_waves(request.config_dict[keys.DB])
    return [w for w in waves if all(_in_scope(request, user, c) for c in w["regions"])]


async def _form_page(
    request: web.Request, *, form: dict, edit=None, status: int = 200, error: str = ""
) -> web.Response:
    user = current_user(request)
    tree = request.config_dict[keys.REGIONS]
    return render(
        request,
        "admin/announcements/form.html",
        status=status,
        form=form,
        edit=edit,
        error=error,
        levels=LEVELS,
        region_choices=_region_choices(request, user),
        wave_choices=await _wave_choices(request, user),
        max_text=ann.MAX_TEXT,
        region_label=lambda code: tree.full_name(code) if tree.get(code) else code,
        local=_local,
    )


def _form_data(form) -> dict:
    data = {k: str(form.get(k, "")) for k in FIELDS}
    data["regions"] = [str(v) for v in form.getall("regions", [])]
    data["waves"] = [str(v) for v in form.getall("waves", []) if str(v).isdigit()]
    data["remove_image"] = bool(form.get("remove_image"))
    return data


def _accept(request: web.Request) -> streamed_forms.Accept:
    """The form's one file: a JPEG or PNG picture (by its bytes) up to `upload_max_bytes`."""

    def accept(field: str, kind: str | None, filename: str, _fields) -> int:
        if field != "image" or kind not in ("jpeg", "png") or not name_matches(filename, kind):
            raise Invalid("announcement_image_type", f"{field}: {kind}")
        return streamed_forms.image_limit(request)

    return accept


@contextlib.asynccontextmanager
async def _read(request: web.Request, into: streamed_forms.StreamedForm):
    """The posted form, its picture streamed to disk; an oversize picture → image_large."""
    try:
        async with streamed_forms.read_form(request, _accept(request), into=into) as form:
            yield form
    except Invalid as exc:
        if exc.code.startswith("upload_"):  # too large or too many files
            raise Invalid("announcement_image_large", exc.code) from None
        raise


async def _upload(request: web.Request, form) -> str | None:
    """The uploaded picture stored with its rendition, or None when no file was chosen."""
    field = form.get("image")
    if not isinstance(field, streamed_forms.FormFile) or not field.filename:
        return None
    settings = request.config_dict[keys.SETTINGS]
    raw = field.read()  # at most upload_max_bytes; the picture is decoded whole anyway
    return await asyncio.to_thread(
        ann.prepare_image, raw, settings.data_path, settings.upload_max_bytes
    )


def _audit_detail(data: dict, targets: ann.Targets, starts_at, ends_at, image) -> dict:
    return {
        "text": data["text"].strip(),
        "level": data["level"],
        "regions": list(targets.regions),
        "waves": list(targets.waves),
        "serials": sorted(targets.boxes),
        "starts_at": _local(starts_at),
        "ends_at": _local(ends_at),
        "image": image or "",
    }


async def _save(request: web.Request, data: dict, form, record=None) -> tuple[int, dict]:
    """Validate the form (scope included), store the picture, write; return (id, detail)."""
    db = request.config_dict[keys.DB]
    user = current_user(request)
    now = time.time()
    starts_at = _parse_time(data["starts_at"])
    ends_at = _parse_time(data["ends_at"])
    if record is None:
        check_start = starts_at is not None
        starts_at = now if starts_at is None else starts_at
    else:
        starts_at = record.starts_at if starts_at is None else starts_at
        # The form shows minutes: an unchanged start of a running announcement stays valid.
        check_start = _local(starts_at) != _local(record.starts_at)
        if not check_start:
            starts_at = record.starts_at
    regions = [*data["regions"], *_split(data["region_codes"])]
    serials = _split(data["serials"])
    waves = [int(w) for w in data["waves"]]
    _text, targets = await ann.validate_announcement(
        db,
        data["text"],
        level=data["level"],
        starts_at=starts_at,
        ends_at=ends_at,
        regions=regions,
        waves=waves,
        serials=serials,
        now=now,
        check_start=check_start,
    )
    _check_scope(request, user, targets)
    image = await _upload(request, form)
    if image is None and record is not None and not data["remove_image"]:
        image = record.image
    fields = {
        "level": data["level"],
        "starts_at": starts_at,
        "ends_at": ends_at,
        "regions": regions,
        "waves": waves,
        "serials": serials,
        "image": image,
    }
    if record is None:
        ann_id = await ann.create_announcement(
            db,
            data["text"],
            fields.pop("regions"),
            created_by=user.id,
            now=now,
            **{**fields, "starts_at": starts_at if check_start else None},
        )
    else:
        ann_id = record.id
        await ann.update_announcement(db, ann_id, data["text"], now=now, **fields)
    return ann_id, _audit_detail(data, targets, starts_at, ends_at, image)


async def _refused(request: web.Request, action: str, exc: DomainError, **extra):
    if exc.code == "announcement_out_of_scope":
        await log(
            request,
            action,
            object_type="announcement",
            outcome="denied",
            object_id=extra.get("object_id", ""),
            detail={"reason": exc.code},
        )


async def _record_or_deny(request: web.Request) -> ann.AnnouncementRecord:
    record = await ann.get_announcement(
        request.config_dict[keys.DB], int(request.match_info["aid"])
    )
    if not _record_in_scope(request, current_user(request), record):
        raise await deny(request, PERMISSION, announcement=record.id)
    return record


# -- handlers --------------------------------------------------------------------------------


@requires(PERMISSION)
async def announcement_list(request: web.Request) -> web.Response:
    user = current_user(request)
    tree = request.config_dict[keys.REGIONS]
    waves = {w["id"]: w["name"] for w in await ann.list_waves(request.config_dict[keys.DB])}
    records = [
        r
        for r in await ann.list_announcements(request.config_dict[keys.DB])
        if _record_in_scope(request, user, r)
    ]
    notice = NOTICES.get(request.query.get("ok", ""))
    extra = {"notice": gettext(notice)} if notice else {}
    return render(
        request,
        "admin/announcements/list.html",
        records=records,
        now=time.time(),
        levels=LEVELS,
        statuses=STATUSES,
        wave_names=waves,
        region_label=lambda code: tree.full_name(code) if tree.get(code) else code,
        local=_local,
        **extra,
    )


@requires(PERMISSION)
async def announcement_new(request: web.Request) -> web.Response:
    start = _local(time.time(), TIME_FORMAT)
    form = {"level": "info", "regions": [], "waves": [], "starts_at": start}
    return await _form_page(request, form=form)


@requires(PERMISSION)
@streamed_forms.streamed
async def announcement_create(request: web.Request) -> web.Response:
    read = streamed_forms.StreamedForm()
    try:
        async with _read(request, read) as form:
            ann_id, detail = await _save(request, _form_data(form), form)
    except DomainError as exc:
        data = _form_data(read)
        await _refused(request, "announcement.create", exc)
        status = 413 if exc.code == "announcement_image_large" else 400
        return await _form_page(request, form=data, status=status, error=_message(request, exc))
    await log(
        request, "announcement.create", object_type="announcement", object_id=ann_id, detail=detail
    )
    raise see_other(request, "admin_announcements", ok="created")


@requires(PERMISSION)
async def announcement_edit(request: web.Request) -> web.Response:
    record = await _record_or_deny(request)
    form = {
        "text": record.text,
        "level": record.level,
        "regions": [],
        "region_codes": " ".join(record.regions),
        "waves": [str(w) for w in record.waves],
        "serials": "\n".join(record.serials),
        "starts_at": _local(record.starts_at, TIME_FORMAT),
        "ends_at": _local(record.ends_at, TIME_FORMAT),
    }
    return await _form_page(request, form=form, edit=record)


@requires(PERMISSION)
@streamed_forms.streamed
async def announcement_update(request: web.Request) -> web.Response:
    record = await _record_or_deny(request)
    read = streamed_forms.StreamedForm()
    try:
        async with _read(request, read) as form:
            if form.get("action") == "withdraw":
                return await _withdraw(request, record, form)
            _id, detail = await _save(request, _form_data(form), form, record)
    except DomainError as exc:
        data = _form_data(read)
        await _refused(request, "announcement.update", exc, object_id=record.id)
        status = 413 if exc.code == "announcement_image_large" else 400
        return await _form_page(
            request, form=data, edit=record, status=status, error=_message(request, exc)
        )
    await log(
        request,
        "announcement.update",
        object_type="announcement",
        object_id=record.id,
        detail=detail,
    )
    raise see_other(request, "admin_announcements", ok="saved")


async def _withdraw(request: web.Request, record, form) -> web.Response:
    db = request.config_dict[keys.DB]
    try:
        await ann.withdraw_announcement(db, record.id)
    except DomainError as exc:
        return await _form_page(
            request,
            form=_form_data(form),
            edit=record,
            status=400,
            error=_message(request, exc),
        )
    await log(
        request,
        "announcement.withdraw",
        object_type="announcement",
        object_id=record.id,
        detail={"text": record.text},
    )
    raise see_other(request, "admin_announcements", ok="withdrawn")
