"""A callback acknowledged to a box survives `kill -9` of a real `legaltv serve` process right
after the receipt: after a restart the request is there with the same reference, once, and
retrying the same submission returns that reference."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.conftest import ROOT, TEST_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`legaltv serve` in a subprocess on a loopback port."""

    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        env = {
            **os.environ,
            "LEGALTV_LAUNCH_SECRET": TEST_SECRET,
            "LEGALTV_SQLITE_SYNCHRONOUS": "FULL",
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
                [
                    sys.executable,
                    "-m",
                    "tv_server.cli",
                    "serve",
                    "--demo",
                    "--allow-unsigned",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, self.log.read_text()
                try:
                    async with session.get(self.base + "/healthz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("server did not start:\n" + self.log.read_text())

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


async def _enter(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(base + "/tv/", params={"stb": "DEMO-0001"}, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        return r.headers["Location"][: -len("home")]


async def _submit(session, base: str, box: str, draft: str) -> str:
    async with session.post(
        base + box + "cb-submit", data={"d": draft, "w": "morning"}, allow_redirects=False
    ) as r:
        assert r.status == 303, await r.text()
        return r.headers["Location"].rsplit("r-", 1)[1]


async def test_acknowledged_request_survives_kill_9(data_dir, tmp_path):
    server = Server(data_dir, free_port(), tmp_path / "server.log")
    try:
        await server.start()
        async with aiohttp.ClientSession() as session:
            box = await _enter(session, server.base)
            async with session.post(
                server.base + box + "cb-phone",
                data={"svc": "consultation", "sp": "", "d": "", "phone": "13800138000"},
                allow_redirects=False,
            ) as r:
                assert r.status == 303, await r.text()
                draft = re.search(r"d=([0-9a-f]+)", r.headers["Location"]).group(1)
            ref = await _submit(session, server.base, box, draft)
            server.kill9()  # right after the receipt: no shutdown, no checkpoint

        await server.start()
        async with aiohttp.ClientSession() as session:
            async with session.get(server.base + box + "mine") as r:
                assert r.status == 200
                assert ref in await r.text()
            # the box retries the same submission (e.g. it never saw the receipt)
            assert await _submit(session, server.base, box, draft) == ref
    finally:
        server.stop()
    with sqlite3.connect(data_dir / "legaltv.sqlite3") as conn:
        rows = conn.execute(
            "SELECT ref, status FROM callback_requests WHERE idempotency_key = ?", (draft,)
        ).fetchall()
        events = conn.execute(
            "SELECT COUNT(*) FROM callback_events e JOIN callback_requests r"
            " ON r.id = e.request_id WHERE r.ref = ? AND e.kind = 'submitted'",
            (ref,),
        ).fetchone()[0]
    assert rows == [(ref, "submitted")]
    assert events == 1
