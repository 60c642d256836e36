"""The baseline: a plain aiohttp hello-world, as cheap as aiohttp gets.

`POST /api/v1/devices/{serial}/heartbeat` is the bare aiohttp POST: it reads the JSON body,
parses it with the parser the app uses (orjson) and answers 202 with a small JSON object — no
authentication, validation or storage. It is the least any heartbeat endpoint on aiohttp does,
measured with the same load.

`--replay URL` adds `/replay`: the response of URL (fetched once at start with
`Accept-Encoding: gzip`: same status, body bytes and headers) served from a constant, with no
middleware. It separates what a screen costs for its bytes and headers from what the app's own
Python (routing, middlewares, token, cache lookup) costs.
"""

from __future__ import annotations

import argparse
import urllib.request

import orjson
from aiohttp import web

SKIP = {"content-length", "date", "server", "connection", "keep-alive", "transfer-encoding"}


async def hello(_request: web.Request) -> web.Response:
    return web.Response(text="Hello, world")


async def bare_post(request: web.Request) -> web.Response:
    orjson.loads(await request.read())
    return web.Response(body=b'{"status": "accepted"}', status=202, content_type="application/json")


def replay_handler(url: str):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback only
        status, body = r.status, r.read()
        headers = [(k, v) for k, v in r.headers.items() if k.lower() not in SKIP]

    async def replay(_request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, headers=headers)

    return replay


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--replay", help="a URL whose response /replay serves from memory")
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/api/v1/devices/{serial}/heartbeat", bare_post)
    if args.replay:
        app.router.add_get("/replay", replay_handler(args.replay))
    web.run_app(
        app, host=args.host, port=args.port, print=None, access_log=None, shutdown_timeout=1
    )


if __name__ == "__main__":
    main()
