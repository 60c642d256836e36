"""Import a content package (a folder or a .zip in the format of `content/catalog/`): unpack it
safely, validate everything, then write categories and programs through the editorial workflow
in one transaction. Any problem → `PackageError` listing them all and nothing written.
"""

from __future__ import annotations

import asyncio
import re
import stat
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from content.laws import register as laws
from content.programs import live, package, uploads, versions, video, workflow
from content.programs.package import PackageError, Problem
from content.programs.revisions import PAGES_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX, Content, PageDraft
from content.programs.video import keep_first_frame
from storage import Database, Invalid

MAX_FILES = 2000  # entries in a zip
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # total size once unpacked
MAX_RATIO = 100  # an entry above 1 MiB may expand at most this many times (zip bombs)
RATIO_FLOOR = 1024 * 1024
EDITABLE = ("draft", "needs_changes", "scheduled", "current")


@dataclass(frozen=True)
class Imported:
    id: int
    slug: str
    title: str
    # "published" (live now), "draft" (waits for review), "unchanged", or "video_pending" (a
    # draft, although publishing was asked: its video goes live only once transcoded)
    outcome: str
    revision: int


@dataclass
class ImportResult:
    categories: list[str] = field(default_factory=list)
    programs: list[Imported] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"categories": len(self.categories)}
        for item in self.programs:
            out[item.outcome] = out.get(item.outcome, 0) + 1
        return out


# -- unpacking ----------------------------------------------------------------------------------


def _refuse(name: str, message: str) -> PackageError:
    return PackageError([Problem(Path(name), message)])


def _entry_path(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The entry's path inside the package, or None when it must be refused."""
    name = info.filename
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = PurePosixPath(name).parts
    if not parts or any(p in ("..", "") for p in parts):
        return None
    return PurePosixPath(*[p for p in parts if p != "."])


def unpack_zip(
    source: Path, dest: Path, *, max_files: int = MAX_FILES, max_bytes: int = MAX_UNPACKED_BYTES
) -> None:
    """Unpack a zip into `dest`, refusing absolute paths, `..`, symlinks and zip bombs (too many
    entries, too many bytes in all, or an entry that expands far more than real media does)."""
    label = source.name
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse(label, f"not a readable zip file ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > max_files:
            raise _refuse(label, f"{len(infos)} entries; at most {max_files}")
        declared = 0
        problems = []
        for info in infos:
            if _entry_path(info) is None:
                problems.append(Problem(Path(label), f"{info.filename!r}: unsafe path refused"))
            if stat.S_ISLNK(info.external_attr >> 16):
                problems.append(Problem(Path(label), f"{info.filename!r}: symbolic link refused"))
            declared += info.file_size
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                problems.append(
                    Problem(Path(label), f"{info.filename!r}: expands too much (a zip bomb?)")
                )
        if problems:
            raise PackageError(problems)
        if declared > max_bytes:
            raise _refuse(label, f"unpacks to {declared} bytes; at most {max_bytes}")
        written = 0
        for info in infos:
            rel = _entry_path(info)
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, target.open("wb") as out:
                    # Count what really comes out: the sizes in the headers may lie.
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > max_bytes:
                            raise _refuse(label, f"unpacks to more than {max_bytes} bytes")
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise _refuse(label, f"{info.filename!r}: cannot be unpacked ({exc})") from exc


def _package_root(folder: Path) -> Path:
    """The folder holding categories.toml: the top, or the one folder a zip was made of."""
    if (folder / "categories.toml").exists():
        return folder
    inner = [p for p in folder.iterdir() if not p.name.startswith((".", "_"))]
    if len(inner) == 1 and inner[0].is_dir() and (inner[0] / "categories.toml").exists():
        return inner[0]
    return folder


def locate(source: Path, tmp: Path, **limits) -> tuple[Path, Path]:
    """(package root, folder that problem paths are shown relative to) of a package folder, or
    of a zip once unpacked into `tmp`."""
    if source.is_dir():
        return _package_root(source), source.parent
    if not source.is_file():
        raise _refuse(str(source), "no such file or folder")
    unpack_zip(source, tmp, **limits)
    return _package_root(tmp), tmp


def _shown(problems: list[Problem], base: Path, prefix: str) -> list[Problem]:
    out = []
    for p in problems:
        try:
            rel = Path(prefix) / Path(p.path).relative_to(base)
        except ValueError:
            rel = Path(p.path)
        out.append(Problem(rel, p.message, p.line))
    return out


# -- checking what the package format cannot know -----------------------------------------------


async def _check(
    db: Database,
    programs: list[package.Program],
    *,
    regions_allowed: Callable[[list[str]], bool] | None,
    categories: list[package.Category] = (),
    root: Path | None = None,
    video_max_seconds: float = 7200,
    probes: dict[str, video.Probe] | None = None,
) -> tuple[list[Problem], dict[str, int]]:
    """Problems against the database and the editors' rules; {slug: id} of existing programs.

    With `regions_allowed` (a region-scoped editor) the package's regions and those of every
    existing program it would change must pass it, and the categories every box shares may be
    added but not changed."""
    problems: list[Problem] = []
    existing: dict[str, int] = {}
    if regions_allowed is not None and root is not None:
        problems.extend(await _category_changes(db, categories, root / "categories.toml"))
    for p in programs:
        toml = p.root / "program.toml"
        text = toml.read_text(encoding="utf-8")

        def bad(key: str, message: str, toml: Path = toml, text: str = text) -> None:
            problems.append(Problem(toml, f"'{key}': {message}", package.key_line(text, key)))

        if len(p.title) > TITLE_MAX:
            bad("title", f"is {len(p.title)} characters long; at most {TITLE_MAX}")
        if len(p.tags) > TAGS_MAX:
            bad("tags", f"{len(p.tags)} tags; at most {TAGS_MAX}")
        for tag in p.tags:
            if len(tag) > TAG_MAX:
                bad("tags", f"{tag!r} is longer than {TAG_MAX} characters")
        if len(p.pages) > PAGES_MAX:
            problems.append(Problem(p.root / "pages", f"{len(p.pages)} pages; at most {PAGES_MAX}"))
        marks = ",".join("?" * len(p.regions))
        rows = await db.fetchall(f"SELECT code FROM regions WHERE code IN ({marks})", p.regions)
        known = {r[0] for r in rows}
        for code in p.regions:
            if code not in known:
                bad("regions", f"unknown region {code!r}")
        for version in p.versions.values():
            problems.extend(_version_problems(version))
        cited = sorted({c.law for c in p.citations})
        for code in sorted(set(cited) - await laws.known_codes(db, cited)):
            bad("citations", f"law {code!r} is not in the law register")
        if regions_allowed is not None and not regions_allowed(p.regions):
            bad("regions", "outside the regions you may edit")
        if p.video:
            try:  # as an editor's upload is checked: ffprobe, then FFmpeg decodes a frame
                found = await asyncio.to_thread(_probe_video, p.root / p.video, video_max_seconds)
            except Invalid as exc:
                bad("video", _video_problem(exc, video_max_seconds))
            else:
                if probes is not None:
                    probes[p.slug] = found
        row = await db.fetchone(
            "SELECT p.id, w.state FROM programs p LEFT JOIN program_workflow w"
            " ON w.program_id = p.id WHERE p.slug = ?",
            (p.slug,),
        )
        if row is not None:
            existing[p.slug] = int(row["id"])
            if row["state"] == "in_review":
                bad("slug", f"program {p.slug!r} is waiting for review; withdraw it first")
            if regions_allowed is not None:
                # The program as it is (working copy and live version), as a direct edit checks.
                state = await workflow.get_state(db, int(row["id"]))
                if not regions_allowed(state.regions):
                    bad("slug", f"program {p.slug!r} reaches regions outside the ones you may edit")
    return problems, existing


def _version_data(version: package.Version) -> dict:
    return {
        "title": version.title,
        "summary": version.summary,
        "pages": [(page.title, page.markdown) for page in version.pages],
    }


def _version_problems(version: package.Version) -> list[Problem]:
    """A language version checked by the rules of the admin's version form
    (`versions.validate`), each problem naming its file (and line)."""
    try:
        versions.validate(_version_data(version))
    except Invalid as exc:
        toml = version.root / "version.toml"
        what = {"required": "is required", "too_long": "is too long"}.get(exc.code, exc.code)
        caps = {
            "title": versions.MAX_TITLE,
            "summary": versions.MAX_SUMMARY,
            "pages": versions.MAX_PAGES,
        }
        if exc.detail in ("title", "summary"):
            text = toml.read_text(encoding="utf-8")
            limit = f" (at most {caps[exc.detail]} characters)" if exc.code == "too_long" else ""
            line = package.key_line(text, exc.detail)
            return [Problem(toml, f"'{exc.detail}': {what}{limit}", line)]
        if exc.detail == "pages":
            limit = f" (at most {versions.MAX_PAGES} pages)" if exc.code == "too_long" else ""
            return [Problem(version.root / "pages", f"the pages {what}{limit}")]
        if exc.detail.startswith("page") and exc.detail[4:].isdigit():
            path = version.root / "pages" / f"{int(exc.detail[4:]):02d}.md"
            limit = (
                f" (a title of at most {versions.MAX_TITLE} characters, a text of at most"
                f" {versions.MAX_MARKDOWN})"
                if exc.code == "too_long"
                else ""
            )
            return [Problem(path, f"the page {what}{limit}", 1)]
        return [Problem(toml, f"invalid version ({exc.code} {exc.detail})")]
    return []


async def _write_versions(
    db: Database, tx, pid: int, program: package.Program, covers: dict[str, dict[str, str]],
    audit: workflow.AuditHook | None,
) -> None:  # fmt: skip
    """Write the package's language versions of a program through `versions.save_version` (the
    admin's way: the version is drafted, never reviewed from a file). A version whose text is
    the one stored already is left as it is, its review status kept."""
    for lang, version in sorted(program.versions.items()):
        clean = versions.validate(_version_data(version))
        row = await tx.fetchone(
            "SELECT title, summary FROM program_versions WHERE program_id = ? AND lang = ?",
            (pid, lang),
        )
        if row is not None and (row["title"], row["summary"]) == (clean["title"], clean["summary"]):
            pages = await tx.fetchall(
                "SELECT title, markdown FROM program_version_pages"
                " WHERE program_id = ? AND lang = ? ORDER BY number",
                (pid, lang),
            )
            if [(r["title"], r["markdown"]) for r in pages] == clean["pages"]:
                continue
        await versions.save_version(db, pid, lang, clean, tx, covers=covers[lang], audit=audit)


def _probe_video(path: Path, max_seconds: float) -> video.Probe:
    found = video.probe(path, max_seconds=max_seconds)
    video.check_decodes(path)
    return found


def _video_problem(exc: Invalid, max_seconds: float) -> str:
    return {
        "video_no_stream": "has no video stream",
        "video_codec": f"its video codec {exc.params.get('codec', '?')!r} cannot be decoded by"
        " this server's FFmpeg (use H.264, H.265, VP9 or AV1)",
        "video_too_short": "is shorter than 1 second",
        "video_too_long": f"is longer than {int(max_seconds // 60)} minutes (video_max_seconds)",
    }.get(exc.code, f"cannot be read by FFmpeg ({exc.code})")


async def _category_changes(
    db: Database, categories: list[package.Category], path: Path
) -> list[Problem]:
    """Categories of the package that would change an existing one (title, description or
    order): only an editor of every region may do that."""
    rows = {
        r["slug"]: (r["title"], r["description"] or "", r["position"])
        for r in await db.fetchall("SELECT slug, title, description, position FROM categories")
    }
    changed = [
        c.slug
        for c in categories
        if c.slug in rows and rows[c.slug] != (c.title, c.description or "", c.order)
    ]
    if not changed:
        return []
    lines = (await asyncio.to_thread(path.read_text, encoding="utf-8")).splitlines()

    def line_of(slug: str) -> int | None:
        pattern = re.compile(rf"\s*slug\s*=\s*[\"']{re.escape(slug)}[\"']")
        return next((n for n, line in enumerate(lines, 1) if pattern.match(line)), None)

    message = "differs from the category every region shares; only an editor of every region"
    return [
        Problem(path, f"category {slug!r} {message} may change it", line_of(slug))
        for slug in changed
    ]


# -- writing ------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    program: package.Program
    pages: dict[str, live.PreparedMedia]
    cover: live.PreparedMedia | None
    covers: dict[str, str]
    video: live.PreparedMedia | None
    poster: live.PreparedMedia | None
    plays_as_is: bool = True  # the video: an H.264 MP4 boxes play until it is transcoded


def _prepare(
    program: package.Program,
    category_title: str,
    data_dir: Path,
    probe: video.Probe | None,
    queued: bool = True,
) -> _Prepared:
    """Store every file (content-addressed) and make every rendition before the transaction; a
    video to be transcoded (`queued`) keeps its first good frame for the editors' preview."""
    root = program.root
    pages = {
        path: live.prepare_image(root / path, data_dir, live.PAGE_SPECS)
        for page in program.pages
        for path in page.images
    }
    cover = None
    if program.cover:
        cover = live.prepare_image(root / program.cover, data_dir, live.COVER_SPECS)
    covers = live.make_covers(
        program.slug,
        program.title,
        category_title,
        data_dir / cover.rel if cover else None,
        data_dir,
    )
    video = None
    plays_as_is = True
    if program.video:
        kind = uploads.sniff_file(root / program.video) or "mp4"
        mime, suffix = uploads.VIDEO_TYPES.get(kind, uploads.VIDEO_TYPES["mp4"])
        sha, rel = live.store_media_file(root / program.video, data_dir, suffix)
        size = (root / program.video).stat().st_size
        video = live.PreparedMedia(sha, rel, "video", mime, size, [])
        if queued:
            keep_first_frame(data_dir / rel, data_dir, sha)
        plays_as_is = kind == "mp4" and probe is not None and probe.codec == "h264"
    poster = None
    if program.poster:
        poster = live.prepare_image(root / program.poster, data_dir, live.COVER_SPECS)
    return _Prepared(program, pages, cover, covers, video, poster, plays_as_is)


async def _write_program(
    tx, item: _Prepared, existing_id: int | None, *, publish_new: bool, publish_updates: bool,
    author: str, note: str, now: float, audit: workflow.AuditHook | None,
    queue_videos: bool = True,
) -> Imported:  # fmt: skip
    p = item.program
    video_id = await live.insert_media(tx, item.video) if item.video else None
    held = False
    if video_id is not None and queue_videos:
        # Transcoded like an editor's upload. Until its job is done, a video boxes cannot play
        # as it is (not an H.264 MP4) keeps the program from going live: it waits as a draft.
        await video.enqueue(tx, video_id, now)
        if not item.plays_as_is:
            job = await tx.fetchone("SELECT state FROM video_jobs WHERE media_id = ?", (video_id,))
            if job is None or job["state"] != "done":
                held = publish_updates if existing_id is not None else publish_new
                publish_new = publish_updates = False
    poster_id = await live.insert_media(tx, item.poster) if item.poster else None
    if item.cover:
        await live.insert_media(tx, item.cover)
    content = Content(
        title=p.title,
        summary=p.summary,
        category=p.category,
        tags=list(p.tags),
        language=p.language,
        regions=list(p.regions),
        pages=[PageDraft(page.title, page.markdown) for page in p.pages],
        images={path: await live.insert_media(tx, m) for path, m in item.pages.items()},
        covers=item.covers,
        video_media_id=video_id,
        poster_media_id=poster_id,
        duration_seconds=p.duration_seconds if p.video else None,
        citations=list(p.citations),
    )
    if existing_id is None:
        pid, rev = await workflow.insert_program(
            tx, p.slug, content, author=author, note=note, now=now,
            published_at=str(p.published_at),
        )  # fmt: skip
        publish = publish_new
    else:
        pid = existing_id
        flow = await workflow.locked(tx, pid, EDITABLE)
        draft = await tx.fetchone(
            "SELECT content FROM program_revisions WHERE id = ?", (flow.draft_revision_id,)
        )
        if Content.from_json(draft["content"]) == content:
            rev = flow.draft_revision_id
            if flow.state == "current" or not publish_updates:
                result = Imported(pid, p.slug, p.title, "unchanged", rev)
                if audit:
                    await audit(tx, "program.import", pid, {"slug": p.slug, "outcome": "unchanged"})
                return result
        else:
            state = "needs_changes" if flow.state == "needs_changes" else "draft"
            rev = await workflow.new_draft(
                tx, pid, content, state=state, author=author, note=note, now=now
            )
        publish = publish_updates
    if publish:
        await workflow.publish_revision(tx, pid, rev, author, now)
    outcome = "published" if publish else "video_pending" if held else "draft"
    if audit:
        await audit(
            tx, "program.import", pid, {"slug": p.slug, "revision": rev, "outcome": outcome}
        )
    return Imported(pid, p.slug, p.title, outcome, rev)


async def import_package(
    db: Database,
    data_dir: Path,
    source: Path,
    *,
    publish_new: bool = True,
    publish_updates: bool = False,
    author: str = "",
    label: str = "",
    note: str = "",
    regions_allowed: Callable[[list[str]], bool] | None = None,
    audit: workflow.AuditHook | None = None,
    max_files: int = MAX_FILES,
    max_bytes: int = MAX_UNPACKED_BYTES,
    video_max_seconds: float = 7200,
    queue_videos: bool = True,
) -> ImportResult:
    """Import a package folder or zip; raise PackageError (problems as file:line, relative to
    the package) with nothing written when anything is wrong.

    A program whose slug is new is created, and published when `publish_new`, else left as a
    draft for review. A program that exists gets the package as a new revision of its working
    copy (a draft to review), published at once when `publish_updates`; a package identical to
    the working copy changes nothing. Categories are added or updated. `note`: the note of the
    revisions written (default "import <label>").

    Videos are checked like an editor's upload (ffprobe: a video stream FFmpeg decodes, 1 s to
    `video_max_seconds`) and queued for transcoding (unless `queue_videos` is false: the demo's
    own H.264 video plays as it is); a program whose video is not an H.264 MP4 is not published
    before its transcode is done (it is written as a draft)."""
    source, data_dir = Path(source), Path(data_dir)
    label = label or source.name
    with tempfile.TemporaryDirectory(prefix="legaltv-import-") as tmp:
        root, base = await asyncio.to_thread(
            locate, source, Path(tmp), max_files=max_files, max_bytes=max_bytes
        )
        prefix = label if base != source.parent else ""
        try:
            categories, programs = await asyncio.to_thread(package.load_catalog, root)
        except PackageError as exc:
            raise PackageError(_shown(exc.problems, base, prefix)) from None
        except OSError as exc:
            raise _refuse(label, f"cannot be read ({exc})") from exc
        if not programs:
            raise _refuse(label, "no program folders (expected <slug>/program.toml)")
        probes: dict[str, video.Probe] = {}
        problems, existing = await _check(
            db, programs, regions_allowed=regions_allowed, categories=categories, root=root,
            video_max_seconds=video_max_seconds, probes=probes,
        )  # fmt: skip
        if problems:
            raise PackageError(_shown(problems, base, prefix))
        for pid in existing.values():
            await workflow.get_state(db, pid)  # gives programs made before the workflow one
        titles = {c.slug: c.title for c in categories}
        prepared = [
            await asyncio.to_thread(
                _prepare, p, titles[p.category], data_dir, probes.get(p.slug), queue_videos
            )
            for p in programs
        ]
        version_covers = {  # the versions' title cards, drawn before the transaction
            (p.slug, lang): await asyncio.to_thread(
                versions.make_covers,
                existing.get(p.slug, p.slug),
                versions.validate(_version_data(v))["title"],
                data_dir,
            )
            for p in programs
            for lang, v in p.versions.items()
        }
        now = time.time()
        note = note or f"import {label}"
        result = ImportResult(categories=[c.slug for c in categories])
        async with db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO categories (slug, title, description, position) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (slug) DO UPDATE SET title = excluded.title,"
                " description = excluded.description, position = excluded.position",
                [(c.slug, c.title, c.description, c.order) for c in categories],
            )
            for item in prepared:
                imported = await _write_program(
                    tx,
                    item,
                    existing.get(item.program.slug),
                    publish_new=publish_new,
                    publish_updates=publish_updates,
                    author=author,
                    note=note,
                    now=now,
                    audit=audit,
                    queue_videos=queue_videos,
                )  # fmt: skip
                result.programs.append(imported)
                p = item.program
                covers = {lang: version_covers[(p.slug, lang)] for lang in p.versions}
                await _write_versions(db, tx, imported.id, p, covers, audit)
            # Category titles and order show in the TV's listings, even when no program of the
            # package goes live (publications emit their own change too).
            tx.emit("program", [item.id for item in result.programs])
    return result
