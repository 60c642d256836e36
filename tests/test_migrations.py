"""The order migrations apply in is the list in tv_server/migrations.py: no two share a name, and
the released ones keep their places (a database made by a release applied them in this order, a
new one must too), whatever their names (`registry_104` applies after `registry_202`)."""

from __future__ import annotations

import pytest

from storage import Database, Migration
from tv_server import migrations
from tv_server.migrations import MIGRATIONS, ORDER, in_order

# Every migration main had on 2026-12-06 (0ca6878, tests/fixtures/legaltv-0ca6878-demo…), in the
# order databases applied them, under today's names. Append a new migration after these; never
# move, rename or drop one of them.
RELEASED = [
    "core_0001_meta",
    "registry_0001_regions",
    "registry_0002_devices",
    "registry_0003_usage",
    "registry_101_wave_details",
    "registry_102_coverage_snapshots",
    "registry_103_coverage_index",
    "registry_201_box_registry",
    "registry_202_device_keymap_family",
    "registry_104_coverage_latest",
    "registry_203_usage_counts",
    "registry_204_device_token_generation",
    "registry_205_device_token_state",
    "registry_206_tv_language",
    "registry_207_region_names_mn",
    "programs_0001_programs",
    "directory_0001_service_points",
    "announcements_0001_announcements",
    "callbacks_0001_requests",
    "callbacks_0002_drafts",
    "callbacks_0003_lifecycle",
    "callbacks_0004_webhooks",
    "callbacks_0005_hotline_device",
    "callbacks_0006_drafts_by_device",
    "callbacks_0007_request_topic",
    "callbacks_0008_request_language",
    "accounts_0001_users_audit",
    "accounts_0002_api_keys",
    "accounts_0003_admin_sessions",
    "accounts_0004_demo_accounts",
    "announcements_0002_targets_impressions",
    "programs_0002_media_details",
    "programs_0003_device_models_webp",
    "programs_0004_revisions",
    "directory_0002_organizations",
    "laws_0001_register_citations_flags",
    "advisers_0001_advisers",
    "advisers_0002_callbacks_for_an_adviser",
    "feedback_0001_ratings",
    "appointments_0001_tables",
    "programs_0005_video_jobs",
    "programs_0006_video_positions",
    "programs_0007_device_models_hls",
]


def test_released_migrations_keep_their_places():
    names = [m.name for m in MIGRATIONS]
    assert names == ORDER
    assert names[: len(RELEASED)] == RELEASED


def test_no_two_migrations_share_a_name_or_a_former_name():
    every = [name for m in MIGRATIONS for name in (m.name, *m.formerly)]
    assert len(every) == len(set(every))
    # Each domain's schema.py lists its own steps in the same relative order.
    for domain in migrations.DOMAINS:
        positions = [ORDER.index(m.name) for m in domain]
        assert positions == sorted(positions)


def test_the_list_is_checked_when_it_is_built():
    a, b = Migration("a_0001", "SELECT 1"), Migration("b_0001", "SELECT 1")
    assert in_order([[a], [b]], ["b_0001", "a_0001"]) == [b, a]
    with pytest.raises(ValueError, match="two migrations are named a_0001"):
        in_order([[a], [Migration("a_0001", "SELECT 2")]], ["a_0001"])
    with pytest.raises(ValueError, match="two migrations are named a_0001"):
        in_order([[a], [Migration("c_0001", "SELECT 2", formerly=("a_0001",))]], ["a_0001"])
    with pytest.raises(ValueError, match="must name every migration once"):
        in_order([[a], [b]], ["a_0001"])
    with pytest.raises(ValueError, match="must name every migration once"):
        in_order([[a], [b]], ["a_0001", "b_0001", "a_0001"])
    with pytest.raises(ValueError, match="not in the order"):
        in_order([[a, b]], ["b_0001", "a_0001"])


async def test_a_step_is_applied_once_under_its_new_name(tmp_path):
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    try:
        assert await db.migrate([Migration("old_0001_t", "CREATE TABLE t (x)")]) == ["old_0001_t"]
        renamed = [
            Migration("new_0001_t", "CREATE TABLE t (x)", formerly=("old_0001_t",)),
            Migration("new_0002_u", "CREATE TABLE u (x)"),
        ]
        assert await db.migrate(renamed) == ["new_0002_u"]
        rows = await db.fetchall("SELECT name FROM schema_migrations ORDER BY name")
        assert [r[0] for r in rows] == ["new_0001_t", "new_0002_u"]
        with pytest.raises(ValueError, match="duplicate migration names"):
            await db.migrate([*renamed, Migration("old_0001_t", "SELECT 1")])
    finally:
        await db.close()
