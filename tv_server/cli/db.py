"""`legaltv db …` commands: which database, its migrations, and moving an installation from
SQLite to PostgreSQL (docs/scaling.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from storage import DomainError, database_for
from storage.connect import describe
from storage.copy import copy_database
from storage.database import applied_migrations
from tv_server.cli.context import add_common, settings, with_db
from tv_server.migrations import MIGRATIONS


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    db = sub.add_parser("db", help="the database: status, migrations, copy to PostgreSQL")
    actions = db.add_subparsers(dest="action", required=True)
    status = actions.add_parser("status", help="the database in use and its pending migrations")
    add_common(status)
    status.set_defaults(handler=cmd_status)
    migrate = actions.add_parser("migrate", help="apply the pending migrations")
    add_common(migrate)
    migrate.set_defaults(handler=cmd_migrate)
    copy = actions.add_parser(
        "copy", help="copy every table into an empty database, verified by counts and checksums"
    )
    copy.add_argument("--from", dest="source", required=True, help="sqlite:///FILE or a URL")
    copy.add_argument("--to", dest="target", required=True, help="postgresql://… (empty)")
    copy.set_defaults(handler=cmd_copy)


def cmd_status(args: argparse.Namespace) -> int:
    chosen = settings(args)

    async def work(db):
        return db.backend, await applied_migrations(db)

    backend, done = asyncio.run(with_db(chosen, work, migrate=False))
    pending = [m.name for m in MIGRATIONS if m.name not in done]
    where = describe(chosen.database_url) if chosen.database_url else str(chosen.db_path)
    print(f"database: {backend} {where}")
    print(f"migrations: {len(MIGRATIONS) - len(pending)} applied, {len(pending)} pending")
    for name in pending:
        print(f"  pending: {name}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    async def work(db):
        return await db.migrate(MIGRATIONS)

    applied = asyncio.run(with_db(settings(args), work, migrate=False))
    for name in applied:
        print(f"applied {name}")
    print(f"{len(applied)} migration(s) applied" if applied else "nothing to apply")
    return 0


def cmd_copy(args: argparse.Namespace) -> int:

    for url in (args.source, args.target):
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            print(f"{url}: a database URL is sqlite:///FILE or postgresql://…", file=sys.stderr)
            return 2
    if args.source.startswith("sqlite:///") and not Path(args.source[10:]).is_file():
        print(f"{args.source}: no such SQLite file", file=sys.stderr)
        return 2

    async def work():
        source, target = database_for(args.source, None), database_for(args.target, None)
        await source.open()
        try:
            await target.open()
            try:
                return await copy_database(
                    source, target, MIGRATIONS, progress=lambda line: print("  " + line)
                )
            finally:
                await target.close()
        finally:
            await source.close()

    print(f"copying {describe(args.source)} → {describe(args.target)}")
    try:
        tables = asyncio.run(work())
    except DomainError as exc:
        print(f"nothing was copied: {exc.code}: {exc}", file=sys.stderr)
        return 2
    rows = sum(t.rows for t in tables)
    print(f"verified: {len(tables)} tables, {rows} rows, every count and checksum equal")
    return 0
