"""Admin slice: directory."""

from __future__ import annotations

from aiohttp import web


def setup(admin: web.Application) -> None:
    """Register this slice's routes (and NAV entries) on the admin sub-application."""
