"""Public, read-only directory endpoints (HSDS 3.0 export)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register the directory routes on the main application."""
