"""The `legaltv` command: serve, and data commands that take --data-dir / LEGALTV_DATA_DIR."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from storage import DomainError, MigrationError, clock, database_for
from tv_server import __version__
from tv_server.settings import Settings, ensure_secrets, load_settings


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML settings file (or LEGALTV_CONFIG)")
    parser.add_argument("--data-dir", help="data folder (or LEGALTV_DATA_DIR; default ./var)")
    parser.add_argument(
        "--database",
        help="database URL: sqlite:///FILE or postgresql://… (or LEGALTV_DATABASE_URL;"
        " default the data folder's SQLite file)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="legaltv", description="LegalTV server and tools")
    parser.add_argument("--version", action="version", version=f"legaltv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server")
    _add_common(serve)
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080)")
    serve.add_argument(
        "--demo",
        action="store_true",
        default=None,
        help="load the bundled demo on first start, enable its accounts and print demo URLs",
    )
    serve.add_argument(
        "--allow-unsigned",
        action="store_true",
        default=None,
        help="accept /tv/?stb=SERIAL without a signature (demo and trials only)",
    )

    regions = sub.add_parser("regions", help="the region tree")
    regions_sub = regions.add_subparsers(dest="action", required=True)
    imp = regions_sub.add_parser("import", help="load a region CSV (code,name,level,parent_code)")
    _add_common(imp)
    imp.add_argument("file", type=Path)
    names = regions_sub.add_parser(
        "import-mn", help="load Mongolian region names (code,name_mn,review: drafted|reviewed)"
    )
    _add_common(names)
    names.add_argument("file", type=Path)

    user = sub.add_parser("user", help="admin accounts")
    user_sub = user.add_subparsers(dest="action", required=True)
    add = user_sub.add_parser("add", help="create an account (password read from stdin or asked)")
    _add_common(add)
    add.add_argument("username")
    add.add_argument(
        "--role", required=True, choices=["admin", "editor", "reviewer", "staff", "viewer"]
    )
    add.add_argument("--region", help="limit the account to a banner or township code")
    add.add_argument("--name", default="", help="display name")
    passwd = user_sub.add_parser("passwd", help="set a new password (ends its sessions)")
    _add_common(passwd)
    passwd.add_argument("username")
    disable = user_sub.add_parser("disable", help="disable an account (ends its sessions)")
    _add_common(disable)
    disable.add_argument("username")

    for module in _command_modules():
        module.register(sub, _add_common)

    demo = sub.add_parser("demo", help="the bundled demo")
    demo_sub = demo.add_subparsers(dest="action", required=True)
    _add_common(demo_sub.add_parser("load", help="load the demo data (idempotent)"))
    launch = demo_sub.add_parser("launch-url", help="print a signed launch URL for a box")
    _add_common(launch)
    launch.add_argument("serial")
    launch.add_argument(
        "--lang", choices=("zh", "mn"), default="", help="the household's TV language (signed)"
    )
    return parser


def _command_modules():
    """Modules adding `legaltv` commands: each has register(subparsers, add_common) and
    sets `handler` defaults on its parsers."""
    from tv_server import (
        cli_accounts,
        cli_backup,
        cli_callbacks,
        cli_content,
        cli_db,
        cli_directory,
        cli_laws,
        cli_registry,
    )

    return (
        cli_content, cli_directory, cli_callbacks, cli_accounts, cli_registry, cli_backup,
        cli_laws, cli_db,
    )  # fmt: skip


def _settings(args: argparse.Namespace, **extra) -> Settings:
    extra.setdefault("database_url", getattr(args, "database", None))
    settings = load_settings(args.config, data_dir=args.data_dir, **extra)
    clock.set_zone(settings.timezone)
    return settings


async def _with_db(settings: Settings, work):
    from tv_server.migrations import MIGRATIONS

    db = database_for(
        settings.database_url, settings.db_path, synchronous=settings.sqlite_synchronous
    )
    await db.open()
    try:
        await db.migrate(MIGRATIONS)
        return await work(db)
    finally:
        await db.close()


def _base_url(settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def launch_url(settings: Settings, serial: str, now: float | None = None, lang: str = "") -> str:
    import time
    from urllib.parse import urlencode

    from tv_server.boxauth import launch_signature

    ts = int(time.time() if now is None else now)
    sig = launch_signature(settings.launch_secret, serial, ts, lang)
    query = urlencode({"stb": serial, "ts": ts, **({"lang": lang} if lang else {}), "sig": sig})
    return f"{_base_url(settings)}/tv/launch?{query}"


def _print_banner(settings: Settings) -> None:
    from tv_server.demo import DEMO_PASSWORD, DEMO_USERS

    base = _base_url(settings)
    unsigned = [
        f"  TV (demo box, live village):  {base}/tv/?stb=DEMO-0001",
        f"  TV (demo box, not yet live):  {base}/tv/?stb=DEMO-0240",
        f"  TV (unknown box):             {base}/tv/?stb=NEW-BOX-1",
    ]
    lines = [
        f"LegalTV {__version__} serving on {base}  (data: {settings.data_path.resolve()})",
        *(unsigned if settings.unsigned_allowed else []),
        f"  Signed launch (valid 5 min):  {launch_url(settings, 'DEMO-0001')}",
        f"  Admin:                        {base}/admin/",
        f"  Demo logins (password {DEMO_PASSWORD}): "
        + ", ".join(
            f"{u} ({role}{' ' + region if region else ''})" for u, _n, role, region in DEMO_USERS
        ),
        f"  Health:                       {base}/healthz",
    ]
    print("\n".join(lines), flush=True)


UNSAFE_WARNINGS = {
    "demo": "demo mode is on: six demo accounts (admin, editor, …) log in with the published "
    "password {password}",
    "allow_unsigned": "unsigned box entry is on: anyone can open /tv/?stb=SERIAL as any box",
}


def print_unsafe_warnings(settings: Settings) -> None:
    """A clear warning on stderr for each setting that must never be on in production."""
    from tv_server.demo import DEMO_PASSWORD

    for name in settings.unsafe_modes:
        text = UNSAFE_WARNINGS[name].format(password=DEMO_PASSWORD)
        print(f"WARNING: {text}. Never use it on a production server.", file=sys.stderr)
    if settings.unsafe_modes:
        sys.stderr.flush()


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from tv_server import logredact
    from tv_server.app import create_app

    settings = ensure_secrets(
        _settings(
            args,
            host=args.host,
            port=args.port,
            demo=args.demo,
            allow_unsigned=args.allow_unsigned,
        )
    )
    logredact.install()  # before the first line is logged (create_app installs it too)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(settings)

    async def banner(_app):
        if settings.demo:
            _print_banner(settings)
        else:
            print(f"LegalTV {__version__} serving on {_base_url(settings)}", flush=True)
        print_unsafe_warnings(settings)

    app.on_startup.append(banner)
    try:
        asyncio.run(_serve(app, settings))
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    return 0


async def _serve(app, settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM, through the front (hot requests answered before routing)."""
    from aiohttp import web

    from tv_server.front import FrontRunner

    runner = FrontRunner(app, access_log=None, shutdown_timeout=5, handle_signals=True)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def import_csv_file(args: argparse.Namespace, decode, work, error_type) -> int | None:
    """Read `args.file` (Excel encodings), run `work(db, text)`; print every bad line of an
    `error_type` (with `.problems` as (line, message) pairs) and return None on any failure."""
    try:
        text = decode(args.file.read_bytes())
        return asyncio.run(_with_db(_settings(args), lambda db: work(db, text)))
    except error_type as exc:
        print(f"{args.file}: nothing was written; fix these lines:", file=sys.stderr)
        for line, message in exc.problems:
            print(f"  line {line}: {message}", file=sys.stderr)
    except OSError as exc:
        print(f"{args.file}: {exc.strerror}", file=sys.stderr)
    except UnicodeDecodeError:
        print(f"{args.file}: not UTF-8 or GB18030/GBK text", file=sys.stderr)
    return None


def cmd_regions_import(args: argparse.Namespace) -> int:
    from device_registry.regions import RegionImportError, decode_csv_bytes, import_regions

    count = import_csv_file(args, decode_csv_bytes, import_regions, RegionImportError)
    if count is None:
        return 2
    print(f"imported {count} regions from {args.file}")
    return 0


def cmd_regions_import_mn(args: argparse.Namespace) -> int:
    from device_registry.region_names import RegionNamesError, import_names
    from device_registry.regions import decode_csv_bytes

    count = import_csv_file(args, decode_csv_bytes, import_names, RegionNamesError)
    if count is None:
        return 2
    print(f"imported {count} Mongolian region names from {args.file}")
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_user(args: argparse.Namespace) -> int:
    from accounts import audit, users

    settings = _settings(args)
    password = _read_password() if args.action in ("add", "passwd") else ""

    async def work(db):
        if args.action == "add":
            if args.region:
                from device_registry.regions import RegionTree

                if (await RegionTree.load(db)).get(args.region) is None:
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

    user = asyncio.run(_with_db(settings, work))
    print(f"{args.action}: {user.username} ({user.role})")
    return 0


def cmd_demo_load(args: argparse.Namespace) -> int:
    from tv_server.demo import load_demo

    settings = _settings(args)
    loaded = asyncio.run(_with_db(settings, lambda db: load_demo(db, settings.data_path)))
    print("demo loaded" if loaded else "demo already loaded; nothing changed")
    print("its accounts stay enabled only while the server runs with --demo")
    return 0


def cmd_demo_launch_url(args: argparse.Namespace) -> int:
    print(launch_url(ensure_secrets(_settings(args)), args.serial, lang=args.lang))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        ("serve", None): cmd_serve,
        ("regions", "import"): cmd_regions_import,
        ("regions", "import-mn"): cmd_regions_import_mn,
        ("demo", "load"): cmd_demo_load,
        ("user", "add"): cmd_user,
        ("user", "passwd"): cmd_user,
        ("user", "disable"): cmd_user,
        ("demo", "launch-url"): cmd_demo_launch_url,
    }
    handler = (
        getattr(args, "handler", None) or handlers[(args.command, getattr(args, "action", None))]
    )
    try:
        return handler(args)
    except DomainError as exc:
        print(f"legaltv: {exc.code}{': ' + exc.detail if exc.detail else ''}", file=sys.stderr)
        return 2
    except MigrationError as exc:
        print(f"legaltv: cannot open the database: {exc}", file=sys.stderr)
        return 3
    except ValueError as exc:
        print(f"legaltv: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
