"""Every schema migration, in the order they apply: `ORDER` below is that order, the only one.

Each domain keeps its migrations in its own `schema.py` (its list in the domain's own order);
names carry the domain's prefix but do not sort in application order (`registry_104` applies
after `registry_202`). A new migration goes to the end of `ORDER`: released databases applied
the ones above it in exactly this order (tests/test_migrations.py keeps it so).
A migration renamed keeps its old names in `formerly`: `Database.migrate` renames them in the
bookkeeping before it looks for pending migrations, so nothing applies twice.
"""

from accounts.schema import MIGRATIONS as ACCOUNTS
from advisers.schema import MIGRATIONS as ADVISERS
from appointments.schema import MIGRATIONS as APPOINTMENTS
from callbacks.schema import MIGRATIONS as CALLBACKS
from content.announcements.schema import MIGRATIONS as ANNOUNCEMENTS
from content.directory.schema import MIGRATIONS as DIRECTORY
from content.laws.schema import MIGRATIONS as LAWS
from content.programs.schema import MIGRATIONS as PROGRAMS
from device_registry.schema import MIGRATIONS as REGISTRY
from feedback.schema import MIGRATIONS as FEEDBACK
from storage import Migration

CORE = [
    Migration(
        "core_0001_meta",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)",
    ),
    # The hits of the rate limits that hold across nodes (storage/limits.py): used on
    # PostgreSQL, where several processes share one database; SQLite has one process.
    Migration(
        "core_0002_rate_limit_hits",
        """
        CREATE TABLE rate_limit_hits (
            name TEXT NOT NULL, bucket TEXT NOT NULL, at REAL NOT NULL
        );
        CREATE INDEX rate_limit_hits_bucket ON rate_limit_hits (bucket, at);
        CREATE INDEX rate_limit_hits_name ON rate_limit_hits (name, at);
        """,
    ),
    # SQLite's counterpart of NOTIFY (storage/changelog.py): one row per write transaction that
    # emitted changes, read by the running server every change_poll_seconds. Unused (empty) on
    # PostgreSQL, whose nodes NOTIFY.
    Migration(
        "core_0003_change_log",
        """
        CREATE TABLE change_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            origin TEXT NOT NULL,
            at REAL NOT NULL,
            changes TEXT NOT NULL
        );
        CREATE INDEX change_log_at ON change_log (at);
        """,
    ),
]

ORDER = [
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
    "programs_0008_language_versions",
    "directory_0003_point_names_mn",
    "postgres_0001_compat",
    "programs_0009_subtitles",
    "registry_208_coverage_latest_watching",
    "programs_0010_subtitles_per_program",
    "core_0002_rate_limit_hits",
    "core_0003_change_log",
    "registry_209_heartbeat_columns_unindexed",
    "callbacks_0009_requests_by_device_and_status",
]


# What SQLite does that PostgreSQL needs taught, for the domain's SQL to mean the same on both
# (storage/dialect.py has the rest): SUM over a comparison counts the rows where it holds (NULL
# over no rows, as SQLite). Nothing to do on SQLite.
POSTGRES = [
    Migration(
        "postgres_0001_compat",
        "",
        postgres=(
            "CREATE FUNCTION legaltv_sum_bool(bigint, boolean) RETURNS bigint"
            " LANGUAGE sql IMMUTABLE AS"
            " 'SELECT CASE WHEN $2 IS NULL THEN $1 ELSE COALESCE($1, 0) + $2::int END'",
            "CREATE AGGREGATE sum(boolean) (SFUNC = legaltv_sum_bool, STYPE = bigint)",
        ),
    ),
]

DOMAINS = [
    CORE, REGISTRY, PROGRAMS, DIRECTORY, ANNOUNCEMENTS, CALLBACKS, ACCOUNTS, LAWS, ADVISERS,
    FEEDBACK, APPOINTMENTS, POSTGRES,
]  # fmt: skip


def in_order(domains: list[list[Migration]], order: list[str]) -> list[Migration]:
    """The domains' migrations in `order`; ValueError when two share a name (or a former name),
    when `order` misses one or names one no domain has, or contradicts a domain's own order."""
    by_name: dict[str, Migration] = {}
    for domain in domains:
        for step in domain:
            for name in (step.name, *step.formerly):
                if name in by_name:
                    raise ValueError(f"two migrations are named {name}")
                by_name[name] = step
    by_name = {name: step for name, step in by_name.items() if name == step.name}
    if sorted(by_name) != sorted(order):
        raise ValueError(
            "tv_server.migrations.ORDER must name every migration once: "
            f"{sorted(set(by_name) ^ set(order))}"
        )
    for domain in domains:  # a domain's own list is in application order too
        names = [step.name for step in domain]
        if names != sorted(names, key=order.index):
            raise ValueError(f"{names} are not in the order of tv_server.migrations.ORDER")
    return [by_name[name] for name in order]


MIGRATIONS = in_order(DOMAINS, ORDER)
