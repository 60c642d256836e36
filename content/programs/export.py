"""Export programs as a content package (the format of `content/catalog/`, see
docs/content-format.md): program.toml and categories.toml written deterministically, pages as
Markdown, and the original image and video files copied byte for byte from the media store.
"""

from __future__ import annotations

import asyncio
import io
import posixpath
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from content.laws import citations as cites
from content.programs import versions, workflow
from content.programs.revisions import Content
from storage import Database, Invalid, NotFound, clock

CATEGORIES_HEADER = (
    "# Categories of the programs in this package, in the order the TV shows them.\n"
)
PROGRAM_KEYS = (
    "slug", "title", "summary", "category", "tags", "language", "regions", "cover", "video",
    "poster", "duration_seconds", "published_at", "citations",
)  # fmt: skip
MIME_EXT = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "video/mp4": ".mp4",
    "video/quicktime": ".mov", "video/x-matroska": ".mkv", "video/webm": ".webm",
}  # fmt: skip
_SHA_RE = re.compile(r"([0-9a-f]{64})-")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same content always makes the same zip


@dataclass(frozen=True)
class Snapshot:
    """What is exported of one program: its slug, date and one version of its content."""

    id: int
    slug: str
    published_at: str
    content: Content


# -- a tiny deterministic TOML writer for the known keys ---------------------------------------


def toml_string(value: str) -> str:
    """A TOML basic string; non-ASCII text is kept as is, control characters escaped."""
    out = []
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list) and value and isinstance(value[0], cites.Citation):
        return cites.to_toml(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def program_toml(values: dict[str, object]) -> str:
    """program.toml: the keys in the documented order, absent (None) keys left out."""
    lines = [f"{k} = {toml_value(values[k])}" for k in PROGRAM_KEYS if values.get(k) is not None]
    return "\n".join(lines) + "\n"


def categories_toml(categories: list[dict]) -> str:
    """categories.toml for rows with slug, title, description and order, in the given order."""
    parts = [CATEGORIES_HEADER]
    for c in categories:
        parts.append(
            "\n[[category]]\n"
            f"slug = {toml_string(c['slug'])}\n"
            f"title = {toml_string(c['title'])}\n"
            f"description = {toml_string(c['description'])}\n"
            f"order = {int(c['order'])}\n"
        )
    return "".join(parts)


def page_markdown(title: str, markdown: str) -> str:
    body = markdown.strip()
    return f"# {title}\n\n{body}\n" if body else f"# {title}\n"


# -- reading what to export ---------------------------------------------------------------------


async def live_snapshot(db: Database, program_id: int) -> Snapshot:
    """The program as the TV shows it (or showed it, when unpublished)."""
    p = await db.fetchone("SELECT * FROM programs WHERE id = ?", (program_id,))
    if p is None:
        raise NotFound("program_not_found", str(program_id))
    if p["status"] not in ("published", "unpublished"):
        raise Invalid("program_not_live", str(program_id), id=program_id)
    content = await workflow.live_content(db, program_id)
    return Snapshot(p["id"], p["slug"], p["published_at"] or _today(), content)


async def latest_snapshot(db: Database, program_id: int) -> Snapshot:
    """The program's working copy: its latest revision, reviewed or not."""
    state = await workflow.get_state(db, program_id)
    published = await db.fetchval("SELECT published_at FROM programs WHERE id = ?", (program_id,))
    return Snapshot(state.id, state.slug, published or _today(), state.draft.content)


def _today() -> str:
    return clock.today().isoformat()


async def _program_ids(db: Database, ids: list[int] | None, latest: bool) -> list[int]:
    if ids is not None:
        return list(dict.fromkeys(ids))
    where = "1 = 1" if latest else "status = 'published'"
    return [r[0] for r in await db.fetchall(f"SELECT id FROM programs WHERE {where} ORDER BY slug")]


# -- files --------------------------------------------------------------------------------------


async def _media(db: Database, media_id: int) -> dict:
    row = await db.fetchone("SELECT id, sha256, mime, file FROM media WHERE id = ?", (media_id,))
    if row is None:
        raise NotFound("media_not_found", str(media_id))
    return dict(row)


async def _cover_source(db: Database, data_dir: Path, covers: dict[str, str]) -> dict | None:
    """The original cover image behind the cover renditions (None for a drawn title card).

    Rendition files are named after the sha256 of their source, which finds the original in the
    media store. A data dir whose cover was never stored as media falls back to the largest
    rendition (a re-encoded JPEG, not the original bytes)."""
    full = covers.get("2160p") or ""
    if not full.startswith("renditions/"):
        return None
    found = _SHA_RE.match(Path(full).name)
    if found:
        row = await db.fetchone(
            "SELECT id, sha256, mime, file FROM media WHERE sha256 = ?", (found.group(1),)
        )
        if row is not None and (data_dir / row["file"]).is_file():
            return dict(row)
    return {"id": None, "sha256": "", "mime": "image/jpeg", "file": full}


def _safe_rel(path: str) -> str:
    rel = posixpath.normpath(path)
    if rel.startswith(("..", "/")) or rel in (".", "") or "\\" in rel or ":" in rel:
        raise Invalid("export_path_invalid", path)
    return rel


def _ext(media: dict) -> str:
    return MIME_EXT.get(media["mime"]) or Path(media["file"]).suffix.lower()


# Files of a package: path inside it → a stored file to copy (Path), text or bytes to write.
Files = dict[str, Path | str | bytes]


def _bytes(what: Path | str | bytes) -> bytes:
    if isinstance(what, str):
        return what.encode("utf-8")
    return what if isinstance(what, bytes) else what.read_bytes()


async def program_files(db: Database, data_dir: Path, snap: Snapshot) -> Files:
    """Every file of one program folder, by path inside the package."""
    c = snap.content
    prefix = f"{snap.slug}/"
    files: Files = {}
    used: dict[str, int | None] = {}
    for path, media_id in sorted(c.images.items()):
        rel = _safe_rel(path)
        files[prefix + rel] = data_dir / (await _media(db, media_id))["file"]
        used[rel] = media_id
    cover = None
    source = await _cover_source(db, data_dir, c.covers)
    if source is not None:
        same = [p for p, m in used.items() if source["id"] is not None and m == source["id"]]
        if same:
            cover = same[0]
        else:
            cover, n = f"images/cover{_ext(source)}", 1
            while cover in used:
                cover, n = f"images/cover-{n}{_ext(source)}", n + 1
            files[prefix + cover] = data_dir / source["file"]
    video = poster = None
    if c.video_media_id is not None:
        media = await _media(db, c.video_media_id)  # the original upload, in its container
        video = f"media/video{_ext(media)}"
        files[prefix + video] = data_dir / media["file"]
    if c.poster_media_id is not None:
        media = await _media(db, c.poster_media_id)
        poster = f"media/poster{_ext(media)}"
        files[prefix + poster] = data_dir / media["file"]
    values = {
        "slug": snap.slug,
        "title": c.title,
        "summary": c.summary,
        "category": c.category,
        "tags": list(c.tags),
        "language": c.language,
        "regions": list(c.regions),
        "cover": cover,
        "video": video,
        "poster": poster,
        "duration_seconds": c.duration_seconds if video else None,
        "published_at": str(snap.published_at)[:10],
        "citations": list(c.citations) or None,
    }
    files[prefix + "program.toml"] = program_toml(values)
    for number, page in enumerate(c.pages, start=1):
        files[f"{prefix}pages/{number:02d}.md"] = page_markdown(page.title, page.markdown)
    for lang, version in sorted((await versions.get_versions(db, snap.id)).items()):
        files.update(version_files(f"{prefix}{lang}/", version))
    return files


def version_files(prefix: str, version: versions.Version) -> Files:
    """A language version's folder: version.toml (title, summary) and its pages. Its review
    status and title cards are not written: an import drafts the version and draws its cards."""
    files: Files = {
        prefix + "version.toml": f"title = {toml_string(version.title)}\n"
        f"summary = {toml_string(version.summary)}\n"
    }
    for number, page in enumerate(version.pages, start=1):
        files[f"{prefix}pages/{number:02d}.md"] = page_markdown(page.title, page.markdown)
    return files


def write_files(out_dir: Path, files: Files) -> None:
    """Write a package folder: `out_dir` must be empty or not exist yet."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise Invalid("export_dir_not_empty", str(out_dir))
    for rel, what in sorted(files.items()):
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(what, Path):
            shutil.copyfile(what, dest)
        else:
            dest.write_bytes(_bytes(what))


async def package_files(
    db: Database, data_dir: Path, ids: list[int] | None, *, latest: bool = False
) -> tuple[Files, list[str]]:
    """The files of a package of these programs (`ids`, or every published program when
    None), and their slugs. By default a program's live content (what the TV shows) is
    exported; `latest` takes each program's latest revision instead."""
    wanted = await _program_ids(db, ids, latest)
    snaps = [
        await (latest_snapshot(db, pid) if latest else live_snapshot(db, pid)) for pid in wanted
    ]
    files: Files = {}
    for snap in sorted(snaps, key=lambda s: s.slug):
        files.update(await program_files(db, Path(data_dir), snap))
    used = sorted({s.content.category for s in snaps})
    marks = ",".join("?" * len(used)) or "''"
    rows = await db.fetchall(
        'SELECT slug, title, description, position AS "order" FROM categories'
        f" WHERE slug IN ({marks}) ORDER BY position, slug",
        used,
    )
    files["categories.toml"] = categories_toml([dict(r) for r in rows])
    return files, sorted(s.slug for s in snaps)


async def export_programs(
    db: Database,
    data_dir: Path,
    ids: list[int] | None,
    out_dir: Path,
    *,
    latest: bool = False,
) -> list[str]:
    """Export programs (see `package_files`) into `out_dir`, which must be empty or not exist
    yet; return the exported slugs. categories.toml holds the categories used."""
    files, slugs = await package_files(db, data_dir, ids, latest=latest)
    await asyncio.to_thread(write_files, Path(out_dir), files)
    return slugs


def zip_files(files: Files) -> bytes:
    """Zip a package deterministically: sorted names, fixed dates, no folder entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, what in sorted(files.items()):
            info = zipfile.ZipInfo(rel, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, _bytes(what))
    return buffer.getvalue()


async def export_zip(
    db: Database, data_dir: Path, ids: list[int] | None, *, latest: bool = False
) -> tuple[bytes, list[str]]:
    """Export as `export_programs` does, into a zip; return (zip bytes, exported slugs)."""
    files, slugs = await package_files(db, data_dir, ids, latest=latest)
    return await asyncio.to_thread(zip_files, files), slugs
