"""Shared fixtures: a real demo data dir (loaded once per session, copied per test), the real app
factory with test settings, and helpers to enter the TV as a box would."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from device_registry import tokens
from storage import Database
from tv_server import keys
from tv_server.app import create_app
from tv_server.demo import load_demo
from tv_server.front import FrontRunner
from tv_server.migrations import MIGRATIONS
from tv_server.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
TEST_SECRET = "test-launch-secret-0123456789"
SCREEN_LINK = re.compile(r'href="([a-z]+-[^"#]*|home|programs|dir|cb|mine)"')


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The bundled demo loaded once into a data dir; tests get copies of its database."""
    folder = tmp_path_factory.mktemp("demo-template")

    async def build() -> None:
        db = Database(folder / "legaltv.sqlite3")
        await db.open()
        try:
            await db.migrate(MIGRATIONS)
            await load_demo(db, folder)
        finally:
            await db.close()

    asyncio.run(build())
    return folder


@pytest.fixture
def data_dir(tmp_path, demo_template) -> Path:
    """A fresh data dir holding a copy of the demo database; media folders are shared links."""
    target = tmp_path / "data"
    target.mkdir()
    # Closing the template database checkpointed its WAL, so the main file is complete.
    shutil.copyfile(demo_template / "legaltv.sqlite3", target / "legaltv.sqlite3")
    for name in ("media", "renditions", "titlecards"):
        (target / name).symlink_to(demo_template / name)
    return target


def make_settings(data_dir: Path, **overrides):
    values = {
        "launch_secret": TEST_SECRET,
        "demo": True,
        "allow_unsigned": True,
        "usage_flush_seconds": 0.2,
        # Uploaded videos are transcoded in the background: one rung keeps that cheap here
        # (tests/test_video.py encodes the whole ladder once).
        "video_ladder": "540:1200",
    }
    values.update(overrides)
    return load_settings(env={}, data_dir=str(data_dir), **values)


def device_token_key(app: web.Application) -> bytes:
    """The key the app signs device tokens with (for `enrolment.issue_token` in tests)."""
    return tokens.key_of(app[keys.SETTINGS].device_token_secret)


async def legacy_device_token(db: Database, serial: str) -> str:
    """A device token as issued before signed tokens: random, only its hash stored."""
    import hashlib
    import secrets

    raw = "ltvd_" + secrets.token_urlsafe(32)
    await db.execute(
        "INSERT INTO device_tokens (device_id, token_hash, issued_at)"
        " SELECT id, ?, 0 FROM devices WHERE serial = ?"
        " ON CONFLICT (device_id) DO UPDATE SET token_hash = excluded.token_hash",
        (hashlib.sha256(raw.encode()).hexdigest(), serial),
    )
    return raw


@pytest.fixture
def settings(data_dir):
    return make_settings(data_dir)


class FrontTestServer(TestServer):
    """The test server with the front installed (tv_server.front), as `legaltv serve` runs."""

    async def _make_runner(self, **kwargs) -> FrontRunner:
        return FrontRunner(self.app, **kwargs)


@pytest.fixture
def aiohttp_client(aiohttp_client):
    """pytest-aiohttp's client, serving an app through the front like production."""

    async def make(app_or_server, **kwargs):
        if isinstance(app_or_server, web.Application):
            app_or_server = FrontTestServer(app_or_server)
        return await aiohttp_client(app_or_server, **kwargs)

    return make


@pytest.fixture
async def aiohttp_server():
    """A real server on a free loopback port, through the front like production."""
    servers = []

    async def start(app: web.Application, *, host: str = "127.0.0.1", port=None, **kwargs):
        server = FrontTestServer(app, host=host, port=port)
        await server.start_server(**kwargs)
        servers.append(server)
        return server

    yield start
    while servers:
        await servers.pop().close()


@pytest.fixture
async def client(aiohttp_client, settings):
    return await aiohttp_client(create_app(settings))


async def enter(client, serial: str = "DEMO-0001") -> str:
    """Enter the TV as the demo entry does; return the box's screen base `/tv/b/TOKEN/`."""
    response = await client.get("/tv/", params={"stb": serial}, allow_redirects=False)
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    assert location.endswith("/home")
    return location[: -len("home")]


@pytest.fixture
async def box(client) -> str:
    return await enter(client)


def chromium_or_skip() -> str:
    path = "/usr/bin/chromium"
    if not Path(path).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(
                "Chromium is missing at /usr/bin/chromium (CI=true: browser tests must run)"
            )
        pytest.skip("Chromium is not installed")
    return path


DEMO_PASSWORD = "ordos-demo-2026"


async def login(client, username: str, password: str = DEMO_PASSWORD):
    """Log in to the admin as a person would: fetch the form, post it with its CSRF token."""
    html = await (await client.get("/admin/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = await client.post(
        "/admin/login",
        data={"csrf_token": token, "username": username, "password": password},
        allow_redirects=False,
    )
    return response


async def csrf_of(client, path: str = "/admin/") -> str:
    """The CSRF token printed in an admin page's forms."""
    html = await (await client.get(path)).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def admin_as(client):
    """`await admin_as("editor")` logs the test client in as that demo account."""

    async def _login(username: str):
        response = await login(client, username)
        assert response.status == 303, await response.text()
        return client

    return _login
