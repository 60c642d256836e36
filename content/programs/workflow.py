"""The editorial workflow of programs: drafts saved as revisions, review, scheduled go-live and
expiry, publishing into the tables the TV reads, unpublishing, and putting an earlier version back.

The TV only ever reads the live tables (`programs`, `program_pages`, …); a draft lives in
`program_revisions` until a reviewer approves it, so editing never changes what boxes show.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from content.laws import citations as cites
from content.programs import live, package, subtitles
from content.programs import uploads as uploads_domain
from content.programs import video as video_domain
from content.programs.revisions import (
    Content,
    Fields,
    FormInvalid,
    PageDraft,
    check_fields,
    check_images,
)
from storage import Conflict, Database, DomainError, Invalid, NotFound, clock
from storage.database import Transaction

STATES = ("draft", "in_review", "needs_changes", "scheduled", "current")
# (tx, action, program id, detail): writes the audit entry inside the change it describes.
AuditHook = Callable[[Transaction, str, int, dict], Awaitable[None]]
IMAGE_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}


@dataclass(frozen=True)
class Upload:
    filename: str  # as sent by the browser; names the image (`images/<name>.jpg`)
    data: uploads_domain.Source  # the bytes, or the file a streamed upload was written to


@dataclass(frozen=True)
class Staged:
    """Files stored before the form was saved — pictures put in with 插入图片, and files of a
    refused form offered again — by the form field they belong to."""

    images: dict[str, int] = field(default_factory=dict)  # "images/x.jpg" → media id
    cover: int | None = None
    poster: int | None = None
    video: int | None = None
    duration: int | None = None


@dataclass(frozen=True)
class Workflow:
    state: str
    draft_revision_id: int
    live_revision_id: int | None
    go_live_at: float | None
    expire_at: float | None
    submitted_by: str
    submitted_at: float | None
    reviewed_by: str
    reviewed_at: float | None
    comment: str
    updated_at: float


@dataclass(frozen=True)
class Revision:
    id: int
    author: str
    note: str
    created_at: float
    published_at: float | None
    published_by: str | None
    content: Content


@dataclass(frozen=True)
class ProgramState:
    id: int
    slug: str
    status: str  # what the TV shows: draft (never live), published, unpublished
    workflow: Workflow
    draft: Revision
    live: Revision | None

    @property
    def regions(self) -> list[str]:
        """Every region the program reaches now or would reach once approved."""
        codes = list(self.draft.content.regions)
        if self.live:
            codes += [c for c in self.live.content.regions if c not in codes]
        return codes


@dataclass(frozen=True)
class ListRow:
    id: int
    slug: str
    title: str
    category: str
    regions: list[str]
    status: str
    state: str
    go_live_at: float | None
    expire_at: float | None
    updated_at: float


# -- reading -----------------------------------------------------------------------------------


def _workflow(row) -> Workflow:
    return Workflow(*(row[k] for k in Workflow.__dataclass_fields__))


def _revision(row) -> Revision:
    return Revision(
        row["id"],
        row["author"],
        row["note"],
        row["created_at"],
        row["published_at"],
        row["published_by"],
        Content.from_json(row["content"]),
    )


async def live_content(db_or_tx, program_id: int) -> Content:
    """The program as the TV shows it now, as revision content (for programs made before the
    workflow existed, e.g. imported packages)."""
    p = await db_or_tx.fetchone("SELECT * FROM programs WHERE id = ?", (program_id,))
    pages = await db_or_tx.fetchall(
        "SELECT title, markdown FROM program_pages WHERE program_id = ? ORDER BY number",
        (program_id,),
    )
    regions = await db_or_tx.fetchall(
        "SELECT region_code FROM program_regions WHERE program_id = ? ORDER BY region_code",
        (program_id,),
    )
    images = await db_or_tx.fetchall(
        "SELECT path, media_id FROM program_media WHERE program_id = ?", (program_id,)
    )
    covers = await db_or_tx.fetchall(
        "SELECT profile, file FROM program_covers WHERE program_id = ?", (program_id,)
    )
    return Content(
        title=p["title"],
        summary=p["summary"],
        category=p["category"],
        tags=json.loads(p["tags"]),
        language=p["language"],
        regions=[r[0] for r in regions],
        pages=[PageDraft(r["title"], r["markdown"]) for r in pages],
        images={r["path"]: r["media_id"] for r in images},
        covers={r["profile"]: r["file"] for r in covers},
        video_media_id=p["video_media_id"],
        poster_media_id=p["poster_media_id"],
        duration_seconds=p["duration_seconds"],
        citations=await cites.read_live(db_or_tx, program_id),
    )


# The note of the first revision of the demo catalog's programs, and of the one given to a program
# made before the workflow existed; revisions written by older versions say "imported".
IMPORTED_NOTE = "导入时的版本"


async def _first_revision(tx: Transaction, program_id: int):
    """Give a program made outside the workflow its first revision — what is live now, dated
    when the program was last changed — and return its workflow row (None: no such program).
    Only ever called on a write path: reading a program never writes."""
    row = await tx.fetchone("SELECT status, updated_at FROM programs WHERE id = ?", (program_id,))
    if row is None:
        return None
    when = row["updated_at"]
    content = await live_content(tx, program_id)
    is_live = row["status"] in ("published", "unpublished")
    rev = await tx.insert(
        "INSERT INTO program_revisions (program_id, content, author, note, created_at,"
        " published_at) VALUES (?, ?, '', ?, ?, ?)",
        (program_id, content.to_json(), IMPORTED_NOTE, when, when if is_live else None),
    )
    await tx.execute(
        "INSERT INTO program_workflow (program_id, state, draft_revision_id,"
        " live_revision_id, updated_at) VALUES (?, ?, ?, ?, ?)",
        (program_id, "current" if is_live else "draft", rev, rev if is_live else None, when),
    )
    return await tx.fetchone("SELECT * FROM program_workflow WHERE program_id = ?", (program_id,))


async def ensure_workflows(db: Database) -> int:
    """Give every program made before the workflow existed (a data dir of release 0.1.0) its
    first revision, at start-up; returns how many were given one."""
    done = 0
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            "SELECT id FROM programs WHERE id NOT IN (SELECT program_id FROM program_workflow)"
        )
        for row in rows:
            await _first_revision(tx, row[0])
            done += 1
    return done


def _unrecorded(program_id: int, row, content: Content) -> ProgramState:
    """The state of a program without a workflow row yet, as it would be recorded, without
    writing anything: its draft is "revision 0", what is live now."""
    is_live = row["status"] in ("published", "unpublished")
    when = row["p_updated"]
    rev = Revision(0, "", IMPORTED_NOTE, when, when if is_live else None, None, content)
    flow = Workflow(
        "current" if is_live else "draft", 0, 0 if is_live else None, None, None, "", None, "",
        None, "", when,
    )  # fmt: skip
    return ProgramState(program_id, row["slug"], row["status"], flow, rev, rev if is_live else None)


async def get_state(db: Database, program_id: int) -> ProgramState:
    row = await db.fetchone(
        "SELECT p.id, p.slug, p.status, p.updated_at AS p_updated, w.* FROM programs p"
        " LEFT JOIN program_workflow w ON w.program_id = p.id WHERE p.id = ?",
        (program_id,),
    )
    if row is None:
        raise NotFound("program_not_found", str(program_id))
    if row["state"] is None:
        return _unrecorded(program_id, row, await live_content(db, program_id))
    flow = _workflow(row)
    revs = {
        r["id"]: _revision(r)
        for r in await db.fetchall(
            "SELECT * FROM program_revisions WHERE id IN (?, ?)",
            (flow.draft_revision_id, flow.live_revision_id or 0),
        )
    }
    return ProgramState(
        row["id"],
        row["slug"],
        row["status"],
        flow,
        revs[flow.draft_revision_id],
        revs.get(flow.live_revision_id),
    )


async def get_revision(db: Database, program_id: int, revision_id: int) -> Revision:
    row = await db.fetchone(
        "SELECT * FROM program_revisions WHERE id = ? AND program_id = ?",
        (revision_id, program_id),
    )
    if row is None:
        raise NotFound("revision_not_found", str(revision_id))
    return _revision(row)


async def list_revisions(db: Database, program_id: int) -> list[Revision]:
    rows = await db.fetchall(
        "SELECT * FROM program_revisions WHERE program_id = ? ORDER BY id DESC", (program_id,)
    )
    return [_revision(r) for r in rows]


async def list_programs(
    db: Database,
    *,
    state: str = "",
    category: str = "",
    query: str = "",
    visible: Callable[[list[str]], bool] | None = None,
) -> list[ListRow]:
    """Programs for the admin list, newest change first, with the working copy's title."""
    rows = await db.fetchall(
        "SELECT p.id, p.slug, p.status, p.title, p.category, p.updated_at,"
        " w.state, w.go_live_at, w.expire_at, w.updated_at AS w_updated, r.content"
        " FROM programs p LEFT JOIN program_workflow w ON w.program_id = p.id"
        " LEFT JOIN program_revisions r ON r.id = w.draft_revision_id"
    )
    live_regions: dict[int, list[str]] = {}
    for r in await db.fetchall("SELECT program_id, region_code FROM program_regions"):
        live_regions.setdefault(r[0], []).append(r[1])
    out = []
    for r in rows:
        draft = Content.from_json(r["content"]) if r["content"] else None
        regions = list(draft.regions) if draft else []
        regions += [c for c in live_regions.get(r["id"], []) if c not in regions]
        item = ListRow(
            r["id"],
            r["slug"],
            draft.title if draft else r["title"],
            draft.category if draft else r["category"],
            regions,
            r["status"],
            r["state"] or ("current" if r["status"] != "draft" else "draft"),
            r["go_live_at"],
            r["expire_at"],
            r["w_updated"] or r["updated_at"],
        )
        if state and item.state != state and item.status != state:
            continue
        if category and item.category != category:
            continue
        if query and query not in item.title and query not in item.slug:
            continue
        if visible is not None and not visible(item.regions):
            continue
        out.append(item)
    return sorted(out, key=lambda i: -i.updated_at)


async def category_titles(db: Database) -> dict[str, str]:
    rows = await db.fetchall("SELECT slug, title FROM categories ORDER BY position, slug")
    return {r[0]: r[1] for r in rows}


# -- writing drafts ----------------------------------------------------------------------------


# 我的稿件: the states of an editor's own copies still in their hands or a reviewer's.
MINE_STATES = ("needs_changes", "draft", "in_review")


async def my_copies(db: Database, username: str) -> dict[str, list[dict]]:
    """{state: [{id, title, comment}]} for MINE_STATES, newest first: programs whose working
    copy `username` wrote last or submitted (at most 300)."""
    rows = await db.fetchall(
        "SELECT p.id, r.content, w.state, w.updated_at, w.comment FROM program_workflow w"
        " JOIN programs p ON p.id = w.program_id"
        " JOIN program_revisions r ON r.id = w.draft_revision_id"
        " WHERE w.state IN ('needs_changes', 'draft', 'in_review')"
        " AND (r.author = ? OR w.submitted_by = ?) ORDER BY w.updated_at DESC LIMIT 300",
        (username, username),
    )
    out: dict[str, list] = {state: [] for state in MINE_STATES}
    for r in rows:
        title = Content.from_json(r["content"]).title
        out[r["state"]].append({"id": r["id"], "title": title, "comment": r["comment"]})
    return out


def _image_name(filename: str, data: uploads_domain.Source) -> str:
    """Where an uploaded page image is found by the Markdown: `images/<ascii name>.<ext>`."""
    source = data if isinstance(data, Path) else io.BytesIO(data)
    try:
        with Image.open(source, formats=tuple(IMAGE_EXT)) as im:
            ext = IMAGE_EXT[im.format]
    except (OSError, SyntaxError, ValueError) as exc:
        raise Invalid("upload_not_image", str(exc), name=filename) from exc
    stem = Path(filename).stem.lower()
    stem = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "" for c in stem)
    return f"images/{stem or 'img-' + uploads_domain.sha256_of(data)[:8]}{ext}"


async def _prepare(
    db: Database,
    data_dir: Path,
    fields: Fields,
    base: Content | None,
    *,
    slug: str,
    uploads: Iterable[Upload],
    cover: Upload | None,
    remove_images: Iterable[str],
    title_card: bool,
    region_exists: Callable[[str], bool],
    max_bytes: int,
    video: Upload | None = None,
    poster: Upload | None = None,
    remove_video: bool = False,
    video_max_bytes: int | None = None,
    earlier: dict[str, DomainError] | None = None,
    staged: Staged | None = None,
    video_max_seconds: float = 7200,
) -> Content:
    """Validate the form (every problem at once, with `earlier` ones found by the caller:
    FormInvalid), then store the uploads and make the covers: every file exists before
    the revision is written. Refusals come before anything is stored."""
    cats = await category_titles(db)
    errors, title, summary, tags, pages = check_fields(
        fields, categories=set(cats), region_exists=region_exists
    )
    errors = {**(earlier or {}), **errors}

    def check(name: str, test: Callable[[], object]) -> None:
        try:
            test()
        except Invalid as exc:
            errors.setdefault(name, exc)

    named: dict[str, Upload] = {}
    for up in uploads:
        check("images", lambda up=up: named.setdefault(_image_name(up.filename, up.data), up))
    kept = {p: m for p, m in (base.images if base else {}).items() if p not in set(remove_images)}
    staged = staged or Staged()
    kept.update({p: m for p, m in staged.images.items() if p not in named})
    if pages is not None:
        check("body", lambda: check_images(pages, set(kept) | set(named)))
    if cover is not None:
        check("cover", lambda: _image_name(cover.filename, cover.data))
    if poster is not None:
        check("poster", lambda: _image_name(poster.filename, poster.data))
    video_max = max_bytes if video_max_bytes is None else video_max_bytes
    sized = [("images", u) for u in uploads] + [
        (name, u) for name, u in (("cover", cover), ("video", video), ("poster", poster)) if u
    ]
    for name, up in sized:
        limit = video_max if name == "video" else max_bytes
        if uploads_domain.source_size(up.data) > limit:
            errors[name] = Invalid(
                "upload_too_large", up.filename, mb=limit // 2**20, name=up.filename
            )
    video_id, poster_id, duration = _kept_video(base, remove_video)
    if video is None and staged.video is not None:
        video_id, duration = staged.video, staged.duration
    if poster is None and staged.poster is not None:
        poster_id = staged.poster
    if video is not None:
        check("video", lambda: uploads_domain.check_video(video.data))
    if poster is not None and video is None and video_id is None:
        errors.setdefault("poster", Invalid("poster_without_video"))
    if errors or pages is None:
        raise FormInvalid(errors)
    images = dict(kept)
    for path, up in named.items():
        images[path] = await uploads_domain.store_upload(
            db, data_dir, up.filename, up.data, max_bytes=max_bytes
        )
    if video is not None:
        video_id = await uploads_domain.store_upload(
            db,
            data_dir,
            video.filename,
            video.data,
            max_bytes=video_max,
            kind="video",
            video_max_seconds=video_max_seconds,
        )
        duration = await asyncio.to_thread(uploads_domain.video_seconds, video.data)
    if poster is not None:
        poster_id = await uploads_domain.store_upload(
            db, data_dir, poster.filename, poster.data, max_bytes=max_bytes, kind="image"
        )
    covers = dict(base.covers) if base else {}
    cover_src = None
    if cover is None and staged.cover is not None:
        cover_src = data_dir / await db.fetchval(
            "SELECT file FROM media WHERE id = ?", (staged.cover,)
        )
    if cover is not None:
        media_id = await uploads_domain.store_upload(
            db, data_dir, cover.filename, cover.data, max_bytes=max_bytes
        )
        cover_src = data_dir / await db.fetchval("SELECT file FROM media WHERE id = ?", (media_id,))
    redraw = (
        title_card
        or not covers
        or (
            covers.get("720p", "").startswith("titlecards/")
            and (title != base.title or fields.category != base.category)
        )
    )
    if cover_src is not None or redraw:
        covers = await asyncio.to_thread(
            live.make_covers, slug, title, cats[fields.category], cover_src, data_dir
        )
    return Content(
        title=title,
        summary=summary,
        category=fields.category,
        tags=tags,
        language=fields.language,
        regions=list(dict.fromkeys(fields.regions)),
        pages=pages,
        images=images,
        covers=covers,
        video_media_id=video_id,
        poster_media_id=poster_id,
        duration_seconds=duration,
        citations=cites.fit(base.citations, len(pages)) if base else [],  # the legal page's
        # Subtitles are timed to their video: another video starts without any.
        subtitles=base.subtitles if base and base.video_media_id == video_id else {},
    )


def _kept_video(base: Content | None, remove: bool) -> tuple[int | None, int | None, int | None]:
    """(video, poster, duration) carried over from the revision being edited."""
    if base is None or remove:
        return None, None, None
    return base.video_media_id, base.poster_media_id, base.duration_seconds


def mp4_duration(data: uploads_domain.Source) -> int | None:
    """Whole seconds of an MP4 from its `mvhd` box (None when it cannot be read)."""
    return uploads_domain.mp4_duration(data)


async def stage_file(
    db: Database, data_dir: Path, up: Upload, *, kind: str, max_bytes: int
) -> tuple[str, str]:
    """Store one file of a form before the form is saved; return (its page path for pictures,
    else "", its sha256 — the token the form sends back to use it)."""
    path = _image_name(up.filename, up.data) if kind == "image" else ""
    media_id = await uploads_domain.store_upload(
        db, data_dir, up.filename, up.data, max_bytes=max_bytes, kind=kind
    )
    sha = await db.fetchval("SELECT sha256 FROM media WHERE id = ?", (media_id,))
    return path, sha


async def resolve_staged(db: Database, data_dir: Path, tokens: dict[str, list[str]]) -> Staged:
    """The files a form refers to by sha256 (`images` as "images/x.jpg:sha256"); unknown
    tokens, and files of the wrong kind, are ignored."""

    async def media(sha: str, kind: str):
        if not (len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
            return None
        return await db.fetchone(
            "SELECT id, file FROM media WHERE sha256 = ? AND kind = ?", (sha, kind)
        )

    images = {}
    for token in tokens.get("images", [])[:100]:
        path, _, sha = token.rpartition(":")
        row = await media(sha, "image")
        if row is not None and path.startswith("images/") and "/" not in path[7:]:
            images[path] = row["id"]
    found = {}
    for name, kind in (("cover", "image"), ("poster", "image"), ("video", "video")):
        sha = (tokens.get(name) or [""])[0]
        row = await media(sha, kind) if sha else None
        found[name] = row
    duration = None
    if found["video"] is not None:
        duration = await asyncio.to_thread(
            uploads_domain.video_seconds, data_dir / found["video"]["file"]
        )
    return Staged(
        images, *(found[n]["id"] if found[n] else None for n in ("cover", "poster", "video")),
        duration,
    )  # fmt: skip


SLUG_MAX = 48


def slug_of(title: str) -> str:
    """A readable slug from a title: Chinese in pinyin (草场流转 → cao-chang-liu-zhuan), other
    letters and digits kept; `program` when nothing is left."""
    from pypinyin import lazy_pinyin  # loads its dictionary on first use only

    words = []
    for part in lazy_pinyin(title.strip().lower(), errors="default"):
        word = "".join(c for c in part if c.isascii() and c.isalnum())
        if word:
            words.append(word)
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > SLUG_MAX:
            break
        slug = f"{slug}-{word}" if slug else word
    return slug or "program"


async def _free_slug(db: Database, base: str) -> str:
    """`base`, or `base-2`, `base-3`, … the first one no program uses."""
    taken = {
        r[0]
        for r in await db.fetchall(
            "SELECT slug FROM programs WHERE slug = ? OR slug LIKE ?", (base, f"{base}-%")
        )
    }
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


async def create_program(
    db: Database,
    data_dir: Path,
    fields: Fields,
    *,
    slug: str = "",
    uploads: Iterable[Upload] = (),
    cover: Upload | None = None,
    video: Upload | None = None,
    poster: Upload | None = None,
    region_exists: Callable[[str], bool],
    max_bytes: int,
    author: str,
    note: str = "",
    audit: AuditHook | None = None,
    video_max_bytes: int | None = None,
    staged: Staged | None = None,
    video_max_seconds: float = 7200,
) -> int:
    """A new program: its first revision as a draft; nothing reaches the TV yet. `video` (MP4,
    MOV, MKV or WebM) and its optional `poster` image go live with the revision."""
    slug = slug.strip()
    earlier: dict[str, DomainError] = {}
    if slug and not package.SLUG_RE.fullmatch(slug):
        earlier["slug"] = Invalid("slug_invalid", slug)
    if slug:
        if await db.fetchone("SELECT 1 FROM programs WHERE slug = ?", (slug,)):
            earlier["slug"] = Conflict("slug_taken", slug)
    else:
        slug = await _free_slug(db, slug_of(fields.title))
    content = await _prepare(
        db, data_dir, fields, None, slug=slug, uploads=uploads, cover=cover,
        remove_images=(), title_card=False, region_exists=region_exists, max_bytes=max_bytes,
        video=video, poster=poster, video_max_bytes=video_max_bytes, earlier=earlier,
        staged=staged, video_max_seconds=video_max_seconds,
    )  # fmt: skip
    now = time.time()
    async with db.transaction() as tx:
        pid, rev = await insert_program(tx, slug, content, author=author, note=note, now=now)
        if audit:
            await audit(tx, "program.create", pid, {"slug": slug, "revision": rev})
    return pid


async def insert_program(
    tx: Transaction, slug: str, content: Content, *, author: str, note: str, now: float,
    published_at: str | None = None,
) -> tuple[int, int]:  # fmt: skip
    """A new program in the caller's transaction, its content the first revision, a draft
    nothing on the TV shows yet; (program id, revision id). Conflict when the slug is taken."""
    if await tx.fetchone("SELECT 1 FROM programs WHERE slug = ?", (slug,)):
        raise Conflict("slug_taken", slug)
    pid = await tx.insert(
        "INSERT INTO programs (slug, title, summary, category, tags, language, status,"
        " published_at, updated_at) VALUES (?, ?, ?, ?, '[]', ?, 'draft', ?, ?)",
        (slug, content.title, content.summary, content.category, content.language,
         published_at, now),
    )  # fmt: skip
    rev = await tx.insert(
        "INSERT INTO program_revisions (program_id, content, author, note, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (pid, content.to_json(), author, note.strip(), now),
    )
    await tx.execute(
        "INSERT INTO program_workflow (program_id, state, draft_revision_id, updated_at)"
        " VALUES (?, 'draft', ?, ?)",
        (pid, rev, now),
    )
    return pid, rev


async def locked(
    tx: Transaction, program_id: int, allowed: Iterable[str], revision: int | None = None
) -> Workflow:
    """The workflow row read inside the write transaction; Conflict when someone else moved
    the program on since the page was shown."""
    row = await tx.fetchone("SELECT * FROM program_workflow WHERE program_id = ?", (program_id,))
    if row is None:  # made outside the workflow: the page showed it as "revision 0"
        row = await _first_revision(tx, program_id)
        if row is None:
            raise NotFound("program_not_found", str(program_id))
        revision = row["draft_revision_id"] if revision == 0 else revision
    flow = _workflow(row)
    if flow.state not in set(allowed):
        raise Conflict(f"not_allowed_{flow.state}", flow.state)
    if revision is not None and flow.draft_revision_id != revision:
        raise Conflict("edited_elsewhere", str(flow.draft_revision_id))
    return flow


async def new_draft(
    tx: Transaction, program_id: int, content: Content, *, state: str, author: str, note: str,
    now: float,
) -> int:  # fmt: skip
    rev = await tx.insert(
        "INSERT INTO program_revisions (program_id, content, author, note, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (program_id, content.to_json(), author, note.strip(), now),
    )
    await tx.execute(
        "UPDATE program_workflow SET draft_revision_id = ?, state = ?, go_live_at = NULL,"
        " expire_at = CASE WHEN state = 'scheduled' THEN NULL ELSE expire_at END,"
        " updated_at = ? WHERE program_id = ?",
        (rev, state, now, program_id),
    )
    return rev


async def save_draft(
    db: Database,
    data_dir: Path,
    program_id: int,
    fields: Fields,
    *,
    base_revision: int,
    uploads: Iterable[Upload] = (),
    cover: Upload | None = None,
    remove_images: Iterable[str] = (),
    title_card: bool = False,
    video: Upload | None = None,
    poster: Upload | None = None,
    remove_video: bool = False,
    region_exists: Callable[[str], bool],
    max_bytes: int,
    author: str,
    note: str = "",
    audit: AuditHook | None = None,
    video_max_bytes: int | None = None,
    staged: Staged | None = None,
    video_max_seconds: float = 7200,
) -> int:
    """Save the form as a new revision of the working copy; the TV keeps showing what is live.
    A new `video` replaces the old one (its poster is kept unless a new `poster` is given);
    `remove_video` drops video and poster.

    Refused while the program waits for review, and when someone saved since `base_revision`
    was shown (no lost updates). Saving an approved, scheduled copy cancels its schedule.
    Returns the working revision's id (unchanged when nothing changed)."""
    state = await get_state(db, program_id)
    if state.workflow.state == "in_review":
        raise Conflict("not_allowed_in_review")
    if state.workflow.draft_revision_id != base_revision:
        raise Conflict("edited_elsewhere", str(state.workflow.draft_revision_id))
    content = await _prepare(
        db, data_dir, fields, state.draft.content, slug=state.slug, uploads=uploads,
        cover=cover, remove_images=remove_images, title_card=title_card,
        region_exists=region_exists, max_bytes=max_bytes, video=video, poster=poster,
        remove_video=remove_video, video_max_bytes=video_max_bytes, staged=staged,
        video_max_seconds=video_max_seconds,
    )  # fmt: skip
    if content == state.draft.content:
        return base_revision
    now = time.time()
    async with db.transaction() as tx:
        flow = await locked(
            tx, program_id, ("draft", "needs_changes", "scheduled", "current"), base_revision
        )
        new_state = "needs_changes" if flow.state == "needs_changes" else "draft"
        rev = await new_draft(
            tx, program_id, content, state=new_state, author=author, note=note, now=now
        )
        if audit:
            detail = {"revision": rev}
            if flow.state == "scheduled":
                detail["schedule_cancelled"] = True
            await audit(tx, "program.save", program_id, detail)
    return rev


async def restore(
    db: Database, program_id: int, revision_id: int, *, base_revision: int, author: str,
    audit: AuditHook | None = None,
) -> int:  # fmt: skip
    """Make an earlier revision the working copy again (as a new draft, to be reviewed)."""
    old = await get_revision(db, program_id, revision_id)
    now = time.time()
    async with db.transaction() as tx:
        await locked(
            tx, program_id, ("draft", "needs_changes", "scheduled", "current"), base_revision
        )
        rev = await new_draft(
            tx, program_id, old.content, state="draft", author=author,
            note=f"#{revision_id}", now=now,
        )  # fmt: skip
        if audit:
            await audit(tx, "program.restore", program_id, {"from": revision_id, "revision": rev})
    return rev


async def poster_candidates(db: Database, video_media_id: int | None) -> list[str]:
    """The candidate poster frames the transcode took from a video (files relative to the data
    dir, in time order); empty until its job is done."""
    if video_media_id is None:
        return []
    job = await video_domain.job_for(db, video_media_id)
    if job is None or job.state != "done" or not job.outputs:
        return []
    return [f"{job.outputs['dir']}/{name}" for name in job.outputs.get("posters", [])]


async def set_poster(
    db: Database, data_dir: Path, program_id: int, *, base_revision: int,
    candidate: int | None = None, upload: Upload | None = None, max_bytes: int, author: str,
    audit: AuditHook | None = None,
) -> int:  # fmt: skip
    """Choose the video's poster: candidate frame `candidate` (1 = the first) of its transcode,
    or an uploaded image. The picture goes through the image pipeline (sniffed, size-limited,
    renditions for every screen) and becomes the poster of a new revision of the working copy,
    reviewed like any other edit; the TV keeps what is live. Returns the working revision."""
    state = await get_state(db, program_id)
    if state.workflow.state == "in_review":
        raise Conflict("not_allowed_in_review")
    if state.workflow.draft_revision_id != base_revision:
        raise Conflict("edited_elsewhere", str(state.workflow.draft_revision_id))
    content = state.draft.content
    if content.video_media_id is None:
        raise Invalid("poster_without_video", str(program_id))
    if upload is not None:
        media_id = await uploads_domain.store_upload(
            db, data_dir, upload.filename, upload.data, max_bytes=max_bytes, kind="image"
        )
        detail = {"upload": Path(upload.filename or "").name[:80], "media": media_id}
    else:
        frames = await poster_candidates(db, content.video_media_id)
        if candidate is None or not 1 <= candidate <= len(frames):
            raise Invalid("poster_candidate", str(candidate))
        path = Path(data_dir) / frames[candidate - 1]
        media_id = await uploads_domain.store_upload(
            db, data_dir, path.name, path, max_bytes=max_bytes, kind="image"
        )
        detail = {"candidate": candidate, "media": media_id}
    if media_id == content.poster_media_id:
        return base_revision
    new = content.with_changes(poster_media_id=media_id)
    now = time.time()
    async with db.transaction() as tx:
        flow = await locked(
            tx, program_id, ("draft", "needs_changes", "scheduled", "current"), base_revision
        )
        new_state = "needs_changes" if flow.state == "needs_changes" else "draft"
        rev = await new_draft(tx, program_id, new, state=new_state, author=author, note="", now=now)
        if flow.state == "scheduled":  # as a save, a change cancels the approved schedule
            detail["schedule_cancelled"] = True
        if audit:
            await audit(tx, "program.poster", program_id, {"revision": rev, **detail})
    return rev


# -- review --------------------------------------------------------------------------------------


async def submit(
    db: Database, program_id: int, *, revision: int, actor: str, audit: AuditHook | None = None
) -> None:
    """Send the working copy to review; refused (video_not_ready) while its video is still
    being transcoded or its transcode failed."""
    now = time.time()
    async with db.transaction() as tx:
        flow = await locked(tx, program_id, ("draft", "needs_changes", "current"), revision)
        if flow.state == "current":
            raise Conflict("nothing_to_review")
        draft = await tx.fetchone(
            "SELECT content FROM program_revisions WHERE id = ?", (flow.draft_revision_id,)
        )
        if draft is not None:
            await video_domain.check_ready(tx, Content.from_json(draft[0]).video_media_id)
        await tx.execute(
            "UPDATE program_workflow SET state = 'in_review', submitted_by = ?,"
            " submitted_at = ?, updated_at = ? WHERE program_id = ?",
            (actor, now, now, program_id),
        )
        if audit:
            await audit(tx, "program.submit", program_id, {"revision": revision})


async def withdraw(
    db: Database, program_id: int, *, actor: str, audit: AuditHook | None = None
) -> None:
    """Take a copy back from review, or cancel its schedule: it becomes a draft again."""
    async with db.transaction() as tx:
        flow = await locked(tx, program_id, ("in_review", "scheduled"))
        await tx.execute(
            "UPDATE program_workflow SET state = 'draft', go_live_at = NULL,"
            " expire_at = CASE WHEN state = 'scheduled' THEN NULL ELSE expire_at END,"
            " updated_at = ? WHERE program_id = ?",
            (time.time(), program_id),
        )
        if audit:
            await audit(tx, "program.withdraw", program_id, {"from": flow.state})


async def request_changes(
    db: Database, program_id: int, *, revision: int, comment: str, actor: str,
    audit: AuditHook | None = None,
) -> None:  # fmt: skip
    comment = comment.strip()
    if not comment:
        raise Invalid("comment_required")
    now = time.time()
    async with db.transaction() as tx:
        await locked(tx, program_id, ("in_review",), revision)
        await tx.execute(
            "UPDATE program_workflow SET state = 'needs_changes', comment = ?, reviewed_by = ?,"
            " reviewed_at = ?, updated_at = ? WHERE program_id = ?",
            (comment, actor, now, now, program_id),
        )
        if audit:
            await audit(tx, "program.request_changes", program_id,
                        {"revision": revision, "comment": comment})  # fmt: skip


async def approve(
    db: Database,
    program_id: int,
    *,
    revision: int,
    actor: str,
    role: str,
    go_live_at: float | None = None,
    expire_at: float | None = None,
    comment: str = "",
    now: float | None = None,
    audit: AuditHook | None = None,
) -> str:
    """Approve the copy under review: publish it now, or at `go_live_at` when that is later.
    `expire_at` takes it off the TV again. Returns "published" or "scheduled".

    Four eyes: the author of the revision under review, or whoever submitted it, may not
    approve it (Conflict `approve_own_work`) unless `role` is admin."""
    now = time.time() if now is None else now
    start = go_live_at if go_live_at and go_live_at > now else now
    if expire_at is not None and expire_at <= start:
        raise Invalid("expiry_before_start")
    async with db.transaction() as tx:
        flow = await locked(tx, program_id, ("in_review",), revision)
        if role != "admin":
            author = await tx.fetchone(
                "SELECT author FROM program_revisions WHERE id = ?", (revision,)
            )
            if actor in (flow.submitted_by, author["author"] if author else None):
                raise Conflict("approve_own_work", actor)
        await tx.execute(
            "UPDATE program_workflow SET reviewed_by = ?, reviewed_at = ?, comment = ?,"
            " expire_at = ?, updated_at = ? WHERE program_id = ?",
            (actor, now, comment.strip(), expire_at, now, program_id),
        )
        if start > now:
            await tx.execute(
                "UPDATE program_workflow SET state = 'scheduled', go_live_at = ?"
                " WHERE program_id = ?",
                (go_live_at, program_id),
            )
            outcome = "scheduled"
        else:
            await publish_revision(tx, program_id, revision, actor, now)
            await cites.mark_reviewed(tx, program_id, actor, now)  # a legal review too
            outcome = "published"
        if audit:
            await audit(tx, "program.approve", program_id, {
                "revision": revision, "outcome": outcome, "go_live_at": go_live_at,
                "expire_at": expire_at,
            })  # fmt: skip
    return outcome


# -- going live ----------------------------------------------------------------------------------


async def publish_revision(tx: Transaction, program_id: int, revision: int, actor: str, now: float):
    """Copy a revision into what the TV reads, in the caller's transaction."""
    row = await tx.fetchone(
        "SELECT content FROM program_revisions WHERE id = ? AND program_id = ?",
        (revision, program_id),
    )
    if row is None:
        raise NotFound("revision_not_found", str(revision))
    c = Content.from_json(row["content"])
    await subtitles.write_live(tx, program_id, c, now)  # before the video changes below
    today = clock.date(now)
    await tx.execute(
        "UPDATE programs SET title = ?, summary = ?, category = ?, tags = ?, language = ?,"
        " status = 'published', video_media_id = ?, poster_media_id = ?, duration_seconds = ?,"
        " published_at = COALESCE(published_at, ?), updated_at = ?, version = version + 1"
        " WHERE id = ?",
        (c.title, c.summary, c.category, json.dumps(c.tags, ensure_ascii=False), c.language,
         c.video_media_id, c.poster_media_id, c.duration_seconds, today, now, program_id),
    )  # fmt: skip
    await live.write_program_rows(
        tx, program_id, regions=c.regions, pages=[(p.title, p.markdown) for p in c.pages],
        images=c.images, covers=c.covers,
    )  # fmt: skip
    await cites.write_live(tx, program_id, c.citations)
    await tx.execute(
        "UPDATE program_revisions SET published_at = ?, published_by = ? WHERE id = ?",
        (now, actor, revision),
    )
    await tx.execute(
        "UPDATE program_workflow SET live_revision_id = ?, go_live_at = NULL, updated_at = ?,"
        " state = CASE WHEN draft_revision_id = ? THEN 'current' ELSE state END"
        " WHERE program_id = ?",
        (revision, now, revision, program_id),
    )
    tx.emit("program", [program_id])  # its TV screens follow once the caller's write commits


async def _set_status(
    db: Database, program_id: int, *, want: str, action: str, audit: AuditHook | None
) -> None:
    now = time.time()
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT p.status, w.live_revision_id FROM programs p JOIN program_workflow w"
            " ON w.program_id = p.id WHERE p.id = ?",
            (program_id,),
        )
        if row is None:
            raise NotFound("program_not_found", str(program_id))
        allowed_from = "published" if want == "unpublished" else "unpublished"
        if row["status"] != allowed_from or row["live_revision_id"] is None:
            raise Conflict(f"not_allowed_{row['status']}", row["status"])
        await tx.execute(
            "UPDATE programs SET status = ?, updated_at = ?, version = version + 1 WHERE id = ?",
            (want, now, program_id),
        )
        await tx.execute(
            "UPDATE program_workflow SET expire_at = NULL, updated_at = ? WHERE program_id = ?",
            (now, program_id),
        )
        tx.emit("program", [program_id])
        if audit:
            await audit(tx, action, program_id, {"revision": row["live_revision_id"]})


async def unpublish(
    db: Database, program_id: int, *, actor: str, audit: AuditHook | None = None
) -> None:
    """Take a program off the TV at once; `republish` puts the same version back."""
    await _set_status(db, program_id, want="unpublished", action="program.unpublish", audit=audit)


async def republish(
    db: Database, program_id: int, *, actor: str, audit: AuditHook | None = None
) -> None:
    await _set_status(db, program_id, want="published", action="program.republish", audit=audit)


async def revert(
    db: Database, program_id: int, revision_id: int, *, actor: str,
    audit: AuditHook | None = None,
) -> None:  # fmt: skip
    """Put a version that was live before back on the TV now (it was reviewed then). Work in
    progress on the working copy is kept; with none, the working copy follows."""
    old = await get_revision(db, program_id, revision_id)
    if old.published_at is None:
        raise Invalid("revision_never_published", str(revision_id))
    now = time.time()
    async with db.transaction() as tx:
        flow = await locked(tx, program_id, STATES)
        if flow.state == "current":
            await tx.execute(
                "UPDATE program_workflow SET draft_revision_id = ? WHERE program_id = ?",
                (revision_id, program_id),
            )
        await publish_revision(tx, program_id, revision_id, actor, now)
        await tx.execute(
            "UPDATE program_workflow SET expire_at = NULL WHERE program_id = ?", (program_id,)
        )
        if audit:
            await audit(tx, "program.revert", program_id,
                        {"revision": revision_id, "was": flow.live_revision_id})  # fmt: skip


async def publish_due(
    db: Database, now: float | None = None, audit: AuditHook | None = None
) -> list[int]:
    """Publish approved copies whose go-live time has come and take expired programs off;
    return the ids of programs whose TV content changed. Safe to run from several processes."""
    now = time.time() if now is None else now
    changed: list[int] = []
    due = await db.fetchall(
        "SELECT program_id, draft_revision_id FROM program_workflow"
        " WHERE state = 'scheduled' AND go_live_at <= ? ORDER BY go_live_at",
        (now,),
    )
    for row in due:
        pid, rev = row[0], row[1]
        async with db.transaction() as tx:
            try:
                await locked(tx, pid, ("scheduled",), rev)
            except Conflict:
                continue  # another process published it, or it was withdrawn meanwhile
            await publish_revision(tx, pid, rev, "", now)
            if audit:
                await audit(tx, "program.publish_scheduled", pid, {"revision": rev})
        changed.append(pid)
    expired = await db.fetchall(
        "SELECT w.program_id FROM program_workflow w JOIN programs p ON p.id = w.program_id"
        " WHERE p.status = 'published' AND w.expire_at <= ?",
        (now,),
    )
    for row in expired:
        try:
            await _set_status(db, row[0], want="unpublished", action="program.expire",
                              audit=audit)  # fmt: skip
        except Conflict:
            continue
        changed.append(row[0])
    return changed
