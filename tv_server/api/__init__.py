"""The JSON API under /api/v1 (OpenAPI-described), for boxes, operators and the hotline."""

from __future__ import annotations

from aiohttp import web

from tv_server.api import coverage, devices, directory, open311


def setup_api(app: web.Application) -> None:
    directory.setup(app)
    open311.setup(app)
    devices.setup(app)
    coverage.setup(app)
