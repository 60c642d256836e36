"""Admin slice: the service directory as CSV. Export for Excel; import in two steps: upload →
a dry-run report listing every bad row (nothing written) → "apply", which checks the file again
and writes all rows in one transaction."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from content.directory import csv_io as directory_io
from content.directory import points as directory
from content.directory.points import DirectoryInvalid
from storage import Invalid
from tv_server import keys
from tv_server.admin import downloads
from tv_server.admin.common import log, render, requires, see_other
from tv_server.admin.directory import (
    PERMISSION,
    allowed,
    problem_text,
    scope,
)
from tv_server.admin.streamed import read_small_file, streamed
from tv_ui.i18n import N_, gettext

MESSAGES = {
    "no_file": N_("请选择要导入的 CSV 文件。"),
    "too_large": N_("文件太大：最多 %(mb)s MB。"),
    "has_problems": N_("文件中有 %(n)s 处问题，没有导入任何内容。请在 Excel 中改正后重新上传。"),
    "expired": N_("导入内容已失效，请重新上传文件。"),
}
SHOWN = 200  # codes listed per group on the report; the counts are always whole


def _render(request: web.Request, status: int = 200, **ctx) -> web.Response:
    return render(
        request,
        "admin/directory/import.html",
        status=status,
        max_mb=directory_io.MAX_BYTES // (1024 * 1024),
        columns=directory_io.COLUMNS,
        shown=SHOWN,
        **ctx,
    )


@requires(PERMISSION)
async def export_csv(request: web.Request) -> web.Response:
    data = await directory_io.export_csv(request.config_dict[keys.DB], scope(request))
    await log(request, "directory.export", object_type="service_point", detail={"bytes": len(data)})
    return downloads.dated(data, "csv", "legaltv-directory")


@requires(PERMISSION)
async def import_form(request: web.Request) -> web.Response:
    return _render(request)


def _report(plan: directory_io.Plan) -> list[tuple[int | None, str]]:
    return [(p.line, problem_text(p)) for p in plan.problems]


async def _check(request: web.Request, raw: bytes, name: str) -> web.Response:
    db = request.config_dict[keys.DB]
    known = request.config_dict[keys.REGIONS].by_code
    try:
        plan = await directory_io.check(
            db, directory_io.decode(raw), known, allowed=allowed(request)
        )
    except DirectoryInvalid as exc:
        plan = directory_io.Plan(problems=exc.problems)
    await log(
        request,
        "directory.import.check",
        object_type="service_point",
        outcome="ok" if plan.ok else "failed",
        detail={
            "file": name,
            "problems": len(plan.problems),
            "create": len(plan.create),
            "update": len(plan.update),
        },
    )
    if not plan.ok:
        return _render(
            request,
            status=400,
            name=name,
            report=_report(plan),
            error=gettext(MESSAGES["has_problems"]) % {"n": len(plan.problems)},
        )
    return _render(
        request,
        name=name,
        plan=plan,
        payload=base64.b64encode(raw).decode("ascii"),
    )


@requires(PERMISSION)
@streamed
async def import_check(request: web.Request) -> web.Response:
    try:
        _post, raw, filename = await read_small_file(request, directory_io.MAX_BYTES)
    except Invalid as exc:
        if exc.code != "upload_too_large":
            return _render(request, status=400, error=gettext(MESSAGES["no_file"]))
        message = gettext(MESSAGES["too_large"]) % {"mb": directory_io.MAX_BYTES // 2**20}
        return _render(request, status=413, error=message)
    if raw is None or not raw.strip():
        return _render(request, status=400, error=gettext(MESSAGES["no_file"]))
    return await _check(request, raw, filename)


@requires(PERMISSION)
async def import_apply(request: web.Request) -> web.Response:
    post = await request.post()
    name = str(post.get("name", ""))
    try:
        raw = base64.b64decode(str(post.get("payload", "")), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not raw or len(raw) > directory_io.MAX_BYTES:
        return _render(request, status=400, error=gettext(MESSAGES["expired"]))

    async def then(tx, done) -> None:
        for before, after in done:
            await log(
                request,
                "directory.point.import",
                object_type="service_point",
                object_id=after.code,
                detail={"file": name, **directory.audit_detail(before, after)},
                tx=tx,
            )

    try:
        _plan, applied = await directory_io.import_csv(
            request.config_dict[keys.DB],
            directory_io.decode(raw),
            request.config_dict[keys.REGIONS].by_code,
            allowed=allowed(request),
            then=then,
        )
    except DirectoryInvalid:
        # The directory changed since the dry run: show the fresh report, nothing written.
        return await _check(request, raw, name)
    await log(
        request,
        "directory.import",
        object_type="service_point",
        detail={"file": name, **applied.counts()},
    )
    raise see_other(request, "admin_directory", ok="directory_imported")
