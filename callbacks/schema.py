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
    Migration(
        "callbacks_0003_lifecycle",
        """
        ALTER TABLE callback_requests ADD COLUMN region_code TEXT;
        ALTER TABLE callback_requests ADD COLUMN office_code TEXT;
        ALTER TABLE callback_requests ADD COLUMN assignee_id INTEGER;
        ALTER TABLE callback_requests ADD COLUMN due_at REAL;
        ALTER TABLE callback_requests ADD COLUMN first_call_at REAL;
        ALTER TABLE callback_requests ADD COLUMN closed_at REAL;
        ALTER TABLE callback_requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE callback_requests ADD COLUMN call_again_at REAL;
        ALTER TABLE callback_requests ADD COLUMN origin TEXT NOT NULL DEFAULT 'tv';
        ALTER TABLE callback_requests ADD COLUMN phone_erased_at REAL;
        UPDATE callback_requests SET region_code =
            (SELECT d.village_code FROM devices d WHERE d.id = callback_requests.device_id);
        CREATE INDEX callback_requests_queue ON callback_requests(status, office_code, due_at);
        CREATE INDEX callback_requests_region ON callback_requests(region_code, created_at);
        CREATE INDEX callback_requests_assignee ON callback_requests(assignee_id, status);
        CREATE TABLE callback_events (
            id INTEGER PRIMARY KEY,
            request_id INTEGER NOT NULL REFERENCES callback_requests(id),
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            user_id INTEGER,
            kind TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT,
            outcome TEXT,
            reason TEXT NOT NULL DEFAULT '',
            for_household INTEGER NOT NULL DEFAULT 0,
            call_again_at REAL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX callback_events_request ON callback_events(request_id, at)
        """,
    ),
    Migration(
        "callbacks_0004_webhooks",
        """
        CREATE TABLE webhook_endpoints (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            url TEXT NOT NULL,
            secret TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at REAL NOT NULL
        );
        CREATE TABLE webhook_outbox (
            id INTEGER PRIMARY KEY,
            endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
            delivery_id TEXT NOT NULL UNIQUE,
            event_type TEXT NOT NULL,
            payload TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            delivered_at REAL,
            given_up_at REAL,
            last_error TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL
        );
        CREATE INDEX webhook_outbox_due ON webhook_outbox(delivered_at, given_up_at,
            next_attempt_at)
        """,
    ),
    Migration(
        "callbacks_0005_hotline_device",
        # Requests from the 12348 hotline (Open311) have no box: they hang on this one
        # pseudo-device (state 'retired', so it can never enter the TV or count as a box).
        """
        INSERT OR IGNORE INTO devices (serial, household_label, state, created_at)
            VALUES ('HOTLINE-12348', 'hotline 12348', 'retired',
                    CAST(strftime('%s', 'now') AS REAL))
        """,
        postgres=(
            "INSERT INTO devices (serial, household_label, state, created_at)"
            " VALUES ('HOTLINE-12348', 'hotline 12348', 'retired', EXTRACT(EPOCH FROM now()))"
            " ON CONFLICT DO NOTHING",
        ),
    ),
    Migration(
        "callbacks_0006_drafts_by_device",
        # A box keeps at most a few drafts: capping them looks a box's drafts up by device.
        """
        CREATE INDEX callback_drafts_device ON callback_drafts(device_id, created_at)
        """,
    ),
    Migration(
        "callbacks_0007_request_topic",
        # What the matter is about, chosen on the box (optional): '' when skipped.
        """
        ALTER TABLE callback_requests ADD COLUMN topic TEXT NOT NULL DEFAULT '' CHECK (topic IN
            ('', 'land', 'family', 'wages', 'debt', 'other'));
        ALTER TABLE callback_drafts ADD COLUMN topic TEXT NOT NULL DEFAULT '' CHECK (topic IN
            ('', 'land', 'family', 'wages', 'debt', 'other'))
        """,
    ),
    Migration(
        "callbacks_0008_request_language",
        # The household's TV language when it asked (zh, mn): staff see it in the queue.
        """
        ALTER TABLE callback_requests ADD COLUMN language TEXT NOT NULL DEFAULT 'zh'
            CHECK (language IN ('zh', 'mn'))
        """,
    ),
    Migration(
        "callbacks_0009_requests_by_device_and_status",
        # Every home asks whether the box has a completed request to rate and how many are
        # open: by device and status. Without it SQLite chose the status index and scanned every
        # completed request of the fleet (8.7 ms a home with 60,000 of them, instead of 4 µs).
        """
        CREATE INDEX callback_requests_device_status
            ON callback_requests(device_id, status, closed_at)
        """,
    ),
]
