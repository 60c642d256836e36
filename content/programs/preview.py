"""What the editors' preview shows: a saved revision, the working draft, or the live program,
shaped as the `ProgramDetail` the TV screens render, so the preview uses the TV's own code."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from content.laws import citations
from content.programs import live as programs
from content.programs import subtitles, uploads, workflow
from content.programs.revisions import Content
from storage import Database, NotFound


@dataclass(frozen=True)
class PreviewSource:
    detail: programs.ProgramDetail
    revision_id: int | None  # None: the live tables (no workflow row yet)
    is_draft: bool  # the working copy (not necessarily live)
    regions: list[str]  # every region the program reaches or would reach (for scoping)


async def _detail(db: Database, program_id: int, slug: str, content: Content):
    video_file = None
    if content.video_media_id is not None:
        try:
            video_file = (await uploads.media_info(db, content.video_media_id))["file"]
        except NotFound:
            video_file = None
    card = programs.ProgramCard(
        program_id,
        slug,
        content.title,
        content.summary,
        content.category,
        len(content.pages),
        video_file is not None,
    )
    pages = [programs.PageView(n, p.title, p.markdown) for n, p in enumerate(content.pages, 1)]
    return programs.ProgramDetail(
        card=card,
        pages=pages,
        images=dict(content.images),
        video_file=video_file,
        poster_media_id=content.poster_media_id,
        duration_seconds=content.duration_seconds,
        regions=list(content.regions),
        citations=await citations.shown(db, content.citations),
        subtitles=await subtitles.refs_of(db, program_id, content),
    )


async def preview_source(db: Database, program_id: int, revision_id: int | None) -> PreviewSource:
    """The revision `revision_id` of a program, or its latest saved draft when None; the live
    program (any status) when the workflow tables do not exist."""
    try:
        state = await workflow.get_state(db, program_id)
    except sqlite3.OperationalError:  # no workflow tables: preview what the TV has
        detail = await programs.get_program(db, program_id, None, published_only=False)
        return PreviewSource(detail, None, False, detail.regions)
    if revision_id is None or revision_id == state.draft.id:
        revision = state.draft
    else:
        revision = await workflow.get_revision(db, program_id, revision_id)
    detail = await _detail(db, program_id, state.slug, revision.content)
    regions = [*revision.content.regions]
    regions += [c for c in state.regions if c not in regions]
    return PreviewSource(detail, revision.id, revision.id == state.draft.id, regions)
