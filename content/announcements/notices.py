"""Announcements: short notices targeted at regions, rollout waves or single boxes, shown as a
banner (or, when urgent, an overlay) on the boxes they reach between their start and end times.
Also which boxes have shown each one (impressions) and the figures the admin list needs."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from content.programs import renditions
from content.programs.live import store_media_file
from device_registry.states import ADMITTED_STATES
from storage import Database, Invalid, NotFound

LEVELS = ("info", "important", "urgent")
LEVEL_RANK = {"info": 0, "important": 1, "urgent": 2}
MAX_TEXT = 120
MAX_BOXES = 500  # single-box targets per announcement; more boxes means a region or a wave
START_GRACE_SECONDS = 300  # a start a few minutes ago (form filled slowly) still counts as now
# The picture beside the text: at most 640×360 px, sharp on the 720p canvas and fine at 4K.
IMAGE_SPEC = renditions.RenditionSpec("announcement", 640, 360)
IMAGE_MAGIC = ((b"\xff\xd8\xff", "JPEG", ".jpg"), (b"\x89PNG\r\n\x1a\n", "PNG", ".png"))


@dataclass(frozen=True)
class Announcement:
    id: int
    text: str
    level: str
    starts_at: float
    ends_at: float | None
    regions: frozenset[str]  # region codes targeted directly
    waves: frozenset[int] = frozenset()
    wave_regions: frozenset[str] = frozenset()  # region codes of the targeted waves
    devices: frozenset[int] = frozenset()  # device ids targeted one by one
    image: str | None = None  # rendition path relative to the data dir

    def active(self, now: float) -> bool:
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)

    def reaches(self, chain: Iterable[str], device_id: int | None = None) -> bool:
        """Does it target a box with this region chain (village first) and device id?"""
        chain = tuple(chain)
        return (
            (device_id is not None and device_id in self.devices)
            or not self.regions.isdisjoint(chain)
            or not self.wave_regions.isdisjoint(chain)
        )

    @property
    def rank(self) -> tuple[int, int]:
        """Sort key: the most urgent first, then the newest."""
        return (-LEVEL_RANK.get(self.level, 0), -self.id)

    def as_json(self, overlay: bool = False) -> dict:
        out: dict = {"id": self.id, "text": self.text, "level": self.level}
        if overlay:
            out["overlay"] = True
        if self.image:
            out["image"] = "/media/" + self.image
        return out


@dataclass(frozen=True)
class AnnouncementRecord:
    """One announcement as the admin sees it: targets by name, state and figures."""

    id: int
    text: str
    level: str
    starts_at: float
    ends_at: float | None
    image: str | None
    regions: tuple[str, ...]
    waves: tuple[int, ...]
    serials: tuple[str, ...]
    created_at: float
    created_by: int | None
    withdrawn_at: float | None
    shown: int = 0
    targeted: int = 0
    wave_regions: tuple[str, ...] = ()
    box_villages: tuple[str, ...] = field(default=())

    def status(self, now: float) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        if self.ends_at is not None and self.ends_at <= now:
            return "ended"
        if self.starts_at > now:
            return "scheduled"
        return "active"


@dataclass(frozen=True)
class Targets:
    """Targets after validation: what exists, and where each lies (for region scoping)."""

    regions: tuple[str, ...]
    waves: tuple[int, ...]
    wave_regions: dict[int, tuple[str, ...]]
    boxes: dict[str, tuple[int, str | None]]  # serial → (device id, village code)


# -- validation ------------------------------------------------------------------------------


def _clean_codes(values: Iterable[str]) -> list[str]:
    return sorted({str(v).strip() for v in values if str(v).strip()})


def _check_fields(
    text: str,
    level: str,
    starts_at: float,
    ends_at: float | None,
    now: float,
    *,
    check_start: bool,
) -> str:
    text = " ".join(text.split())
    if not text:
        raise Invalid("announcement_text_empty", "text is empty")
    if len(text) > MAX_TEXT:
        raise Invalid("announcement_text_long", f"{len(text)} > {MAX_TEXT} characters")
    if level not in LEVELS:
        raise Invalid("announcement_level", level)
    if check_start and starts_at < now - START_GRACE_SECONDS:
        raise Invalid("announcement_start_past", "starts in the past")
    if ends_at is not None and ends_at <= starts_at:
        raise Invalid("announcement_window", "ends before it starts")
    if ends_at is not None and ends_at <= now:
        raise Invalid("announcement_end_past", "ends in the past")
    return text


def _marks(n: int) -> str:
    return ", ".join("?" * n)


async def resolve_targets(
    db, regions: Iterable[str] = (), waves: Iterable[int] = (), serials: Iterable[str] = ()
) -> Targets:
    """Check that every region, wave and box exists; `db` may be a Database or a transaction.

    Raises Invalid with codes announcement_no_target, announcement_region_unknown,
    announcement_wave_unknown, announcement_box_unknown (detail: the unknown values) and
    announcement_too_many_boxes.
    """
    region_list = _clean_codes(regions)
    wave_list = sorted({int(w) for w in waves})
    serial_list = _clean_codes(serials)
    if not (region_list or wave_list or serial_list):
        raise Invalid("announcement_no_target", "no region, wave or box")
    if len(serial_list) > MAX_BOXES:
        raise Invalid("announcement_too_many_boxes", str(len(serial_list)))
    if region_list:
        rows = await db.fetchall(
            f"SELECT code FROM regions WHERE code IN ({_marks(len(region_list))})", region_list
        )
        unknown = sorted(set(region_list) - {r[0] for r in rows})
        if unknown:
            raise Invalid("announcement_region_unknown", ", ".join(unknown), values=unknown)
    wave_regions: dict[int, tuple[str, ...]] = {}
    if wave_list:
        rows = await db.fetchall(
            "SELECT w.id, wr.region_code FROM rollout_waves w"
            " LEFT JOIN wave_regions wr ON wr.wave_id = w.id"
            f" WHERE w.id IN ({_marks(len(wave_list))}) ORDER BY w.id, wr.region_code",
            wave_list,
        )
        for r in rows:
            codes = wave_regions.setdefault(int(r[0]), ())
            if r[1] is not None:
                wave_regions[int(r[0])] = (*codes, r[1])
        unknown_waves = sorted(set(wave_list) - set(wave_regions))
        if unknown_waves:
            raise Invalid(
                "announcement_wave_unknown",
                ", ".join(map(str, unknown_waves)),
                values=unknown_waves,
            )
    boxes: dict[str, tuple[int, str | None]] = {}
    if serial_list:
        rows = await db.fetchall(
            "SELECT id, serial, village_code FROM devices"
            f" WHERE serial IN ({_marks(len(serial_list))})",
            serial_list,
        )
        boxes = {r["serial"]: (int(r["id"]), r["village_code"]) for r in rows}
        missing = [s for s in serial_list if s not in boxes]
        if missing:
            raise Invalid("announcement_box_unknown", ", ".join(missing), values=missing)
    return Targets(tuple(region_list), tuple(wave_list), wave_regions, boxes)


async def validate_announcement(
    db,
    text: str,
    *,
    level: str,
    starts_at: float,
    ends_at: float | None,
    regions: Iterable[str] = (),
    waves: Iterable[int] = (),
    serials: Iterable[str] = (),
    now: float | None = None,
    check_start: bool = True,
) -> tuple[str, Targets]:
    """Check a whole announcement without writing; return the cleaned text and the targets.

    The create/update functions check again inside their transaction; this lets the web layer
    check region scope and store an image only for a valid announcement.
    """
    now = time.time() if now is None else now
    text = _check_fields(text, level, starts_at, ends_at, now, check_start=check_start)
    return text, await resolve_targets(db, regions, waves, serials)


# -- image -----------------------------------------------------------------------------------


def prepare_image(raw: bytes, data_dir: Path, max_bytes: int) -> str:
    """Validate an uploaded JPEG/PNG and store it with its rendition; return the rendition path
    relative to `data_dir`. Blocking (decodes the image): call it in a worker thread.

    Raises Invalid: announcement_image_large (more than `max_bytes`), announcement_image_type
    (not a JPEG or PNG by its first bytes or by decoding), announcement_image_bomb (too many px).
    """
    if len(raw) > max_bytes:
        raise Invalid("announcement_image_large", f"{len(raw)} bytes")
    kind = next(
        ((fmt, suffix) for magic, fmt, suffix in IMAGE_MAGIC if raw.startswith(magic)), None
    )
    if kind is None:
        raise Invalid("announcement_image_type", "not a JPEG or PNG")
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".upload-") as tmp:
        src = Path(tmp) / f"upload{kind[1]}"
        src.write_bytes(raw)
        try:
            from PIL import Image

            with Image.open(src) as im:
                if im.format != kind[0]:
                    raise Invalid("announcement_image_type", str(im.format))
            renditions.open_image(src).close()  # full decode, bomb guard
            store_media_file(src, data_dir)
            out = renditions.make_rendition(src, IMAGE_SPEC, data_dir / "renditions")
        except renditions.ImageTooLargeError as exc:
            raise Invalid("announcement_image_bomb", str(exc)) from None
        except (renditions.RenditionError, OSError, SyntaxError, ValueError) as exc:
            raise Invalid("announcement_image_type", str(exc)) from None
    return out.relative_to(data_dir).as_posix()


# -- writing ---------------------------------------------------------------------------------


async def _write_targets(tx, ann_id: int, targets: Targets) -> None:
    for table in ("announcement_regions", "announcement_waves", "announcement_devices"):
        await tx.execute(f"DELETE FROM {table} WHERE announcement_id = ?", (ann_id,))
    await tx.executemany(
        "INSERT INTO announcement_regions (announcement_id, region_code) VALUES (?, ?)",
        [(ann_id, code) for code in targets.regions],
    )
    await tx.executemany(
        "INSERT INTO announcement_waves (announcement_id, wave_id) VALUES (?, ?)",
        [(ann_id, wave) for wave in targets.waves],
    )
    await tx.executemany(
        "INSERT INTO announcement_devices (announcement_id, device_id) VALUES (?, ?)",
        sorted({(ann_id, device_id) for device_id, _village in targets.boxes.values()}),
    )


async def create_announcement(
    db: Database,
    text: str,
    regions: list[str],
    *,
    level: str = "info",
    starts_at: float | None = None,
    ends_at: float | None = None,
    waves: Iterable[int] = (),
    serials: Iterable[str] = (),
    image: str | None = None,
    created_by: int | None = None,
    now: float | None = None,
) -> int:
    """Validate everything, then write the announcement and its targets in one transaction."""
    now = time.time() if now is None else now
    check_start = starts_at is not None
    starts_at = now if starts_at is None else starts_at
    text = _check_fields(text, level, starts_at, ends_at, now, check_start=check_start)
    async with db.transaction() as tx:
        targets = await resolve_targets(tx, regions, waves, serials)
        ann_id = await tx.insert(
            "INSERT INTO announcements (text, level, starts_at, ends_at, created_at, image,"
            " created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (text, level, starts_at, ends_at, now, image, created_by, now),
        )
        await _write_targets(tx, ann_id, targets)
        tx.emit("announcement", [ann_id])  # the boxes' announcements follow once committed
    return ann_id


async def update_announcement(
    db: Database,
    ann_id: int,
    text: str,
    *,
    level: str,
    starts_at: float,
    ends_at: float | None,
    regions: Iterable[str] = (),
    waves: Iterable[int] = (),
    serials: Iterable[str] = (),
    image: str | None = None,
    now: float | None = None,
) -> None:
    """Change an announcement that has not ended; its start may stay in the past."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        row = await _not_ended(tx, ann_id, now)
        text = _check_fields(
            text, level, starts_at, ends_at, now, check_start=starts_at != row["starts_at"]
        )
        targets = await resolve_targets(tx, regions, waves, serials)
        await tx.execute(
            "UPDATE announcements SET text = ?, level = ?, starts_at = ?, ends_at = ?,"
            " image = ?, updated_at = ? WHERE id = ?",
            (text, level, starts_at, ends_at, image, now, ann_id),
        )
        await _write_targets(tx, ann_id, targets)
        tx.emit("announcement", [ann_id])


async def _not_ended(tx, ann_id: int, now: float):
    """The announcement's times, inside the write; NotFound, or Invalid once it has ended."""
    row = await tx.fetchone(
        "SELECT starts_at, ends_at, withdrawn_at FROM announcements WHERE id = ?", (ann_id,)
    )
    if row is None:
        raise NotFound("announcement_not_found", str(ann_id))
    if row["withdrawn_at"] is not None or (row["ends_at"] is not None and row["ends_at"] <= now):
        raise Invalid("announcement_ended", str(ann_id))
    return row


async def withdraw_announcement(db: Database, ann_id: int, now: float | None = None) -> None:
    """End an announcement now (it stays listed, with its figures)."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        await _not_ended(tx, ann_id, now)
        await tx.execute(
            "UPDATE announcements SET ends_at = ?, withdrawn_at = ?, updated_at = ? WHERE id = ?",
            (now, now, now, ann_id),
        )
        tx.emit("announcement", [ann_id])


async def record_impressions(db: Database, rows: Iterable[tuple[int, int, float]]) -> None:
    """Record (announcement id, device id, shown at); the first showing per box is kept."""
    rows = list(rows)
    if not rows:
        return
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO announcement_impressions (announcement_id, device_id, first_shown_at)"
            " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM announcements WHERE id = ?)"
            " ON CONFLICT (announcement_id, device_id) DO NOTHING",
            [(a, d, at, a) for a, d, at in rows],
        )


# -- reading ---------------------------------------------------------------------------------


async def current_announcements(db: Database, now: float | None = None) -> list[Announcement]:
    """Announcements active now or later (so a scheduled one appears on time without a query)."""
    now = time.time() if now is None else now
    live = "(a.ends_at IS NULL OR a.ends_at > ?)"
    rows = await db.fetchall(
        f"SELECT a.id, a.text, a.level, a.starts_at, a.ends_at, a.image FROM announcements a"
        f" WHERE {live} ORDER BY a.id",
        (now,),
    )
    regions: dict[int, set[str]] = {}
    for r in await db.fetchall(
        "SELECT ar.announcement_id, ar.region_code FROM announcement_regions ar"
        f" JOIN announcements a ON a.id = ar.announcement_id WHERE {live}",
        (now,),
    ):
        regions.setdefault(r[0], set()).add(r[1])
    waves: dict[int, set[int]] = {}
    wave_regions: dict[int, set[str]] = {}
    for r in await db.fetchall(
        "SELECT aw.announcement_id, aw.wave_id, wr.region_code FROM announcement_waves aw"
        " JOIN announcements a ON a.id = aw.announcement_id"
        f" LEFT JOIN wave_regions wr ON wr.wave_id = aw.wave_id WHERE {live}",
        (now,),
    ):
        waves.setdefault(r[0], set()).add(int(r[1]))
        if r[2] is not None:
            wave_regions.setdefault(r[0], set()).add(r[2])
    devices: dict[int, set[int]] = {}
    for r in await db.fetchall(
        "SELECT ad.announcement_id, ad.device_id FROM announcement_devices ad"
        f" JOIN announcements a ON a.id = ad.announcement_id WHERE {live}",
        (now,),
    ):
        devices.setdefault(r[0], set()).add(int(r[1]))
    return [
        Announcement(
            r["id"],
            r["text"],
            r["level"],
            r["starts_at"],
            r["ends_at"],
            frozenset(regions.get(r["id"], ())),
            frozenset(waves.get(r["id"], ())),
            frozenset(wave_regions.get(r["id"], ())),
            frozenset(devices.get(r["id"], ())),
            r["image"],
        )
        for r in rows
    ]


def for_regions(
    announcements: list[Announcement], region_codes: list[str], now: float | None = None
) -> list[Announcement]:
    """Active announcements reaching these regions (directly or through a wave)."""
    now = time.time() if now is None else now
    return [a for a in announcements if a.active(now) and a.reaches(region_codes)]


def for_box(
    announcements: Iterable[Announcement],
    chain: Iterable[str],
    device_id: int | None,
    now: float | None = None,
) -> list[Announcement]:
    """Active announcements for one box, the one to show first (most urgent, newest) first."""
    now = time.time() if now is None else now
    chain = tuple(chain)
    found = [a for a in announcements if a.active(now) and a.reaches(chain, device_id)]
    return sorted(found, key=lambda a: a.rank)


_RECORD_COLUMNS = "id, text, level, starts_at, ends_at, image, created_at, created_by, withdrawn_at"


async def _records(db: Database, rows) -> list[AnnouncementRecord]:
    ids = [int(r["id"]) for r in rows]
    if not ids:
        return []
    marks = _marks(len(ids))
    regions: dict[int, list[str]] = {}
    for r in await db.fetchall(
        "SELECT announcement_id, region_code FROM announcement_regions"
        f" WHERE announcement_id IN ({marks}) ORDER BY region_code",
        ids,
    ):
        regions.setdefault(r[0], []).append(r[1])
    waves: dict[int, list[int]] = {}
    wave_regions: dict[int, set[str]] = {}
    for r in await db.fetchall(
        "SELECT aw.announcement_id, aw.wave_id, wr.region_code FROM announcement_waves aw"
        " LEFT JOIN wave_regions wr ON wr.wave_id = aw.wave_id"
        f" WHERE aw.announcement_id IN ({marks}) ORDER BY aw.wave_id",
        ids,
    ):
        if int(r[1]) not in waves.get(r[0], []):
            waves.setdefault(r[0], []).append(int(r[1]))
        if r[2] is not None:
            wave_regions.setdefault(r[0], set()).add(r[2])
    serials: dict[int, list[tuple[str, str | None]]] = {}
    for r in await db.fetchall(
        "SELECT ad.announcement_id, d.serial, d.village_code FROM announcement_devices ad"
        f" JOIN devices d ON d.id = ad.device_id WHERE ad.announcement_id IN ({marks})"
        " ORDER BY d.serial",
        ids,
    ):
        serials.setdefault(r[0], []).append((r[1], r[2]))
    shown = {
        r[0]: r[1]
        for r in await db.fetchall(
            "SELECT announcement_id, COUNT(*) FROM announcement_impressions"
            f" WHERE announcement_id IN ({marks}) GROUP BY announcement_id",
            ids,
        )
    }
    out = []
    for r in rows:
        aid = int(r["id"])
        out.append(
            AnnouncementRecord(
                aid,
                r["text"],
                r["level"],
                r["starts_at"],
                r["ends_at"],
                r["image"],
                tuple(regions.get(aid, ())),
                tuple(waves.get(aid, ())),
                tuple(s for s, _v in serials.get(aid, ())),
                r["created_at"],
                r["created_by"],
                r["withdrawn_at"],
                shown.get(aid, 0),
                await targeted_boxes(db, aid),
                tuple(sorted(wave_regions.get(aid, ()))),
                tuple(v for _s, v in serials.get(aid, ()) if v),
            )
        )
    return out


async def list_announcements(db: Database, limit: int = 200) -> list[AnnouncementRecord]:
    """The newest announcements with their targets, boxes shown and boxes targeted."""
    rows = await db.fetchall(
        f"SELECT {_RECORD_COLUMNS} FROM announcements ORDER BY id DESC LIMIT ?", (limit,)
    )
    return await _records(db, rows)


async def get_announcement(db: Database, ann_id: int) -> AnnouncementRecord:
    rows = await db.fetchall(f"SELECT {_RECORD_COLUMNS} FROM announcements WHERE id = ?", (ann_id,))
    if not rows:
        raise NotFound("announcement_not_found", str(ann_id))
    return (await _records(db, rows))[0]


async def targeted_boxes(db: Database, ann_id: int) -> int:
    """How many registered (admitted) boxes the announcement reaches: in a targeted region or
    below it, in a region of a targeted wave or below it, or targeted one by one."""
    return int(
        await db.fetchval(
            "WITH RECURSIVE covered(code) AS ("
            " SELECT region_code FROM announcement_regions WHERE announcement_id = ?"
            " UNION SELECT wr.region_code FROM wave_regions wr"
            "  JOIN announcement_waves aw ON aw.wave_id = wr.wave_id WHERE aw.announcement_id = ?"
            " UNION SELECT r.code FROM regions r JOIN covered c ON r.parent_code = c.code)"
            " SELECT COUNT(*) FROM devices d"
            f" WHERE d.state IN ({_marks(len(ADMITTED_STATES))}) AND ("
            "  d.village_code IN (SELECT code FROM covered)"
            "  OR d.id IN (SELECT device_id FROM announcement_devices WHERE announcement_id = ?))",
            (ann_id, ann_id, *ADMITTED_STATES, ann_id),
        )
        or 0
    )


async def list_waves(db: Database) -> list[dict]:
    """Rollout waves to choose from: id, name, status and region codes."""
    rows = await db.fetchall(
        "SELECT w.id, w.name, w.status, wr.region_code FROM rollout_waves w"
        " LEFT JOIN wave_regions wr ON wr.wave_id = w.id ORDER BY w.position, w.id"
    )
    waves: dict[int, dict] = {}
    for r in rows:
        wave = waves.setdefault(
            r["id"], {"id": r["id"], "name": r["name"], "status": r["status"], "regions": []}
        )
        if r["region_code"] is not None:
            wave["regions"].append(r["region_code"])
    return list(waves.values())
