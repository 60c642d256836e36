"""`legaltv user …`: create admin accounts, set a password, disable an account (audited)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from accounts import audit, users
from device_registry.regions import RegionTree
from tv_server.cli.context import add_common, settings, with_db


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    user = sub.add_parser("user", help="admin accounts")
    user_sub = user.add_subparsers(dest="action", required=True)
    add = user_sub.add_parser("add", help="create an account (password read from stdin or asked)")
    add_common(add)
    add.add_argument("username")
    add.add_argument(
        "--role", required=True, choices=["admin", "editor", "reviewer", "staff", "viewer"]
    )
    add.add_argument("--region", help="limit the account to a banner or township code")
    add.add_argument("--name", default="", help="display name")
    passwd = user_sub.add_parser("passwd", help="set a new password (ends its sessions)")
    add_common(passwd)
    passwd.add_argument("username")
    disable = user_sub.add_parser("disable", help="disable an account (ends its sessions)")
    add_common(disable)
    disable.add_argument("username")
    for parser in (add, passwd, disable):
        parser.set_defaults(handler=cmd_user)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_user(args: argparse.Namespace) -> int:
    chosen = settings(args)
    password = _read_password() if args.action in ("add", "passwd") else ""

    async def work(db):
        if args.action == "add":
            if args.region and (await RegionTree.load(db)).get(args.region) is None:
                raise ValueError(f"unknown region {args.region}")
            user = await users.create_user(
                db,
                args.username,
                password,
                args.role,
                display_name=args.name,
                region_code=args.region,
            )
            detail = {"role": user.role, "region": user.region_code, "via": "cli"}
        else:
            user = await users.find_user(db, args.username)
            if args.action == "passwd":
                await users.set_password(db, user.id, password)
            else:
                await users.set_disabled(db, user.id, True)
            detail = {"via": "cli"}
        await audit.record(
            db,
            user=None,
            action=f"user.{args.action}",
            object_type="user",
            object_id=user.id,
            detail={"username": user.username, **detail},
        )
        return user

    user = asyncio.run(with_db(chosen, work))
    print(f"{args.action}: {user.username} ({user.role})")
    return 0
