"""Programs as the TV reads them: media, renditions and covers made for an import or a
publication, the live rows a publication writes, and the queries the TV screens need. Programs
are written only through the editorial workflow (`workflow`, `package_import`).

Media files are content-addressed under DATA_DIR/media; renditions and title cards are made at
import/publish time (never during a TV request) under DATA_DIR/renditions.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from content.laws import citations as cites
from content.programs import renditions, titlecard
from storage import Database, NotFound

PROFILES = ("720p", "1080p", "2160p")
# Program cards in a category grid: 376 canvas px wide, 16:9.
THUMB_SPECS = {
    "720p": renditions.RenditionSpec("thumb-720p", 376, 212),
    "1080p": renditions.RenditionSpec("thumb-1080p", 564, 318),
    "2160p": renditions.RenditionSpec("thumb-2160p", 1128, 635),
}
# Each JPEG spec has a WebP twin (`page-1080p-webp`) for boxes whose model decodes WebP.
PAGE_SPECS = [*renditions.PAGE_IMAGE_SPECS.values(), *renditions.PAGE_IMAGE_WEBP_SPECS.values()]
COVER_SPECS = [*renditions.COVER_SPECS.values(), *renditions.COVER_WEBP_SPECS.values()]
IMAGE_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class ProgramCard:
    id: int
    slug: str
    title: str
    summary: str
    category: str
    pages: int
    has_video: bool


@dataclass(frozen=True)
class PageView:
    number: int
    title: str
    markdown: str


@dataclass(frozen=True)
class ProgramDetail:
    card: ProgramCard
    pages: list[PageView]
    images: dict[str, int]  # path in Markdown → media id
    video_file: str | None
    poster_media_id: int | None
    duration_seconds: int | None
    regions: list[str]
    citations: list[cites.Shown] = field(default_factory=list)  # its legal basis, worded
    language: str = "zh"  # the language version shown (content.programs.versions)
    # The subtitle tracks of a revision being previewed (lang → {"sha", "cues", "burn"});
    # None: the published ones (content.programs.subtitles).
    subtitles: dict[str, dict] | None = None

    def basis(self, number: int) -> list[str]:
        """What page `number` shows as its legal basis: its own citations, and on the last
        page those of the whole program."""
        last = number == len(self.pages)
        return cites.basis(
            [c for c in self.citations if c.page == number or (c.page is None and last)]
        )


# -- media -----------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def store_media_file(src: Path, data_dir: Path, suffix: str | None = None) -> tuple[str, str]:
    """Copy a file into the content-addressed store; return (sha256, file path relative).
    `suffix`: the stored file's (by default the source's)."""
    sha = _sha256(src)
    rel = f"media/{sha[:2]}/{sha}{src.suffix.lower() if suffix is None else suffix}"
    dest = data_dir / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dest)
    return sha, rel


def _rendition_rows(src: Path, specs: list, data_dir: Path) -> list[tuple[str, str, int, int]]:
    """Make (or find cached) renditions; rows of (spec name, file relative to data_dir, w, h)."""
    out = []
    for spec in specs:
        path = renditions.make_rendition(src, spec, data_dir / "renditions")
        with Image.open(path) as im:
            width, height = im.size
        out.append((spec.name, str(path.relative_to(data_dir)), width, height))
    return out


@dataclass
class PreparedMedia:
    sha: str
    rel: str
    kind: str
    mime: str
    size: int
    renditions: list[tuple[str, str, int, int]]


def prepare_image(src: Path, data_dir: Path, specs: list) -> PreparedMedia:
    with Image.open(src) as im:
        mime = IMAGE_MIME[im.format]
    sha, rel = store_media_file(src, data_dir)
    return PreparedMedia(
        sha, rel, "image", mime, src.stat().st_size, _rendition_rows(src, specs, data_dir)
    )


async def insert_media(tx, media: PreparedMedia) -> int:
    row = await tx.fetchone("SELECT id FROM media WHERE sha256 = ?", (media.sha,))
    if row is not None:
        media_id = int(row[0])
    else:
        media_id = await tx.insert(
            "INSERT INTO media (sha256, kind, mime, file, bytes, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (media.sha, media.kind, media.mime, media.rel, media.size, time.time()),
        )
    await tx.executemany(
        "INSERT INTO renditions (media_id, spec, file, width, height) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (media_id, spec) DO UPDATE SET file = excluded.file,"
        " width = excluded.width, height = excluded.height",
        [(media_id, *r) for r in media.renditions],
    )
    return media_id


# -- files and live rows for imports and publication -------------------------------------


def make_covers(
    slug: str, title: str, category_title: str, cover_src: Path | None, data_dir: Path
) -> dict[str, str]:
    """Make the full-screen covers and grid thumbnails of a program, from its cover image or a
    drawn title card; {profile or "thumb-" + profile: file relative to data_dir}."""
    if cover_src is not None:
        full = {
            p: renditions.make_rendition(
                cover_src, renditions.COVER_SPECS[p], data_dir / "renditions"
            )
            for p in PROFILES
        }
    else:
        stem = f"{slug}-{hashlib.sha256(title.encode()).hexdigest()[:10]}"
        full = titlecard.write_title_cards(title, category_title, data_dir / "titlecards", stem)
    covers = {p: str(full[p].relative_to(data_dir)) for p in PROFILES}
    for profile, spec in THUMB_SPECS.items():
        thumb = renditions.make_rendition(full["2160p"], spec, data_dir / "renditions")
        covers["thumb-" + profile] = str(thumb.relative_to(data_dir))
    return covers


async def write_program_rows(
    tx,
    program_id: int,
    *,
    regions: list[str],
    pages: list[tuple[str, str]],
    images: dict[str, int],
    covers: dict[str, str],
) -> None:
    """Replace what the TV reads of a program besides its `programs` row: regions, pages
    (title, Markdown) in order, page images (path → media id) and cover files."""
    for table in ("program_regions", "program_pages", "program_media", "program_covers"):
        await tx.execute(f"DELETE FROM {table} WHERE program_id = ?", (program_id,))
    await tx.executemany(
        "INSERT INTO program_regions (program_id, region_code) VALUES (?, ?)",
        [(program_id, code) for code in regions],
    )
    await tx.executemany(
        "INSERT INTO program_pages (program_id, number, title, markdown) VALUES (?, ?, ?, ?)",
        [(program_id, n, title, md) for n, (title, md) in enumerate(pages, start=1)],
    )
    await tx.executemany(
        "INSERT INTO program_media (program_id, path, media_id) VALUES (?, ?, ?)",
        [(program_id, path, media_id) for path, media_id in images.items()],
    )
    await tx.executemany(
        "INSERT INTO program_covers (program_id, profile, file) VALUES (?, ?, ?)",
        [(program_id, profile, rel) for profile, rel in covers.items()],
    )


# -- queries for the TV ----------------------------------------------------------------------

_VISIBLE = (
    "p.status = 'published' AND EXISTS (SELECT 1 FROM program_regions pr"
    " WHERE pr.program_id = p.id AND pr.region_code IN ({marks}))"
)


def _visible(region_codes: list[str]) -> tuple[str, list[str]]:
    codes = region_codes or ["-"]
    return _VISIBLE.format(marks=",".join("?" * len(codes))), list(codes)


async def list_categories(db: Database, region_codes: list[str]) -> list[dict]:
    """Categories with the number of programs a box in these regions may see."""
    where, params = _visible(region_codes)
    rows = await db.fetchall(
        "SELECT c.slug, c.title, c.description, COUNT(p.id) AS programs FROM categories c"
        f" LEFT JOIN programs p ON p.category = c.slug AND {where}"
        " GROUP BY c.slug ORDER BY c.position, c.slug",
        params,
    )
    return [dict(r) for r in rows if r["programs"]]


async def get_category(db: Database, slug: str) -> dict:
    row = await db.fetchone(
        "SELECT slug, title, description FROM categories WHERE slug = ?", (slug,)
    )
    if row is None:
        raise NotFound("category_not_found", slug)
    return dict(row)


_CARD_SQL = (
    "SELECT p.id, p.slug, p.title, p.summary, p.category, p.video_media_id,"
    " (SELECT COUNT(*) FROM program_pages pp WHERE pp.program_id = p.id) AS pages"
    " FROM programs p"
)


def _card(row) -> ProgramCard:
    return ProgramCard(
        row["id"],
        row["slug"],
        row["title"],
        row["summary"],
        row["category"],
        row["pages"],
        row["video_media_id"] is not None,
    )


async def list_programs(
    db: Database, category: str, region_codes: list[str], offset: int, limit: int
) -> tuple[list[ProgramCard], int]:
    where, params = _visible(region_codes)
    total = await db.fetchval(
        f"SELECT COUNT(*) FROM programs p WHERE p.category = ? AND {where}", [category, *params]
    )
    rows = await db.fetchall(
        f"{_CARD_SQL} WHERE p.category = ? AND {where}"
        " ORDER BY p.published_at DESC, p.id LIMIT ? OFFSET ?",
        [category, *params, limit, offset],
    )
    return [_card(r) for r in rows], int(total)


async def get_program(
    db: Database, program_id: int, region_codes: list[str] | None, *, published_only: bool = True
) -> ProgramDetail:
    """A published program visible in these regions (any region when `region_codes` is None;
    any status too when `published_only` is false, for the editors' preview)."""
    if region_codes is None:
        where, params = ("p.status = 'published'" if published_only else "1 = 1"), []
    else:
        where, params = _visible(region_codes)
    row = await db.fetchone(f"{_CARD_SQL} WHERE p.id = ? AND {where}", [program_id, *params])
    if row is None:
        raise NotFound("program_not_found", str(program_id))
    full = await db.fetchone(
        "SELECT p.duration_seconds, p.poster_media_id, m.file AS video_file FROM programs p"
        " LEFT JOIN media m ON m.id = p.video_media_id WHERE p.id = ?",
        (program_id,),
    )
    pages = await db.fetchall(
        "SELECT number, title, markdown FROM program_pages WHERE program_id = ? ORDER BY number",
        (program_id,),
    )
    images = await db.fetchall(
        "SELECT path, media_id FROM program_media WHERE program_id = ?", (program_id,)
    )
    regions = await db.fetchall(
        "SELECT region_code FROM program_regions WHERE program_id = ?", (program_id,)
    )
    return ProgramDetail(
        card=_card(row),
        pages=[PageView(r["number"], r["title"], r["markdown"]) for r in pages],
        images={r["path"]: r["media_id"] for r in images},
        video_file=full["video_file"],
        poster_media_id=full["poster_media_id"],
        duration_seconds=full["duration_seconds"],
        regions=[r[0] for r in regions],
        citations=await cites.shown_live(db, program_id),
    )


async def cover_files(db: Database, program_ids: list[int], profile: str) -> dict[int, str]:
    if not program_ids:
        return {}
    marks = ",".join("?" * len(program_ids))
    rows = await db.fetchall(
        "SELECT program_id, file FROM program_covers"
        f" WHERE profile = ? AND program_id IN ({marks})",
        [profile, *program_ids],
    )
    return {r[0]: r[1] for r in rows}


async def rendition_files(db: Database, media_ids: list[int], spec: str) -> dict[int, str]:
    if not media_ids:
        return {}
    marks = ",".join("?" * len(media_ids))
    rows = await db.fetchall(
        f"SELECT media_id, file FROM renditions WHERE spec = ? AND media_id IN ({marks})",
        [spec, *media_ids],
    )
    return {r[0]: r[1] for r in rows}


async def count_published(db: Database) -> int:
    """Programs published (on the TV where their regions are live)."""
    return await db.fetchval("SELECT COUNT(*) FROM programs WHERE status = 'published'")
