"""`legaltv laws …` commands: the law register as CSV (export, and an import that writes every
row or none, flagging programs as the admin does; see docs/editors.md, section 10)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from accounts import audit
from content.laws import register as laws
from tv_server.cli.context import add_common, run


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    command = sub.add_parser("laws", help="the law register programs cite")
    actions = command.add_subparsers(dest="action", required=True)
    exp = actions.add_parser("export", help="write the register to a CSV file (UTF-8 with BOM)")
    add_common(exp)
    exp.add_argument("file", type=Path)
    exp.set_defaults(handler=cmd_export)
    imp = actions.add_parser("import", help="add or change laws from a CSV file (all rows or none)")
    add_common(imp)
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=cmd_import)


def cmd_export(args: argparse.Namespace) -> int:
    async def work(db):
        data = laws.export_csv(await laws.list_laws(db))
        await audit.record(db, user=None, action="law.export", object_type="law",
                           detail={"via": "cli", "bytes": len(data)})  # fmt: skip
        return data

    data = run(args, work)
    args.file.write_bytes(data)
    print(f"wrote {args.file}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        print(f"{args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    if len(raw) > laws.CSV_MAX_BYTES:
        print(f"{args.file}: larger than {laws.CSV_MAX_BYTES} bytes", file=sys.stderr)
        return 2

    async def hook(tx, action, object_id, detail):
        await audit.record(tx, user=None, action=action, object_type="law", object_id=object_id,
                           detail={"via": "cli", "file": args.file.name, **detail})  # fmt: skip

    async def work(db):
        return await laws.import_csv(db, raw, actor="cli", audit=hook)

    try:
        result = run(args, work)
    except laws.LawInvalid as exc:
        print(f"{args.file}: nothing was written; fix these lines:", file=sys.stderr)
        for p in exc.problems:
            value = f" ({p.value})" if p.value else ""
            print(f"  line {p.line or '-'}: {p.field}: {p.code}{value}", file=sys.stderr)
        return 2
    print(
        f"laws: {len(result.created)} added, {len(result.updated)} changed,"
        f" {len(result.unchanged)} unchanged; {len(result.flagged)} programs flagged"
        " for legal re-review"
    )
    return 0
