"""`legaltv backup DIR`: back up the data dir while the server runs (see storage/backup.py and
docs/operations.md; `legaltv restore` is in restore.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from storage.backup import BackupError, backup
from storage.connect import is_postgres
from tv_server import __version__
from tv_server.cli.context import add_common, settings


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    parser = sub.add_parser(
        "backup", help="back up the data dir into a new folder (safe while serving)"
    )
    add_common(parser)
    parser.add_argument("dir", type=Path, help="a new or empty folder for the backup")
    parser.set_defaults(handler=cmd_backup)


def cmd_backup(args: argparse.Namespace) -> int:
    chosen = settings(args)
    if is_postgres(chosen.database_url):
        print(
            "legaltv: the database is PostgreSQL: back it up with pg_dump or pg_basebackup"
            " (docs/scaling.md); `legaltv backup` copies only an SQLite data dir",
            file=sys.stderr,
        )
        return 2
    try:
        manifest = backup(chosen.data_path, args.dir, version=__version__)
    except BackupError as exc:
        print(f"legaltv: backup failed: {exc}", file=sys.stderr)
        return 2
    size = sum(f["size"] for f in manifest["files"].values())
    print(
        f"backed up {len(manifest['files'])} files ({size / 1e6:.1f} MB) to {args.dir}"
        f" in {manifest['seconds']:.1f} s"
    )
    return 0
