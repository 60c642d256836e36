"""Backups of a data dir while the server runs, and restores into an empty one.

A backup is a folder: `legaltv.sqlite3` (SQLite's online backup API: one consistent snapshot,
taken while the server keeps writing), then `media/`, `renditions/`, `titlecards/` and the kept
secrets, and last `manifest.json` with every file's size and SHA-256 and every table's row
count. Files are copied after the database, so every file the snapshot names is there (files are
content-addressed and written before the rows naming them).

A restore checks every file against the manifest and the database with `PRAGMA
integrity_check` in a staging folder inside the target, and moves the files into place only when
everything is right: a bad backup leaves the target as empty as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path, PurePosixPath
from typing import Any

DB_NAME = "legaltv.sqlite3"
MANIFEST = "manifest.json"
FOLDERS = ("media", "renditions", "titlecards")
SECRETS = ("launch_secret", "secret_key")
FORMAT = 1
_STAGING = ".restoring"
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore could not be made; the message says why and what was left."""


def _copy_hashed(source: Path, target: Path) -> dict[str, Any]:
    """Copy a file, returning its size and SHA-256 as read (one pass)."""
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return {"size": size, "sha256": digest.hexdigest()}


def _file_hash(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


def _table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
    ]
    return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}


def _integrity(path: Path) -> dict[str, int]:
    """Check a database file; return its table counts, or raise BackupError."""
    try:
        conn = sqlite3.connect(path)
        try:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupError(f"{path.name}: integrity check failed: {'; '.join(problems[:5])}")
            return _table_counts(conn)
        finally:
            conn.close()
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path.name}: not a sound SQLite database ({exc})") from None


def _snapshot_database(source: Path, target: Path) -> None:
    """SQLite's online backup in one step: a consistent snapshot (WAL lets writers go on)."""
    src = sqlite3.connect(source, timeout=30)
    try:
        src.execute("PRAGMA query_only = ON")
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # pages=-1: the whole database inside one read transaction
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()
    with target.open("rb") as fh:
        os.fsync(fh.fileno())


def _data_files(data_dir: Path):
    """(relative posix path, absolute path) of every file a backup keeps, besides the db."""
    for name in SECRETS:
        path = data_dir / name
        if path.is_file():
            yield name, path
    for folder in FOLDERS:
        top = data_dir / folder
        if not top.is_dir():
            continue
        for root, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith("."):  # files being written
                    continue
                path = Path(root) / name
                yield path.relative_to(data_dir).as_posix(), path


def backup(data_dir: Path, target: Path, *, version: str) -> dict[str, Any]:
    """Back up a data dir (the server may be running) into `target`, a new or empty folder.
    Return the manifest."""
    started = time.time()
    database = data_dir / DB_NAME
    if not database.is_file():
        raise BackupError(f"{database}: no database here")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target}: not an empty folder; back up into a new one")
    if target.resolve().is_relative_to(data_dir.resolve()):
        raise BackupError(f"{target}: inside the data dir; back up elsewhere")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    _snapshot_database(database, target / DB_NAME)
    tables = _integrity(target / DB_NAME)
    files = {DB_NAME: _file_hash(target / DB_NAME)}
    for rel, path in _data_files(data_dir):
        try:
            files[rel] = _copy_hashed(path, target / rel)
        except FileNotFoundError:  # removed by the server since it was listed
            continue
        if rel in SECRETS:
            (target / rel).chmod(0o600)
    manifest = {
        "format": FORMAT,
        "version": version,
        "created_at": started,
        "seconds": round(time.time() - started, 3),
        "tables": tables,
        "files": files,
    }
    partial = target / (MANIFEST + ".part")
    partial.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    partial.replace(target / MANIFEST)  # written last: a backup without it is unfinished
    return manifest


def _read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path}: missing; not a finished backup") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path}: unreadable ({exc})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if manifest.get("format") != FORMAT or not isinstance(files, dict) or DB_NAME not in files:
        raise BackupError(f"{path}: not a LegalTV backup manifest (format {FORMAT})")
    for rel, entry in files.items():
        parts = PurePosixPath(rel).parts
        allowed = rel in (DB_NAME, *SECRETS) or (len(parts) > 1 and parts[0] in FOLDERS)
        if not allowed or ".." in parts or PurePosixPath(rel).is_absolute():
            raise BackupError(f"{path}: unexpected file name {rel!r}")
        if not isinstance(entry, dict) or not {"size", "sha256"} <= entry.keys():
            raise BackupError(f"{path}: no checksum for {rel!r}")
    return manifest


def restore(source: Path, data_dir: Path) -> dict[str, Any]:
    """Restore the backup in `source` into `data_dir`, which must be empty or absent. Nothing is
    left in `data_dir` when any check fails. Return the manifest."""
    manifest = _read_manifest(source)
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError(f"{data_dir}: not empty; restore only into an empty data dir")
    created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / _STAGING
    try:
        staging.mkdir()
        for rel, expected in sorted(manifest["files"].items()):
            src = source / rel
            if not src.is_file():
                raise BackupError(f"{rel}: missing from the backup")
            got = _copy_hashed(src, staging / rel)
            if got != {"size": expected["size"], "sha256": expected["sha256"]}:
                raise BackupError(f"{rel}: checksum mismatch; the backup is damaged")
            if rel in SECRETS:
                (staging / rel).chmod(0o600)
        tables = _integrity(staging / DB_NAME)
        if manifest.get("tables") and tables != manifest["tables"]:
            raise BackupError(f"{DB_NAME}: row counts differ from the manifest")
        for entry in sorted(staging.iterdir()):
            entry.replace(data_dir / entry.name)
        staging.rmdir()
    except BaseException:
        # The data dir was empty: take out all this restore put there.
        for entry in list(data_dir.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                data_dir.rmdir()
        raise
    return manifest
