"""Telling one box that its own data changed (staff acted on its callback request), so a screen
marked `data-refresh` such as 我的申请 reloads over the SSE stream it already has open.
"""

from __future__ import annotations

from aiohttp import web

from tv_server import keys


def notify(app: web.Application, device_id: int | None) -> int:
    """Send the `refresh` event to that box's open streams in this process; returns how many
    streams were told (0 when the box has none open: it sees the change on its next visit)."""
    hub = app.get(keys.HUB)
    if hub is None or device_id is None:
        return 0
    return hub.notify_device(device_id)
