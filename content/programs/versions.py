"""Language versions of a program: the Mongolian text of the same program.

A version is not a program of its own: it has the program's id, so figures, scheduling,
regions, status and the editorial workflow are the program's. It carries its own title, summary
and pages, and its own review status — `drafted` until a reviewer marks it `reviewed` (a drafted
Mongolian text is never shown as reviewed). A Mongolian box sees the version where the program has
one, else the Chinese program labelled 汉语 (tv_server.tv.programs).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from content.programs import renditions, titlecard
from content.programs.live import PROFILES, THUMB_SPECS, PageView, ProgramDetail
from storage import Database, Invalid, NotFound

LANGS = ("mn",)
REVIEWS = ("drafted", "reviewed")
MAX_TITLE = 200
MAX_SUMMARY = 1000
MAX_PAGES = 100
MAX_MARKDOWN = 20_000


@dataclass(frozen=True)
class Version:
    program_id: int
    lang: str
    title: str
    summary: str
    review: str
    reviewed_by: str | None
    pages: list[PageView]


async def get_versions(db: Database, program_id: int) -> dict[str, Version]:
    rows = await db.fetchall(
        "SELECT lang, title, summary, review, reviewed_by FROM program_versions"
        " WHERE program_id = ?",
        (program_id,),
    )
    out = {}
    for r in rows:
        pages = await db.fetchall(
            "SELECT number, title, markdown FROM program_version_pages"
            " WHERE program_id = ? AND lang = ? ORDER BY number",
            (program_id, r["lang"]),
        )
        out[r["lang"]] = Version(
            program_id,
            r["lang"],
            r["title"],
            r["summary"],
            r["review"],
            r["reviewed_by"],
            [PageView(p["number"], p["title"], p["markdown"]) for p in pages],
        )
    return out


async def titles(db: Database, program_ids: list[int], lang: str) -> dict[int, str]:
    """The version titles of these programs in `lang` (programs without one left out)."""
    if not program_ids or lang not in LANGS:
        return {}
    marks = ",".join("?" * len(program_ids))
    rows = await db.fetchall(
        "SELECT program_id, title FROM program_versions"
        f" WHERE lang = ? AND program_id IN ({marks})",
        [lang, *program_ids],
    )
    return {r[0]: r[1] for r in rows}


def apply(detail: ProgramDetail, version: Version) -> ProgramDetail:
    """The program as its version shows it: the version's title, summary and pages."""
    card = replace(
        detail.card,
        title=version.title,
        summary=version.summary,
        pages=len(version.pages),
    )
    # Citations belong to Chinese page numbers: the version shows the program-wide ones only.
    citations = [c for c in detail.citations if c.page is None]
    return replace(
        detail, card=card, pages=list(version.pages), citations=citations, language=version.lang
    )


def validate(data: dict) -> dict:
    """title, summary, pages [(title, markdown)] checked and capped; Invalid (code, field)
    for the first problem otherwise."""
    title = str(data.get("title", "")).strip()
    summary = str(data.get("summary", "")).strip()
    pages = [(str(t).strip(), str(m).strip()) for t, m in data.get("pages", [])]
    pages = [(t, m) for t, m in pages if t or m]
    if not title:
        raise Invalid("required", "title")
    if len(title) > MAX_TITLE:
        raise Invalid("too_long", "title")
    if len(summary) > MAX_SUMMARY:
        raise Invalid("too_long", "summary")
    if not pages:
        raise Invalid("required", "pages")
    if len(pages) > MAX_PAGES:
        raise Invalid("too_long", "pages")
    for i, (t, m) in enumerate(pages, 1):
        if len(t) > MAX_TITLE or len(m) > MAX_MARKDOWN:
            raise Invalid("too_long", f"page{i}")
        if not m:
            raise Invalid("required", f"page{i}")
    return {"title": title, "summary": summary, "pages": pages}


def make_covers(program_id: int | str, title: str, data_dir: Path) -> dict[str, str]:
    """The version's Mongolian title cards (content.titlecard, vertical script) and grid
    thumbnails: {profile or "thumb-" + profile: file relative to data_dir}. `program_id` only
    names the files (an import that creates the program passes its slug)."""
    stem = f"p{program_id}-{hashlib.sha256(title.encode()).hexdigest()[:10]}"
    full = titlecard.write_title_cards_mn(title, data_dir / "titlecards", stem)
    covers = {p: str(full[p].relative_to(data_dir)) for p in PROFILES}
    for profile, spec in THUMB_SPECS.items():
        thumb = renditions.make_rendition(full["2160p"], spec, data_dir / "renditions")
        covers["thumb-" + profile] = str(thumb.relative_to(data_dir))
    return covers


POSTER_DIR = "titlecards/mn-posters"
POSTER_DESIGN = "2"  # part of the cache key: a change of render_poster_mn's design draws anew


def poster_file(data_dir: Path, source: str, title: str, profile: str) -> str:
    """The Mongolian poster of a video (`titlecard.render_poster_mn`: the poster frame `source`,
    relative to data_dir, with the version's `title` written vertically over it) for a screen
    profile, drawn once and kept by the hash of what it is made of — the frame's bytes, the
    title, the profile and the design — so a new frame or title gets a new file and URL, and an
    unchanged one is never drawn twice. Blocking (Pillow): call it off the event loop. Returns
    the file relative to data_dir; `renditions.RenditionError` when the frame cannot be read."""
    src = data_dir / source
    digest = hashlib.sha256()
    digest.update(f"{POSTER_DESIGN}|{profile}|{title}|".encode())
    try:
        digest.update(src.read_bytes())
    except OSError as exc:
        raise renditions.RenditionError(f"{source}: {exc}") from exc
    name = digest.hexdigest()
    rel = f"{POSTER_DIR}/{name[:2]}/{name[:32]}-{profile}.jpg"
    out = data_dir / rel
    if out.is_file():
        return rel
    frame = renditions.open_image(src)
    poster = titlecard.render_poster_mn(frame, title, profile)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as fh:
            poster.save(fh, "JPEG", quality=85, optimize=True, progressive=False)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return rel


async def cover_files(
    db: Database, program_ids: list[int], lang: str, profile: str
) -> dict[int, str]:
    """The versions' own covers (title cards) of these programs for a profile."""
    if not program_ids:
        return {}
    marks = ",".join("?" * len(program_ids))
    rows = await db.fetchall(
        "SELECT program_id, file FROM program_version_covers"
        f" WHERE lang = ? AND profile = ? AND program_id IN ({marks})",
        [lang, profile, *program_ids],
    )
    return {r[0]: r[1] for r in rows}


async def save_version(
    db: Database,
    program_id: int,
    lang: str,
    data: dict,
    tx=None,
    *,
    covers: dict[str, str] | None = None,
    data_dir: Path | None = None,
    audit=None,
) -> None:
    """Write a version (validated first, one transaction). An edited version is `drafted` again:
    a reviewer has to review the new text. Its title cards (`make_covers`) are recorded with it:
    given as `covers`, or drawn here (before the transaction) with `data_dir`."""
    if lang not in LANGS:
        raise Invalid("bad_request", "lang")
    clean = validate(data)
    if covers is None and data_dir is not None:
        covers = make_covers(program_id, clean["title"], data_dir)

    async def write(tx) -> None:
        if await tx.fetchone("SELECT 1 FROM programs WHERE id = ?", (program_id,)) is None:
            raise NotFound("program_not_found", str(program_id))
        await tx.execute(
            "INSERT INTO program_versions (program_id, lang, title, summary, review, updated_at)"
            " VALUES (?, ?, ?, ?, 'drafted', ?) ON CONFLICT (program_id, lang) DO UPDATE SET"
            " title = excluded.title, summary = excluded.summary, review = 'drafted',"
            " reviewed_by = NULL, updated_at = excluded.updated_at",
            (program_id, lang, clean["title"], clean["summary"], time.time()),
        )
        await tx.execute(
            "DELETE FROM program_version_pages WHERE program_id = ? AND lang = ?",
            (program_id, lang),
        )
        await tx.executemany(
            "INSERT INTO program_version_pages (program_id, lang, number, title, markdown)"
            " VALUES (?, ?, ?, ?, ?)",
            [(program_id, lang, n, t, m) for n, (t, m) in enumerate(clean["pages"], 1)],
        )
        if covers is not None:
            await tx.execute(
                "DELETE FROM program_version_covers WHERE program_id = ? AND lang = ?",
                (program_id, lang),
            )
            await tx.executemany(
                "INSERT INTO program_version_covers (program_id, lang, profile, file)"
                " VALUES (?, ?, ?, ?)",
                [(program_id, lang, p, f) for p, f in covers.items()],
            )
        tx.emit("program", [program_id])  # the boxes in that language follow once committed
        if audit is not None:
            await audit(tx, "program.version_save", program_id, {"lang": lang})

    if tx is not None:
        await write(tx)
    else:
        async with db.transaction() as own:
            await write(own)


async def mark_reviewed(
    db: Database, program_id: int, lang: str, reviewer: str, *, audit=None
) -> bool:
    """A reviewer's approval of the version's text as it stands (audited in the same
    transaction by `audit(tx, action, program_id, detail)`); False when there is none."""
    async with db.transaction() as tx:
        cursor = await tx.execute(
            "UPDATE program_versions SET review = 'reviewed', reviewed_by = ?, updated_at = ?"
            " WHERE program_id = ? AND lang = ?",
            (reviewer, time.time(), program_id, lang),
        )
        done = cursor.rowcount > 0
        if done:
            tx.emit("program", [program_id])
        if done and audit is not None:
            await audit(tx, "program.version_review", program_id, {"lang": lang})
    return done


async def delete_version(db: Database, program_id: int, lang: str, *, audit=None) -> None:
    """Delete a program's version of `lang` (audited in the same transaction)."""
    async with db.transaction() as tx:
        await tx.execute(
            "DELETE FROM program_versions WHERE program_id = ? AND lang = ?", (program_id, lang)
        )
        tx.emit("program", [program_id])  # those boxes fall back to Chinese once committed
        if audit is not None:
            await audit(tx, "program.version_delete", program_id, {"lang": lang})
