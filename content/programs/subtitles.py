"""Subtitles of programs' videos: one WebVTT track per program and language (zh, mn), uploaded
as .vtt/.srt or typed in the editor as a simple cue list, validated and capped here; each box's
on/off choice; and the optional burned-in copy of the 720p MP4 (FFmpeg's `subtitles` filter)
for box models that cannot draw text over a playing video (`device_models.subtitle_overlay`).
docs/content-format.md, "Subtitles". This module never imports aiohttp.

Subtitles are part of a program's revision, like its pages: a change is saved into the working
copy (content/programs/subtitle_edits.py), reviewed, and reaches boxes when that revision is
published. Two programs sharing a video file each show their own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from content.programs import video
from storage import Database, Invalid

LANGUAGES = ("zh", "mn")
MAX_BYTES = 512 * 1024  # an uploaded or typed subtitle file
MAX_CUES = 3000  # about two hours at one cue every 2.4 s
MAX_CUE_CHARS = 200  # one cue's text (the TV shows at most about two lines of it)
MAX_SECONDS = 86_400
BURN_STATES = ("none", "queued", "running", "done", "failed")

_TIME = r"(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?"
_ARROW = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s.*)?$")
_LIST = re.compile(rf"^\s*{_TIME}\s*[-–—~]\s*{_TIME}\s+(\S.*)$")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str  # plain text; a line break is "\n"


# -- parsing -----------------------------------------------------------------------------------


def decode(raw: bytes) -> str:
    """A subtitle file's text: UTF-8 (with or without BOM), else GB 18030 (what Chinese tools
    often save .srt files in); `Invalid("subtitle_not_text")` otherwise."""
    if len(raw) > MAX_BYTES:
        raise Invalid("subtitle_too_large", str(len(raw)), kb=MAX_BYTES // 1024)
    if b"\x00" in raw:
        raise Invalid("subtitle_not_text", "NUL byte")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("subtitle_not_text", "undecodable")


def _seconds(groups: tuple) -> float:
    hours, minutes, seconds, millis = groups
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        raise ValueError("minutes or seconds past 59")
    frac = int((millis or "0").ljust(3, "0")) / 1000
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + frac


def _clean(lines: list[str]) -> str:
    text = "\n".join(" ".join(_TAG.sub("", line).split()) for line in lines)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return "\n".join(line for line in text.split("\n") if line)


def parse(text: str) -> list[Cue]:
    """Cues from WebVTT, SubRip (.srt) or the editor's cue list (one cue a line:
    `0:01 - 0:04.5 text`). Raises `Invalid` (subtitle_*) naming the first bad line."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise Invalid("subtitle_too_large", str(len(text)), kb=MAX_BYTES // 1024)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    cues = _parse_blocks(lines) if any("-->" in line for line in lines) else _parse_list(lines)
    if not cues:
        raise Invalid("subtitle_empty", "no cues")
    if len(cues) > MAX_CUES:
        raise Invalid("subtitle_too_many", str(len(cues)), max=MAX_CUES)
    return sorted(cues, key=lambda c: (c.start, c.end))


def _cue(start: float, end: float, text: str, number: int) -> Cue:
    if not text:
        raise Invalid("subtitle_bad_line", "empty text", line=number)
    if end <= start or end > MAX_SECONDS:
        raise Invalid("subtitle_bad_time", f"{start} → {end}", line=number)
    if len(text) > MAX_CUE_CHARS:
        raise Invalid("subtitle_cue_too_long", str(len(text)), line=number, max=MAX_CUE_CHARS)
    return Cue(round(start, 3), round(end, 3), text)


def _parse_blocks(lines: list[str]) -> list[Cue]:
    """WebVTT and SubRip: blocks apart by blank lines; a block's timing line holds `-->`."""
    cues: list[Cue] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "-->" not in line:
            i += 1  # the header, a cue number or id, NOTE/STYLE blocks, blank lines
            if line.strip().startswith(("NOTE", "STYLE", "REGION")):
                while i < len(lines) and lines[i].strip():
                    i += 1
            continue
        match = _ARROW.match(line)
        if match is None:
            raise Invalid("subtitle_bad_line", line[:60], line=i + 1)
        number = i + 1
        try:
            start, end = _seconds(match.groups()[:4]), _seconds(match.groups()[4:8])
        except ValueError as exc:
            raise Invalid("subtitle_bad_time", line[:60], line=number) from exc
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() and "-->" not in lines[i]:
            body.append(lines[i])
            i += 1
        cues.append(_cue(start, end, _clean(body), number))
        if len(cues) > MAX_CUES:
            raise Invalid("subtitle_too_many", str(len(cues)), max=MAX_CUES)
    return cues


def _parse_list(lines: list[str]) -> list[Cue]:
    cues: list[Cue] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.strip().startswith("#"):
            continue
        match = _LIST.match(line)
        if match is None:
            raise Invalid("subtitle_bad_line", line[:60], line=number)
        try:
            start, end = _seconds(match.groups()[:4]), _seconds(match.groups()[4:8])
        except ValueError as exc:
            raise Invalid("subtitle_bad_time", line[:60], line=number) from exc
        cues.append(_cue(start, end, _clean([match.group(9)]), number))
        if len(cues) > MAX_CUES:
            raise Invalid("subtitle_too_many", str(len(cues)), max=MAX_CUES)
    return cues


def _stamp(seconds: float, *, short: bool = False) -> str:
    millis = int(round(seconds * 1000))
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    if short:  # the editor's cue list: 1:05.5, 1:02:03
        head = f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
        return head + (f".{ms:03d}".rstrip("0") if ms else "")
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def to_vtt(cues: list[Cue]) -> str:
    out = ["WEBVTT", ""]
    for cue in cues:
        text = cue.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out += [f"{_stamp(cue.start)} --> {_stamp(cue.end)}", text, ""]
    return "\n".join(out)


def to_list(cues: list[Cue]) -> str:
    """The editor's cue list: one cue a line (a cue's lines joined by a space)."""
    return "\n".join(
        f"{_stamp(c.start, short=True)} - {_stamp(c.end, short=True)} {' '.join(c.text.split())}"
        for c in cues
    )


# -- storage -----------------------------------------------------------------------------------
#
# A text is stored once, by the hash of its WebVTT (`subtitle_texts`). A program's revision names
# its tracks (`Content.subtitles`: lang → {"sha", "cues", "burn"}); publishing a revision writes
# them to `program_subtitles`, what boxes are shown. A burned-in MP4 is one per video, language
# and text (`subtitle_burns`), so programs sharing a video never share their subtitles.


@dataclass(frozen=True)
class Track:
    media_id: int | None  # the video it is shown over
    lang: str
    vtt: str
    cues: int
    sha: str  # of the WebVTT text: names its URL and its burned-in MP4
    burn: bool
    burn_state: str  # of the burned-in copy for this video: "none" when not asked for
    burn_error: str
    burn_file: str  # relative to the data dir, once burned


def ref(cues: list[Cue], *, burn: bool) -> tuple[dict, str]:
    """A revision's entry for a track ({"sha", "cues", "burn"}) and its WebVTT text."""
    text = to_vtt(cues)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return {"sha": sha, "cues": len(cues), "burn": bool(burn)}, text


async def store_text(tx, sha: str, text: str, cues: int, now: float) -> None:
    await tx.execute(
        "INSERT INTO subtitle_texts (sha, vtt, cues, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (sha) DO NOTHING",
        (sha, text, cues, now),
    )


async def queue_burn(tx, media_id: int, lang: str, sha: str, now: float) -> None:
    """Ask for the burned-in copy of a video with a text (again, when it failed)."""
    await tx.execute(
        "INSERT INTO subtitle_burns (media_id, lang, sha, state, updated_at)"
        " VALUES (?, ?, ?, 'queued', ?) ON CONFLICT (media_id, lang, sha) DO UPDATE SET"
        " state = 'queued', error = '', updated_at = excluded.updated_at"
        " WHERE subtitle_burns.state = 'failed'",
        (media_id, lang, sha, now),
    )


async def live_refs(db_or_tx, program_id: int) -> dict[str, dict]:
    """The tracks a program's boxes are shown now (its published revision's)."""
    rows = await db_or_tx.fetchall(
        "SELECT s.lang, s.sha, s.burn, t.cues FROM program_subtitles s"
        " JOIN subtitle_texts t ON t.sha = s.sha WHERE s.program_id = ?",
        (program_id,),
    )
    return {r["lang"]: {"sha": r["sha"], "cues": r["cues"], "burn": bool(r["burn"])} for r in rows}


async def refs_of(db_or_tx, program_id: int, content) -> dict[str, dict]:
    """A revision's tracks; for one written before subtitles were part of revisions, the live
    tracks while its video is the one live."""
    if content.subtitles is not None:
        return content.subtitles
    row = await db_or_tx.fetchone("SELECT video_media_id FROM programs WHERE id = ?", (program_id,))
    if content.video_media_id is None or row is None or row[0] != content.video_media_id:
        return {}
    return await live_refs(db_or_tx, program_id)


async def write_live(tx, program_id: int, content, now: float) -> None:
    """Publish a revision's tracks (in the caller's transaction, before its video goes live);
    the burned-in copies they ask for are queued."""
    refs = await refs_of(tx, program_id, content)
    await tx.execute("DELETE FROM program_subtitles WHERE program_id = ?", (program_id,))
    await tx.executemany(
        "INSERT INTO program_subtitles (program_id, lang, sha, burn) VALUES (?, ?, ?, ?)",
        [(program_id, lang, r["sha"], int(r["burn"])) for lang, r in sorted(refs.items())],
    )
    for lang, r in refs.items():
        if r["burn"] and content.video_media_id is not None:
            await queue_burn(tx, content.video_media_id, lang, r["sha"], now)


async def tracks(db, media_id: int | None, refs: dict[str, dict]) -> dict[str, Track]:
    """The tracks `refs` names, over the video `media_id` (its burned-in copies' state)."""
    if not refs:
        return {}
    marks = ",".join("?" * len(refs))
    shas = [r["sha"] for r in refs.values()]
    texts = {
        r["sha"]: r
        for r in await db.fetchall(
            f"SELECT sha, vtt, cues FROM subtitle_texts WHERE sha IN ({marks})", shas
        )
    }
    burns = {
        (r["lang"], r["sha"]): r
        for r in await db.fetchall(
            "SELECT lang, sha, state, error, file FROM subtitle_burns WHERE media_id = ?",
            (media_id if media_id is not None else -1,),
        )
    }
    out = {}
    for lang, r in refs.items():
        text = texts.get(r["sha"])
        if text is None:
            continue
        made = burns.get((lang, r["sha"])) if r["burn"] else None
        out[lang] = Track(
            media_id, lang, text["vtt"], text["cues"], r["sha"], bool(r["burn"]),
            made["state"] if made else "none", made["error"] if made else "",
            made["file"] if made else "",
        )  # fmt: skip
    return out


async def tracks_of_program(db, program_id: int, video_file: str | None, refs=None):
    """What the TV shows of a program's video: the published tracks (or, for the editors'
    preview, the revision's `refs`), with the burned-in copies of that video file."""
    if not video_file:
        return {}
    media_id = await db.fetchval("SELECT id FROM media WHERE file = ?", (video_file,))
    if refs is None:
        refs = await live_refs(db, program_id)
    return await tracks(db, media_id, refs)


async def published_text_by_prefix(db, prefix: str) -> str | None:
    """The WebVTT text whose hash starts with `prefix` (16 hex digits: the file's name), when a
    published program shows it: a draft's or a withdrawn program's text is not for anyone who
    learns its name (the editors' preview serves those from the revision's own tracks,
    `track_named`)."""
    return await db.fetchval(
        "SELECT t.vtt FROM subtitle_texts t WHERE t.sha >= ? AND t.sha <= ?"
        " AND EXISTS (SELECT 1 FROM program_subtitles s JOIN programs p ON p.id = s.program_id"
        " WHERE s.sha = t.sha AND p.status = 'published') LIMIT 1",
        (prefix, prefix + "f" * 48),
    )


def track_named(tracks_by_lang: dict[str, Track], lang: str, prefix: str) -> Track | None:
    """The track in `lang` whose hash starts with `prefix`, among a revision's tracks."""
    track = tracks_by_lang.get(lang)
    return track if track is not None and track.sha.startswith(prefix) else None


def pick(tracks_by_lang: dict[str, Track], lang: str) -> Track | None:
    """The track a box in `lang` is shown: its own language's, else the Chinese one."""
    return tracks_by_lang.get(lang) or tracks_by_lang.get("zh")


# -- each box's choice and its model's capability -------------------------------------------------


async def box_choice(db, device_id: int) -> tuple[bool, bool]:
    """(subtitles on, the model draws text over a playing video). Subtitles are on until the
    household turns them off; a model without a `subtitle_overlay` entry can."""
    row = await db.fetchone(
        "SELECT COALESCE(p.subtitles, 1) AS subs, COALESCE(m.subtitle_overlay, 1) AS overlay"
        " FROM devices d LEFT JOIN device_models m ON m.model = d.model"
        " LEFT JOIN video_box_prefs p ON p.device_id = d.id WHERE d.id = ?",
        (device_id,),
    )
    if row is None:
        return True, True
    return bool(row["subs"]), bool(row["overlay"])


async def set_box_choice(db: Database, device_id: int, on: bool) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO video_box_prefs (device_id, subtitles, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (device_id) DO UPDATE SET subtitles = excluded.subtitles,"
            " updated_at = excluded.updated_at",
            (device_id, int(on), time.time()),
        )


# -- burned-in copies --------------------------------------------------------------------------

BURN_STYLE = (
    "FontName={font},FontSize=26,PrimaryColour=&H00FFFFFF,OutlineColour=&H00000000,"
    "BorderStyle=1,Outline=2,Shadow=0,MarginV=24"
)
FONTS = {"zh": "Noto Sans CJK SC", "mn": "Noto Sans Mongolian"}


def _filter_path(path: Path) -> str:
    """A path inside FFmpeg's filter syntax (quoted, with its special characters escaped)."""
    return str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


def burn_cmd(mp4: Path, vtt: Path, out: Path, lang: str, threads: int = 1) -> list[str]:
    style = BURN_STYLE.format(font=FONTS.get(lang, FONTS["zh"]))
    return [
        video.FFMPEG, "-hide_banner", "-nostdin", "-y", *video.global_threads(threads),
        "-i", str(mp4),
        "-vf", f"subtitles=filename='{_filter_path(vtt)}':force_style='{style}'",
        "-c:v", "libx264", "-profile:v", "main", "-preset", "veryfast", "-threads", str(threads),
        "-b:v", f"{video.MP4_KBPS}k", "-maxrate", f"{video.MP4_MAX_KBPS}k",
        "-bufsize", f"{video.MP4_MAX_KBPS * 2}k", "-c:a", "copy", "-movflags", "+faststart",
        str(out), "-progress", "pipe:1", "-nostats",
    ]  # fmt: skip


async def claim_burn(db: Database) -> Track | None:
    """The oldest burn asked for whose video is transcoded, marked running."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT b.media_id, b.lang, b.sha, t.vtt, t.cues FROM subtitle_burns b"
            " JOIN subtitle_texts t ON t.sha = b.sha"
            " JOIN video_jobs j ON j.media_id = b.media_id AND j.state = 'done'"
            " WHERE b.state = 'queued' ORDER BY b.updated_at LIMIT 1"
        )
        if row is None:
            return None
        await tx.execute(
            "UPDATE subtitle_burns SET state = 'running'"
            " WHERE media_id = ? AND lang = ? AND sha = ?",
            (row["media_id"], row["lang"], row["sha"]),
        )
    return Track(
        row["media_id"], row["lang"], row["vtt"], row["cues"], row["sha"], True, "running", "", ""
    )


async def requeue_running_burns(db: Database) -> int:
    async with db.transaction() as tx:
        cur = await tx.execute("UPDATE subtitle_burns SET state = 'queued' WHERE state = 'running'")
        return cur.rowcount


def burn(data_dir: Path, outputs_dir: str, track: Track, run: video.Runner) -> str:
    """Burn a track into the video's 720p MP4 (blocking); returns the new file relative to the
    data dir. Raises `video.TranscodeFailed` with FFmpeg's last lines."""
    folder = Path(data_dir) / outputs_dir
    name = f"video-720p-sub-{track.lang}-{track.sha[:12]}.mp4"
    vtt = folder / f".sub-{track.lang}-{track.sha[:12]}.vtt"
    vtt.write_text(track.vtt, encoding="utf-8")
    part = folder / f".{name}.part.mp4"
    try:
        cmd = burn_cmd(folder / "video-720p.mp4", vtt, part, track.lang, run.threads)
        code, lines = run(cmd, None)
        if code != 0 or not part.is_file():
            raise video.TranscodeFailed(lines)
        part.rename(folder / name)
    finally:
        vtt.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
    # Copies with other texts stay: another program or revision of this video may show them.
    return f"{outputs_dir}/{name}"


async def burn_done(db: Database, track: Track, file: str | None, error: str = "") -> None:
    """Record a burn's outcome (a done burn is a "media" change)."""
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE subtitle_burns SET state = ?, file = ?, error = ?, updated_at = ?"
            " WHERE media_id = ? AND lang = ? AND sha = ?",
            ("done" if file else "failed", file or "", error[-2000:], time.time(),
             track.media_id, track.lang, track.sha),
        )  # fmt: skip
        if file:  # rendered video screens may name the file without subtitles
            tx.emit("media", [track.media_id])


async def outputs_dir_of(db, media_id: int) -> str | None:
    row = await db.fetchone(
        "SELECT outputs FROM video_jobs WHERE media_id = ? AND state = 'done'", (media_id,)
    )
    if row is None or not row["outputs"]:
        return None
    return json.loads(row["outputs"])["dir"]


async def run_claimed_burn(db: Database, data_dir: Path, track: Track, runner) -> str:
    """Burn a claimed track in a worker thread and record how it ended ("done" or "failed").
    Cancelled (the server stops): FFmpeg is killed and the burn is queued again at the next
    start."""
    folder = await outputs_dir_of(db, track.media_id)
    if folder is None:  # the video's outputs went away
        await burn_done(db, track, None, "video not transcoded")
        return "failed"
    try:
        file = await asyncio.to_thread(burn, Path(data_dir), folder, track, runner)
    except asyncio.CancelledError:
        runner.kill()
        raise
    except video.TranscodeFailed as exc:
        await burn_done(db, track, None, "\n".join(exc.lines))
        return "failed"
    except OSError as exc:
        await burn_done(db, track, None, f"{type(exc).__name__}: {exc}")
        return "failed"
    await burn_done(db, track, file)
    return "done"


async def run_next_burn(db: Database, data_dir: Path) -> str | None:
    """Claim and run the oldest burn asked for (for the CLI and tests); None when none waits."""
    track = await claim_burn(db)
    if track is None:
        return None
    return await run_claimed_burn(db, data_dir, track, video.Runner())
