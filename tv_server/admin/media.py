"""Admin slice: uploading images and videos. One POST route answers JSON to the editor's script
(XHR with an X-CSRF-Token header) and redirects a plain form back to the page it came from, so
editors without JavaScript can upload too; bad files get a Chinese message and store nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from content.programs import uploads
from storage import Invalid
from tv_server import keys
from tv_server.admin import streamed as streamed_forms
from tv_server.admin.common import log, render, requires, url
from tv_server.admin.streamed import streamed
from tv_ui.i18n import N_, gettext

MESSAGES = {
    "upload_too_large": N_("文件太大，最大 %(mb)s MB。"),
    "upload_not_image": N_("这不是 JPEG、PNG 或 WebP 图片，请换一个文件。"),
    "upload_truncated": N_("文件不完整或已损坏，请重新导出后再上传。"),
    "upload_bomb": N_("图片像素太多（最多4000万像素），请缩小后再上传。"),
    "upload_not_mp4": N_("视频必须是 MP4、MOV、MKV 或 WebM 文件。"),
    "upload_missing": N_("请选择要上传的文件。"),
    "video_unreadable": N_("无法读取这个视频文件，请重新导出后再上传。"),
    "video_no_stream": N_("这个文件里没有视频画面，请换一个文件。"),
    "video_codec": N_("服务器无法解码这种视频编码（%(codec)s），请导出为H.264再上传。"),
    "video_too_short": N_("视频太短，至少要1秒。"),
    "video_too_long": N_("视频太长，最长%(minutes)s分钟。"),
    "upload_kind": N_("上传类型不正确。"),
    "upload_too_many": N_("一次最多上传20个文件。"),
    "server_error": N_("系统出错了，请稍后再试。"),
}
STATUS = {"upload_too_large": 413}


def upload_message(code: str, **params) -> str:
    """The Chinese message for an upload error code (for other slices' forms too)."""
    text = gettext(MESSAGES.get(code) or MESSAGES["server_error"])
    try:
        return text % params if params else text
    except (KeyError, ValueError, TypeError):
        return gettext(MESSAGES["server_error"])


def _wants_json(request: web.Request) -> bool:
    return "X-CSRF-Token" in request.headers or "application/json" in request.headers.get(
        "Accept", ""
    )


def _safe_next(value: str) -> str:
    """Only a path inside the admin may be redirected to (no open redirect)."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin/"):
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _with_media(next_url: str, media_id: int) -> str:
    parts = urlsplit(next_url)
    query = "&".join(q for q in parts.query.split("&") if q and not q.startswith("media="))
    return f"{parts.path}?{query + '&' if query else ''}media={media_id}"


def _max_bytes(request: web.Request) -> int:
    return streamed_forms.image_limit(request)


def _limit(request: web.Request, kind: str) -> int:
    if kind == "video":
        return streamed_forms.video_limit(request)
    return streamed_forms.image_limit(request)


async def _refuse(request: web.Request, code: str, form: dict, **params) -> web.Response:
    status = STATUS.get(code, 400)
    message = upload_message(code, **params)
    await log(request, "media.upload", outcome="failed", detail={"code": code, **form})
    if _wants_json(request):
        return web.json_response(
            {"error": {"code": code, "message": message}},
            status=status,
            headers={"Cache-Control": "no-store"},
        )
    return render(
        request,
        "admin/media/upload.html",
        status=status,
        error=message,
        form=form,
        media=None,
        max_mb=_max_bytes(request) // 2**20,
        video_max_mb=streamed_forms.video_limit(request) // 2**20,
    )


@requires("program.edit")
async def upload_form(request: web.Request) -> web.Response:
    """The plain upload page; shows the last upload when `?media=ID` is given."""
    media = None
    raw = request.query.get("media", "")
    if raw.isdigit():
        media = await uploads.media_info(request.config_dict[keys.DB], int(raw))
    form = {
        "kind": request.query.get("kind", "image"),
        "next": _safe_next(request.query.get("next", "")),
    }
    return render(
        request,
        "admin/media/upload.html",
        media=media,
        form=form,
        max_mb=_max_bytes(request) // 2**20,
        video_max_mb=streamed_forms.video_limit(request) // 2**20,
    )


@requires("program.edit")
@streamed
async def upload(request: web.Request) -> web.StreamResponse:
    """One image (up to `upload_max_bytes`) or video (up to `video_upload_max_bytes`), streamed
    to disk; the limit follows the kind asked for and what the first bytes are."""
    form: dict = {"kind": "image", "next": ""}

    def accept(field: str, kind: str | None, filename: str, fields) -> int:
        form["kind"] = wanted = str(fields.get("kind", "image"))
        form["name"] = filename
        if wanted not in ("image", "video"):
            raise Invalid("upload_kind", wanted)
        return streamed_forms.image_or_video(request, {"file": wanted})(field, kind, filename)

    db = request.config_dict[keys.DB]
    try:
        async with streamed_forms.read_form(request, accept) as post:
            kind = str(post.get("kind", "image"))
            form = {"kind": kind, "next": _safe_next(str(post.get("next", "")))}
            field = post.get("file")
            if not isinstance(field, streamed_forms.FormFile):
                return await _refuse(request, "upload_missing", form)
            form["name"] = field.filename

            async def record(tx, media_id: int, facts: dict) -> None:
                detail = {"name": form["name"], **facts}
                await log(request, "media.upload", object_type="media", object_id=media_id,
                          detail=detail, tx=tx)  # fmt: skip

            media_id = await uploads.store_upload(
                db,
                request.config_dict[keys.SETTINGS].data_path,
                field.filename,
                field.path,
                max_bytes=_limit(request, kind),
                kind=kind,
                record=record,
                video_max_seconds=request.config_dict[keys.SETTINGS].video_max_seconds,
            )
    except Invalid as exc:
        return await _refuse(request, exc.code, form, **exc.params)
    info = await uploads.media_info(db, media_id)
    if _wants_json(request):
        thumb = info["renditions"].get("thumb-720p", {})
        return web.json_response(
            {
                "id": media_id,
                "kind": info["kind"],
                "mime": info["mime"],
                "sha256": info["sha256"],
                "url": info["url"],
                "thumb_url": thumb.get("url"),
                "width": info["width"],
                "height": info["height"],
            },
            status=200,
            headers={"Cache-Control": "no-store"},
        )
    back = form["next"] or url(request, "admin_media")
    raise web.HTTPSeeOther(_with_media(back, media_id))
