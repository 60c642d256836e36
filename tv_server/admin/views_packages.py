"""Admin pages for content packages: download programs as a .zip package, upload a package to
import it (everything is checked first; any problem → the report and nothing written).

Registered by the programs slice (`tv_server.admin.programs.setup`).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from aiohttp import web

from content.programs import export, package_import, workflow
from content.programs.package import PackageError
from storage import DomainError, Invalid, clock
from tv_server import keys
from tv_server.admin import program_labels, program_scope
from tv_server.admin import streamed as streamed_forms
from tv_server.admin.common import current_user, deny, log, render, requires
from tv_server.admin.views_programs import (
    audit_hook,
    error_message,
)
from tv_ui.i18n import N_, gettext

MESSAGES = {
    "no_file": N_("请选择要导入的内容包（.zip 文件）。"),
    "not_zip": N_("内容包必须是 .zip 文件。"),
    "too_large": N_("文件太大：最多 %(mb)s MB。"),
    "has_problems": N_("内容包中有 %(n)s 处问题，没有导入任何内容。请改正后重新上传。"),
    "nothing": N_("没有可导出的节目。"),
}
OUTCOMES = {
    "published": N_("已上线"),
    "draft": N_("已存为草稿，待审核"),
    "unchanged": N_("没有变化"),
    "video_pending": N_("已存为草稿：视频转码完成后才能上线"),
}


# This slice's messages, found by code by the admin's templates and error pages.
program_labels.ACTIONS["program.import"] = N_("导入内容包")


def _max_bytes(request: web.Request) -> int:
    """A package carries videos: the video limit, but no more than a package may unpack to."""
    return min(streamed_forms.video_limit(request), package_import.MAX_UNPACKED_BYTES)


async def _page(request: web.Request, status: int = 200, **ctx) -> web.Response:
    db = request.config_dict[keys.DB]
    rows = await workflow.list_programs(db, visible=program_scope.changeable(request))
    user = current_user(request)
    return render(
        request,
        "admin/packages/index.html",
        status=status,
        rows=sorted(rows, key=lambda r: r.slug),
        categories=await workflow.category_titles(db),
        statuses=program_labels.STATUS,
        outcomes=OUTCOMES,
        max_mb=_max_bytes(request) // 2**20,
        can_import=user.can("program.edit"),
        can_publish=user.can("program.publish"),
        **ctx,
    )


@requires("view")
async def package_page(request: web.Request) -> web.Response:
    return await _page(request)


@requires("view")
async def export_zip(request: web.Request) -> web.StreamResponse:
    """?id=N (repeatable) or ?all=1; &latest=1 for the latest revisions instead of the live
    content. Programs outside the user's regions are refused."""
    db = request.config_dict[keys.DB]
    visible = program_scope.changeable(request)
    latest = request.query.get("latest") == "1"
    rows = {r.id: r for r in await workflow.list_programs(db)}
    if request.query.get("all") == "1":
        ids = sorted(
            pid
            for pid, r in rows.items()
            if visible(r.regions) and (latest or r.status == "published")
        )
    else:
        try:
            ids = [int(v) for v in request.query.getall("id", [])]
        except ValueError:
            raise web.HTTPBadRequest() from None
        for pid in ids:
            if pid not in rows:
                raise web.HTTPNotFound()
            if not visible(rows[pid].regions):
                raise await deny(request, "view", object="program", id=pid)
    if not ids:
        return await _page(request, status=400, error=gettext(MESSAGES["nothing"]))
    try:
        data, slugs = await export.export_zip(
            db, request.config_dict[keys.SETTINGS].data_path, ids, latest=latest
        )
    except DomainError as exc:
        return await _page(request, status=400, error=error_message(exc))
    await log(request, "content.export", object_type="package",
              detail={"programs": slugs, "latest": latest, "bytes": len(data)})  # fmt: skip
    name = slugs[0] if len(slugs) == 1 else f"legaltv-{len(slugs)}"
    stamp = clock.stamp()
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-{stamp}.zip"',
            "Cache-Control": "no-store",
        },
    )


def _file_label(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name
    return re.sub(r"[^\w.\-]+", "_", name)[:80] or "package.zip"


async def _refused(request: web.Request, status: int, code: str, **params) -> web.Response:
    await log(request, "content.import", object_type="package", outcome="failed",
              detail={"code": code, **params})  # fmt: skip
    return await _page(request, status=status, error=gettext(MESSAGES[code]) % params)


@requires("program.edit")
@streamed_forms.streamed
async def import_zip(request: web.Request) -> web.Response:
    max_bytes = _max_bytes(request)
    mb = max_bytes // 2**20

    def accept(field: str, kind: str | None, _filename: str, _fields) -> int:
        if field != "file":
            raise Invalid("no_file", field)
        if kind != "zip":
            raise Invalid("not_zip", str(kind))
        return max_bytes

    async with contextlib.AsyncExitStack() as stack:
        try:
            post = await stack.enter_async_context(streamed_forms.read_form(request, accept))
        except Invalid as exc:
            if exc.code == "upload_too_large":
                return await _refused(request, 413, "too_large", mb=mb)
            return await _refused(request, 400, exc.code if exc.code in MESSAGES else "no_file")
        upload = post.get("file")
        if not isinstance(upload, streamed_forms.FormFile) or not upload.size:
            return await _refused(request, 400, "no_file")
        label = _file_label(upload.filename)
        user = current_user(request)
        publish = user.can("program.publish") and post.get("publish") == "1"
        settings = request.config_dict[keys.SETTINGS]
        path = upload.path
        scoped = program_scope.changeable(request) if user.region_code else None
        try:
            result = await package_import.import_package(
                request.config_dict[keys.DB], settings.data_path, path,
                publish_new=publish, publish_updates=publish, author=user.username,
                label=label, regions_allowed=scoped, audit=audit_hook(request),
                video_max_seconds=settings.video_max_seconds,
            )  # fmt: skip
        except PackageError as exc:
            await log(request, "content.import", object_type="package", outcome="failed",
                      detail={"file": label, "problems": len(exc.problems)})  # fmt: skip
            report = [(str(p.path), p.line, p.message) for p in exc.problems]
            error = gettext(MESSAGES["has_problems"]) % {"n": len(report)}
            return await _page(request, status=400, error=error, report=report, name=label)
        except DomainError as exc:
            await log(request, "content.import", object_type="package", outcome="failed",
                      detail={"file": label, "code": exc.code})  # fmt: skip
            return await _page(request, status=409, error=error_message(exc), name=label)
    await log(request, "content.import", object_type="package",
              detail={"file": label, "publish": publish, **result.counts()})  # fmt: skip
    return await _page(request, imported=result, name=label)
