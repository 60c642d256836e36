"""`legaltv apikey …` commands: create a key for a machine client (printed once), list keys,
disable/enable and revoke them. Every change is audited."""

from __future__ import annotations

import argparse

from accounts import apikeys
from storage import clock
from tv_server.cli.context import add_common, run


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    apikey = sub.add_parser("apikey", help="API keys for machine clients (Open311, operators)")
    actions = apikey.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="create a key (printed once, never stored)")
    add_common(create)
    create.add_argument("name")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        required=True,
        choices=sorted(apikeys.SCOPES),
        help="a scope the key may use (repeat for several)",
    )
    create.set_defaults(handler=cmd_create)

    listing = actions.add_parser("list", help="list keys (never their secret)")
    add_common(listing)
    listing.set_defaults(handler=cmd_list)

    for action, text in (
        ("revoke", "revoke a key for good"),
        ("disable", "disable a key (can be enabled again)"),
        ("enable", "enable a disabled key"),
    ):
        parser = actions.add_parser(action, help=text)
        add_common(parser)
        parser.add_argument("name")
        parser.set_defaults(handler=cmd_change)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return clock.minute(ts)


def cmd_create(args: argparse.Namespace) -> int:
    key, raw = run(args, lambda db: apikeys.create(db, args.name, args.scopes))
    print(f"api key {key.name} ({' '.join(key.scopes)})")
    print(f"key (shown once, store it now): {raw}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    keys = run(args, apikeys.list_keys)
    if not keys:
        print("no api keys")
        return 0
    print(f"{'name':20} {'prefix':10} {'state':9} {'created':17} {'last used':17} scopes")
    for k in keys:
        state = "revoked" if k.revoked_at else "disabled" if k.disabled else "active"
        print(
            f"{k.name:20} {k.prefix:10} {state:9} {_when(k.created_at):17}"
            f" {_when(k.last_used_at):17} {' '.join(k.scopes)}"
        )
    return 0


def cmd_change(args: argparse.Namespace) -> int:
    async def work(db):
        if args.action == "revoke":
            await apikeys.revoke(db, args.name)
        else:
            await apikeys.set_disabled(db, args.name, args.action == "disable")

    run(args, work)
    print(f"{args.action}: {args.name}")
    return 0
