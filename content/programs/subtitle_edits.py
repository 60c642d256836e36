"""Subtitle changes as edits of a program's working copy: a track saved, replaced or deleted
becomes a new draft revision (content/programs/workflow.py), reviewed and published like any
other edit, and audited in the same transaction. The live program keeps its published tracks
until then. This module never imports aiohttp."""

from __future__ import annotations

import time

from content.programs import subtitles, workflow
from content.programs.revisions import Content
from storage import Database, Invalid, NotFound

EDITABLE = ("draft", "needs_changes", "scheduled", "current")  # not while in review


async def draft_tracks(db: Database, program_id: int, content: Content) -> dict:
    """The working copy's tracks as the editor sees them, by language."""
    refs = await subtitles.refs_of(db, program_id, content)
    return await subtitles.tracks(db, content.video_media_id, refs)


async def save_track(
    db: Database,
    program_id: int,
    lang: str,
    cues: list[subtitles.Cue] | None,
    *,
    burn: bool = False,
    author: str,
    audit: workflow.AuditHook | None = None,
) -> int | None:
    """Put a track in a language into the working copy (`cues` None: delete it); a burned-in
    copy asked for is queued for the draft's video, so the preview and the published program
    have it. Returns the new draft revision, None when nothing changed. Refused while the copy
    waits for review (Conflict), and without a video (Invalid subtitle_no_video)."""
    if lang not in subtitles.LANGUAGES:
        raise Invalid("subtitle_language", lang)
    now = time.time()
    async with db.transaction() as tx:
        flow = await workflow.locked(tx, program_id, EDITABLE)
        row = await tx.fetchone(
            "SELECT content FROM program_revisions WHERE id = ?", (flow.draft_revision_id,)
        )
        if row is None:
            raise NotFound("revision_not_found", str(flow.draft_revision_id))
        content = Content.from_json(row["content"])
        media_id = content.video_media_id
        if media_id is None:
            raise Invalid("subtitle_no_video", str(program_id))
        refs = dict(await subtitles.refs_of(tx, program_id, content))
        if cues is None:
            if lang not in refs:
                return None
            del refs[lang]
            action, detail = "program.subtitles_remove", {"lang": lang, "media": media_id}
        else:
            entry, text = subtitles.ref(cues, burn=burn)
            if refs.get(lang) == entry:
                return None
            await subtitles.store_text(tx, entry["sha"], text, entry["cues"], now)
            if burn:
                # Burns of this video and language not started and no longer wanted: an editor
                # saving text after text queues one FFmpeg run, not one per save.
                await tx.execute(
                    "DELETE FROM subtitle_burns WHERE media_id = ? AND lang = ? AND sha != ?"
                    " AND state = 'queued' AND sha NOT IN"
                    " (SELECT sha FROM program_subtitles WHERE lang = ? AND burn = 1)",
                    (media_id, lang, entry["sha"], lang),
                )
                await subtitles.queue_burn(tx, media_id, lang, entry["sha"], now)
            refs[lang] = entry
            action = "program.subtitles"
            detail = {"lang": lang, "media": media_id, "cues": entry["cues"], "burn": burn}
        state = "needs_changes" if flow.state == "needs_changes" else "draft"
        rev = await workflow.new_draft(
            tx, program_id, content.with_changes(subtitles=refs), state=state, author=author,
            note="", now=now,
        )  # fmt: skip
        if audit:
            detail["revision"] = rev
            if flow.state == "scheduled":
                detail["schedule_cancelled"] = True
            await audit(tx, action, program_id, detail)
    return rev
