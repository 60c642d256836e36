"""Schema migrations of the device registry, in application order."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "registry_0001_regions",
        """
        CREATE TABLE regions (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('province','city','county','township','village')),
            parent_code TEXT REFERENCES regions(code),
            position INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX regions_parent ON regions(parent_code, position)
        """,
    ),
    Migration(
        "registry_0002_devices",
        """
        CREATE TABLE device_models (
            model TEXT PRIMARY KEY,
            vendor TEXT NOT NULL DEFAULT '',
            keymap_family TEXT NOT NULL DEFAULT 'browser',
            screen_profile TEXT NOT NULL DEFAULT '1080p'
                CHECK (screen_profile IN ('720p','1080p','2160p'))
        );
        CREATE TABLE devices (
            id INTEGER PRIMARY KEY,
            serial TEXT NOT NULL UNIQUE,
            mac TEXT UNIQUE,
            model TEXT REFERENCES device_models(model),
            village_code TEXT REFERENCES regions(code),
            household_label TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
                ('pending','rejected','planned','installed','activated','active','inactive',
                 'retired')),
            installed_at TEXT,
            first_seen REAL,
            last_seen REAL,
            launches INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE INDEX devices_village ON devices(village_code);
        CREATE TABLE rollout_waves (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('pilot','expansion')),
            status TEXT NOT NULL DEFAULT 'planned'
                CHECK (status IN ('planned','started','paused','completed')),
            created_at REAL NOT NULL
        );
        CREATE TABLE wave_regions (
            wave_id INTEGER NOT NULL REFERENCES rollout_waves(id) ON DELETE CASCADE,
            region_code TEXT NOT NULL REFERENCES regions(code),
            PRIMARY KEY (wave_id, region_code)
        )
        """,
    ),
    Migration(
        "registry_0003_usage",
        """
        CREATE TABLE usage_events (
            id INTEGER PRIMARY KEY,
            device_id INTEGER NOT NULL REFERENCES devices(id),
            kind TEXT NOT NULL CHECK (kind IN ('launch','view')),
            program_id INTEGER,
            page INTEGER,
            at REAL NOT NULL
        );
        CREATE INDEX usage_events_device ON usage_events(device_id, at);
        CREATE INDEX usage_events_at ON usage_events(at);
        CREATE TABLE device_progress (
            device_id INTEGER NOT NULL REFERENCES devices(id),
            program_id INTEGER NOT NULL,
            page INTEGER NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (device_id, program_id)
        )
        """,
    ),
    # Rollout waves and coverage (device_registry.waves, device_registry.coverage).
    Migration(
        "registry_101_wave_details",
        """
        ALTER TABLE rollout_waves ADD COLUMN planned_start TEXT NOT NULL DEFAULT '';
        ALTER TABLE rollout_waves ADD COLUMN planned_end TEXT NOT NULL DEFAULT '';
        ALTER TABLE rollout_waves ADD COLUMN target_boxes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE rollout_waves ADD COLUMN ramp_percent INTEGER NOT NULL DEFAULT 100;
        ALTER TABLE rollout_waves ADD COLUMN notes TEXT NOT NULL DEFAULT '';
        ALTER TABLE rollout_waves ADD COLUMN updated_at REAL
        """,
    ),
    Migration(
        "registry_102_coverage_snapshots",
        """
        CREATE TABLE coverage_snapshots (
            day TEXT NOT NULL,
            region_code TEXT NOT NULL,
            households INTEGER NOT NULL,
            installed INTEGER NOT NULL,
            active7 INTEGER NOT NULL,
            active30 INTEGER NOT NULL,
            covered INTEGER NOT NULL,
            taken_at REAL NOT NULL,
            PRIMARY KEY (region_code, day)
        )
        """,
    ),
    Migration(
        "registry_103_coverage_index",
        # Covers the coverage aggregation: one index-only pass per village and household.
        "CREATE INDEX devices_coverage ON devices(village_code, household_label, state, last_seen)",
    ),
    Migration(
        "registry_201_box_registry",
        """
        CREATE TABLE households (
            id INTEGER PRIMARY KEY,
            village_code TEXT NOT NULL REFERENCES regions(code),
            label TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            contact_masked TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            UNIQUE (village_code, label)
        );
        ALTER TABLE devices ADD COLUMN firmware TEXT NOT NULL DEFAULT '';
        ALTER TABLE devices ADD COLUMN portal_version TEXT NOT NULL DEFAULT '';
        ALTER TABLE devices ADD COLUMN uptime INTEGER;
        ALTER TABLE devices ADD COLUMN activated_at REAL;
        ALTER TABLE devices ADD COLUMN retired_at REAL;
        ALTER TABLE devices ADD COLUMN screen_profile TEXT
            CHECK (screen_profile IS NULL OR screen_profile IN ('720p','1080p','2160p'));
        ALTER TABLE devices ADD COLUMN household_id INTEGER REFERENCES households(id);
        ALTER TABLE devices ADD COLUMN replaced_by INTEGER REFERENCES devices(id);
        CREATE INDEX devices_household ON devices(household_id);
        CREATE INDEX devices_state_seen ON devices(state, last_seen);
        CREATE TABLE village_households (
            village_code TEXT PRIMARY KEY REFERENCES regions(code),
            households INTEGER NOT NULL CHECK (households >= 0),
            updated_at REAL NOT NULL
        );
        CREATE TABLE household_boxes (
            household_id INTEGER NOT NULL REFERENCES households(id),
            device_id INTEGER NOT NULL REFERENCES devices(id),
            since REAL NOT NULL,
            until REAL,
            reason TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (household_id, device_id)
        );
        CREATE INDEX household_boxes_device ON household_boxes(device_id);
        CREATE TABLE device_attributes (
            device_id INTEGER NOT NULL REFERENCES devices(id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (device_id, key)
        );
        CREATE TABLE device_tokens (
            device_id INTEGER PRIMARY KEY REFERENCES devices(id),
            token_hash TEXT NOT NULL,
            issued_at REAL NOT NULL
        );
        CREATE TABLE auto_accept_villages (
            village_code TEXT PRIMARY KEY REFERENCES regions(code),
            created_at REAL NOT NULL
        )
        """,
    ),
    Migration(
        "registry_202_device_keymap_family",
        # A box's own key-map family, set by staff when it differs from its model's (NULL: the
        # model's), like devices.screen_profile.
        "ALTER TABLE devices ADD COLUMN keymap_family TEXT",
    ),
    Migration(
        "registry_104_coverage_latest",
        # The latest default-period coverage figures per village (device_registry.coverage),
        # written after each computation and read back at start, so that the first request after
        # a restart answers at once.
        """
        CREATE TABLE coverage_latest (
            village_code TEXT PRIMARY KEY,
            households INTEGER NOT NULL,
            equipped INTEGER NOT NULL,
            installed INTEGER NOT NULL,
            active7 INTEGER NOT NULL,
            active30 INTEGER NOT NULL,
            covered INTEGER NOT NULL,
            launches INTEGER NOT NULL,
            views INTEGER NOT NULL,
            callbacks INTEGER NOT NULL,
            short_villages INTEGER NOT NULL,
            short_households INTEGER NOT NULL,
            since REAL NOT NULL,
            until REAL NOT NULL,
            computed_at REAL NOT NULL
        )
        """,
    ),
    # Views of one page by one box within a minute are one row with a count (device_registry.usage).
    Migration(
        "registry_203_usage_counts",
        "ALTER TABLE usage_events ADD COLUMN n INTEGER NOT NULL DEFAULT 1",
    ),
    # Staff revoke a box's TV sessions by raising its generation: page tokens of an older one are
    # refused (tv_server.boxauth).
    Migration(
        "registry_204_device_token_generation",
        "ALTER TABLE devices ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0",
    ),
    # Signed device tokens (device_registry.tokens): per box, the token generation now valid and
    # why it may not beat; `seq` orders changes so the server re-reads only what changed. The
    # triggers revoke on every path: a deleted token (revoke, retirement, replacement) moves the
    # generation on; leaving the admitted states moves it on and sets the refusal.
    Migration(
        "registry_205_device_token_state",
        """
        CREATE TABLE device_token_state (
            device_id INTEGER PRIMARY KEY,
            generation INTEGER NOT NULL,
            refusal TEXT,
            seq INTEGER NOT NULL
        );
        CREATE INDEX device_token_state_seq ON device_token_state(seq);
        CREATE TRIGGER device_token_deleted AFTER DELETE ON device_tokens
        BEGIN
            UPDATE device_token_state SET generation = generation + 1,
                seq = (SELECT MAX(seq) + 1 FROM device_token_state)
            WHERE device_id = OLD.device_id;
        END;
        CREATE TRIGGER device_token_state_changed AFTER UPDATE OF state ON devices
        WHEN NEW.state IS NOT OLD.state
            AND (NEW.state IN ('retired', 'rejected', 'pending')
                 OR OLD.state IN ('retired', 'rejected', 'pending'))
        BEGIN
            UPDATE device_token_state SET
                generation = generation
                    + (NEW.state IN ('retired', 'rejected', 'pending') AND refusal IS NULL),
                refusal = CASE WHEN NEW.state IN ('retired', 'rejected', 'pending')
                    THEN NEW.state END,
                seq = (SELECT MAX(seq) + 1 FROM device_token_state)
            WHERE device_id = NEW.id;
        END;
        CREATE TRIGGER device_token_device_deleted AFTER DELETE ON devices
        BEGIN
            UPDATE device_token_state SET refusal = 'unknown',
                seq = (SELECT MAX(seq) + 1 FROM device_token_state)
            WHERE device_id = OLD.id;
        END
        """,
        postgres=(
            "CREATE TABLE device_token_state (device_id BIGINT PRIMARY KEY,"
            " generation BIGINT NOT NULL, refusal TEXT, seq BIGINT NOT NULL)",
            "CREATE INDEX device_token_state_seq ON device_token_state(seq)",
            """CREATE FUNCTION device_token_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE device_token_state SET generation = generation + 1,
                    seq = (SELECT MAX(seq) + 1 FROM device_token_state)
                WHERE device_id = OLD.device_id;
                RETURN NULL;
            END $$""",
            "CREATE TRIGGER device_token_deleted AFTER DELETE ON device_tokens"
            " FOR EACH ROW EXECUTE FUNCTION device_token_deleted()",
            """CREATE FUNCTION device_token_state_changed() RETURNS trigger LANGUAGE plpgsql
            AS $$
            BEGIN
                UPDATE device_token_state SET
                    generation = generation + CASE WHEN NEW.state IN
                        ('retired', 'rejected', 'pending') AND refusal IS NULL THEN 1 ELSE 0 END,
                    refusal = CASE WHEN NEW.state IN ('retired', 'rejected', 'pending')
                        THEN NEW.state END,
                    seq = (SELECT MAX(seq) + 1 FROM device_token_state)
                WHERE device_id = NEW.id;
                RETURN NULL;
            END $$""",
            "CREATE TRIGGER device_token_state_changed AFTER UPDATE OF state ON devices"
            " FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state"
            " AND (NEW.state IN ('retired', 'rejected', 'pending')"
            " OR OLD.state IN ('retired', 'rejected', 'pending')))"
            " EXECUTE FUNCTION device_token_state_changed()",
            """CREATE FUNCTION device_token_device_deleted() RETURNS trigger LANGUAGE plpgsql
            AS $$
            BEGIN
                UPDATE device_token_state SET refusal = 'unknown',
                    seq = (SELECT MAX(seq) + 1 FROM device_token_state)
                WHERE device_id = OLD.id;
                RETURN NULL;
            END $$""",
            "CREATE TRIGGER device_token_device_deleted AFTER DELETE ON devices"
            " FOR EACH ROW EXECUTE FUNCTION device_token_device_deleted()",
        ),
    ),
    # The TV language a household chose (zh, mn): on the box, and on its household so that a
    # replacement box starts in it. NULL: not chosen (the region's default applies). A model's
    # browser shapes Mongolian and lays text out vertically (else Mongolian text is sent as
    # pre-rendered images).
    Migration(
        "registry_206_tv_language",
        """
        ALTER TABLE devices ADD COLUMN language TEXT
            CHECK (language IS NULL OR language IN ('zh','mn'));
        ALTER TABLE households ADD COLUMN language TEXT
            CHECK (language IS NULL OR language IN ('zh','mn'));
        ALTER TABLE device_models ADD COLUMN mongolian_text INTEGER NOT NULL DEFAULT 1
        """,
    ),
    # Mongolian names of regions (device_registry.region_names), with their review status.
    Migration(
        "registry_207_region_names_mn",
        """
        CREATE TABLE region_names_mn (
            code TEXT PRIMARY KEY REFERENCES regions(code),
            name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
            review TEXT NOT NULL DEFAULT 'drafted' CHECK (review IN ('drafted','reviewed')),
            updated_at REAL NOT NULL
        )
        """,
    ),
    Migration(
        "registry_208_coverage_latest_watching",
        # The programs' video starts and completions per village, kept with the other coverage
        # figures: the coverage API serves them from memory, also right after a restart.
        "ALTER TABLE coverage_latest ADD COLUMN video_starts INTEGER NOT NULL DEFAULT 0;"
        " ALTER TABLE coverage_latest ADD COLUMN completions INTEGER NOT NULL DEFAULT 0",
    ),
    # PostgreSQL only: a heartbeat rewrites `last_seen`, and an indexed column changed makes every
    # beat a non-HOT update (a new index entry in every index of the table, and their WAL). With
    # `last_seen` in no index, and room left on each page (fillfactor), a beat is a HOT update in
    # place. The coverage aggregation (in the background) keeps its index without `last_seen`; the
    # hourly inactive sweep reads the active boxes by state. On SQLite the beats are written in
    # the process and the covering index keeps coverage index-only: unchanged there.
    Migration(
        "registry_209_heartbeat_columns_unindexed",
        "",
        postgres=(
            "DROP INDEX devices_coverage",
            "CREATE INDEX devices_coverage ON devices(village_code, household_label, state)",
            "DROP INDEX devices_state_seen",
            "CREATE INDEX devices_state ON devices(state)",
            "ALTER TABLE devices SET (fillfactor = 85)",
        ),
    ),
]
