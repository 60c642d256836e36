"""Schema for programs' videos: the transcode job queue (one job per uploaded video media, its
outputs recorded when done), where each box stopped watching a video and how far it got (for
the watching figures), and whether a box model plays HLS natively (it then gets the adaptive
ladder, else the progressive MP4); subtitles per video and language, each box's subtitles
choice, and whether a model can draw text over a playing video (else it gets the burned-in MP4)."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "video_0001_jobs",
        """
        CREATE TABLE video_jobs (
            id INTEGER PRIMARY KEY,
            media_id INTEGER NOT NULL UNIQUE REFERENCES media(id),
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
            percent REAL NOT NULL DEFAULT 0,
            eta_seconds INTEGER,
            error TEXT NOT NULL DEFAULT '',
            outputs TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX video_jobs_state ON video_jobs (state, created_at)
        """,
    ),
    Migration(
        "video_0002_positions",
        """
        CREATE TABLE video_positions (
            device_id INTEGER NOT NULL REFERENCES devices(id),
            program_id INTEGER NOT NULL,
            seconds INTEGER NOT NULL,
            furthest INTEGER NOT NULL,
            duration INTEGER NOT NULL,
            started_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (device_id, program_id)
        )
        """,
    ),
    Migration(
        "video_0003_device_models_hls",
        "ALTER TABLE device_models ADD COLUMN hls INTEGER NOT NULL DEFAULT 0 CHECK (hls IN (0, 1))",
    ),
    Migration(
        "video_0004_subtitles",
        """
        CREATE TABLE video_subtitles (
            media_id INTEGER NOT NULL REFERENCES media(id),
            lang TEXT NOT NULL CHECK (lang IN ('zh', 'mn')),
            vtt TEXT NOT NULL,
            cues INTEGER NOT NULL,
            sha TEXT NOT NULL,
            burn INTEGER NOT NULL DEFAULT 0 CHECK (burn IN (0, 1)),
            burn_state TEXT NOT NULL DEFAULT 'none'
                CHECK (burn_state IN ('none', 'queued', 'running', 'done', 'failed')),
            burn_error TEXT NOT NULL DEFAULT '',
            burn_file TEXT NOT NULL DEFAULT '',
            updated_by TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL,
            PRIMARY KEY (media_id, lang)
        );
        CREATE TABLE video_box_prefs (
            device_id INTEGER PRIMARY KEY REFERENCES devices(id),
            subtitles INTEGER NOT NULL CHECK (subtitles IN (0, 1)),
            updated_at REAL NOT NULL
        );
        ALTER TABLE device_models ADD COLUMN subtitle_overlay INTEGER NOT NULL DEFAULT 1
            CHECK (subtitle_overlay IN (0, 1))
        """,
    ),
]
