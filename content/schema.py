"""Schema migrations of the content domain, in application order."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "content_0001_programs",
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
    ),
    Migration(
        "content_0002_directory",
        """
        CREATE TABLE service_points (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN
                ('hotline','city_centre','banner_centre','township_station','village_room')),
            region_code TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            hours TEXT NOT NULL DEFAULT '',
            phone TEXT NOT NULL DEFAULT '',
            phone_is_sample INTEGER NOT NULL DEFAULT 0,
            services TEXT NOT NULL DEFAULT '[]',
            languages TEXT NOT NULL DEFAULT '["zh"]',
            description TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL
        );
        CREATE INDEX service_points_region ON service_points(region_code)
        """,
    ),
    Migration(
        "content_0003_announcements",
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
    ),
    # A program's language versions (content.program_versions): the Mongolian text of the same
    # program — one id for figures, scheduling and review; each version has its own review status
    # (drafted until a reviewer marks it reviewed), its own pages and its title cards.
    Migration(
        "content_0004_program_language_versions",
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
]
