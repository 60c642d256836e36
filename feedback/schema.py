"""Schema migrations of the households' ratings."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "feedback_0001_ratings",
        # Keyed by (kind, subject_id): 'callback' → callback_requests.id; 'appointment' is
        # reserved for the appointments. Who served (office, adviser), the service and the
        # village are copied when the rating is asked, so figures need no join per kind.
        """
        CREATE TABLE ratings (
            kind TEXT NOT NULL CHECK (kind IN ('callback', 'appointment')),
            subject_id INTEGER NOT NULL,
            ref TEXT NOT NULL DEFAULT '',
            device_id INTEGER NOT NULL REFERENCES devices(id),
            service TEXT NOT NULL DEFAULT '',
            office_code TEXT,
            adviser_id INTEGER,
            region_code TEXT,
            asks INTEGER NOT NULL DEFAULT 0,
            asked_at REAL,
            score INTEGER CHECK (score BETWEEN 1 AND 5),
            reason TEXT NOT NULL DEFAULT '',
            answered_at REAL,
            followed_up_at REAL,
            followed_up_by INTEGER,
            follow_up_note TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (kind, subject_id)
        );
        CREATE INDEX ratings_answered ON ratings(answered_at);
        CREATE INDEX ratings_low ON ratings(score, followed_up_at)
        """,
    ),
]
