"""deploy/nginx/legaltv.conf, run as shipped by a real nginx in front of a real `legaltv serve`.

The file is used with only the marked places edited (ports, data dir, log and cache paths), so
what operators copy is what was tested: pages and the device API pass through, announcement
streams are not buffered, static assets come from nginx's cache, media straight from the data
dir (still served with the LegalTV process down), and the access log holds no box token and no
launch signature.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import NGINX, ROOT, TEST_SECRET, free_port, nginx_confs


async def _wait_http(url: str, proc: subprocess.Popen, log: Path, status: int = 200) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert proc.poll() is None, _tail(log)
            try:
                async with session.get(url) as r:
                    if r.status == status:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not answer:\n" + _tail(log))


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


def _start(tmp_path: Path, data_dir: Path) -> tuple[subprocess.Popen, subprocess.Popen, dict]:
    """Start the server and nginx; return both and where they answer and log."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is missing (Debian package nginx; `make test` installs it)")
    folder = tmp_path / "nginx"
    folder.mkdir()
    app_port, web_port = free_port(), free_port()
    app_log = tmp_path / "server.log"
    env = {
        **os.environ,
        "LEGALTV_LAUNCH_SECRET": TEST_SECRET,
        "LEGALTV_TRUSTED_PROXIES": "127.0.0.1",
        "LEGALTV_SSE_KEEPALIVE_SECONDS": "1",
    }
    with app_log.open("ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tv_server.cli", "serve", "--demo", "--allow-unsigned"]
            + ["--data-dir", str(data_dir), "--port", str(app_port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    main = nginx_confs(folder, upstreams=[app_port], listen=web_port, root=data_dir)
    nginx_log = folder / "stderr.log"
    with nginx_log.open("ab") as out:
        nginx = subprocess.Popen(
            [NGINX, "-p", str(folder), "-c", str(main), "-e", str(nginx_log)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    where = {"app": app_port, "web": web_port, "app_log": app_log, "nginx_log": nginx_log}
    return server, nginx, where


@pytest.fixture
async def stack(tmp_path, data_dir):
    """`legaltv serve` on one port and nginx with the shipped config on another."""
    server, nginx, where = _start(tmp_path, data_dir)
    folder = tmp_path / "nginx"
    try:
        await _wait_http(f"http://127.0.0.1:{where['app']}/healthz", server, where["app_log"])
        await _wait_http(f"http://127.0.0.1:{where['web']}/healthz", nginx, where["nginx_log"])
        yield {"base": f"http://127.0.0.1:{where['web']}", "server": server, "folder": folder}
    finally:
        for proc in (nginx, server):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if proc is server else signal.SIGQUIT)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


async def _enter(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(base + "/tv/", params={"stb": "DEMO-0001"}, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        return r.headers["Location"][: -len("home")]


async def test_tv_through_nginx_keeps_box_tokens_and_signatures_out_of_the_access_log(stack):
    base = stack["base"]
    async with aiohttp.ClientSession() as session:
        box = await _enter(session, base)
        token = box.split("/")[3]
        assert len(token) > 10
        async with session.get(base + box + "home", headers={"Referer": base + box}) as r:
            assert r.status == 200
            assert "法律" in await r.text()
        async with session.get(
            base + "/tv/launch", params={"stb": "DEMO-0001", "ts": "1", "sig": "deadbeefcafe"}
        ) as r:
            await r.read()
        async with session.get(
            base + "/open311/v2/requests.json", params={"api_key": "ltv_abc_secretpart"}
        ) as r:
            await r.read()
    log = ""
    for _ in range(50):  # nginx writes the line after the response; give it a moment
        log = (stack["folder"] / "access.log").read_text()
        if "api_key=" in log:
            break
        await asyncio.sleep(0.1)
    assert "GET /tv/b/***/home" in log and '/tv/b/***/"' in log  # Referer too
    assert token not in log
    assert "sig=***" in log and "deadbeefcafe" not in log
    assert "api_key=***" in log and "secretpart" not in log


async def test_announcement_stream_passes_unbuffered(stack):
    base = stack["base"]
    async with aiohttp.ClientSession() as session:
        box = await _enter(session, base)
        started = time.monotonic()
        async with session.get(base + box + "events") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/event-stream")
            first = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 10)
            assert first.startswith(b"retry:")
            # The server's keep-alive comes every second: each one reaches us as it is sent,
            # while the stream stays open (a buffering proxy would hold them back).
            second = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 10)
            third = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 10)
            assert second.startswith(b": keep-alive") and third.startswith(b": keep-alive")
            assert time.monotonic() - started < 10


async def test_static_from_nginx_cache_and_media_from_the_data_dir(stack):
    base = stack["base"]
    async with aiohttp.ClientSession() as session:
        box = await _enter(session, base)
        async with session.get(base + box + "home") as r:
            page = await r.text()
        static = re.search(r'(/static/[^"]+\.(?:css|js))"', page).group(1)
        media = re.search(r'(/media/[^"]+\.(?:jpg|webp|png))"', page).group(1)
        statuses = []
        for _ in range(2):
            async with session.get(base + static) as r:
                assert r.status == 200
                await r.read()
                statuses.append(r.headers["X-Cache"])
        assert statuses == ["MISS", "HIT"]

        stack["server"].send_signal(signal.SIGTERM)  # the LegalTV process goes away
        stack["server"].wait(15)
        async with session.get(base + media) as r:
            assert r.status == 200, media
            assert r.headers["Content-Type"].startswith("image/")
            assert "immutable" in r.headers["Cache-Control"]
            assert len(await r.read()) > 1000
        async with session.get(base + static) as r:
            assert r.status == 200  # the cached copy
        async with session.get(base + box + "home") as r:
            assert r.status == 502  # pages need the server
        # Only the served folders: not the database beside them, not by a detour.
        for path in ("/media/legaltv.sqlite3", "/media/media/../legaltv.sqlite3", "/media/tmp/x"):
            async with session.get(base + path) as r:
                assert r.status == 404, path


async def test_bodies_over_a_mebibyte_refused_outside_the_admin_uploads(stack):
    base = stack["base"]
    async with aiohttp.ClientSession() as session:
        box = await _enter(session, base)
        body = io.BytesIO(b"x" * (2 * 1024 * 1024))
        async with session.post(base + box + "cb-submit", data=body) as r:
            assert r.status == 413
