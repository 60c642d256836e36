"""`legaltv demo …`: load the bundled demo, print a signed launch URL for a box."""

from __future__ import annotations

import argparse
import asyncio
import time
from urllib.parse import urlencode

from tv_server.boxauth import launch_signature
from tv_server.cli.context import add_common, base_url, settings, with_db
from tv_server.demo import load_demo
from tv_server.settings import Settings, ensure_secrets


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    demo = sub.add_parser("demo", help="the bundled demo")
    demo_sub = demo.add_subparsers(dest="action", required=True)
    load = demo_sub.add_parser("load", help="load the demo data (idempotent)")
    add_common(load)
    load.set_defaults(handler=cmd_load)
    launch = demo_sub.add_parser("launch-url", help="print a signed launch URL for a box")
    add_common(launch)
    launch.add_argument("serial")
    launch.add_argument(
        "--lang", choices=("zh", "mn"), default="", help="the household's TV language (signed)"
    )
    launch.set_defaults(handler=cmd_launch_url)


def launch_url(settings: Settings, serial: str, now: float | None = None, lang: str = "") -> str:
    ts = int(time.time() if now is None else now)
    sig = launch_signature(settings.launch_secret, serial, ts, lang)
    query = urlencode({"stb": serial, "ts": ts, **({"lang": lang} if lang else {}), "sig": sig})
    return f"{base_url(settings)}/tv/launch?{query}"


def cmd_load(args: argparse.Namespace) -> int:
    loading = settings(args)
    loaded = asyncio.run(with_db(loading, lambda db: load_demo(db, loading.data_path)))
    print("demo loaded" if loaded else "demo already loaded; nothing changed")
    print("its accounts stay enabled only while the server runs with --demo")
    return 0


def cmd_launch_url(args: argparse.Namespace) -> int:
    print(launch_url(ensure_secrets(settings(args)), args.serial, lang=args.lang))
    return 0
