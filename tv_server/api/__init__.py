"""The JSON API under /api/v1 (OpenAPI-described), for boxes, operators and the hotline."""

from __future__ import annotations

from aiohttp import web

from tv_server.api import appointments, coverage, devices, directory, keyauth, open311


def setup_api(app: web.Application) -> None:
    keyauth.setup(app)
    directory.setup(app)
    open311.setup(app)
    devices.setup(app)
    coverage.setup(app)
    appointments.setup(app)
