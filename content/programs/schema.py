"""Schema migrations of programs: the live tables the TV reads (programs, pages, categories,
media, renditions, covers), media details and box-model capabilities for uploads (image size,
original name, WebP), the editorial workflow (revisions and each program's workflow row) and
video (the transcode queue, viewing positions, HLS-capable models). Within the list: in
application order; the order across domains is tv_server/migrations.py."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "programs_0001_programs",
        """
        CREATE TABLE categories (
            slug TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            position INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE media (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('image','video')),
            mime TEXT NOT NULL,
            file TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE renditions (
            media_id INTEGER REFERENCES media(id),
            spec TEXT NOT NULL,
            file TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            PRIMARY KEY (media_id, spec)
        );
        CREATE TABLE programs (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '',
            category TEXT NOT NULL REFERENCES categories(slug),
            tags TEXT NOT NULL DEFAULT '[]',
            language TEXT NOT NULL DEFAULT 'zh',
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft','in_review','published','unpublished')),
            video_media_id INTEGER REFERENCES media(id),
            poster_media_id INTEGER REFERENCES media(id),
            duration_seconds INTEGER,
            published_at TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            updated_at REAL NOT NULL
        );
        CREATE INDEX programs_category ON programs(category, status);
        CREATE TABLE program_regions (
            program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
            region_code TEXT NOT NULL,
            PRIMARY KEY (program_id, region_code)
        );
        CREATE TABLE program_pages (
            program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            title TEXT NOT NULL,
            markdown TEXT NOT NULL,
            PRIMARY KEY (program_id, number)
        );
        CREATE TABLE program_media (
            program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            media_id INTEGER NOT NULL REFERENCES media(id),
            PRIMARY KEY (program_id, path)
        );
        CREATE TABLE program_covers (
            program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
            profile TEXT NOT NULL,
            file TEXT NOT NULL,
            PRIMARY KEY (program_id, profile)
        )
        """,
        formerly=("content_0001_programs",),
    ),
    # Uploads: image size and original name on media; which box models decode WebP.
    Migration(
        "programs_0002_media_details",
        """
        ALTER TABLE media ADD COLUMN width INTEGER;
        ALTER TABLE media ADD COLUMN height INTEGER;
        ALTER TABLE media ADD COLUMN original_name TEXT NOT NULL DEFAULT ''
        """,
        formerly=("uploads_0001_media_details",),
    ),
    Migration(
        "programs_0003_device_models_webp",
        "ALTER TABLE device_models ADD COLUMN webp INTEGER NOT NULL DEFAULT 0"
        " CHECK (webp IN (0, 1))",
        formerly=("uploads_0002_device_models_webp",),
    ),
    # The editorial workflow: revisions and each program's workflow row.
    Migration(
        "programs_0004_revisions",
        """
        CREATE TABLE program_revisions (
            id INTEGER PRIMARY KEY,
            program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
            content TEXT NOT NULL,
            author TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            published_at REAL,
            published_by TEXT
        );
        CREATE INDEX program_revisions_program ON program_revisions(program_id, id);
        CREATE TABLE program_workflow (
            program_id INTEGER PRIMARY KEY REFERENCES programs(id) ON DELETE CASCADE,
            state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN
                ('draft','in_review','needs_changes','scheduled','current')),
            draft_revision_id INTEGER NOT NULL REFERENCES program_revisions(id),
            live_revision_id INTEGER REFERENCES program_revisions(id),
            go_live_at REAL,
            expire_at REAL,
            submitted_by TEXT NOT NULL DEFAULT '',
            submitted_at REAL,
            reviewed_by TEXT NOT NULL DEFAULT '',
            reviewed_at REAL,
            comment TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL
        );
        CREATE INDEX program_workflow_due ON program_workflow(state, go_live_at)
        """,
        formerly=("content_editorial_0001_revisions",),
    ),
    # Video: the transcode job queue, viewing positions, which box models play HLS.
    Migration(
        "programs_0005_video_jobs",
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
        formerly=("video_0001_jobs",),
    ),
    Migration(
        "programs_0006_video_positions",
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
        formerly=("video_0002_positions",),
    ),
    Migration(
        "programs_0007_device_models_hls",
        "ALTER TABLE device_models ADD COLUMN hls INTEGER NOT NULL DEFAULT 0 CHECK (hls IN (0, 1))",
        formerly=("video_0003_device_models_hls",),
    ),
    # A program's language versions (content.programs.versions): the Mongolian text of the same
    # program — one id for figures, scheduling and review; each version has its own review status
    # (drafted until a reviewer marks it reviewed), its own pages and its title cards.
    Migration(
        "programs_0008_language_versions",
        """
        CREATE TABLE program_versions (
            program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
            lang TEXT NOT NULL CHECK (lang IN ('mn')),
            title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
            summary TEXT NOT NULL DEFAULT '' CHECK (length(summary) <= 1000),
            review TEXT NOT NULL DEFAULT 'drafted' CHECK (review IN ('drafted','reviewed')),
            reviewed_by TEXT,
            updated_at REAL NOT NULL,
            PRIMARY KEY (program_id, lang)
        );
        CREATE TABLE program_version_pages (
            program_id INTEGER NOT NULL,
            lang TEXT NOT NULL,
            number INTEGER NOT NULL CHECK (number BETWEEN 1 AND 100),
            title TEXT NOT NULL CHECK (length(title) <= 200),
            markdown TEXT NOT NULL CHECK (length(markdown) <= 20000),
            PRIMARY KEY (program_id, lang, number),
            FOREIGN KEY (program_id, lang) REFERENCES program_versions(program_id, lang)
                ON DELETE CASCADE
        );
        CREATE TABLE program_version_covers (
            program_id INTEGER NOT NULL,
            lang TEXT NOT NULL,
            profile TEXT NOT NULL,
            file TEXT NOT NULL,
            PRIMARY KEY (program_id, lang, profile),
            FOREIGN KEY (program_id, lang) REFERENCES program_versions(program_id, lang)
                ON DELETE CASCADE
        )
        """,
    ),
    Migration(
        "programs_0009_subtitles",
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
    Migration(
        "programs_0010_subtitles_per_program",
        # Subtitles become part of a program's revisions (reviewed and published like the rest)
        # instead of belonging to the video file: texts are stored once by their hash, the
        # tracks the TV shows are the published revision's (program_subtitles), and a burned-in
        # copy is per video, language and text. Tracks that were live stay live, on every
        # program that showed them.
        """
        CREATE TABLE subtitle_texts (
            sha TEXT PRIMARY KEY,
            vtt TEXT NOT NULL,
            cues INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE program_subtitles (
            program_id INTEGER NOT NULL REFERENCES programs(id),
            lang TEXT NOT NULL CHECK (lang IN ('zh', 'mn')),
            sha TEXT NOT NULL REFERENCES subtitle_texts(sha),
            burn INTEGER NOT NULL DEFAULT 0 CHECK (burn IN (0, 1)),
            PRIMARY KEY (program_id, lang)
        );
        CREATE TABLE subtitle_burns (
            media_id INTEGER NOT NULL REFERENCES media(id),
            lang TEXT NOT NULL CHECK (lang IN ('zh', 'mn')),
            sha TEXT NOT NULL REFERENCES subtitle_texts(sha),
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
            error TEXT NOT NULL DEFAULT '',
            file TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL,
            PRIMARY KEY (media_id, lang, sha)
        );
        INSERT INTO subtitle_texts (sha, vtt, cues, created_at)
            SELECT sha, MAX(vtt), MAX(cues), MIN(updated_at) FROM video_subtitles GROUP BY sha;
        INSERT INTO program_subtitles (program_id, lang, sha, burn)
            SELECT p.id, s.lang, s.sha, s.burn FROM programs p
            JOIN video_subtitles s ON s.media_id = p.video_media_id;
        INSERT INTO subtitle_burns (media_id, lang, sha, state, error, file, updated_at)
            SELECT media_id, lang, sha, burn_state, burn_error, burn_file, updated_at
            FROM video_subtitles WHERE burn = 1 AND burn_state != 'none';
        DROP TABLE video_subtitles
        """,
    ),
]
