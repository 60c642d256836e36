"""`legaltv restore DIR`: restore a backup into an empty data dir, every file checked first
(see storage/backup.py and docs/operations.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from storage.backup import BackupError, restore
from storage.connect import is_postgres
from tv_server.cli.context import add_common, settings


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    parser = sub.add_parser("restore", help="restore a backup into an empty data dir")
    add_common(parser)
    parser.add_argument("dir", type=Path, help="a folder made by `legaltv backup`")
    parser.set_defaults(handler=cmd_restore)


def cmd_restore(args: argparse.Namespace) -> int:
    chosen = settings(args)
    if is_postgres(chosen.database_url):
        print(
            "legaltv: the database is PostgreSQL: restore it with pg_restore or from a base"
            " backup (docs/scaling.md); `legaltv restore` restores only an SQLite data dir",
            file=sys.stderr,
        )
        return 2
    data_dir = chosen.data_path
    try:
        manifest = restore(args.dir, data_dir)
    except BackupError as exc:
        print(f"legaltv: restore failed, nothing restored: {exc}", file=sys.stderr)
        return 2
    print(
        f"restored {len(manifest['files'])} files (backup of version {manifest['version']})"
        f" into {data_dir}; start the server on it"
    )
    return 0
