"""Editors' uploads: images (JPEG, PNG, WebP) and videos (MP4/MOV, MKV/WebM in any codec the
machine's FFmpeg decodes), judged by their bytes.

An image is sniffed, verified, fully decoded under the decompression-bomb guard, turned upright by
its EXIF orientation and kept without metadata; every rendition is made on disk before the one
transaction that records the media row, so a failed upload leaves no row and no new file behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import os
import shutil
import struct
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from content.programs import live as programs
from content.programs import renditions, video
from content.programs.renditions import RenditionSpec
from storage import Database, Invalid, NotFound

# Formats accepted from editors: Pillow format name → (MIME type, file suffix).
IMAGE_TYPES = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
}
THUMB_WEBP_SPECS = {p: renditions.webp_of(s) for p, s in programs.THUMB_SPECS.items()}
# Every rendition an uploaded image may need (page image, cover or poster, grid thumbnail),
# each as a baseline JPEG for old boxes and as WebP for boxes that decode it.
UPLOAD_SPECS: list[RenditionSpec] = [
    *renditions.PAGE_IMAGE_SPECS.values(),
    *renditions.PAGE_IMAGE_WEBP_SPECS.values(),
    *renditions.COVER_SPECS.values(),
    *renditions.COVER_WEBP_SPECS.values(),
    *programs.THUMB_SPECS.values(),
    *THUMB_WEBP_SPECS.values(),
]
# Metadata that forces the stored original to be rewritten (GPS and camera data live in EXIF).
_METADATA_KEYS = ("exif", "xmp", "XML:com.adobe.xmp", "comment")

# (tx, media id, {sha256, bytes, mime, kind}): e.g. the audit entry, inside the transaction.
Recorder = Callable[[object, int, dict], Awaitable[None]]


@dataclass
class CheckedImage:
    """An upload that passed every check: its format and upright, fully decoded pixels."""

    fmt: str
    image: Image.Image
    data: bytes  # the bytes to store: the upload itself, or rewritten without metadata


# -- images ----------------------------------------------------------------------------------


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=tuple(IMAGE_TYPES))


def check_image(data: bytes) -> CheckedImage:
    """Sniff, verify and decode an uploaded image; raise `Invalid` with an upload_* code."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with _open(data) as im:
                fmt = im.format
                if im.width * im.height > renditions.MAX_PIXELS:
                    raise Invalid("upload_bomb", f"{im.width}×{im.height} px")
                im.verify()
            # verify() leaves the image unusable: reopen and decode every pixel, which is what
            # finds a truncated JPEG.
            with _open(data) as im:
                im.load()
                metadata = bool(im.getexif()) or any(k in im.info for k in _METADATA_KEYS)
                icc = im.info.get("icc_profile")
                image = ImageOps.exif_transpose(im)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise Invalid("upload_bomb", str(exc)) from exc
        except UnidentifiedImageError as exc:
            raise Invalid("upload_not_image", str(exc)) from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise Invalid("upload_truncated", str(exc)) from exc
    if fmt not in IMAGE_TYPES:  # formats= already refuses others; kept as a guard
        raise Invalid("upload_not_image", str(fmt))
    stored = _without_metadata(image, fmt, icc) if metadata else data
    return CheckedImage(fmt, image, stored)


def _without_metadata(image: Image.Image, fmt: str, icc: bytes | None) -> bytes:
    """Re-encode the upright image in its own format, keeping only the colour profile."""
    out = io.BytesIO()
    kwargs = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=92, **kwargs)
    elif fmt == "PNG":
        image.save(out, "PNG", **kwargs)
    else:
        image.save(out, "WEBP", quality=90, **kwargs)
    return out.getvalue()


def fit_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The size Pillow's thumbnail() gives `size` inside `box` (never larger)."""
    width, height = size
    x, y = box
    if width <= x and height <= y:
        return size
    aspect = width / height

    def round_aspect(number: float, key) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if x / y >= aspect:
        x = round_aspect(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = round_aspect(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


def make_renditions(
    image: Image.Image,
    source_hash: str,
    cache_dir: Path,
    specs: list[RenditionSpec] = UPLOAD_SPECS,
    *,
    timings: dict[str, float] | None = None,
) -> dict[str, tuple[Path, int, int, bool]]:
    """Make every spec's rendition from one decoded image; {spec name: (path, w, h, created)}.

    Each size is resized once and encoded as JPEG and/or WebP; files already cached (same
    source hash and spec) are kept. Paths are those `renditions.make_rendition` would use.
    """
    rgb = renditions.to_rgb(image)
    by_size: dict[tuple[int, int], list[RenditionSpec]] = {}
    for spec in specs:
        by_size.setdefault((spec.max_width, spec.max_height), []).append(spec)

    def one_size(box: tuple[int, int], group: list[RenditionSpec]):
        started = time.perf_counter()
        target = fit_size(rgb.size, box)
        paths = [renditions.rendition_path(Path(), s, cache_dir, source_hash) for s in group]
        missing = [not path.is_file() for path in paths]
        fitted = rgb
        if any(missing) and target != rgb.size:
            fitted = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
        resized = time.perf_counter()
        out = []
        for spec, path, created in zip(group, paths, missing, strict=True):
            t0 = time.perf_counter()
            if created:
                renditions.write_rendition(fitted, spec, path)
            if timings is not None:
                # The resize is shared by the group: count it once, with its first spec.
                extra = resized - started if spec is group[0] else 0.0
                timings[spec.name] = time.perf_counter() - t0 + extra
            out.append((spec.name, (path, *target, created)))
        return out

    made = [one_size(box, group) for box, group in by_size.items()]
    return {name: value for group in made for name, value in group}


# -- videos ----------------------------------------------------------------------------------

# What a file holds, judged by its first bytes (SNIFF_BYTES are enough): "jpeg", "png", "webp",
# a video container ("mp4", "mov", "mkv", "webm"), "zip", or None for anything else.
SNIFF_BYTES = 64
IMAGE_KINDS = {"jpeg", "png", "webp"}
# Video containers: kind → (MIME type, file suffix of the stored original).
VIDEO_TYPES = {
    "mp4": ("video/mp4", ".mp4"),
    "mov": ("video/quicktime", ".mov"),
    "mkv": ("video/x-matroska", ".mkv"),
    "webm": ("video/webm", ".webm"),
}
VIDEO_KINDS = set(VIDEO_TYPES)
# Top-level atoms a QuickTime file made before `ftyp` existed may start with.
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska and WebM


def sniff(head: bytes) -> str | None:
    """The type of a file from its first bytes, whatever its name says."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if head[4:8] in _QT_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return "mov"
    if head.startswith(_EBML):
        # The EBML header names the DocType ("webm" or "matroska") in its first bytes.
        return "webm" if b"\x42\x82\x84webm" in head[:64] else "mkv"
    if head[:2] == b"PK":  # a zip (the package import checks the rest)
        return "zip"
    return None


def sniff_file(path: Path) -> str | None:
    with path.open("rb") as fh:
        return sniff(fh.read(SNIFF_BYTES))


# What a file name's extension promises, by family: an image must not arrive as clip.mp4 nor a
# video as photo.jpg (within images the bytes decide: a PNG named .jpg is stored as PNG; within
# videos too: an MKV named .mp4 is stored as MKV).
_NAME_FAMILIES = {
    ".jpg": "image", ".jpeg": "image", ".png": "image", ".webp": "image",
    ".mp4": "video", ".m4v": "video", ".mov": "video", ".mkv": "video", ".webm": "video",
    ".zip": "zip",
}  # fmt: skip
_KIND_FAMILIES = {
    "jpeg": "image", "png": "image", "webp": "image", "zip": "zip",
    **{kind: "video" for kind in VIDEO_TYPES},
}  # fmt: skip


def name_matches(filename: str, kind: str | None) -> bool:
    """Whether the bytes (sniffed `kind`) are what the file's name says; names without a known
    extension promise nothing."""
    promised = _NAME_FAMILIES.get(Path(filename.replace("\\", "/")).suffix.lower())
    return promised is None or promised == _KIND_FAMILIES.get(kind or "")


# An upload's bytes: in memory, or a file on disk (a streamed upload, never read whole).
Source = bytes | Path


def source_size(source: Source) -> int:
    return source.stat().st_size if isinstance(source, Path) else len(source)


def _open_source(source: Source) -> BinaryIO:
    return source.open("rb") if isinstance(source, Path) else io.BytesIO(source)


def _boxes(fh: BinaryIO, start: int, end: int):
    """Yield (type, payload start, box end) of the ISO-BMFF boxes between `start` and `end` of
    a seekable file (reads only the box headers)."""
    pos = start
    while pos < end:
        if end - pos < 8:
            raise Invalid("upload_truncated", f"box header at {pos}")
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            raise Invalid("upload_truncated", f"box header at {pos}")
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1:
            if end - pos < 16 or len(head) < 16:
                raise Invalid("upload_truncated", f"large box header at {pos}")
            size = struct.unpack_from(">Q", head, 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise Invalid("upload_not_mp4", f"box of {size} bytes at {pos}")
        if pos + size > end:
            raise Invalid("upload_truncated", f"{kind!r} box at {pos} overruns the file")
        yield kind, pos + header, pos + size
        pos += size


def _moov(fh: BinaryIO, size: int) -> tuple[int, int] | None:
    fh.seek(0)
    head = fh.read(12)
    if len(head) < 12 or head[4:8] != b"ftyp":
        raise Invalid("upload_not_mp4", "no ftyp box")
    moov = [(body, end) for kind, body, end in _boxes(fh, 0, size) if kind == b"moov"]
    return moov[0] if moov else None


def check_video(source: Source) -> str:
    """The container of an uploaded video ("mp4", "mov", "mkv", "webm"), judged by its bytes;
    `Invalid("upload_not_mp4")` for anything else. An ISO-BMFF file (MP4, MOV) is also walked box
    header by box header, never read whole: a cut file is `upload_truncated`. Codecs are
    ffprobe's and FFmpeg's to judge (`video.probe`, `video.check_decodes`)."""
    with _open_source(source) as fh:
        kind = sniff(fh.read(SNIFF_BYTES))
        if kind not in VIDEO_KINDS:
            raise Invalid("upload_not_mp4", f"{kind or 'unknown'} bytes")
        if kind in ("mp4", "mov"):
            boxes = list(_boxes(fh, 0, source_size(source)))
            if not any(k == b"moov" for k, _, _ in boxes):
                raise Invalid("upload_truncated", "no moov box")
    return kind


def mp4_duration(source: Source) -> int | None:
    """Whole seconds of an MP4 from its `mvhd` box (None when it cannot be read)."""
    try:
        with _open_source(source) as fh:
            moov = _moov(fh, source_size(source))
            if moov is None:
                return None
            for inner, start, stop in _boxes(fh, *moov):
                if inner != b"mvhd":
                    continue
                fh.seek(start)
                head = fh.read(min(stop - start, 32))
                if head[0] == 1:  # version 1: 64-bit times
                    scale, length = struct.unpack_from(">IQ", head, 20)
                else:
                    scale, length = struct.unpack_from(">II", head, 12)
                return round(length / scale) if scale else None
    except (Invalid, struct.error, IndexError, OSError):
        return None
    return None


# -- storing ---------------------------------------------------------------------------------


def _write_once(path: Path, data: Source) -> bool:
    """Write `data` to a content-addressed `path` atomically unless present; True if written.
    A file on disk is hard-linked (copied across file systems), never read into memory."""
    if path.is_file():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        if isinstance(data, Path):
            os.close(fd)
            os.unlink(tmp)
            try:
                os.link(data, tmp)
            except OSError:
                shutil.copyfile(data, tmp)
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def sha256_of(source: Source) -> str:
    if not isinstance(source, Path):
        return hashlib.sha256(source).hexdigest()
    digest = hashlib.sha256()
    with source.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class _Prepared:
    media: programs.PreparedMedia
    width: int | None
    height: int | None
    created: list[Path]


def _probe(data: Source, max_seconds: float, frame_to: Path | None = None) -> video.Probe:
    """ffprobe's view of an uploaded video, a frame of which must decode within its first
    seconds (bytes are written to a temporary file first); with `frame_to`, that first good
    frame is written there as a JPEG (`video.check_decodes`)."""
    if isinstance(data, Path):
        found = video.probe(data, max_seconds=max_seconds)
        video.check_decodes(data, frame_to)
        return found
    with tempfile.NamedTemporaryFile(suffix=".video") as tmp:
        tmp.write(data)
        tmp.flush()
        found = video.probe(Path(tmp.name), max_seconds=max_seconds)
        video.check_decodes(Path(tmp.name), frame_to)
        return found


def video_seconds(data: Source, max_seconds: float = 7 * 24 * 3600) -> int | None:
    """Whole seconds of a stored video: from an MP4's `mvhd` box, else as ffprobe reads it."""
    seconds = mp4_duration(data)
    if seconds:
        return seconds
    try:
        return round(_probe(data, max_seconds).duration) or None
    except Invalid:
        return None


def _prepare(data_dir: Path, data: Source, kind: str, video_max_seconds: float = 7200) -> _Prepared:
    """Check the bytes, then write the original and its renditions (blocking: run in a thread).
    A video on disk is checked, hashed and linked into place in chunks; an image is decoded
    whole anyway (its pixels are larger than its file), so its bytes are read."""
    if kind == "video":
        container = check_video(data)
        with tempfile.TemporaryDirectory(prefix="legaltv-frame-") as scratch:
            # A video stream FFmpeg decodes, at least 1 s, at most the setting; its first
            # good frame is kept for the editors' preview while the transcode runs.
            frame = Path(scratch) / "first.jpg"
            _probe(data, video_max_seconds, frame)
            mime, suffix = VIDEO_TYPES[container]
            sha = sha256_of(data)
            rel = f"media/{sha[:2]}/{sha}{suffix}"
            created = [data_dir / rel] if _write_once(data_dir / rel, data) else []
            first = data_dir / video.first_frame_rel(sha)
            try:
                if frame.is_file() and _write_once(first, frame):
                    created.append(first)
            except BaseException:
                _remove(created)
                raise
        media = programs.PreparedMedia(sha, rel, "video", mime, source_size(data), [])
        return _Prepared(media, None, None, created)
    if isinstance(data, Path):
        data = data.read_bytes()
    checked = check_image(data)
    mime, suffix = IMAGE_TYPES[checked.fmt]
    sha = hashlib.sha256(checked.data).hexdigest()
    rel = f"media/{sha[:2]}/{sha}{suffix}"
    created = []
    try:
        if _write_once(data_dir / rel, checked.data):
            created.append(data_dir / rel)
        made = make_renditions(checked.image, sha, data_dir / "renditions")
    except BaseException:
        _remove(created)
        raise
    created += [path for path, _w, _h, new in made.values() if new]
    rows = [(name, str(path.relative_to(data_dir)), w, h) for name, (path, w, h, _) in made.items()]
    media = programs.PreparedMedia(sha, rel, "image", mime, len(checked.data), rows)
    return _Prepared(media, checked.image.width, checked.image.height, created)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


async def store_upload(
    db: Database,
    data_dir: Path,
    filename: str,
    data: Source,
    *,
    max_bytes: int,
    kind: str = "image",
    record: Recorder | None = None,
    video_max_seconds: float = 7200,
) -> int:
    """Check and store an uploaded image or video; return its media id.

    Raises `Invalid` with upload_too_large, upload_not_image, upload_truncated, upload_bomb or
    upload_not_mp4 (not a video container we take; a video also video_no_stream, video_codec,
    video_unreadable, video_too_short or video_too_long, from ffprobe and FFmpeg), leaving
    nothing stored. `record(tx, media_id, facts)` runs inside the
    transaction (the web layer writes its audit entry there). A video is queued for
    transcoding in the same transaction (content/programs/video.py).
    """
    if kind not in ("image", "video"):
        raise Invalid("upload_kind", kind)
    size = source_size(data)
    if size > max_bytes:
        raise Invalid("upload_too_large", f"{size} > {max_bytes}", mb=max_bytes // 2**20)
    if not size:
        raise Invalid("upload_not_image" if kind == "image" else "upload_not_mp4", "empty")
    prepared = await asyncio.to_thread(_prepare, Path(data_dir), data, kind, video_max_seconds)
    name = Path(filename or "").name[:200]
    try:
        async with db.transaction() as tx:
            media_id = await programs.insert_media(tx, prepared.media)
            await tx.execute(
                "UPDATE media SET width = COALESCE(width, ?), height = COALESCE(height, ?),"
                " original_name = CASE WHEN original_name = '' THEN ? ELSE original_name END"
                " WHERE id = ?",
                (prepared.width, prepared.height, name, media_id),
            )
            if kind == "video":
                await video.enqueue(tx, media_id)
            if record is not None:
                media = prepared.media
                facts = {"sha256": media.sha, "bytes": media.size, "mime": media.mime}
                await record(tx, media_id, {**facts, "kind": media.kind})
    except BaseException:
        _remove(prepared.created)
        raise
    return media_id


# -- reading ---------------------------------------------------------------------------------


def media_url(rel: str | None) -> str | None:
    """The public URL of a file under the data dir (served by the server's /media route)."""
    return f"/media/{rel}" if rel else None


async def media_info(db: Database, media_id: int) -> dict:
    """A media row with its URL, size and renditions {spec: {url, width, height}}."""
    row = await db.fetchone(
        "SELECT id, sha256, kind, mime, file, bytes, width, height, original_name, created_at"
        " FROM media WHERE id = ?",
        (media_id,),
    )
    if row is None:
        raise NotFound("media_not_found", str(media_id))
    rows = await db.fetchall(
        "SELECT spec, file, width, height FROM renditions WHERE media_id = ? ORDER BY spec",
        (media_id,),
    )
    info = dict(row)
    info["url"] = media_url(row["file"])
    info["renditions"] = {
        r["spec"]: {"url": media_url(r["file"]), "width": r["width"], "height": r["height"]}
        for r in rows
    }
    return info


async def media_sha(db: Database, media_id: int) -> str | None:
    """The SHA-256 of a stored file (None: no such media)."""
    return await db.fetchval("SELECT sha256 FROM media WHERE id = ?", (media_id,))


async def media_name(db: Database, media_id: int) -> tuple[str, str] | None:
    """(SHA-256, name it was uploaded under) of a stored file (None: no such media)."""
    row = await db.fetchone("SELECT sha256, original_name FROM media WHERE id = ?", (media_id,))
    return None if row is None else (row[0], row[1])


async def media_id_of(db: Database, sha: str) -> int | None:
    """The id of the stored file with this SHA-256 (None: not stored)."""
    return await db.fetchval("SELECT id FROM media WHERE sha256 = ?", (sha,))


async def rendition_url(db: Database, media_id: int, spec_name: str) -> str | None:
    """The URL of one rendition of a media file (e.g. `thumb-720p`, `page-1080p-webp`)."""
    file = await db.fetchval(
        "SELECT file FROM renditions WHERE media_id = ? AND spec = ?", (media_id, spec_name)
    )
    return media_url(file)
