"""A box's record as the TV and the device API read it: which box is known, its model's key map
and screen profile, its TV language and page-token generation, and whether the legal section is
on for it (admitted, and its village or an ancestor region in a started rollout wave)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from device_registry.regions import RegionTree
from device_registry.states import ADMITTED_STATES, DeviceState
from storage import Database, Invalid, NotFound

PROFILES = ("720p", "1080p", "2160p")
DEFAULT_FAMILY = "browser"
DEFAULT_PROFILE = "1080p"


@dataclass(frozen=True)
class Box:
    id: int
    serial: str
    state: str
    village_code: str | None
    household_label: str
    keymap_family: str
    screen_profile: str
    webp: bool = False  # the model's browser decodes WebP images
    token_generation: int = 0  # TV page tokens of an older generation are refused
    hls: bool = False  # the model's browser plays HLS natively (else the progressive MP4)
    language: str | None = None  # the TV language chosen for the box or its household
    mongolian_text: bool = True  # the model's browser shapes Mongolian and writes vertically

    @property
    def admitted(self) -> bool:
        return self.state in ADMITTED_STATES


def box_query(serial: str) -> tuple[str, tuple]:
    """The read `get_box` makes (for a caller reading more in the same trip); `box_from` reads
    its row."""
    return (
        "SELECT d.id, d.serial, d.state, d.village_code, d.household_label,"
        " COALESCE(d.keymap_family, m.keymap_family, ?) AS family,"
        " COALESCE(d.screen_profile, m.screen_profile, ?) AS profile,"
        " COALESCE(m.webp, 0) AS webp, d.token_generation, COALESCE(m.hls, 0) AS hls,"
        " COALESCE(d.language, h.language) AS language, COALESCE(m.mongolian_text, 1) AS mong"
        " FROM devices d LEFT JOIN device_models m ON m.model = d.model"
        " LEFT JOIN households h ON h.id = d.household_id WHERE d.serial = ?",
        (DEFAULT_FAMILY, DEFAULT_PROFILE, serial),
    )


def box_from(row) -> Box | None:
    """The box of a `box_query` row (by position, in the query's column order: read for every
    launch, where a look-up by column name cost more than the rest of this)."""
    if row is None:
        return None
    (id_, serial, state, village, household, family, profile, webp, generation, hls, lang, mong) = (
        row
    )
    return Box(
        id_,
        serial,
        state,
        village,
        household,
        family,
        profile,
        bool(webp),
        generation,
        bool(hls),
        lang,
        bool(mong),
    )


async def get_box(db: Database, serial: str) -> Box | None:
    return box_from(await db.fetchone(*box_query(serial)))


TV_LANGUAGES = ("zh", "mn")


async def set_language(db: Database, serial: str, language: str) -> None:
    """Remember the TV language a household chose on its box: on the box and on the box's
    household (so that a replacement box starts in it), in one transaction."""
    if language not in TV_LANGUAGES:
        raise Invalid("language_invalid", language)
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "UPDATE devices SET language = ? WHERE serial = ? RETURNING household_id",
            (language, serial),
        )
        if row is None:
            raise NotFound("device_unknown", serial)
        if row[0] is not None:
            await tx.execute("UPDATE households SET language = ? WHERE id = ?", (language, row[0]))
        tx.emit("box", [serial])  # its cached view and screens follow once committed


async def revoke_tv_sessions(db: Database, serial: str, audit=None) -> int:
    """End every TV session of a box: raise its token generation, so the page tokens it was
    given are refused and only its next signed launch gets in. `audit(tx, generation)` is
    awaited inside the same transaction. Returns the new generation."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "UPDATE devices SET token_generation = token_generation + 1 WHERE serial = ?"
            " RETURNING token_generation",
            (serial,),
        )
        if row is None:
            raise NotFound("device_unknown", serial)
        tx.emit("box", [serial])  # its view and fast-lane answers go once this commits
        if audit is not None:
            await audit(tx, row[0])
    return int(row[0])


async def record_unknown_visit(db: Database, serial: str, now: float | None = None) -> Box:
    """An unknown box that launches becomes a pending device for staff to enrol (idempotent)."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO devices (serial, state, first_seen, last_seen, launches, created_at)"
            f" VALUES (?, '{DeviceState.PENDING}', ?, ?, 1, ?)"
            " ON CONFLICT (serial) DO UPDATE SET last_seen = excluded.last_seen,"
            " launches = devices.launches + 1",
            (serial, now, now, now),
        )
    box = await get_box(db, serial)
    assert box is not None
    return box


async def started_wave_regions(db: Database) -> set[str]:
    rows = await db.fetchall(
        "SELECT DISTINCT wr.region_code FROM wave_regions wr"
        " JOIN rollout_waves w ON w.id = wr.wave_id WHERE w.status = 'started'"
    )
    return {r[0] for r in rows}


def is_entitled(box: Box, tree: RegionTree, live_regions: set[str]) -> bool:
    if not box.admitted or not box.village_code:
        return False
    return any(region.code in live_regions for region in tree.chain(box.village_code))
