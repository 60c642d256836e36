"""`legaltv households import`: households per village (for coverage) from a CSV file."""

from __future__ import annotations

import argparse
from pathlib import Path

from device_registry import households
from device_registry.registry_io import decode
from tv_server.cli.context import add_common, import_csv_file


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    hh = sub.add_parser("households", help="households per village")
    hh_actions = hh.add_subparsers(dest="action", required=True)
    totals = hh_actions.add_parser("import", help="load a CSV village_code,households")
    add_common(totals)
    totals.add_argument("file", type=Path)
    totals.set_defaults(handler=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    count = import_csv_file(args, decode, households.import_totals, households.HouseholdImportError)
    if count is None:
        return 2
    print(f"household totals set for {count} villages")
    return 0
