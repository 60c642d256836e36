"""Region scope of programs for users limited to a banner or township: they may view (and
preview) a program that boxes of their region can see, and change only one that stays inside
their region. Shared by the programs list, edit pages and the preview."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiohttp import web

from tv_server import keys
from tv_server.admin.common import current_user


def _chain(request: web.Request, code: str) -> list[str]:
    return [r.code for r in request.config_dict[keys.REGIONS].chain(code)]


def can_view(request: web.Request, codes: Iterable[str]) -> bool:
    """Some box of the user's region sees a program aimed at these regions: a target is the
    user's region, one of its ancestors (the city) or one of its descendants (a village)."""
    user = current_user(request)
    if user.region_code is None:
        return True
    own = _chain(request, user.region_code)
    return any(code in own or user.region_code in _chain(request, code) for code in codes)


def can_change(request: web.Request, codes: Iterable[str]) -> bool:
    """Every target region lies inside the user's scope (no scope: always)."""
    user = current_user(request)
    if user.region_code is None:
        return True
    codes = list(codes)
    return bool(codes) and all(user.region_code in _chain(request, c) for c in codes)


def changeable(request: web.Request) -> Callable[[Iterable[str]], bool]:
    """`can_change` for the current user, as a test of a program's regions (the packages slice
    and the programs list take one)."""
    return lambda codes: can_change(request, codes)
