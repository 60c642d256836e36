"""The front: hot requests answered before routing.

Two requests dominate a LegalTV server's traffic: boxes asking again for a TV screen they were
just served (the fast lane of `tv_server.tv.fastlane`) and heartbeats from boxes. Both are
answered here, at the server's request handler, before aiohttp resolves a route and runs the
middleware chain — that chain costs more than the answer itself for these two.

A lane is `lane(app, request)` returning None (not for this lane: the full path answers), a
response, or an awaitable of a response or None (a lane that must read the body); registered with
`add_lane(app, name, method, prefix, lane)` for requests whose raw path starts with `prefix`. A lane
answers only what it can answer exactly as the full path would (same status, body and headers)
and returns None for anything else, which then takes the full path (routing, the `guard`
middleware, the handler). The first lane whose method and prefix match decides.

The contract, shared with the middleware so the two paths cannot drift apart:
- headers: the front passes every lane answer through `middlewares.secure`, the function `guard`
  applies on the full path (a lane's prebuilt headers may carry them already: they are kept);
- errors: a lane that reads the body answers its own errors, built by `middlewares.error_for`
  (what `guard` renders for an exception) or by the same error function as the routed handler;
  a lane that raises before reading the body hands the request to the full path, which renders
  the error; a lane must not consume the body of a request it hands on.

The front is installed by `FrontRunner`, the runner of `legaltv serve` and of the tests
(`tests/conftest.py` serves the app through it). Under any
other runner the lanes simply do not run and every request takes the full path: the same answers,
only slower.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from tv_server.metrics import METRICS
from tv_server.middlewares import secure

Answer = web.StreamResponse | Awaitable[web.StreamResponse | None] | None
Lane = Callable[[web.Application, web.Request], Answer]
LANES = web.AppKey("front_lanes", list)
# Requests each lane answered, by lane name (reported by /healthz for operators).
ANSWERED = web.AppKey("front_answered", dict)

log = logging.getLogger(__name__)


def add_lane(app: web.Application, name: str, method: str, prefix: str, lane: Lane) -> None:
    app.setdefault(LANES, []).append((name, method, prefix, lane))
    app.setdefault(ANSWERED, {})[name] = 0


def front_handler(app: web.Application, full: Callable) -> Callable:
    """The server's request handler: the app's lanes first, then `full` (routing + middlewares)."""
    lanes = tuple(app.get(LANES, ()))
    answered = app.get(ANSWERED, {})
    observe = app[METRICS].observe if METRICS in app else None  # /metrics (tv_server.metrics)
    clock = time.perf_counter

    async def answer(request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.raw_path
        for name, lane_method, prefix, lane in lanes:
            if method == lane_method and path.startswith(prefix):
                try:
                    response = lane(app, request)
                    if response is not None and not isinstance(response, web.StreamResponse):
                        response = await response
                except Exception:  # the full path answers, and renders any error it meets
                    log.exception("front lane failed on %s %s", method, path)
                    break
                if response is not None:
                    answered[name] += 1
                    return secure(request, response)
                break
        return await full(request)

    if observe is None:
        return answer

    async def handle(request: web.Request) -> web.StreamResponse:
        started = clock()
        try:
            response = await answer(request)
        except web.HTTPException as exc:  # redirects raised through the middleware
            observe(request.raw_path, exc.status, clock() - started)
            raise
        observe(request.raw_path, response.status, clock() - started)
        return response

    return handle


class FrontRunner(web.AppRunner):
    """An AppRunner whose server answers the app's lanes before routing."""

    async def _make_server(self):  # the documented hook of BaseRunner subclasses
        server = await super()._make_server()
        server.request_handler = front_handler(self.app, server.request_handler)
        return server
