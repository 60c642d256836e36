"""Schema migrations of accounts and the audit log."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "accounts_0001_users_audit",
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL DEFAULT '',
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin','editor','reviewer','staff','viewer')),
            region_code TEXT,
            disabled INTEGER NOT NULL DEFAULT 0,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until REAL,
            session_epoch INTEGER NOT NULL DEFAULT 1,
            created_at REAL NOT NULL,
            last_login_at REAL
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            user_id INTEGER,
            username TEXT NOT NULL DEFAULT '',
            action TEXT NOT NULL,
            object_type TEXT NOT NULL DEFAULT '',
            object_id TEXT NOT NULL DEFAULT '',
            outcome TEXT NOT NULL DEFAULT 'ok' CHECK (outcome IN ('ok','denied','failed')),
            detail TEXT NOT NULL DEFAULT '{}',
            ip TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX audit_log_at ON audit_log(at);
        CREATE INDEX audit_log_user ON audit_log(user_id, at);
        CREATE INDEX audit_log_object ON audit_log(object_type, object_id)
        """,
    ),
    Migration(
        "accounts_0002_api_keys",
        """
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL UNIQUE,
            key_hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            revoked_at REAL,
            last_used_at REAL
        )
        """,
    ),
    Migration(
        "accounts_0003_admin_sessions",
        """
        CREATE TABLE admin_sessions (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            created_at REAL NOT NULL
        );
        CREATE INDEX admin_sessions_user ON admin_sessions(user_id)
        """,
    ),
    Migration(
        # demo: 0 a person's account, 1 made by the demo loader with the published password,
        # 2 such an account disabled because the server started without --demo. Data dirs
        # where the demo was loaded before this mark existed get their six demo accounts marked.
        "accounts_0004_demo_accounts",
        """
        ALTER TABLE users ADD COLUMN demo INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1, 2));
        UPDATE users SET demo = 1
         WHERE username IN ('admin', 'editor', 'reviewer', 'staff', 'dsq_editor', 'viewer')
           AND EXISTS (SELECT 1 FROM meta WHERE key IN ('demo_loaded', 'demo:users'))
        """,
    ),
]
