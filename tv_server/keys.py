"""Every shared object on the application, as a typed AppKey, declared in one place."""

from __future__ import annotations

from aiohttp import web

SETTINGS = web.AppKey("settings", "Settings")
DB = web.AppKey("db", "Database")
REGIONS = web.AppKey("regions", "RegionTree")
SCREENS = web.AppKey("screens", "ScreenCache")
USAGE = web.AppKey("usage", "UsageRecorder")
VIDEO_POSITIONS = web.AppKey("video_positions", "Positions")  # content.programs.video.Positions
# Watching figures, kept until positions are flushed: content.programs.video.WatchingFigures
VIDEO_FIGURES = web.AppKey("video_figures", "WatchingFigures")
TOKENS = web.AppKey("tokens", "TokenSigner")
BOXES = web.AppKey("boxes", "BoxDirectory")
HUB = web.AppKey("hub", "AnnouncementHub")
NODE = web.AppKey("node", "Node")  # this process among the nodes on its database (tv_server.node)
STATIC = web.AppKey("static", "StaticAssets")
# Published programs by id, kept in memory for the TV screens; dropped by "program" changes.
PROGRAMS = web.AppKey("programs", "BoundedCache")
# Service point names by code (我的申请's offices); dropped by "directory" changes.
POINT_NAMES = web.AppKey("point_names", "BoundedCache")
