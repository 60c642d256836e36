"""How every app declares its URLs: a `routes.py` per app holds a table of `Route`s (method,
path, handler, name), in the order the router tries them, and `register` adds a table to a
router. The tables are the one place to find a URL: `tv_server/routes.py` (the server's own:
health, static files, media), `tv_server/tv/routes.py` (the TV screens),
`tv_server/admin/routes.py` (the admin and its navigation) and `tv_server/api/routes.py` (the
JSON APIs). `tests/test_routes.py` fails when a route is registered anywhere else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    name: str | None = None


def GET(path: str, handler: Handler, name: str | None = None) -> Route:  # noqa: N802
    """A GET route (HEAD is answered by it too)."""
    return Route("GET", path, handler, name)


def POST(path: str, handler: Handler, name: str | None = None) -> Route:  # noqa: N802
    return Route("POST", path, handler, name)


def PATCH(path: str, handler: Handler, name: str | None = None) -> Route:  # noqa: N802
    return Route("PATCH", path, handler, name)


def register(router: web.UrlDispatcher, table: Iterable[Route]) -> None:
    """Add a table's routes to a router, in the table's order."""
    for route in table:
        if route.method == "GET":
            router.add_get(route.path, route.handler, name=route.name)
        else:
            router.add_route(route.method, route.path, route.handler, name=route.name)
