"""A synthetic registry over the real regions, for benchmarks: household totals per village,
one household record per box, boxes in every state, recent heartbeats and some usage events.
The boxes are spread over every village of the loaded region tree (the bundled Ordos tree, or a
whole province after `legaltv regions import`). Deterministic for a given seed; written in chunks
in one transaction, by `copy_rows` (COPY on PostgreSQL: 5 million boxes in minutes), on either
backend (SQLite gets a larger page cache meanwhile; PostgreSQL's identity sequences are moved
past the ids written explicitly)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from device_registry import loading
from device_registry.demo_boxes import MODELS
from device_registry.states import DeviceState
from storage import Conflict, Database, Invalid, clock

CHUNK = 50_000
CACHE_KIB = 256 * 1024
DAY = 86400.0

Progress = Callable[[int, int], None]
HOUSEHOLD_COLUMNS = ("id", "village_code", "label", "created_at")
DEVICE_COLUMNS = (
    "id", "serial", "mac", "model", "firmware", "portal_version", "village_code", "household_id",
    "household_label", "state", "installed_at", "activated_at", "first_seen", "last_seen",
    "created_at",
)  # fmt: skip
LINK_COLUMNS = ("household_id", "device_id", "since", "reason")
EVENT_COLUMNS = ("device_id", "kind", "program_id", "page", "at")


def _mac(seed: int, i: int) -> str:
    return f"02:53:{seed % 256:02X}:{(i >> 16) & 255:02X}:{(i >> 8) & 255:02X}:{i & 255:02X}"


async def synthesize(
    db: Database,
    boxes: int,
    seed: int = 1,
    *,
    now: float | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Add `boxes` synthetic boxes (serials `SYN<seed>-0000001`…) spread over every village."""
    if not 1 <= boxes <= 16_000_000:
        raise Invalid("synth_boxes_invalid", str(boxes))
    now = time.time() if now is None else now
    rng = random.Random(seed)
    prefix = f"SYN{seed}-"
    villages = [
        r[0]
        for r in await db.fetchall("SELECT code FROM regions WHERE level = 'village' ORDER BY code")
    ]
    if not villages:
        raise Invalid("village_unknown", "the region tree holds no villages")
    if await db.fetchone("SELECT 1 FROM devices WHERE serial = ?", (prefix + "0000001",)):
        raise Conflict("synth_already_loaded", prefix)
    await loading.upsert_models(db, MODELS)
    models = [m["model"] for m in MODELS if m["vendor"] != "(test)"]

    weights = [rng.uniform(0.3, 3.0) for _ in villages]
    placed = rng.choices(range(len(villages)), weights=weights, k=boxes)
    per_village = [0] * len(villages)
    for v in placed:
        per_village[v] += 1
    totals = [
        (code, max(int(per_village[i] * rng.uniform(1.1, 2.5)), rng.randint(40, 400)), now)
        for i, code in enumerate(villages)
    ]
    first_household = int(await db.fetchval("SELECT COALESCE(MAX(id), 0) FROM households")) + 1
    first_device = int(await db.fetchval("SELECT COALESCE(MAX(id), 0) FROM devices")) + 1
    counters = [0] * len(villages)
    usage_budget = min(boxes // 5, 200_000)
    usage_events = 0
    sqlite = db.backend == "sqlite"
    async with db.transaction() as tx:
        if sqlite:
            await tx.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # fewer spills while indexing
        await tx.executemany(
            "INSERT INTO village_households (village_code, households, updated_at)"
            " VALUES (?, ?, ?) ON CONFLICT (village_code) DO UPDATE SET"
            " households = excluded.households, updated_at = excluded.updated_at",
            totals,
        )
        for start in range(0, boxes, CHUNK):
            households, rows, links, events = [], [], [], []
            for i in range(start, min(start + CHUNK, boxes)):
                v = placed[i]
                code = villages[v]
                counters[v] += 1
                label = f"{code[-6:]}-{counters[v]:04d}"
                household_id = first_household + i
                device_id = first_device + i
                households.append((household_id, code, label, now))
                installed_day = now - rng.uniform(10, 300) * DAY
                roll = rng.random()
                if roll < 0.05:
                    state, seen, activated = DeviceState.PLANNED, None, None
                elif roll < 0.15:
                    state, seen, activated = DeviceState.INSTALLED, None, None
                elif roll < 0.75:
                    seen = now - rng.uniform(0, 7) * DAY
                    state, activated = DeviceState.ACTIVE, installed_day + DAY
                elif roll < 0.97:
                    seen = now - rng.uniform(7.01, 60) * DAY
                    state, activated = DeviceState.INACTIVE, installed_day + DAY
                else:
                    state, seen, activated = (
                        DeviceState.RETIRED,
                        now - rng.uniform(30, 90) * DAY,
                        None,
                    )
                first_seen = activated
                rows.append(
                    (
                        device_id,
                        f"{prefix}{i + 1:07d}",
                        _mac(seed, i + 1),
                        rng.choice(models),
                        "V1.0." + str(rng.randint(1, 9)),
                        "2.0." + str(rng.randint(0, 4)),
                        code,
                        household_id,
                        label,
                        state,
                        clock.date(installed_day),
                        activated,
                        first_seen,
                        seen,
                        now,
                    )
                )
                links.append((household_id, device_id, installed_day, DeviceState.INSTALLED))
                if seen is not None and usage_events < usage_budget and rng.random() < 0.3:
                    events.append((device_id, "launch", None, None, seen))
                    events.append((device_id, "view", rng.randint(1, 20), 1, seen + 30))
                    usage_events += 2
            await tx.copy_rows("households", HOUSEHOLD_COLUMNS, households)
            await tx.copy_rows("devices", DEVICE_COLUMNS, rows)
            await tx.copy_rows("household_boxes", LINK_COLUMNS, links)
            await tx.copy_rows("usage_events", EVENT_COLUMNS, events)
            if progress is not None:
                progress(min(start + CHUNK, boxes), boxes)
    # the ids were given explicitly: the identity sequences move past them (PostgreSQL)
    await db.after_bulk_load(["households", "devices", "usage_events"])
    if sqlite:
        await db.execute("PRAGMA cache_size = -2000")  # SQLite's default again
    return {
        "boxes": boxes,
        "households": boxes,
        "villages": len(villages),
        "usage_events": usage_events,
    }
