"""Telling one box that its own data changed (staff acted on its callback request), so a screen
marked `data-refresh` such as 我的申请 reloads over the SSE stream it already has open.

It is a change event (`requests`, the box's device id): every node's announcement hub tells the
streams of that box it holds (`tv_server.caches`), whichever node the staff member used.
"""

from __future__ import annotations

from collections.abc import Mapping

from tv_server import caches


async def notify(app: Mapping, device_id: int | None) -> None:
    """Send the `refresh` event to that box's open streams on every node (a box with none open
    sees the change on its next visit)."""
    if device_id is not None:
        await caches.changed(app, "requests", [device_id])
