"""`legaltv backup DIR` (online, while the server runs) and `legaltv restore DIR` (into an empty
data dir, every file checked first). See storage/backup.py and docs/operations.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub, add_common) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    backup = sub.add_parser(
        "backup", help="back up the data dir into a new folder (safe while serving)"
    )
    add_common(backup)
    backup.add_argument("dir", type=Path, help="a new or empty folder for the backup")
    backup.set_defaults(handler=cmd_backup)

    restore = sub.add_parser("restore", help="restore a backup into an empty data dir")
    add_common(restore)
    restore.add_argument("dir", type=Path, help="a folder made by `legaltv backup`")
    restore.set_defaults(handler=cmd_restore)


def _data_dir(args: argparse.Namespace) -> Path:
    from tv_server.cli import _settings

    return _settings(args).data_path


def cmd_backup(args: argparse.Namespace) -> int:
    from storage.backup import BackupError, backup
    from tv_server import __version__
    from tv_server.cli import _settings

    if _settings(args).database_url.startswith(("postgresql://", "postgres://")):
        print(
            "legaltv: the database is PostgreSQL: back it up with pg_dump or pg_basebackup"
            " (docs/scaling.md); `legaltv backup` copies only an SQLite data dir",
            file=sys.stderr,
        )
        return 2

    try:
        manifest = backup(_data_dir(args), args.dir, version=__version__)
    except BackupError as exc:
        print(f"legaltv: backup failed: {exc}", file=sys.stderr)
        return 2
    size = sum(f["size"] for f in manifest["files"].values())
    print(
        f"backed up {len(manifest['files'])} files ({size / 1e6:.1f} MB) to {args.dir}"
        f" in {manifest['seconds']:.1f} s"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from storage.backup import BackupError, restore

    data_dir = _data_dir(args)
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
