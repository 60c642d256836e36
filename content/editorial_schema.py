"""Schema of the editorial workflow: program revisions (snapshots of the editable content) and
each program's workflow row (the working revision, review state, schedule, live revision)."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "content_editorial_0001_revisions",
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
    ),
]
