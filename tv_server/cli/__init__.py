"""The `legaltv` command: serve, and data commands that take --data-dir / LEGALTV_DATA_DIR.

One module per top-level command (`tv_server/cli/<command>.py`, named for it), each with
`register(subparsers)` setting a `handler` default on its parsers; what they share (settings,
the database, CSV imports) is in `context.py`."""

from __future__ import annotations

import argparse
import sys

from storage import DomainError, MigrationError
from tv_server import __version__
from tv_server.cli import (
    apikey,
    backup,
    callbacks,
    content,
    db,
    demo,
    devices,
    directory,
    households,
    laws,
    regions,
    registry,
    restore,
    serve,
    user,
)

COMMANDS = (
    serve, regions, user, content, directory, callbacks, apikey, devices, households, registry,
    backup, restore, laws, demo, db,
)  # fmt: skip
"""The command modules in the order `legaltv --help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="legaltv", description="LegalTV server and tools")
    parser.add_argument("--version", action="version", version=f"legaltv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except DomainError as exc:
        print(f"legaltv: {exc.code}{': ' + exc.detail if exc.detail else ''}", file=sys.stderr)
        return 2
    except MigrationError as exc:
        print(f"legaltv: cannot open the database: {exc}", file=sys.stderr)
        return 3
    except ValueError as exc:
        print(f"legaltv: {exc}", file=sys.stderr)
        return 2
