"""`legaltv regions …`: load the region tree and its Mongolian names from CSV files."""

from __future__ import annotations

import argparse
from pathlib import Path

from device_registry.region_names import RegionNamesError, import_names
from device_registry.regions import RegionImportError, decode_csv_bytes, import_regions
from tv_server.cli.context import add_common, import_csv_file


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    regions = sub.add_parser("regions", help="the region tree")
    regions_sub = regions.add_subparsers(dest="action", required=True)
    imp = regions_sub.add_parser("import", help="load a region CSV (code,name,level,parent_code)")
    add_common(imp)
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=cmd_import)
    names = regions_sub.add_parser(
        "import-mn", help="load Mongolian region names (code,name_mn,review: drafted|reviewed)"
    )
    add_common(names)
    names.add_argument("file", type=Path)
    names.set_defaults(handler=cmd_import_mn)


def cmd_import(args: argparse.Namespace) -> int:
    count = import_csv_file(args, decode_csv_bytes, import_regions, RegionImportError)
    if count is None:
        return 2
    print(f"imported {count} regions from {args.file}")
    return 0


def cmd_import_mn(args: argparse.Namespace) -> int:
    count = import_csv_file(args, decode_csv_bytes, import_names, RegionNamesError)
    if count is None:
        return 2
    print(f"imported {count} Mongolian region names from {args.file}")
    return 0
