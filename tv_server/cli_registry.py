"""`legaltv devices …`, `legaltv households …` and `legaltv registry synth`: import the
operator's box CSV (with a progress bar), print or revoke a device token, accept/reject pending
boxes, replace a household's box, import household totals, and build a synthetic registry."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path


def register(sub, add_common) -> None:
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

    hh = sub.add_parser("households", help="households per village")
    hh_actions = hh.add_subparsers(dest="action", required=True)
    totals = hh_actions.add_parser("import", help="load a CSV village_code,households")
    add_common(totals)
    totals.add_argument("file", type=Path)
    totals.set_defaults(handler=cmd_households_import)

    reg = sub.add_parser("registry", help="registry tools")
    reg_actions = reg.add_subparsers(dest="action", required=True)
    synth = reg_actions.add_parser("synth", help="fill the data dir with a synthetic registry")
    add_common(synth)
    synth.add_argument("--boxes", type=int, required=True)
    synth.add_argument("--seed", type=int, default=1)
    synth.set_defaults(handler=cmd_synth)


def _audit(db, action: str, object_id: str, detail: dict):
    from accounts import audit

    return audit.record(
        db,
        user=None,
        action=action,
        object_type="device",
        object_id=object_id,
        detail={"via": "cli", **detail},
    )


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


def cmd_import(args: argparse.Namespace) -> int:
    from device_registry.registry_io import decode, import_devices
    from tv_server.cli import _settings, _with_db

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

    report = asyncio.run(_with_db(_settings(args), work))
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
    from device_registry import enrolment, tokens
    from tv_server.cli import _settings, _with_db
    from tv_server.settings import ensure_secrets

    settings = ensure_secrets(_settings(args))
    key = tokens.key_of(settings.device_token_secret)

    async def work(db):
        raw = await enrolment.issue_token(db, args.serial, key=key)
        await _audit(db, "device.token", args.serial, {})
        return raw

    raw = asyncio.run(_with_db(settings, work))
    print(
        f"device token for {args.serial} (shown once; the previous token no longer works):",
        file=sys.stderr,
    )
    print(raw)
    return 0


def cmd_revoke_token(args: argparse.Namespace) -> int:
    from device_registry import enrolment
    from tv_server.cli import _settings, _with_db

    async def work(db):
        had = await enrolment.revoke_token(db, args.serial)
        await _audit(db, "device.token_revoke", args.serial, {"had_token": had})
        return had

    had = asyncio.run(_with_db(_settings(args), work))
    print(
        f"device token of {args.serial} revoked"
        if had
        else f"{args.serial} had no device token (nothing to revoke)"
    )
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from device_registry import admission
    from tv_server.cli import _settings, _with_db

    accept = args.action == "accept"

    async def work(db):
        changed = await admission.decide_pending(db, args.serials, accept)
        await _audit(db, f"device.{args.action}", ",".join(changed)[:200], {"serials": changed})
        return changed

    changed = asyncio.run(_with_db(_settings(args), work))
    print(
        f"{args.action}ed {len(changed)} of {len(set(args.serials))} boxes"
        " (only pending boxes change)"
    )
    return 0


def cmd_replace(args: argparse.Namespace) -> int:
    from device_registry import replacement
    from tv_server.cli import _settings, _with_db

    async def work(db):
        await replacement.replace_box(db, args.old_serial, args.new_serial)
        await _audit(db, "device.replace", args.old_serial, {"new": args.new_serial})

    asyncio.run(_with_db(_settings(args), work))
    print(f"{args.old_serial} retired; {args.new_serial} now serves its household")
    return 0


def cmd_households_import(args: argparse.Namespace) -> int:
    from device_registry import households
    from device_registry.registry_io import decode
    from tv_server.cli import import_csv_file

    count = import_csv_file(args, decode, households.import_totals, households.HouseholdImportError)
    if count is None:
        return 2
    print(f"household totals set for {count} villages")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from device_registry import synth
    from tv_server.cli import _settings, _with_db
    from tv_server.demo import ensure_regions

    if not 1 <= args.boxes <= 5_000_000:
        raise ValueError("--boxes must be between 1 and 5000000")
    started = time.perf_counter()

    async def work(db):
        await ensure_regions(db)
        return await synth.synthesize(db, args.boxes, args.seed, progress=ProgressBar())

    summary = asyncio.run(_with_db(_settings(args), work))
    print(
        f"synthetic registry: {summary['boxes']} boxes, {summary['households']} households"
        f" over {summary['villages']} villages, {summary['usage_events']} usage events"
        f" in {time.perf_counter() - started:.1f} s"
    )
    return 0
