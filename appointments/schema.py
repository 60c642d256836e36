"""Schema migrations of the appointment domain."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "appointments_0001_tables",
        """
        CREATE TABLE appointment_patterns (
            id INTEGER PRIMARY KEY,
            point_code TEXT NOT NULL,
            service TEXT NOT NULL,
            weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
            start TEXT NOT NULL,
            ends TEXT NOT NULL,
            capacity INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 500),
            created_at REAL NOT NULL,
            UNIQUE (point_code, service, weekday, start)
        );
        CREATE TABLE appointment_exceptions (
            id INTEGER PRIMARY KEY,
            point_code TEXT NOT NULL,
            day TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            UNIQUE (point_code, day)
        );
        CREATE TABLE appointment_bring (
            service TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE appointment_drafts (
            id TEXT PRIMARY KEY,
            device_id INTEGER NOT NULL REFERENCES devices(id),
            service TEXT NOT NULL,
            point_code TEXT NOT NULL,
            phone_e164 TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX appointment_drafts_device ON appointment_drafts(device_id, created_at);
        CREATE TABLE appointments (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            device_id INTEGER NOT NULL REFERENCES devices(id),
            idempotency_key TEXT NOT NULL,
            point_code TEXT NOT NULL,
            region_code TEXT,
            service TEXT NOT NULL,
            day TEXT NOT NULL,
            start TEXT NOT NULL,
            ends TEXT NOT NULL,
            starts_at REAL NOT NULL,
            phone_e164 TEXT NOT NULL,
            phone_masked TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'booked' CHECK (status IN
                ('booked','cancelled','attended','no_show','rescheduled')),
            moved_from TEXT NOT NULL DEFAULT '',
            reminded_at REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (device_id, idempotency_key)
        );
        CREATE INDEX appointments_slot ON appointments(point_code, service, day, start, status);
        CREATE INDEX appointments_device ON appointments(device_id, created_at);
        CREATE INDEX appointments_day ON appointments(day, point_code);
        CREATE TABLE appointment_events (
            id INTEGER PRIMARY KEY,
            appointment_id INTEGER NOT NULL REFERENCES appointments(id),
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            user_id INTEGER,
            kind TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX appointment_events_appointment ON appointment_events(appointment_id, at)
        """,
    ),
]
