"""`legaltv content` commands: import a content package (folder or zip) and export programs as
one (see docs/content-format.md). Problems are printed as file:line lists, exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from accounts import audit
from content.programs.export import export_programs
from content.programs.package import PackageError
from content.programs.package_import import import_package
from tv_server.cli.context import add_common, settings, with_db
from tv_server.demo import ensure_laws, ensure_regions


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    content = sub.add_parser("content", help="content packages (programs and categories)")
    content_sub = content.add_subparsers(dest="action", required=True)

    imp = content_sub.add_parser(
        "import",
        help="import a package folder or .zip: new programs go live, programs that exist get"
        " a new draft revision to review (or go live with --publish)",
    )
    add_common(imp)
    imp.add_argument("path", type=Path, help="package folder or .zip")
    imp.add_argument(
        "--publish", action="store_true", help="publish new revisions of existing programs too"
    )
    imp.set_defaults(handler=cmd_import)

    exp = content_sub.add_parser("export", help="export programs as a package folder")
    add_common(exp)
    exp.add_argument("ids", nargs="*", type=int, metavar="ID", help="program ids")
    exp.add_argument("--all", action="store_true", help="every published program")
    exp.add_argument(
        "--latest",
        action="store_true",
        help="export each program's latest revision instead of what the TV shows",
    )
    exp.add_argument("dir", type=Path, help="output folder (must be empty or not exist)")
    exp.set_defaults(handler=cmd_export)


def _cli_audit():
    async def hook(tx, action: str, program_id: int, detail: dict) -> None:
        await audit.record(tx, user=None, action=action, object_type="program",
                           object_id=program_id, detail={**detail, "via": "cli"})  # fmt: skip

    return hook


def cmd_import(args: argparse.Namespace) -> int:
    chosen = settings(args)

    async def work(db):
        await ensure_regions(db)  # as `serve` does: programs are aimed at regions
        await ensure_laws(db)  # and cite laws of the register
        result = await import_package(
            db, chosen.data_path, args.path, publish_new=True, publish_updates=args.publish,
            author="cli", audit=_cli_audit(), video_max_seconds=chosen.video_max_seconds,
        )  # fmt: skip
        await audit.record(db, user=None, action="content.import", object_type="package",
                           object_id=args.path.name,
                           detail={**result.counts(), "via": "cli"})  # fmt: skip
        return result

    try:
        result = asyncio.run(with_db(chosen, work))
    except PackageError as exc:
        print(f"{args.path}: nothing was imported; fix these problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    for item in result.programs:
        print(f"{item.outcome:9} {item.slug} (program {item.id}, revision {item.revision})")
    counts = ", ".join(f"{n} {k}" for k, n in result.counts().items())
    print(f"imported from {args.path}: {counts}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from accounts import audit

    if bool(args.ids) == bool(args.all):
        print("legaltv: give program ids or --all (not both)", file=sys.stderr)
        return 2
    chosen = settings(args)

    async def work(db):
        slugs = await export_programs(
            db, chosen.data_path, None if args.all else args.ids, args.dir, latest=args.latest
        )
        await audit.record(db, user=None, action="content.export", object_type="package",
                           detail={"programs": slugs, "latest": args.latest,
                                   "via": "cli"})  # fmt: skip
        return slugs

    slugs = asyncio.run(with_db(chosen, work))
    print(f"exported {len(slugs)} programs to {args.dir}")
    return 0
