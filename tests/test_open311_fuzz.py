"""Schemathesis fuzzing of the Open311 endpoints from their served OpenAPI document, against the
real app running on a loopback port (aiohttp is not ASGI: a server in a background thread).
Bounded: at most 30 examples per operation. No 5xx; every 4xx in the Open311 error format.

The project serves no other OpenAPI document (the HSDS openapi.json in
content/directory/hsds_schema is a vendored copy used to validate our export, not served)."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import apikeys
from tests.helpers import demo_copy, make_settings
from tv_server import keys
from tv_server.api.open311_openapi import document
from tv_server.app import create_app

VILLAGE = "150602001001"
schema = schemathesis.openapi.from_dict(document())


class ServerThread:
    """The real app on 127.0.0.1:<random port>, driven by its own event loop in a thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.url = ""

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self.run(self._start())
        return self

    def __exit__(self, *exc) -> None:
        self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory, demo_template, pg_cluster):
    target = tmp_path_factory.mktemp("fuzz") / "data"
    demo_copy(demo_template, target, pg_cluster)
    with ServerThread(create_app(make_settings(target))) as server:
        _k, raw = server.run(
            apikeys.create(server.app[keys.DB], "fuzz", ["open311:read", "open311:write"])
        )
        yield server, raw


def test_the_served_document_is_the_one_fuzzed(fuzz_server):
    import requests

    server, _key = fuzz_server
    assert requests.get(server.url + "/open311/v2/openapi.json", timeout=10).json() == document()


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_open311_fuzz(case, fuzz_server):
    server, key = fuzz_server
    # A valid key lets most cases reach the handlers (bad keys are covered in test_open311.py);
    # half the creations get a real village so routing and writing run too.
    if isinstance(case.query, dict) and "api_key" in case.query:
        case.query["api_key"] = key
    # The document's other ways of sending the key (header security schemes).
    if isinstance(case.headers, dict):
        if "X-API-Key" in case.headers:
            case.headers["X-API-Key"] = key
        if "Authorization" in case.headers:
            case.headers["Authorization"] = f"Bearer {key}"
    if isinstance(case.body, dict):
        case.body["api_key"] = key
        if random.Random(repr(sorted(case.body.items(), key=str))).random() < 0.5:
            case.body["address_id"] = VILLAGE
    response = case.call(base_url=server.url, timeout=30)
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, list) and body, body
        assert body[0]["code"] == response.status_code and body[0]["description"], body
