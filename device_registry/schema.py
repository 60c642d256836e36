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
]
