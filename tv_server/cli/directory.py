"""`legaltv directory …` commands: import and export the service directory as CSV, and write
the HSDS 3.0 export to a folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from accounts import audit
from content.directory import csv_io as directory_io
from content.directory import hsds
from content.directory import points as directory
from device_registry.regions import RegionTree
from tv_server.cli.context import add_common, run


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    command = sub.add_parser("directory", help="the service directory")
    actions = command.add_subparsers(dest="action", required=True)

    imp = actions.add_parser(
        "import", help="load service points from a CSV file (all rows or none; see docs)"
    )
    add_common(imp)
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--dry-run", action="store_true", help="check the file and report; write nothing"
    )
    imp.set_defaults(handler=cmd_import)

    exp = actions.add_parser("export", help="write every service point to a CSV file")
    add_common(exp)
    exp.add_argument("file", type=Path)
    exp.set_defaults(handler=cmd_export)

    hsds = actions.add_parser("export-hsds", help="write services.json and organizations.json")
    add_common(hsds)
    hsds.add_argument("folder", type=Path)
    hsds.set_defaults(handler=cmd_export_hsds)


def cmd_import(args: argparse.Namespace) -> int:
    from content.directory import csv_io as directory_io
    from device_registry.regions import RegionTree

    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        print(f"{args.file}: {exc.strerror}", file=sys.stderr)
        return 2

    async def work(db):
        tree = await RegionTree.load(db)
        text = directory_io.decode(raw)

        async def then(tx, done):
            for before, after in done:
                await audit.record(
                    tx,
                    user=None,
                    action="directory.point.import",
                    object_type="service_point",
                    object_id=after.code,
                    detail={
                        "via": "cli",
                        "file": args.file.name,
                        **directory.audit_detail(before, after),
                    },
                )

        return await directory_io.import_csv(
            db, text, tree.by_code, dry_run=args.dry_run, then=then
        )

    try:
        plan, applied = run(args, work)
    except directory.DirectoryInvalid as exc:
        print(f"{args.file}: nothing was written; fix these lines:", file=sys.stderr)
        for p in exc.problems:
            what = directory.PROBLEM_TEXT.get(p.code, p.code)
            print(
                f"  line {p.line or '-'}: {p.field}: {what}" + (f" ({p.value})" if p.value else ""),
                file=sys.stderr,
            )
        return 2
    summary = (
        f"{len(plan.create)} to create, {len(plan.update)} to update,"
        f" {len(plan.unchanged)} unchanged, {len(plan.new_organizations)} new organizations"
    )
    if applied is None:
        print(f"{args.file}: dry run, nothing written: {summary}")
    else:
        print(
            f"imported {args.file}: {len(applied.created)} created, {len(applied.updated)}"
            f" updated, {len(applied.unchanged)} unchanged"
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    async def work(db):
        points = await directory.all_points(db)
        return directory_io.csv_bytes(points), len(points)

    data, rows = run(args, work)
    try:
        args.file.write_bytes(data)
    except OSError as exc:
        print(f"{args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"exported {rows} service points to {args.file}")
    return 0


def cmd_export_hsds(args: argparse.Namespace) -> int:
    async def work(db):
        return await hsds.export_services(db, await RegionTree.load(db))

    services, organizations = run(args, work)
    try:
        counts = hsds.write_export(args.folder, services, organizations)
    except OSError as exc:
        print(f"{args.folder}: {exc.strerror}", file=sys.stderr)
        return 2
    print(
        f"wrote {counts['services']} services and {counts['organizations']} organizations"
        f" (HSDS 3.0) to {args.folder}"
    )
    return 0
