"""The private aiohttp hooks the front relies on, pinned: when an aiohttp upgrade renames or
changes one, this fails with a message naming the hook, instead of every request quietly taking
the slow path (or the tests no longer serving the app through the front).

The hooks: `web.AppRunner._make_server()` (FrontRunner wraps the server it returns),
`web.Server.request_handler` (the attribute each connection reads its handler from),
`aiohttp.test_utils.TestServer._make_runner(**kwargs)` (tests/conftest.py serves the app through
FrontRunner with it), `StreamReader.is_eof()` / `read_nowait()` (the heartbeat lane reads a
body that arrived with its headers without awaiting), and `FileResponse._make_response()` /
`_prepare_open_file()` (tv_server.media.MediaFile closes a file whose request was cancelled while
it was being opened)."""

from __future__ import annotations

import inspect

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.helpers import FrontTestServer
from tv_server.front import ANSWERED, FrontRunner, add_lane

UPGRADE = (
    f"aiohttp {aiohttp.__version__} changed a private hook the front uses ({{hook}}); "
    "adapt tv_server/front.py (and tests/conftest.py) before upgrading: {detail}"
)


def _pin(condition: bool, hook: str, detail: str) -> None:
    assert condition, UPGRADE.format(hook=hook, detail=detail)


def test_the_runner_hook_exists_with_the_shape_the_front_overrides():
    hook = getattr(web.AppRunner, "_make_server", None)
    _pin(hook is not None, "AppRunner._make_server", "the method is gone")
    _pin(
        inspect.iscoroutinefunction(hook),
        "AppRunner._make_server",
        "it is no longer a coroutine function",
    )
    params = list(inspect.signature(hook).parameters)
    _pin(params == ["self"], "AppRunner._make_server", f"it now takes {params}")
    make_runner = getattr(TestServer, "_make_runner", None)
    _pin(make_runner is not None, "TestServer._make_runner", "the method is gone")
    kinds = {p.kind for p in inspect.signature(make_runner).parameters.values()}
    _pin(
        inspect.Parameter.VAR_KEYWORD in kinds,
        "TestServer._make_runner",
        "it no longer takes **kwargs",
    )
    for name in ("is_eof", "read_nowait"):
        _pin(
            callable(getattr(aiohttp.StreamReader, name, None)),
            f"StreamReader.{name}",
            "the method is gone",
        )


async def test_the_server_made_by_the_hook_answers_through_the_lanes():
    """Behaviour, not names: a FrontRunner's server must call the handler the front put on
    `Server.request_handler`, for connections opened after start."""

    async def routed(_request):
        return web.Response(text="routed")

    app = web.Application()
    app.router.add_get("/lane", routed)
    app.router.add_get("/other", routed)
    add_lane(app, "pin", "GET", "/lane", lambda _app, _request: web.Response(text="lane"))

    class Server(TestServer):
        async def _make_runner(self, **kwargs):
            return FrontRunner(self.app, **kwargs)

    async with TestClient(Server(app)) as client:
        server = client.server.runner.server
        _pin(
            isinstance(server, web.Server) and hasattr(server, "request_handler"),
            "Server.request_handler",
            "the server made by _make_server has no request_handler attribute",
        )
        answered = await (await client.get("/lane")).text()
        _pin(
            answered == "lane" and app[ANSWERED]["pin"] == 1,
            "Server.request_handler",
            f"a lane request was answered {answered!r} by the routed handler: connections no "
            "longer call the handler set on the server",
        )
        assert await (await client.get("/other")).text() == "routed"
    _pin(
        issubclass(FrontTestServer, TestServer),
        "TestServer",
        "tests/conftest.py's FrontTestServer no longer subclasses it",
    )


def test_the_file_response_hooks_media_file_overrides_keep_their_shape():
    from aiohttp.web_fileresponse import FileResponse

    opener = getattr(FileResponse, "_make_response", None)
    _pin(opener is not None, "FileResponse._make_response", "the method is gone")
    _pin(
        not inspect.iscoroutinefunction(opener)
        and list(inspect.signature(opener).parameters) == ["self", "request", "accept_encoding"],
        "FileResponse._make_response",
        "it is no longer the worker thread's (request, accept_encoding) call",
    )
    sender = getattr(FileResponse, "_prepare_open_file", None)
    _pin(sender is not None, "FileResponse._prepare_open_file", "the method is gone")
    _pin(
        inspect.iscoroutinefunction(sender)
        and list(inspect.signature(sender).parameters)
        == ["self", "request", "fobj", "st", "file_encoding"],
        "FileResponse._prepare_open_file",
        "it no longer takes the opened file as (request, fobj, st, file_encoding)",
    )
