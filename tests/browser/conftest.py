"""The one way browser tests get Chromium: the `chromium` fixture (headless, from
/usr/bin/chromium), and `tv`, the demo app behind the front with Chromium beside it. Without
Chromium or Playwright a browser test is skipped, except under CI=true, where it fails: CI must
never silently skip the browser tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import CHROMIUM, make_settings
from tv_server.app import create_app

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def unavailable(reason: str) -> None:
    """Skip the test, or fail it under CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run)")
    pytest.skip(reason)


def chromium_or_skip() -> str:
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is missing at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture
def chromium_args() -> list[str]:
    """Flags added to ARGS; a test module overrides this fixture to add its own."""
    return []


@pytest.fixture
async def chromium(chromium_args):
    """A launched headless Chromium, closed after the test."""
    executable = chromium_or_skip()
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover
        unavailable("playwright is not installed")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=[*ARGS, *chromium_args])
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def tv(front_server, data_dir, chromium):
    """The demo app on a real port and Chromium: `server, browser = tv`."""
    server = await front_server(create_app(make_settings(data_dir)))
    return server, chromium
