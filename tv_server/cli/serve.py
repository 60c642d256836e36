"""`legaltv serve`: run the web server (with the demo's banner and unsafe-mode warnings)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys

from tv_server import __version__, logredact
from tv_server.cli.context import add_common, base_url, settings
from tv_server.cli.demo import launch_url
from tv_server.demo import DEMO_PASSWORD, DEMO_USERS
from tv_server.settings import Settings, ensure_secrets, missing_shared_secrets


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    serve = sub.add_parser("serve", help="run the web server")
    add_common(serve)
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
    serve.set_defaults(handler=cmd_serve)


def _print_banner(settings: Settings) -> None:
    base = base_url(settings)
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
    """A clear warning on stderr for each setting that must never be on in production, and for
    each limit turned off."""
    for name in settings.unsafe_modes:
        text = UNSAFE_WARNINGS[name].format(password=DEMO_PASSWORD)
        print(f"WARNING: {text}. Never use it on a production server.", file=sys.stderr)
    for name in settings.limits_off:
        print(
            f"WARNING: {name} is 0, which turns that limit off. Keep it on in production unless "
            "a proxy in front limits the same.",
            file=sys.stderr,
        )
    if settings.unsafe_modes or settings.limits_off:
        sys.stderr.flush()


def cmd_serve(args: argparse.Namespace) -> int:
    # The web app is imported here, not at the top: the data commands start without it.
    from aiohttp import web

    from tv_server.app import create_app

    chosen = settings(
        args,
        host=args.host,
        port=args.port,
        demo=args.demo,
        allow_unsigned=args.allow_unsigned,
    )
    missing = missing_shared_secrets(chosen)
    if missing:
        names = ", ".join(f"{name} (LEGALTV_{name.upper()})" for name in missing)
        print(
            f"error: on PostgreSQL every node must use the same secrets; set {names} to the same"
            " value on every node (docs/scaling.md). Generated ones would be this node's own:"
            " sessions, launch URLs and device tokens signed by one node would fail on another.",
            file=sys.stderr,
        )
        return 2
    serving = ensure_secrets(chosen)
    logredact.install()  # before the first line is logged (create_app installs it too)
    logging.basicConfig(
        level=serving.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(serving)

    async def banner(_app):
        if serving.demo:
            _print_banner(serving)
        else:
            print(f"LegalTV {__version__} serving on {base_url(serving)}", flush=True)
        print_unsafe_warnings(serving)

    app.on_startup.append(banner)
    try:
        asyncio.run(_serve(app, serving))
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    return 0


# Young collections about 14x rarer than Python's (700, 10, 10); the ratios between the
# generations, and so how often a full collection comes, are kept.
GC_THRESHOLDS = (10_000, 10, 10)


def settle_heap() -> None:
    """Once started: what start-up built (region tree, templates, catalogs, warmed figures)
    lives as long as the process, so it leaves the collector's view (`gc.freeze`). Without this
    every full collection walks all of it on the event loop: a stall of up to hundreds of
    milliseconds every few seconds under load, most of the callback steps' p99 (bench/RESULTS.md).
    Cyclic garbage made later is still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _serve(app, settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM, through the front (hot requests answered before routing).

    The first signal stops the server in order while every task still runs: no new connections,
    the requests being answered finish (up to `shutdown_timeout`), then the app's shutdown and
    cleanup stop the background work, write what is buffered and close the database. (aiohttp's
    own signal handling raises out of the event loop instead, and `asyncio.run` then cancels
    every task at once, the cleanup's included: a request cut off, and on PostgreSQL a pool
    connection whose release was cancelled before it began, which the pool's close waited for
    forever.) A second signal ends the process at once."""
    from aiohttp import web

    from tv_server.front import FrontRunner

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def stop() -> None:
        stopping.set()
        for sig in STOP_SIGNALS:  # a second signal: its default action (exit now)
            loop.remove_signal_handler(sig)

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop)
    runner = FrontRunner(app, access_log=None, shutdown_timeout=5, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        settle_heap()
        await stopping.wait()
    finally:
        await runner.cleanup()
