"""The service directory: legal service points from the village room up to the city centre."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from storage import Database, NotFound

KIND_ORDER = ("village_room", "township_station", "banner_centre", "city_centre", "hotline")
FIELDS = (
    "code",
    "name",
    "kind",
    "region_code",
    "address",
    "hours",
    "phone",
    "phone_is_sample",
    "services",
    "languages",
    "description",
)


@dataclass(frozen=True)
class ServicePoint:
    id: int
    code: str
    name: str
    kind: str
    region_code: str
    address: str
    hours: str
    phone: str
    phone_is_sample: bool
    services: list[str]
    languages: list[str]
    description: str


def _point(row) -> ServicePoint:
    return ServicePoint(
        row["id"],
        row["code"],
        row["name"],
        row["kind"],
        row["region_code"],
        row["address"],
        row["hours"],
        row["phone"],
        bool(row["phone_is_sample"]),
        json.loads(row["services"]),
        json.loads(row["languages"]),
        row["description"],
    )


_SELECT = "SELECT id, " + ", ".join(FIELDS) + " FROM service_points"


async def upsert_points(db: Database, points: list[dict]) -> int:
    now = time.time()
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO service_points (" + ", ".join(FIELDS) + ", updated_at)"
            " VALUES ("
            + ", ".join("?" * (len(FIELDS) + 1))
            + ") ON CONFLICT (code) DO UPDATE SET "
            + ", ".join(f"{f} = excluded.{f}" for f in FIELDS[1:])
            + ", updated_at = excluded.updated_at",
            [
                (
                    p["code"],
                    p["name"],
                    p["kind"],
                    p["region_code"],
                    p["address"],
                    p["hours"],
                    p["phone"],
                    int(bool(p["phone_is_sample"])),
                    json.dumps(p["services"], ensure_ascii=False),
                    json.dumps(p["languages"], ensure_ascii=False),
                    p.get("description", ""),
                    now,
                )
                for p in points
            ],
        )
    return len(points)


async def points_in_regions(db: Database, region_codes: list[str]) -> list[ServicePoint]:
    """Points sitting in any of these regions, in the order of `region_codes`, then by kind."""
    if not region_codes:
        return []
    marks = ",".join("?" * len(region_codes))
    rows = await db.fetchall(f"{_SELECT} WHERE region_code IN ({marks})", region_codes)
    order = {code: i for i, code in enumerate(region_codes)}
    points = [_point(r) for r in rows]
    points.sort(key=lambda p: (order[p.region_code], KIND_ORDER.index(p.kind), p.code))
    return points


async def get_point(db: Database, code: str) -> ServicePoint:
    row = await db.fetchone(f"{_SELECT} WHERE code = ?", (code,))
    if row is None:
        raise NotFound("service_point_not_found", code)
    return _point(row)


async def count_by_region(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT region_code, COUNT(*) FROM service_points GROUP BY 1")
    return {r[0]: r[1] for r in rows}
