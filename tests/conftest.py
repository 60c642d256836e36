"""Shared fixtures: a real demo data dir (loaded once per session, copied per test), the real app
factory with test settings behind the front, a box that entered the TV, an admin login. Helpers
that are not fixtures live in tests/helpers.py; Chromium in tests/browser/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp import web

from tests.helpers import (
    BACKEND,
    PG_TEMPLATE,
    TEST_SECRET,
    URL_FILE,
    FrontTestServer,
    build_demo,
    demo_copy,
    enter,
    login,
    make_settings,
    test_database,
)
from tv_server.app import create_app
from tv_server.migrations import MIGRATIONS


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """`@pytest.mark.sqlite_only("why")`: a test of what only the SQLite backend has (its file's
    bytes, `legaltv backup` of the file) is skipped, with its reason, on PostgreSQL."""
    marker = item.get_closest_marker("sqlite_only")
    if marker is not None and BACKEND == "postgresql":
        pytest.skip("SQLite only: " + (marker.args[0] if marker.args else "the SQLite file"))


@pytest.fixture(scope="session")
def pg_cluster():
    """The session's PostgreSQL cluster when the suite runs on PostgreSQL
    (`LEGALTV_TEST_BACKEND=postgresql`, `make test-pg`), else None."""
    if BACKEND != "postgresql":
        yield None
        return
    from tests.pgcluster import Cluster

    with Cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres(pg_cluster):
    """A PostgreSQL cluster whatever the backend: the suite's when it runs on PostgreSQL, else
    one of the session's own (for the tests of PostgreSQL itself)."""
    if pg_cluster is not None:
        yield pg_cluster
        return
    from tests.pgcluster import Cluster

    with Cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, pg_cluster) -> Path:
    """The bundled demo loaded once into a data dir; tests get copies of its database (on
    PostgreSQL: a database every test's copy is made from with CREATE DATABASE … TEMPLATE)."""
    folder = tmp_path_factory.mktemp("demo-template")
    if pg_cluster is not None:
        pg_cluster.psql(f"CREATE DATABASE {PG_TEMPLATE}")
        (folder / URL_FILE).write_text(pg_cluster.url(PG_TEMPLATE))
    build_demo(folder)
    return folder


PG_SECRETS = {
    "LEGALTV_LAUNCH_SECRET": TEST_SECRET,
    "LEGALTV_SECRET_KEY": "test-session-secret-0123456789abcdef",
    "LEGALTV_DEVICE_TOKEN_SECRET": "test-device-token-secret-0123456789",
}


@pytest.fixture
def data_dir(tmp_path, demo_template, pg_cluster, monkeypatch) -> Path:
    """A fresh data dir holding a copy of the demo database; media folders are shared links."""
    target = tmp_path / "data"
    url = demo_copy(demo_template, target, pg_cluster)
    if url:  # `legaltv` commands the test runs (in-process or as subprocesses) use it too
        monkeypatch.setenv("LEGALTV_DATABASE_URL", url)
        # `legaltv serve` on PostgreSQL refuses secrets of its own (several nodes must share
        # them): a server the test starts as a subprocess is given fixed ones.
        for name, value in PG_SECRETS.items():
            if name not in os.environ:
                monkeypatch.setenv(name, value)
    return target


@pytest.fixture
def settings(data_dir):
    return make_settings(data_dir)


@pytest.fixture
async def db(data_dir):
    """The test's copy of the demo database, migrated and open, with no server (domain tests;
    a module testing an empty database defines its own `db`)."""
    database = test_database(data_dir)
    await database.open()
    await database.migrate(MIGRATIONS)
    yield database
    await database.close()


@pytest.fixture
def front_client(aiohttp_client):
    """pytest-aiohttp's `aiohttp_client`, serving an app through the front like production
    (`await front_client(create_app(settings))`)."""

    async def make(app_or_server, **kwargs):
        if isinstance(app_or_server, web.Application):
            app_or_server = FrontTestServer(app_or_server)
        return await aiohttp_client(app_or_server, **kwargs)

    return make


@pytest.fixture
async def front_server():
    """A real server on a free loopback port, through the front like production
    (`await front_server(create_app(settings))`; `.make_url(path)` for a browser)."""
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
async def client(front_client, settings):
    return await front_client(create_app(settings))


@pytest.fixture
async def box(client) -> str:
    return await enter(client)


@pytest.fixture
def admin_as(client):
    """`await admin_as("editor")` logs the test client in as that demo account."""

    async def _login(username: str):
        response = await login(client, username)
        assert response.status == 303, await response.text()
        return client

    return _login
