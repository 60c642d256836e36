"""Every URL is found in one table per app: the server's own (tv_server/app.py `ROUTES`), the TV
(tv_server/tv/routes.py), the admin (tv_server/admin/routes.py) and the APIs
(tv_server/api/routes.py). The app the factory builds serves exactly those routes, in their
order, and no module registers a route of its own."""

from __future__ import annotations

import ast
from pathlib import Path

from aiohttp import web

import tv_server
from tests.helpers import make_settings
from tv_server import app as server
from tv_server.admin import common, create_admin_app
from tv_server.admin import routes as admin_routes
from tv_server.api import routes as api_routes
from tv_server.app import create_app
from tv_server.routing import register
from tv_server.tv import routes as tv_routes

ROUTER_METHODS = {"add_get", "add_post", "add_put", "add_patch", "add_delete", "add_route",
                  "add_head", "add_view", "add_static", "add_routes", "add_resource"}  # fmt: skip


def served(router: web.UrlDispatcher) -> list[tuple]:
    """(method, path, name, handler) of every route a router serves, the admin's left out."""
    out = []
    for resource in router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            continue
        for route in resource:
            out.append((route.method, resource.canonical, route.name, route.handler))
    return out


def listed(*tables) -> list[tuple]:
    router = web.UrlDispatcher()
    for table in tables:
        register(router, table)
    return served(router)


def test_the_server_serves_exactly_the_routes_its_tables_list(tmp_path):
    settings = make_settings(tmp_path)
    app = create_app(settings)
    assert served(app.router) == listed(server.ROUTES, tv_routes.ROUTES, api_routes.ROUTES)
    assert served(create_admin_app(settings).router) == listed(admin_routes.ROUTES)
    (admin,) = [r for r in app.router.resources() if isinstance(r, web.PrefixedSubAppResource)]
    assert admin.canonical == "/admin"


def test_a_route_added_outside_the_tables_is_noticed(tmp_path):
    """What the check above sees: a slice that registers a page of its own."""
    admin = create_admin_app(make_settings(tmp_path))

    async def stray(_request: web.Request) -> web.Response:
        return web.Response()

    admin.router.add_get("/stray", stray, name="admin_stray")
    assert served(admin.router) != listed(admin_routes.ROUTES)


def test_no_module_registers_a_route_of_its_own():
    allowed = {"routing.py"}
    found = []
    root = Path(tv_server.__file__).parent
    for path in sorted(root.rglob("*.py")):
        if path.name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ROUTER_METHODS:
                found.append(f"{path.relative_to(root)}:{node.lineno} .{node.attr}")
    assert not found, "list these routes in the app's routes.py:\n" + "\n".join(found)


def test_every_route_a_page_links_to_by_name_exists_and_the_navigation_is_the_tables(tmp_path):
    names = {r.name for r in create_admin_app(make_settings(tmp_path)).router.routes() if r.name}
    assert common.NAV == admin_routes.NAV
    assert {name for _permission, name, _label in admin_routes.NAV} <= names
    assert len({r.name for r in admin_routes.ROUTES if r.name}) == len(
        [r for r in admin_routes.ROUTES if r.name]
    )


async def test_admin_without_its_slash_still_leads_to_the_start_page(client):
    response = await client.get("/admin", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/admin/"
