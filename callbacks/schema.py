"""Schema migrations of the callback-request domain."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "callbacks_0001_requests",
        """
        CREATE TABLE callback_requests (
            id INTEGER PRIMARY KEY,
            ref TEXT NOT NULL UNIQUE,
            device_id INTEGER NOT NULL REFERENCES devices(id),
            idempotency_key TEXT NOT NULL,
            service TEXT NOT NULL,
            service_point_code TEXT,
            phone_e164 TEXT NOT NULL,
            phone_masked TEXT NOT NULL,
            time_window TEXT NOT NULL CHECK (time_window IN ('morning','afternoon','evening')),
            status TEXT NOT NULL DEFAULT 'submitted' CHECK (status IN
                ('submitted','assigned','in_progress','completed','unreachable','cancelled')),
            household_note TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (device_id, idempotency_key)
        );
        CREATE INDEX callback_requests_device ON callback_requests(device_id, created_at);
        CREATE INDEX callback_requests_status ON callback_requests(status)
        """,
    ),
    Migration(
        "callbacks_0002_drafts",
        """
        CREATE TABLE callback_drafts (
            id TEXT PRIMARY KEY,
            device_id INTEGER NOT NULL REFERENCES devices(id),
            service TEXT NOT NULL,
            service_point_code TEXT,
            phone_e164 TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX callback_drafts_created ON callback_drafts(created_at)
        """,
    ),
]
