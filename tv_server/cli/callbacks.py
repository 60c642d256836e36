"""`legaltv callbacks …` commands: export one household's callback data (subject access),
erase expired phone numbers now, and register webhook endpoints."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from accounts import audit
from appointments import bookings
from callbacks import lifecycle, webhooks
from tv_server import retention
from tv_server.cli.context import add_common, run, settings, with_db


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    callbacks = sub.add_parser("callbacks", help="callback requests")
    actions = callbacks.add_subparsers(dest="action", required=True)

    exp = actions.add_parser(
        "export-household", help="write one household's callback data as JSON into a folder"
    )
    add_common(exp)
    exp.add_argument("serial")
    exp.add_argument("folder", type=Path)
    exp.set_defaults(handler=cmd_export_household)

    erase = actions.add_parser(
        "erase-expired", help="erase numbers of requests closed longer than the retention"
    )
    add_common(erase)
    erase.set_defaults(handler=cmd_erase_expired)

    hook = actions.add_parser("webhook-add", help="register a webhook endpoint (prints its secret)")
    add_common(hook)
    hook.add_argument("name")
    hook.add_argument("url")
    hook.set_defaults(handler=cmd_webhook_add)


def cmd_export_household(args: argparse.Namespace) -> int:
    async def work(db):
        data = await lifecycle.household_export(db, args.serial)
        data["appointments"] = await bookings.household_export(db, args.serial)
        await audit.record(
            db,
            user=None,
            action="callback.export_household",
            object_type="device",
            object_id=args.serial,
        )
        return data

    data = run(args, work)
    args.folder.mkdir(parents=True, exist_ok=True)
    target = args.folder / f"callbacks-{args.serial}.json"
    target.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    print(
        f"{len(data['callback_requests'])} requests and {len(data['appointments'])} appointments"
        f" written to {target}"
    )
    return 0


def cmd_erase_expired(args: argparse.Namespace) -> int:
    chosen = settings(args)

    async def work(db):
        return await retention.apply(db, chosen)

    done = asyncio.run(with_db(chosen, work))
    print(
        f"{done.callbacks} phone numbers erased, {done.webhook_rows} old webhook deliveries"
        f" deleted, {done.appointments} appointment numbers and {done.notes} follow-up notes"
        " erased"
    )
    return 0


def cmd_webhook_add(args: argparse.Namespace) -> int:
    async def work(db):
        return await webhooks.add_endpoint(db, args.name, args.url)

    endpoint = run(args, work)
    print(f"webhook {endpoint.name} → {endpoint.url}")
    print(f"signing secret (shown once): {endpoint.secret}")
    return 0
