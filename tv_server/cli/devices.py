"""`legaltv devices …`: import the operator's box CSV (with a progress bar), print or revoke a
device token, accept/reject pending boxes, replace a household's box."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from accounts import audit
from device_registry import enrolment, tokens
from device_registry.registry_io import decode, import_devices
from tv_server.cli.context import ProgressBar, add_common, run, settings, with_db
from tv_server.settings import ensure_secrets


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    dev = sub.add_parser("devices", help="the box registry")
    actions = dev.add_subparsers(dest="action", required=True)

    imp = actions.add_parser("import", help="import the operator's box CSV (all or nothing)")
    add_common(imp)
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    imp.set_defaults(handler=cmd_import)

    token = actions.add_parser("token", help="issue and print a new device token for a box")
    add_common(token)
    token.add_argument("serial")
    token.set_defaults(handler=cmd_token)
    revoke = actions.add_parser(
        "revoke-token", help="revoke a box's device token (its beats are refused at once)"
    )
    add_common(revoke)
    revoke.add_argument("serial")
    revoke.set_defaults(handler=cmd_revoke_token)

    for action, text in (("accept", "accept pending boxes"), ("reject", "reject pending boxes")):
        parser = actions.add_parser(action, help=text)
        add_common(parser)
        parser.add_argument("serials", nargs="+")
        parser.set_defaults(handler=cmd_decide)

    replace = actions.add_parser("replace", help="swap a household's old box for a new one")
    add_common(replace)
    replace.add_argument("old_serial")
    replace.add_argument("new_serial")
    replace.set_defaults(handler=cmd_replace)


def _audit(db, action: str, object_id: str, detail: dict):
    return audit.record(
        db,
        user=None,
        action=action,
        object_type="device",
        object_id=object_id,
        detail={"via": "cli", **detail},
    )


def cmd_import(args: argparse.Namespace) -> int:
    try:
        text = decode(args.file.read_bytes())
    except OSError as exc:
        print(f"{args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"{args.file}: not UTF-8 or GB18030/GBK text", file=sys.stderr)
        return 2

    async def work(db):
        report = await import_devices(db, text, dry_run=args.dry_run, progress=ProgressBar())
        if report.written:
            await _audit(
                db,
                "device.import",
                args.file.name,
                {"new": report.new, "accepted": report.accepted},
            )
        return report

    report = run(args, work)
    if report.problems:
        print(f"{args.file}: nothing was written; fix these lines:", file=sys.stderr)
        for line, message in report.problems:
            print(f"  line {line}: {message}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(
            f"dry run: {report.rows} rows are fine ({report.new} new, {report.accepted} pending"
            " boxes accepted); nothing was written"
        )
    else:
        print(
            f"imported {report.new} new boxes and accepted {report.accepted} pending boxes"
            f" from {args.file}"
        )
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    chosen = ensure_secrets(settings(args))
    key = tokens.key_of(chosen.device_token_secret)

    async def work(db):
        raw = await enrolment.issue_token(db, args.serial, key=key)
        await _audit(db, "device.token", args.serial, {})
        return raw

    raw = asyncio.run(with_db(chosen, work))
    print(
        f"device token for {args.serial} (shown once; the previous token no longer works):",
        file=sys.stderr,
    )
    print(raw)
    return 0


def cmd_revoke_token(args: argparse.Namespace) -> int:
    from device_registry import enrolment

    async def work(db):
        had = await enrolment.revoke_token(db, args.serial)
        await _audit(db, "device.token_revoke", args.serial, {"had_token": had})
        return had

    had = run(args, work)
    print(
        f"device token of {args.serial} revoked"
        if had
        else f"{args.serial} had no device token (nothing to revoke)"
    )
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from device_registry import admission

    accept = args.action == "accept"

    async def work(db):
        changed = await admission.decide_pending(db, args.serials, accept)
        await _audit(db, f"device.{args.action}", ",".join(changed)[:200], {"serials": changed})
        return changed

    changed = run(args, work)
    print(
        f"{args.action}ed {len(changed)} of {len(set(args.serials))} boxes"
        " (only pending boxes change)"
    )
    return 0


def cmd_replace(args: argparse.Namespace) -> int:
    from device_registry import replacement

    async def work(db):
        await replacement.replace_box(db, args.old_serial, args.new_serial)
        await _audit(db, "device.replace", args.old_serial, {"new": args.new_serial})

    run(args, work)
    print(f"{args.old_serial} retired; {args.new_serial} now serves its household")
    return 0
