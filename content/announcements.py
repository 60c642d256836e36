"""Announcements: short notices targeted at regions, shown as a banner on the boxes there."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage import Database, Invalid

LEVELS = ("info", "important", "urgent")


@dataclass(frozen=True)
class Announcement:
    id: int
    text: str
    level: str
    starts_at: float
    ends_at: float | None
    regions: frozenset[str]

    def active(self, now: float) -> bool:
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)

    def as_json(self) -> dict:
        return {"id": self.id, "text": self.text, "level": self.level}


async def create_announcement(
    db: Database,
    text: str,
    regions: list[str],
    *,
    level: str = "info",
    starts_at: float | None = None,
    ends_at: float | None = None,
) -> int:
    text = text.strip()
    if not text or len(text) > 120:
        raise Invalid("announcement_text", "text must have 1 to 120 characters")
    if level not in LEVELS:
        raise Invalid("announcement_level", level)
    if not regions:
        raise Invalid("announcement_regions", "at least one region")
    now = time.time()
    starts_at = now if starts_at is None else starts_at
    if ends_at is not None and ends_at <= starts_at:
        raise Invalid("announcement_window", "ends before it starts")
    async with db.transaction() as tx:
        ann_id = await tx.insert(
            "INSERT INTO announcements (text, level, starts_at, ends_at, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (text, level, starts_at, ends_at, now),
        )
        await tx.executemany(
            "INSERT INTO announcement_regions (announcement_id, region_code) VALUES (?, ?)",
            [(ann_id, code) for code in sorted(set(regions))],
        )
    return ann_id


async def current_announcements(db: Database, now: float | None = None) -> list[Announcement]:
    """Announcements active now or later (so a scheduled one appears on time without a query)."""
    now = time.time() if now is None else now
    rows = await db.fetchall(
        "SELECT a.id, a.text, a.level, a.starts_at, a.ends_at, ar.region_code"
        " FROM announcements a JOIN announcement_regions ar ON ar.announcement_id = a.id"
        " WHERE a.ends_at IS NULL OR a.ends_at > ? ORDER BY a.id",
        (now,),
    )
    grouped: dict[int, dict] = {}
    for r in rows:
        entry = grouped.setdefault(r["id"], {**dict(r), "regions": set()})
        entry["regions"].add(r["region_code"])
    return [
        Announcement(
            g["id"], g["text"], g["level"], g["starts_at"], g["ends_at"], frozenset(g["regions"])
        )
        for g in grouped.values()
    ]


def for_regions(
    announcements: list[Announcement], region_codes: list[str], now: float | None = None
) -> list[Announcement]:
    now = time.time() if now is None else now
    codes = set(region_codes)
    return [a for a in announcements if a.active(now) and a.regions & codes]
