"""The ordered list of every schema migration, gathered from the domain packages."""

from accounts.schema import MIGRATIONS as ACCOUNTS
from advisers.schema import MIGRATIONS as ADVISERS
from appointments.schema import MIGRATIONS as APPOINTMENTS
from callbacks.schema import MIGRATIONS as CALLBACKS
from content.editorial_schema import MIGRATIONS as EDITORIAL
from content.schema import MIGRATIONS as CONTENT
from content.schema_announcements import MIGRATIONS as ANNOUNCEMENTS
from content.schema_directory import MIGRATIONS as DIRECTORY
from content.schema_laws import MIGRATIONS as LAWS
from content.schema_uploads import MIGRATIONS as UPLOADS
from content.schema_video import MIGRATIONS as VIDEO
from device_registry.schema import MIGRATIONS as REGISTRY
from feedback.schema import MIGRATIONS as FEEDBACK
from storage import Migration

CORE = [
    Migration(
        "core_0001_meta",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)",
    ),
]

POSTGRES = [
    # What SQLite does that PostgreSQL needs taught, for the domain's SQL to mean the same on
    # both (storage/dialect.py has the rest): SUM over a comparison counts the rows where it
    # holds (NULL over no rows, as SQLite). Nothing to do on SQLite.
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

MIGRATIONS = [
    *CORE,
    *REGISTRY,
    *CONTENT,
    *CALLBACKS,
    *ACCOUNTS,
    *ANNOUNCEMENTS,
    *UPLOADS,
    *EDITORIAL,
    *DIRECTORY,
    *LAWS,
    *ADVISERS,
    *FEEDBACK,
    *APPOINTMENTS,
    *VIDEO,
    *POSTGRES,
]
