"""Schema migrations of announcements, in application order: the announcements and their
regions, then wave and single-box targets, an optional image, editing/withdrawal bookkeeping, and
which boxes have shown which announcement.
"""

from storage import Migration

MIGRATIONS = [
    Migration(
        "announcements_0001_announcements",
        """
        CREATE TABLE announcements (
            id INTEGER PRIMARY KEY,
            text TEXT NOT NULL,
            level TEXT NOT NULL DEFAULT 'info' CHECK (level IN ('info','important','urgent')),
            starts_at REAL NOT NULL,
            ends_at REAL,
            created_at REAL NOT NULL
        );
        CREATE TABLE announcement_regions (
            announcement_id INTEGER NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
            region_code TEXT NOT NULL,
            PRIMARY KEY (announcement_id, region_code)
        )
        """,
        formerly=("content_0003_announcements",),
    ),
    Migration(
        "announcements_0002_targets_impressions",
        """
        ALTER TABLE announcements ADD COLUMN image TEXT;
        ALTER TABLE announcements ADD COLUMN created_by INTEGER;
        ALTER TABLE announcements ADD COLUMN updated_at REAL;
        ALTER TABLE announcements ADD COLUMN withdrawn_at REAL;
        CREATE INDEX announcements_ends ON announcements(ends_at);
        CREATE TABLE announcement_waves (
            announcement_id INTEGER NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
            wave_id INTEGER NOT NULL REFERENCES rollout_waves(id),
            PRIMARY KEY (announcement_id, wave_id)
        );
        CREATE TABLE announcement_devices (
            announcement_id INTEGER NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
            device_id INTEGER NOT NULL REFERENCES devices(id),
            PRIMARY KEY (announcement_id, device_id)
        );
        CREATE TABLE announcement_impressions (
            announcement_id INTEGER NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
            device_id INTEGER NOT NULL REFERENCES devices(id),
            first_shown_at REAL NOT NULL,
            PRIMARY KEY (announcement_id, device_id)
        )
        """,
        formerly=("announcements_0001_targets_impressions",),
    ),
]
