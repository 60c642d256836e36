"""Subtitles of programs' videos: one WebVTT track per video and language (zh, mn), uploaded as
.vtt/.srt or typed in the editor as a simple cue list, validated and capped here; each box's
on/off choice; and the optional burned-in copy of the 720p MP4 (FFmpeg's `subtitles` filter)
for box models that cannot draw text over a playing video (`device_models.subtitle_overlay`).
docs/content-format.md, "Subtitles". This module never imports aiohttp.

Subtitles belong to the video file (its media row), not to a revision of the program: changing
them changes what boxes show at once, without review (the change is audited by the caller).
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


@dataclass(frozen=True)
class Track:
    media_id: int
    lang: str
    vtt: str
    cues: int
    sha: str  # of the WebVTT text: names its URL and its burned-in MP4
    burn: bool
    burn_state: str
    burn_error: str
    burn_file: str  # relative to the data dir, once burned


_TRACK_SQL = (
    "SELECT media_id, lang, vtt, cues, sha, burn, burn_state, burn_error, burn_file"
    " FROM video_subtitles"
)


def _track(row) -> Track:
    return Track(
        row["media_id"], row["lang"], row["vtt"], row["cues"], row["sha"], bool(row["burn"]),
        row["burn_state"], row["burn_error"], row["burn_file"],
    )  # fmt: skip


async def save(
    db: Database, media_id: int, lang: str, cues: list[Cue], *, burn: bool, actor: str
) -> Track:
    """Store (replace) a video's track in a language; a burned-in copy is queued again when
    asked for (made once the video's own transcode is done)."""
    if lang not in LANGUAGES:
        raise Invalid("subtitle_language", lang)
    text = to_vtt(cues)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    now = time.time()
    async with db.transaction() as tx:
        kind = await tx.fetchone("SELECT kind FROM media WHERE id = ?", (media_id,))
        if kind is None or kind["kind"] != "video":
            raise Invalid("subtitle_no_video", str(media_id))
        before = await tx.fetchone(
            "SELECT sha, burn, burn_state FROM video_subtitles WHERE media_id = ? AND lang = ?",
            (media_id, lang),
        )
        same = before is not None and before["sha"] == sha and bool(before["burn"]) == burn
        state = "none" if not burn else (before["burn_state"] if same else "queued")
        await tx.execute(
            "INSERT INTO video_subtitles (media_id, lang, vtt, cues, sha, burn, burn_state,"
            " burn_error, burn_file, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '', '',"
            " ?, ?) ON CONFLICT (media_id, lang) DO UPDATE SET vtt = excluded.vtt,"
            " cues = excluded.cues, sha = excluded.sha, burn = excluded.burn,"
            " burn_state = excluded.burn_state,"
            " burn_error = CASE WHEN ? THEN video_subtitles.burn_error ELSE '' END,"
            " burn_file = CASE WHEN ? THEN video_subtitles.burn_file ELSE '' END,"
            " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            (media_id, lang, text, len(cues), sha, int(burn), state, actor, now, same, same),
        )
    track = await get(db, media_id, lang)
    assert track is not None
    return track


async def remove(db: Database, media_id: int, lang: str) -> bool:
    async with db.transaction() as tx:
        cur = await tx.execute(
            "DELETE FROM video_subtitles WHERE media_id = ? AND lang = ?", (media_id, lang)
        )
        return bool(cur.rowcount)


async def get(db, media_id: int, lang: str) -> Track | None:
    row = await db.fetchone(f"{_TRACK_SQL} WHERE media_id = ? AND lang = ?", (media_id, lang))
    return _track(row) if row is not None else None


async def tracks(db, media_id: int | None) -> dict[str, Track]:
    if media_id is None:
        return {}
    rows = await db.fetchall(f"{_TRACK_SQL} WHERE media_id = ?", (media_id,))
    return {r["lang"]: _track(r) for r in rows}


async def tracks_of_file(db, original: str | None) -> dict[str, Track]:
    """The tracks of a stored video file (what the TV knows of a program's video)."""
    if not original:
        return {}
    rows = await db.fetchall(
        f"{_TRACK_SQL} WHERE media_id = (SELECT id FROM media WHERE file = ?)", (original,)
    )
    return {r["lang"]: _track(r) for r in rows}


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


def burn_cmd(mp4: Path, vtt: Path, out: Path, lang: str) -> list[str]:
    style = BURN_STYLE.format(font=FONTS.get(lang, FONTS["zh"]))
    return [
        video.FFMPEG, "-hide_banner", "-nostdin", "-y", "-i", str(mp4),
        "-vf", f"subtitles=filename='{_filter_path(vtt)}':force_style='{style}'",
        "-c:v", "libx264", "-profile:v", "main", "-preset", "veryfast",
        "-b:v", f"{video.MP4_KBPS}k", "-maxrate", f"{video.MP4_MAX_KBPS}k",
        "-bufsize", f"{video.MP4_MAX_KBPS * 2}k", "-c:a", "copy", "-movflags", "+faststart",
        str(out), "-progress", "pipe:1", "-nostats",
    ]  # fmt: skip


async def claim_burn(db: Database) -> Track | None:
    """The oldest burn asked for whose video is transcoded, marked running."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT s.media_id, s.lang FROM video_subtitles s"
            " JOIN video_jobs j ON j.media_id = s.media_id AND j.state = 'done'"
            " WHERE s.burn = 1 AND s.burn_state = 'queued' ORDER BY s.updated_at LIMIT 1"
        )
        if row is None:
            return None
        await tx.execute(
            "UPDATE video_subtitles SET burn_state = 'running' WHERE media_id = ? AND lang = ?",
            (row["media_id"], row["lang"]),
        )
    return await get(db, row["media_id"], row["lang"])


async def requeue_running_burns(db: Database) -> int:
    async with db.transaction() as tx:
        cur = await tx.execute(
            "UPDATE video_subtitles SET burn_state = 'queued' WHERE burn_state = 'running'"
        )
        return cur.rowcount


def burn(data_dir: Path, outputs_dir: str, track: Track, run) -> str:
    """Burn a track into the video's 720p MP4 (blocking); returns the new file relative to the
    data dir. Raises `video.TranscodeFailed` with FFmpeg's last lines."""
    folder = Path(data_dir) / outputs_dir
    name = f"video-720p-sub-{track.lang}-{track.sha[:12]}.mp4"
    vtt = folder / f".sub-{track.lang}-{track.sha[:12]}.vtt"
    vtt.write_text(track.vtt, encoding="utf-8")
    part = folder / f".{name}.part.mp4"
    try:
        code, lines = run(burn_cmd(folder / "video-720p.mp4", vtt, part, track.lang), None)
        if code != 0 or not part.is_file():
            raise video.TranscodeFailed(lines)
        part.rename(folder / name)
    finally:
        vtt.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
    for old in folder.glob(f"video-720p-sub-{track.lang}-*.mp4"):  # older versions
        if old.name != name:
            old.unlink(missing_ok=True)
    return f"{outputs_dir}/{name}"


async def burn_done(db: Database, track: Track, file: str | None, error: str = "") -> None:
    """Record a burn's outcome, unless the track changed meanwhile (then it is queued again)."""
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE video_subtitles SET burn_state = ?, burn_file = ?, burn_error = ?"
            " WHERE media_id = ? AND lang = ? AND sha = ? AND burn = 1",
            ("done" if file else "failed", file or "", error[-2000:], track.media_id,
             track.lang, track.sha),
        )  # fmt: skip


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
