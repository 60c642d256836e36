"""Subtitle changes as edits of a program's working copy: a track saved, replaced or deleted
becomes a new draft revision (content/programs/workflow.py), reviewed and published like any
other edit, and audited in the same transaction. The live program keeps its published tracks
until then. This module never imports aiohttp."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

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


async def prune_burns(db: Database, data_dir: Path) -> list[int]:
    """Delete the burned-in copies no program shows any more nor is about to: a copy is kept
    while a program's working copy (draft) or live revision, or its published tracks, show that
    text burned into that video. Each other copy goes, its row first (in one transaction), then
    its MP4; a burn running now is left to finish. Returns the videos that lost a copy (their
    rendered screens may be dropped). A draft saved while this runs whose burn is deleted gets
    it queued again when published (`subtitles.write_live`)."""
    if await db.fetchval("SELECT 1 FROM subtitle_burns LIMIT 1") is None:
        return []
    gone = []
    async with db.transaction() as tx:
        used: set[tuple[int, str, str]] = set()
        revisions = await tx.fetchall(
            "SELECT w.program_id, r.content FROM program_workflow w JOIN program_revisions r"
            " ON r.id = w.draft_revision_id OR r.id = w.live_revision_id"
        )
        for row in revisions:
            content = Content.from_json(row["content"])
            if content.video_media_id is None:
                continue
            for lang, ref in (await subtitles.refs_of(tx, row["program_id"], content)).items():
                if ref["burn"]:
                    used.add((content.video_media_id, lang, ref["sha"]))
        live = await tx.fetchall(
            "SELECT p.video_media_id, s.lang, s.sha FROM program_subtitles s"
            " JOIN programs p ON p.id = s.program_id"
            " WHERE s.burn = 1 AND p.video_media_id IS NOT NULL"
        )
        used.update((r["video_media_id"], r["lang"], r["sha"]) for r in live)
        burns = await tx.fetchall(
            "SELECT media_id, lang, sha, file FROM subtitle_burns WHERE state != 'running'"
        )
        for burn in burns:
            key = (burn["media_id"], burn["lang"], burn["sha"])
            if key in used:
                continue
            await tx.execute(
                "DELETE FROM subtitle_burns WHERE media_id = ? AND lang = ? AND sha = ?"
                " AND state != 'running'",
                key,
            )
            gone.append(burn)
    await asyncio.to_thread(_delete_files, Path(data_dir), [b["file"] for b in gone if b["file"]])
    return sorted({burn["media_id"] for burn in gone})


def _delete_files(data_dir: Path, files: list[str]) -> None:
    """Delete burned-in copies (paths relative to the data dir, under its video folder)."""
    root = data_dir.resolve()
    for file in files:
        path = (root / file).resolve()
        if path.is_relative_to(root / "video"):
            path.unlink(missing_ok=True)
