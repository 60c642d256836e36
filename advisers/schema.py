"""Schema migrations of the village legal advisers."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "advisers_0001_advisers",
        # One lawyer may serve many villages; a village has at most one adviser (its key).
        """
        CREATE TABLE advisers (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            firm TEXT NOT NULL DEFAULT '',
            office_code TEXT,
            phone TEXT NOT NULL DEFAULT '',
            languages TEXT NOT NULL DEFAULT 'zh',
            services TEXT NOT NULL DEFAULT '',
            sittings TEXT NOT NULL DEFAULT '',
            place TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            photo_media_id INTEGER REFERENCES media(id),
            photo_consent_at REAL,
            photo_consent_by TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE adviser_villages (
            village_code TEXT PRIMARY KEY,
            adviser_id INTEGER NOT NULL REFERENCES advisers(id) ON DELETE CASCADE
        );
        CREATE INDEX adviser_villages_adviser ON adviser_villages(adviser_id)
        """,
    ),
    Migration(
        "advisers_0002_callbacks_for_an_adviser",
        # A callback asked of a village's adviser from the TV card names them.
        """
        ALTER TABLE callback_requests ADD COLUMN adviser_id INTEGER;
        ALTER TABLE callback_drafts ADD COLUMN adviser_id INTEGER;
        CREATE INDEX callback_requests_adviser ON callback_requests(adviser_id, created_at)
        """,
    ),
]
