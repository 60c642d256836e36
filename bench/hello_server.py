"""The baseline: a plain aiohttp hello-world, as cheap as aiohttp gets."""

from __future__ import annotations

import argparse

from aiohttp import web


async def hello(_request: web.Request) -> web.Response:
    return web.Response(text="Hello, world")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/", hello)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None,
                shutdown_timeout=1)


if __name__ == "__main__":
    main()
