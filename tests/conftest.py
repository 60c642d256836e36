"""Shared fixtures: a real demo data dir (loaded once per session, copied per test), the real app
factory with test settings behind the front, a box that entered the TV, an admin login. Helpers
that are not fixtures live in tests/helpers.py; Chromium in tests/browser/conftest.py."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import sys
import threading
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


# -- the per-test timeout (pytest-timeout, `timeout` in pyproject.toml) ---------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    """A test that runs over its timeout ends the run (pytest-timeout's thread method) after
    saying which test it was and where its coroutines wait: the thread stacks the plugin dumps
    show only an event loop waiting. What the tests started (PostgreSQL clusters, `legaltv
    serve` subprocesses) is stopped too rather than left running."""
    if settings.method != "thread":
        return None
    timer = threading.Timer(settings.timeout, _timed_out, (item, settings))
    timer.name = f"timeout {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # what the plugin's pytest_timeout_cancel_timer calls
    timer.start()
    return True


def _timed_out(item, settings) -> None:
    """pytest-timeout's `timeout_timer` with the coroutines' stacks, and what the tests started
    stopped before the run ends."""
    import pytest_timeout

    from tests import pgcluster

    terminal = item.config.get_terminal_writer()
    try:
        capman = item.config.pluginmanager.getplugin("capturemanager")
        out = err = ""
        if capman:
            capman.suspend_global_capture(item)
            out, err = capman.read_global_capture()
        terminal.sep("+", f"Timeout: {item.nodeid} ran over {settings.timeout:g} s")
        for title, text in (("Captured stdout", out), ("Captured stderr", err)):
            if text:
                terminal.sep("~", title)
                terminal.write(text)
        terminal.sep("~", "Coroutines of the main thread's event loop")
        terminal.write(_coroutine_stacks())
        pytest_timeout.dump_stacks(terminal)
        terminal.sep("+", "Timeout")
        terminal.flush()
        for pid in _children():  # `legaltv serve` and other subprocesses the test started
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for cluster in list(pgcluster.RUNNING):
            with contextlib.suppress(Exception):
                cluster.stop()
    finally:
        terminal.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


def _coroutine_stacks() -> str:
    """Where each task of the main thread's event loop waits (none when no loop runs)."""
    frame = sys._current_frames().get(threading.main_thread().ident)
    loop = None
    while frame is not None and loop is None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, asyncio.AbstractEventLoop):
            loop = candidate
        frame = frame.f_back
    if loop is None:
        return "no event loop running in the main thread\n"
    out = io.StringIO()
    for task in list(asyncio.all_tasks(loop)):
        out.write(f"--- {task!r}\n")
        awaiting = task.get_coro()
        while awaiting is not None:  # down the chain of awaits (a task's own stack stops at one)
            frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None)
            if frame is not None:
                code = frame.f_code
                out.write(f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}')
                out.write("\n")
            chained = getattr(awaiting, "cr_await", None)
            awaiting = chained if chained is not None else getattr(awaiting, "gi_yieldfrom", None)
    return out.getvalue()


def _children() -> list[int]:
    mine = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if stat.rsplit(")", 1)[1].split()[1] == mine:
                    found.append(int(entry))
    return found


# -- the database ------------------------------------------------------------------------------


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
