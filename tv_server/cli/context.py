"""What every `legaltv` command shares: the common options, settings from them, a migrated
database for the length of one piece of work, CSV file imports, the server's base URL and a
progress bar."""

from __future__ import annotations

import argparse
import asyncio
import sys

from storage import clock, database_for
from tv_server.migrations import MIGRATIONS
from tv_server.settings import Settings, load_settings


def add_common(parser: argparse.ArgumentParser) -> None:
    """The options of every command that touches data: --config and --data-dir."""
    parser.add_argument("--config", help="TOML settings file (or LEGALTV_CONFIG)")
    parser.add_argument("--data-dir", help="data folder (or LEGALTV_DATA_DIR; default ./var)")
    parser.add_argument(
        "--database",
        help="database URL: sqlite:///FILE or postgresql://… (or LEGALTV_DATABASE_URL;"
        " default the data folder's SQLite file)",
    )


def settings(args: argparse.Namespace, **extra) -> Settings:
    """The settings the command's --config and --data-dir select (with `extra` overrides);
    sets the clock's zone."""
    extra.setdefault("database_url", getattr(args, "database", None))
    loaded = load_settings(args.config, data_dir=args.data_dir, **extra)
    clock.set_zone(loaded.timezone)
    return loaded


async def with_db(settings: Settings, work, *, migrate: bool = True):
    """Open (and migrate, unless told not to) the database, return `await work(db)`, close it."""
    db = database_for(
        settings.database_url, settings.db_path, synchronous=settings.sqlite_synchronous
    )
    await db.open()
    try:
        if migrate:
            await db.migrate(MIGRATIONS)
        return await work(db)
    finally:
        await db.close()


def run(args: argparse.Namespace, work):
    """`await work(db)` on the database of the command's settings."""
    return asyncio.run(with_db(settings(args), work))


def base_url(settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def import_csv_file(args: argparse.Namespace, decode, work, error_type) -> int | None:
    """Read `args.file` (Excel encodings), run `work(db, text)`; print every bad line of an
    `error_type` (with `.problems` as (line, message) pairs) and return None on any failure."""
    try:
        text = decode(args.file.read_bytes())
        return run(args, lambda db: work(db, text))
    except error_type as exc:
        print(f"{args.file}: nothing was written; fix these lines:", file=sys.stderr)
        for line, message in exc.problems:
            print(f"  line {line}: {message}", file=sys.stderr)
    except OSError as exc:
        print(f"{args.file}: {exc.strerror}", file=sys.stderr)
    except UnicodeDecodeError:
        print(f"{args.file}: not UTF-8 or GB18030/GBK text", file=sys.stderr)
    return None


class ProgressBar:
    """A one-line progress bar on stderr."""

    def __init__(self, width: int = 30) -> None:
        self.width = width

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        sys.stderr.write(f"\r[{bar}] {share:4.0%} {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
