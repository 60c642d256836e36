"""The JSON APIs under /api/v1 (OpenAPI-described) and /open311/v2, for boxes, operators and
the hotline (every URL: `routes.py`)."""

from __future__ import annotations

from aiohttp import web

from tv_server import routing
from tv_server.api import devices, keyauth, routes


def setup_api(app: web.Application) -> None:
    """The APIs' routes and the state their handlers share (key limits, the heartbeat writer
    and its lane)."""
    keyauth.setup(app)
    devices.setup(app)
    routing.register(app.router, routes.ROUTES)
