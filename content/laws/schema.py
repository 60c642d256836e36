"""Schema of the law register: the laws programs cite, the citations of what the TV shows, the
"needs legal re-review" flags and each program's legal review (see content/laws/register.py)."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "laws_0001_register_citations_flags",
        """
        CREATE TABLE laws (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            issuer TEXT NOT NULL,
            promulgated_on TEXT NOT NULL,
            effective_on TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'in_force'
                CHECK (status IN ('in_force','amended','repealed')),
            amended_on TEXT,
            repealed_on TEXT,
            replaced_by TEXT,
            note TEXT NOT NULL DEFAULT '',
            effective_flagged INTEGER NOT NULL DEFAULT 1,
            updated_at REAL NOT NULL,
            updated_by TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE program_citations (
            program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            law_code TEXT NOT NULL,
            articles TEXT NOT NULL DEFAULT '[]',
            page INTEGER,
            PRIMARY KEY (program_id, position)
        );
        CREATE INDEX program_citations_law ON program_citations(law_code);
        CREATE TABLE legal_flags (
            program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
            law_code TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('amended','repealed','effective')),
            on_date TEXT NOT NULL DEFAULT '',
            flagged_at REAL NOT NULL,
            PRIMARY KEY (program_id, law_code)
        );
        CREATE TABLE program_legal (
            program_id INTEGER PRIMARY KEY REFERENCES programs(id) ON DELETE CASCADE,
            reviewed_at REAL,
            reviewed_by TEXT NOT NULL DEFAULT '',
            withdrawn INTEGER NOT NULL DEFAULT 0
        )
        """,
        formerly=("content_laws_0001_register_citations_flags",),
    ),
]
