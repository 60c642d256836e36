"""Streamed forms for the admin routes that take files.

aiohttp caps a body read with `request.post()` at the `client_max_size` of the application that
owns the server (1 MiB: it guards every TV, API and login route), whatever a sub-application
says. Routes marked `@streamed` read their multipart body part by part instead: text fields up
to TEXT_MAX_BYTES in all, each file written to a temporary file under DATA_DIR/tmp as it
arrives, its type sniffed from its first bytes and its limit (chosen by the route for that field
and type) enforced while it streams. Passing the limit refuses the request at once (413) and
removes what was written; no file is ever held whole in memory.

The admin's CSRF check reads the token from the body of a plain form. For a streamed route the
middleware leaves that to this reader, which requires the token before the first file part (the
admin's templates put it first): a request without it never gets a byte onto the disk.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web
from multidict import MultiDict

from content.programs import uploads
from storage import Invalid
from tv_server import keys
from tv_server.admin.common import SESSION, log
from tv_server.admin.session import csrf_ok

TEXT_MAX_BYTES = 1024 * 1024  # all text fields of one form together
MAX_FILES = 20  # file parts in one request
CHUNK = 256 * 1024
SUFFIXES = {
    "jpeg": ".jpg", "png": ".png", "webp": ".webp", "zip": ".zip",
    **{kind: suffix for kind, (_mime, suffix) in uploads.VIDEO_TYPES.items()},
}  # fmt: skip
# Set by the admin middleware when a streamed route's CSRF token is still to be read.
CSRF_DEFERRED = web.RequestKey("admin_csrf_deferred", bool)

# (field name, sniffed type or None, file name, the text fields read so far) → the most bytes
# this file may have; raises `Invalid` (e.g. upload_not_image) to refuse the file before any
# of it is written.
Accept = Callable[[str, "str | None", str, "StreamedForm"], int]


def streamed(handler):
    """Mark a handler whose form is read with `read_form` (the middleware leaves its body)."""
    handler.streamed_form = True
    return handler


def is_streamed(handler) -> bool:
    return bool(getattr(handler, "streamed_form", False))


@dataclass(frozen=True)
class FormFile:
    """One uploaded file, on disk until the request ends."""

    name: str  # the form field
    filename: str  # as the browser sent it
    path: Path
    size: int
    kind: str | None  # what its first bytes say: jpeg, png, webp, mp4, zip or None

    def read(self) -> bytes:
        """The whole file: only for files whose limit is small (CSV, small images)."""
        return self.path.read_bytes()


class StreamedForm(MultiDict):
    """The form's text fields (str) and files (FormFile) by name, like `request.post()`."""


def temp_root(request: web.Request) -> Path:
    """DATA_DIR/tmp: uploads in progress, on the media's file system (moved, not copied)."""
    root = Path(request.config_dict[keys.SETTINGS].data_path) / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def sweep(data_dir: Path, older_than: float = 24 * 3600) -> int:
    """Remove upload folders a crash left in DATA_DIR/tmp (those older than a day: another
    process sharing the data dir may be receiving one); return how many."""
    root = Path(data_dir) / "tmp"
    if not root.is_dir():
        return 0
    swept = 0
    for folder in root.glob("upload-*"):
        with contextlib.suppress(OSError):
            if time.time() - folder.stat().st_mtime > older_than:
                shutil.rmtree(folder, ignore_errors=True)
                swept += 1
    return swept


def too_large(limit: int, field: str = "") -> Invalid:
    return Invalid("upload_too_large", f"{field} over {limit} bytes", mb=limit // 2**20)


@contextlib.asynccontextmanager
async def read_form(
    request: web.Request, accept: Accept, into: StreamedForm | None = None
) -> AsyncIterator[StreamedForm]:
    """Read the request's form, files to disk; the files are removed when the block ends.

    Raises `Invalid` (upload_too_large, or what `accept` raises) and HTTPForbidden (CSRF).
    A form whose reading was refused leaves nothing behind; `into` then still holds the text
    fields read before the refusal (to show the form again with them).
    """
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=temp_root(request)))
    try:
        yield await _read(request, accept, folder, StreamedForm() if into is None else into)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _csrf(request: web.Request, form: StreamedForm) -> None:
    """The deferred CSRF check, once: before the first file, or at the end of the form."""
    if not request.get(CSRF_DEFERRED):
        return
    token = form.get("csrf_token")
    if not csrf_ok(request[SESSION], token if isinstance(token, str) else None):
        await log(request, "csrf", outcome="denied", detail={"path": request.path})
        raise web.HTTPForbidden(reason="csrf")
    request[CSRF_DEFERRED] = False


async def _read(
    request: web.Request, accept: Accept, folder: Path, form: StreamedForm
) -> StreamedForm:
    if request.content_type != "multipart/form-data":
        # A plain form (no files): the small body limit of every route applies.
        form.extend(await request.post())
        await _csrf(request, form)
        return form
    reader = await request.multipart()
    text_left = TEXT_MAX_BYTES
    files = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            raise web.HTTPBadRequest(reason="nested or unnamed multipart part")
        if part.filename is None:
            raw = bytearray()
            while chunk := await part.read_chunk(CHUNK):
                raw += chunk
                if len(raw) > text_left:
                    raise too_large(TEXT_MAX_BYTES, part.name)
            text_left -= len(raw)
            charset = part.get_charset(default="utf-8")
            form.add(part.name, part.decode(bytes(raw)).decode(charset, errors="replace"))
            continue
        await _csrf(request, form)
        files += 1
        if files > MAX_FILES:
            raise Invalid("upload_too_many", str(files))
        saved = await _save_file(part, accept, folder / f"{files:02d}", form)
        if saved is not None:
            form.add(part.name, saved)
    await _csrf(request, form)
    return form


async def _save_file(
    part: BodyPartReader, accept: Accept, path: Path, form: StreamedForm
) -> FormFile | None:
    """Stream one file part to `path`; None for an empty file input (no file chosen)."""
    head = b""
    while len(head) < uploads.SNIFF_BYTES and (chunk := await part.read_chunk(CHUNK)):
        head += chunk
    filename = part.filename or ""
    if not head and not filename:
        return None
    kind = uploads.sniff(head)
    limit = accept(part.name or "", kind, filename, form)  # may refuse before anything is written
    path = path.with_suffix(SUFFIXES.get(kind or "", ".bin"))
    size = len(head)
    if size > limit:
        raise too_large(limit, part.name or "")
    with path.open("wb") as fh:
        fh.write(head)
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(limit, part.name or "")
            fh.write(chunk)
    return FormFile(part.name or "", filename, path, size, kind)


# -- what the routes accept --------------------------------------------------------------------


def image_limit(request: web.Request) -> int:
    return int(request.config_dict[keys.SETTINGS].upload_max_bytes)


def video_limit(request: web.Request) -> int:
    return int(request.config_dict[keys.SETTINGS].video_upload_max_bytes)


def check_named(kind: str | None, filename: str, code: str) -> None:
    """Refuse a file whose name promises another kind of file than its bytes are."""
    if not uploads.name_matches(filename, kind):
        raise Invalid(code, f"{filename!r} holds {kind or 'unknown'} bytes", name=filename)


def image_or_video(request: web.Request, field_kinds: dict[str, str]) -> Accept:
    """Fields taking an image ("image"), a video ("video"), or either ("media": the limit
    follows what the bytes are)."""

    def accept(field: str, kind: str | None, filename: str, _form=None) -> int:
        wants = field_kinds.get(field)
        if wants is None:
            raise Invalid("upload_kind", field)
        if kind in uploads.IMAGE_KINDS and wants in ("image", "media"):
            check_named(kind, filename, "upload_not_image")
            return image_limit(request)
        if kind in uploads.VIDEO_KINDS and wants in ("video", "media"):
            check_named(kind, filename, "upload_not_mp4")
            return video_limit(request)
        raise Invalid("upload_not_mp4" if wants == "video" else "upload_not_image", str(kind),
                      name=filename)  # fmt: skip

    return accept


async def read_small_file(
    request: web.Request, limit: int, field: str = "file"
) -> tuple[StreamedForm, bytes | None, str]:
    """A form with one small file (a CSV): (text fields, the file's bytes or None when no file
    was chosen, its name). Raises `Invalid("upload_too_large")` past `limit`."""

    def accept(name: str, _kind: str | None, _filename: str, _fields) -> int:
        if name != field:
            raise Invalid("upload_kind", name)
        return limit

    async with read_form(request, accept) as form:
        upload = form.popone(field, None)
        if not isinstance(upload, FormFile):
            return form, None, ""
        return form, upload.read(), upload.filename
