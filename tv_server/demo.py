"""The bundled demo: the Ordos region tree, sample programs, the service directory (with weekly
appointment slots), 240 demo boxes and a started pilot wave. Loading is idempotent: a second
start changes nothing."""

from __future__ import annotations

import csv
import io
import logging
import time
from importlib import resources
from pathlib import Path

from accounts import users
from advisers import demo as demo_advisers
from appointments import demo_slots
from content.announcements import notices as announcements
from content.directory import points as directory
from content.directory.demo import demo_service_points
from content.laws import register as laws
from content.programs import demo_versions as demo_mn_versions
from content.programs import package_import, workflow
from device_registry import loading, regions
from device_registry.demo_boxes import MODELS, demo_boxes, pilot_village_codes
from storage import Database, meta

log = logging.getLogger(__name__)
PILOT_WAVE = "第一批试点"
DEMO_PASSWORD = "ordos-demo-2026"  # noqa: S105 - the published demo password, demo data only
# (username, display name, role, region scope)
DEMO_USERS = [
    ("admin", "系统管理员", "admin", None),
    ("editor", "市司法局编辑", "editor", None),
    ("reviewer", "市司法局审核", "reviewer", None),
    ("staff", "东胜区工作人员", "staff", "150602"),
    ("dsq_editor", "东胜区编辑", "editor", "150602"),
    ("viewer", "只读账号", "viewer", None),
]


async def ensure_regions(db: Database) -> bool:
    """Load the bundled Ordos division tree when the database has no regions yet."""
    if await regions.count_regions(db):
        return False
    await regions.import_regions(db, regions.bundled_csv_text())
    return True


async def ensure_laws(db: Database) -> bool:
    """Load the bundled law register (the laws the bundled catalog cites, with their real dates)
    when the register is empty; after that it is the admins' to keep."""
    if await laws.count_laws(db):
        return False
    await laws.load_demo_laws(db)
    return True


def catalog_root() -> Path:
    return Path(str(resources.files("content").joinpath("catalog")))


async def _done(db: Database, step: str) -> bool:
    # `demo_loaded` marked the whole demo in release 0.1.0, before parts were marked one by one.
    return await meta.any_set(db, f"demo:{step}", "demo_loaded")


async def _mark(db: Database, step: str) -> None:
    await meta.set_flag(db, f"demo:{step}")


async def load_demo(db: Database, data_dir: Path) -> bool:
    """Load each part of the demo not loaded before; return True when anything was loaded.

    Parts are marked one by one, so a data dir from an older demo gains only what is new.
    """
    started = time.perf_counter()
    await ensure_regions(db)
    rows = list(csv.DictReader(io.StringIO(regions.bundled_csv_text())))

    async def law_register():
        await laws.load_demo_laws(db)  # those missing, for a data dir made before the register

    async def catalog():
        # Through the same write path as editors' package imports; each program's first
        # revision is noted in Chinese.
        await package_import.import_package(
            db, data_dir, catalog_root(), note=workflow.IMPORTED_NOTE, queue_videos=False
        )

    async def service_points():
        await directory.upsert_points(db, demo_service_points(rows))

    async def service_point_names_mn():  # drafts, not reviewed (content/directory/demo.py)
        points = demo_service_points(rows)
        await directory.fill_names_mn(db, {p["code"]: p["name_mn"] for p in points if p["name_mn"]})

    async def boxes():
        await loading.upsert_models(db, MODELS)
        await loading.insert_boxes(db, demo_boxes(rows))
        await loading.ensure_wave(db, PILOT_WAVE, "pilot", pilot_village_codes(rows), "started")

    async def announcement():
        await announcements.create_announcement(
            db, "冬季草场流转合同请签书面合同，有疑问请拨打12348咨询。", ["1506"], level="info"
        )

    async def appointment_slots():
        await demo_slots.load(db, demo_service_points(rows))

    async def mongolian_versions():  # drafts, not reviewed (content/programs/demo_versions.py)
        await demo_mn_versions.load(db, data_dir)

    async def village_advisers():
        await demo_advisers.load(db, data_dir, rows, pilot_village_codes(rows))

    async def accounts():
        for username, name, role, region in DEMO_USERS:
            await users.create_user(
                db, username, DEMO_PASSWORD, role, display_name=name, region_code=region, demo=True
            )

    steps = [
        ("laws", law_register),
        ("catalog", catalog),
        ("directory", service_points),
        ("boxes", boxes),
        ("announcement", announcement),
        ("users", accounts),
        ("advisers", village_advisers),
        ("appointments", appointment_slots),
        ("mn_versions", mongolian_versions),
        # Again for data dirs loaded before the video program got its Mongolian version.
        ("mn_versions_video", mongolian_versions),
        # For data dirs loaded before the demo points had their drafted Mongolian names.
        ("directory_mn", service_point_names_mn),
    ]
    loaded = False
    for name, step in steps:
        if await _done(db, name):
            continue
        await step()
        await _mark(db, name)
        loaded = True
    if loaded:
        log.info("demo loaded in %.1f s", time.perf_counter() - started)
    return loaded


async def apply_demo_mode(db: Database, data_dir: Path, demo: bool) -> None:
    """At start-up: in demo mode load what is missing of the demo and enable the demo accounts
    a start without demo mode disabled; otherwise disable every demo account, since their
    password is published."""
    if demo:
        await load_demo(db, data_dir)
        names = await users.unpark_demo_accounts(db)
        if names:
            log.warning("demo mode: demo accounts enabled again: %s", ", ".join(names))
        return
    names = await users.park_demo_accounts(db)
    if names:
        log.warning(
            "demo mode is off: demo accounts with the published password disabled: %s",
            ", ".join(names),
        )
