"""Several nodes: two real `legaltv serve` processes on one throwaway PostgreSQL database
(tests/pgcluster.py) with Debian's nginx in front, running deploy/nginx/legaltv.conf with both
nodes in its upstream (docs/scaling.md → "Adding a node").

What a user would notice: a program published through one node is served by the other within a
second; a callback submitted through one is in 我的申请 and the staff queue of the other; the
other node's open announcement streams get the refresh and new announcements; sessions, CSRF
tokens, screen tokens, launch signatures and device tokens verify on either node; the background
work runs on exactly one node and moves to the other when that one is killed with SIGKILL; a node
refuses to start on PostgreSQL with secrets of its own. In-process: a node whose listening
connection is ended drops its caches, a change with many ids crosses in several notifications,
nodes starting together migrate once, and only the leader computes the coverage figures.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from device_registry import coverage
from storage import clock
from storage.changes import MAX_IDS, Change
from storage.pg import PgDatabase
from storage.pgnodes import ChangeTransport
from tests.helpers import (
    DEMO_PASSWORD,
    NGINX,
    ROOT,
    TEST_SECRET,
    api_key_header,
    enter,
    free_port,
    launch_params,
    make_settings,
    nginx_confs,
)
from tv_server import caches, coverage_tasks, keys
from tv_server.app import create_app
from tv_server.migrations import MIGRATIONS

HAVE_NGINX = Path(NGINX).exists()
SECRETS = {
    "LEGALTV_LAUNCH_SECRET": TEST_SECRET,
    "LEGALTV_SECRET_KEY": "multinode-session-key-" + "k" * 20,
    "LEGALTV_DEVICE_TOKEN_SECRET": "multinode-device-key-" + "d" * 20,
}
MEDIA_FOLDERS = ("media", "renditions", "titlecards", "video")
VILLAGE = "150602001001"  # DEMO-0001's


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGALTV_")}
    env.update(SECRETS)
    env.update(
        {
            "LEGALTV_DATABASE_URL": url,
            "LEGALTV_TRUSTED_PROXIES": "127.0.0.1",
            "LEGALTV_SSE_KEEPALIVE_SECONDS": "1",
            "LEGALTV_WEBHOOK_POLL_SECONDS": "0.3",
            "LEGALTV_VIDEO_JOBS_CONCURRENCY": "0",
            "LEGALTV_ANNOUNCEMENT_POLL_SECONDS": "60",  # only change events are that quick
        }
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def demo(postgres, tmp_path_factory) -> tuple[str, Path]:
    """A PostgreSQL database holding the demo (loaded by `legaltv demo load`, as an operator
    would) to copy for each test, and the data dir holding its media."""
    name = "multinode_" + uuid.uuid4().hex[:12]
    postgres.psql(f"CREATE DATABASE {name}")
    folder = tmp_path_factory.mktemp("multinode-demo")
    done = subprocess.run(
        [sys.executable, "-m", "tv_server.cli", "demo", "load", "--data-dir", str(folder)],
        cwd=ROOT, env=_env(postgres.url(name)), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for sub in MEDIA_FOLDERS:
        (folder / sub).mkdir(exist_ok=True)
    return name, folder


class Node:
    """One `legaltv serve` process of the installation."""

    def __init__(self, name: str, url: str, media: Path, folder: Path) -> None:
        self.name, self.url = name, url
        self.data = folder / name
        self.data.mkdir()
        for sub in MEDIA_FOLDERS:  # the shared media (an NFS mount in production)
            (self.data / sub).symlink_to(media / sub)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tv_server.cli", "serve", "--demo", "--allow-unsigned",
                 "--data-dir", str(self.data), "--port", str(self.port)],
                cwd=ROOT, env=_env(self.url), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    async def health(self) -> dict:
        async with aiohttp.ClientSession() as session, session.get(self.base + "/healthz") as r:
            assert r.status == 200
            return await r.json()

    async def ready(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            try:
                await self.health()
                return
            except (aiohttp.ClientError, AssertionError):
                await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name} did not start:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
async def installation(postgres, demo, tmp_path):
    """Two nodes on a fresh copy of the demo database, nginx in front of both."""
    if not HAVE_NGINX:
        pytest.fail("nginx is missing (Debian package nginx; `make test` installs it)")
    template, media = demo
    name = "mn_" + uuid.uuid4().hex[:12]
    await asyncio.to_thread(postgres.psql, f"CREATE DATABASE {name} TEMPLATE {template}")
    url = postgres.url(name)
    nodes = [Node(n, url, media, tmp_path) for n in ("a", "b")]
    for node in nodes:  # one after the other: the second finds the schema migrated
        node.start()
        await node.ready()
    folder = tmp_path / "nginx"
    folder.mkdir()
    web_port = free_port()
    main = nginx_confs(folder, upstreams=[n.port for n in nodes], listen=web_port, root=media)
    with (folder / "stderr.log").open("ab") as out:
        nginx = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
            [NGINX, "-p", str(folder), "-c", str(main)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        front = f"http://127.0.0.1:{web_port}"
        for _ in range(100):
            try:
                async with aiohttp.ClientSession() as s, s.get(front + "/healthz") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            assert nginx.poll() is None, (folder / "stderr.log").read_text()
            await asyncio.sleep(0.1)
        yield {"nodes": nodes, "front": front, "url": url}
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        for node in nodes:
            node.stop()


def _jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # 127.0.0.1


async def _enter(session: aiohttp.ClientSession, base: str, serial: str = "DEMO-0001") -> str:
    async with session.get(base + "/tv/", params={"stb": serial}, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        return r.headers["Location"][: -len("home")]


async def _login(session: aiohttp.ClientSession, base: str, user: str) -> None:
    async with session.get(base + "/admin/login") as r:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await r.text()).group(1)
    data = {"csrf_token": token, "username": user, "password": DEMO_PASSWORD}
    async with session.post(base + "/admin/login", data=data, allow_redirects=False) as r:
        assert r.status == 303, await r.text()


async def _csrf(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as r:
        assert r.status == 200, await r.text()
        return re.search(r'name="csrf_token" value="([^"]+)"', await r.text()).group(1)


async def _a_program(session: aiohttp.ClientSession, base: str, box: str) -> int:
    """A program the box is shown (from its category screens)."""
    async with session.get(base + box + "programs") as r:
        categories = re.findall(r'href="(?:[^"]*/)?(c-[^"/?]+)"', await r.text())
    for category in categories:
        async with session.get(base + box + category) as r:
            found = re.search(r'href="(?:[^"]*/)?p-(\d+)"', await r.text())
        if found:
            return int(found.group(1))
    raise AssertionError("no program on the box's screens")


async def _status_within(session, url: str, wanted: int, seconds: float) -> float:
    """Poll `url` until it answers `wanted`; return how long that took."""
    started = time.monotonic()
    while True:
        async with session.get(url, allow_redirects=False) as r:
            await r.read()
            if r.status == wanted:
                return time.monotonic() - started
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{url} did not answer {wanted} within {seconds} s")
        await asyncio.sleep(0.05)


async def test_a_program_published_on_one_node_is_served_by_the_other_within_a_second(
    installation,
):
    a, b = installation["nodes"]
    async with aiohttp.ClientSession() as tv, _jar() as editor:
        box = await _enter(tv, b.base)
        pid = await _a_program(tv, b.base, box)
        screen = f"{b.base}{box}p-{pid}-1"
        for _ in range(2):  # now in node b's screen cache
            async with tv.get(screen) as r:
                assert r.status == 200
        await _login(editor, a.base, "admin")
        workflow = f"{a.base}/admin/programs/{pid}/workflow"
        for action, wanted in (("unpublish", 404), ("republish", 200)):
            token = await _csrf(editor, f"{a.base}/admin/programs/{pid}")
            data = {"csrf_token": token, "action": action}
            async with editor.post(workflow, data=data, allow_redirects=False) as r:
                assert r.status == 303, await r.text()
            assert await _status_within(tv, screen, wanted, 1.0) < 1.0, action
    assert (await b.health())["node"]["changes_received"] >= 2


async def test_a_callback_through_one_node_is_in_my_requests_and_the_queue_of_the_other(
    installation,
):
    a, b = installation["nodes"]
    async with aiohttp.ClientSession() as tv, _jar() as staff:
        box = await _enter(tv, a.base)
        data = {"svc": "consultation", "sp": "", "d": "", "phone": "13800138000"}
        async with tv.post(a.base + box + "cb-phone", data=data, allow_redirects=False) as r:
            draft = re.search(r"d=([0-9a-f]+)", r.headers["Location"]).group(1)
        data = {"d": draft, "w": "morning"}
        async with tv.post(a.base + box + "cb-submit", data=data, allow_redirects=False) as r:
            assert r.status == 303, await r.text()
            ref = r.headers["Location"].rsplit("r-", 1)[1]
        # The box's screen token (signed by the shared secret) on the other node: 我的申请.
        async with tv.get(b.base + box + "mine") as r:
            assert r.status == 200
            assert ref in await r.text()
        await _login(staff, b.base, "staff")
        async with staff.get(b.base + "/admin/callbacks") as r:
            assert r.status == 200
            assert ref in await r.text()


async def _event(stream: aiohttp.ClientResponse, start: bytes) -> bytes:
    """The stream's next event beginning with `start` (keep-alives and others skipped)."""
    while True:
        event = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)
        if event.startswith(start):
            return event


async def test_refreshes_and_announcements_reach_the_boxs_stream_on_another_node(installation):
    """Staff claim the request on node a; the box's announcement streams, one on node b and one
    through nginx, get `refresh` (its 我的申请 reloads); then an announcement staff make on
    node a reaches both."""
    a, b = installation["nodes"]
    conn = await asyncpg.connect(installation["url"])
    try:
        async with aiohttp.ClientSession() as tv, _jar() as staff:
            box = await _enter(tv, a.base)
            data = {"svc": "consultation", "sp": "", "d": "", "phone": "13800138001"}
            async with tv.post(a.base + box + "cb-phone", data=data, allow_redirects=False) as r:
                draft = re.search(r"d=([0-9a-f]+)", r.headers["Location"]).group(1)
            data = {"d": draft, "w": "morning"}
            async with tv.post(a.base + box + "cb-submit", data=data, allow_redirects=False) as r:
                ref = r.headers["Location"].rsplit("r-", 1)[1]
            cid = await conn.fetchval("SELECT id FROM callback_requests WHERE ref = $1", ref)
            await _login(staff, a.base, "staff")
            front = installation["front"]
            async with (
                tv.get(b.base + box + "events") as stream,
                tv.get(front + box + "events") as fronted,
            ):  # and one through nginx, on whichever node it picks
                for s in (stream, fronted):
                    assert s.status == 200
                    assert (await s.content.readuntil(b"\n\n")).startswith(b"retry:")
                token = await _csrf(staff, f"{a.base}/admin/callbacks/{cid}")
                async with staff.post(
                    f"{a.base}/admin/callbacks/{cid}",
                    data={"csrf_token": token, "action": "claim"},
                    allow_redirects=False,
                ) as r:
                    assert r.status == 303, await r.text()
                claimed = time.monotonic()
                for s in (stream, fronted):
                    await _event(s, b"event: refresh")
                    assert time.monotonic() - claimed < 1.0
                # An announcement made on node a (the nodes' own poll is a minute away here).
                form = aiohttp.FormData()
                token = await _csrf(staff, f"{a.base}/admin/announcements/new")
                fields = {"text": "多节点公告测试", "level": "urgent", "region_codes": VILLAGE}
                for key, value in {"csrf_token": token, **fields}.items():
                    form.add_field(key, value)
                new = f"{a.base}/admin/announcements/new"
                async with staff.post(new, data=form, allow_redirects=False) as r:
                    assert r.status == 303, await r.text()
                made = time.monotonic()
                for s in (stream, fronted):
                    event = await _event(s, b"event: announcement")
                    assert "多节点公告测试" in event.decode()
                    assert time.monotonic() - made < 1.0
    finally:
        await conn.close()


async def test_sessions_csrf_launch_signatures_and_device_tokens_verify_on_every_node(installation):
    a, b = installation["nodes"]
    async with _jar() as admin:
        await _login(admin, a.base, "admin")  # the session is made on a
        async with admin.get(b.base + "/admin/users", allow_redirects=False) as r:
            assert r.status == 200  # and holds on b
        token = await _csrf(admin, a.base + "/admin/users")  # a form of a, posted to b
        data = {"csrf_token": token}
        async with admin.post(b.base + "/admin/logout", data=data, allow_redirects=False) as r:
            assert r.status == 303, await r.text()
        async with admin.get(a.base + "/admin/users", allow_redirects=False) as r:
            assert r.status in (302, 303) and "login" in r.headers["Location"]  # ended on a too
    async with aiohttp.ClientSession() as tv:
        for node in (a, b):  # the operator portal's signed launch URL, on either node
            params = launch_params()
            async with tv.get(node.base + "/tv/launch", params=params, allow_redirects=False) as r:
                assert r.status == 303, await r.text()
    # A device token issued by `legaltv devices token` (the shared device_token_secret).
    issued = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tv_server.cli", "devices", "token", "DEMO-0002",
         "--data-dir", str(a.data)],
        cwd=ROOT, env=_env(installation["url"]), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    bearer = {"Authorization": "Bearer " + issued.stdout.strip()}
    async with aiohttp.ClientSession() as box:
        for node in (a, b):
            async with box.post(
                node.base + "/api/v1/devices/DEMO-0002/heartbeat",
                json={"uptime": 5},
                headers=bearer,
            ) as r:
                assert r.status == 202, await r.text()
    # Through nginx, which alternates the nodes: the login form comes from one and its post
    # goes to the other; every form of every page verifies wherever it lands.
    async with _jar() as admin:
        await _login(admin, installation["front"], "admin")
        for _ in range(4):
            assert await _csrf(admin, installation["front"] + "/admin/users")
    for node in (a, b):
        assert (await node.health())["node"]["listening"] is True


async def test_background_work_runs_on_one_node_and_moves_when_it_is_killed(installation):
    """A webhook receiver gets the outbox's deliveries from the leading node only; kill -9 that
    node and the other leads within a few seconds and delivers the next ones."""
    nodes = installation["nodes"]
    got: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        got.append(await request.text())
        return web.Response(text="ok")

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner = web.AppRunner(receiver)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    added = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tv_server.cli", "callbacks", "webhook-add", "hook",
         f"http://127.0.0.1:{port}/hook", "--data-dir", str(nodes[0].data)],
        cwd=ROOT, env=_env(installation["url"]), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    try:
        leaders = [n for n in nodes if (await n.health())["node"]["leader"]]
        assert len(leaders) == 1, [n.tail() for n in nodes]
        async with aiohttp.ClientSession() as session:  # /metrics from this machine
            for node in nodes:
                async with session.get(node.base + "/metrics") as r:
                    wanted = f"legaltv_node_leader {int(node is leaders[0])}\n"
                    assert wanted in await r.text()
        leader = leaders[0]
        other = nodes[1 - nodes.index(leader)]

        async def request_through(node: Node, phone: str) -> str:
            async with aiohttp.ClientSession() as tv:
                box = await _enter(tv, node.base)
                data = {"svc": "consultation", "sp": "", "d": "", "phone": phone}
                async with tv.post(
                    node.base + box + "cb-phone", data=data, allow_redirects=False
                ) as r:
                    draft = re.search(r"d=([0-9a-f]+)", r.headers["Location"]).group(1)
                async with tv.post(
                    node.base + box + "cb-submit",
                    data={"d": draft, "w": "morning"},
                    allow_redirects=False,
                ) as r:
                    return r.headers["Location"].rsplit("r-", 1)[1]

        async def delivered(ref: str) -> None:
            deadline = time.monotonic() + 10
            while not any(ref in body for body in got):
                assert time.monotonic() < deadline, f"{ref} not delivered: {got}"
                await asyncio.sleep(0.1)

        first = await request_through(other, "13800138002")  # submitted on the follower
        await delivered(first)  # delivered by the leader

        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait(10)
        killed = time.monotonic()
        while not (await other.health())["node"]["leader"]:
            assert time.monotonic() - killed < 5, other.tail()
            await asyncio.sleep(0.1)
        took = time.monotonic() - killed
        second = await request_through(other, "13800138003")
        await delivered(second)
        assert took < 5
        await asyncio.sleep(1.0)  # nothing is delivered twice (by two nodes)
        ids = [re.search(r'"delivery_id": "([^"]+)"', body).group(1) for body in got]
        assert len(ids) == len(set(ids)), ids
        # The front still answers (nginx passes over the dead node).
        async with aiohttp.ClientSession() as session:
            await _enter(session, installation["front"])
    finally:
        await runner.cleanup()


def test_a_node_refuses_postgresql_with_secrets_of_its_own(postgres, tmp_path):
    env = _env(postgres.url("postgres"))
    del env["LEGALTV_SECRET_KEY"], env["LEGALTV_DEVICE_TOKEN_SECRET"]
    done = subprocess.run(
        [sys.executable, "-m", "tv_server.cli", "serve", "--data-dir", str(tmp_path),
         "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "LEGALTV_SECRET_KEY" in done.stderr and "LEGALTV_DEVICE_TOKEN_SECRET" in done.stderr
    assert "LEGALTV_LAUNCH_SECRET" not in done.stderr
    assert not (tmp_path / "secret_key").exists()


async def _copy_of_demo(postgres, demo) -> str:
    name = "mn_" + uuid.uuid4().hex[:12]
    await asyncio.to_thread(postgres.psql, f"CREATE DATABASE {name} TEMPLATE {demo[0]}")
    return postgres.url(name)


async def test_a_node_that_loses_its_listener_drops_its_caches(
    postgres, demo, data_dir, front_client
):
    """A change the node never heard of (made while its listening connection was down) is
    served once it notices the loss: it drops its caches rather than serve them."""
    url = await _copy_of_demo(postgres, demo)
    client = await front_client(create_app(make_settings(data_dir, database_url=url)))
    conn = await asyncpg.connect(url)
    try:
        point_id, name = await conn.fetchrow("SELECT id, name FROM service_points ORDER BY id")
        box = await enter(client)
        for _ in range(2):
            assert name in await (await client.get(f"{box}o-{point_id}")).text()
        await conn.execute(
            "UPDATE service_points SET name = '改名的服务站' WHERE id = $1", point_id
        )
        assert name in await (await client.get(f"{box}o-{point_id}")).text()  # cached
        node = client.app[keys.NODE]
        ended = await conn.fetchval(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            "legaltv-listen-" + node.id,
        )
        assert ended
        deadline = time.monotonic() + 10
        while "改名的服务站" not in await (await client.get(f"{box}o-{point_id}")).text():
            assert time.monotonic() < deadline, "the node kept its cache"
            await asyncio.sleep(0.1)
        while not (await (await client.get("/healthz")).json())["node"]["listening"]:
            assert time.monotonic() < deadline, "the node did not listen again"
            await asyncio.sleep(0.1)
        assert node.transport.reconnects == 1
    finally:
        await conn.close()


async def test_a_cli_command_reaches_a_running_node_at_once(postgres, demo, data_dir, front_client):
    """`legaltv laws import` is a process of its own: the change its transaction emits is
    NOTIFYd with its COMMIT, so a running node serves the renamed law on its cached page at
    once, with no restart and no poll."""
    from content.laws import register as laws

    url = await _copy_of_demo(postgres, demo)
    client = await front_client(create_app(make_settings(data_dir, database_url=url)))
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = 'jiaotong-shigu'")
    box = await enter(client)
    page = f"{box}p-{pid}-4"
    for _ in range(2):  # now in the node's screen cache
        assert "《中华人民共和国道路交通安全法》" in await (await client.get(page)).text()
    law = (await laws.get_law(db, "road-traffic-safety-law")).values()
    csv_file = data_dir / "laws.csv"
    csv_file.write_bytes(laws.export_csv([laws.Law(**law | {"name": "道路交通安全法（新名）"})]))
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tv_server.cli", "laws", "import", str(csv_file),
        "--data-dir", str(data_dir / "cli"), cwd=ROOT, env=_env(url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await cli.communicate()
    assert cli.returncode == 0, err.decode()
    assert "1 changed" in out.decode()
    started = time.monotonic()
    while "《道路交通安全法（新名）》" not in await (await client.get(page)).text():
        assert time.monotonic() - started < 1.0, "the node kept serving the old name"
        await asyncio.sleep(0.05)


async def test_a_change_with_many_long_ids_crosses_in_several_notifications(postgres, demo):
    url = await _copy_of_demo(postgres, demo)
    sender, receiver = PgDatabase(url), PgDatabase(url)
    heard: list[str] = []
    receiver.changes.subscribe(["box"], lambda change: heard.extend(change.ids))
    transports = []
    for db in (sender, receiver):
        await db.open()
        transports.append(ChangeTransport(url, db.changes, db.node_id, db.notify))
        await transports[-1].start()
    try:
        serials = [f"LONG-SERIAL-{n:03d}-" + "x" * 60 for n in range(MAX_IDS)]
        async with sender.transaction() as tx:
            tx.emit("box", serials)  # ~16 KB of ids: over NOTIFY's 8,000 bytes
        # The same change published after its write (a background job's): relayed outside
        # a transaction.
        await sender.changes.publish(Change.of("box", serials))
        deadline = time.monotonic() + 5
        while len(heard) < 2 * MAX_IDS:
            assert time.monotonic() < deadline, len(heard)
            await asyncio.sleep(0.05)
        assert sorted(heard) == sorted(serials * 2)
    finally:
        for transport in transports:
            await transport.stop()
        for db in (sender, receiver):
            await db.close()


async def test_nodes_starting_at_the_same_moment_migrate_once(postgres):
    """systemd starts every node at boot: on an empty database their migrations race."""
    name = "mn_" + uuid.uuid4().hex[:12]
    await asyncio.to_thread(postgres.psql, f"CREATE DATABASE {name}")
    nodes = [PgDatabase(postgres.url(name)) for _ in range(2)]
    for db in nodes:
        await db.open()
    try:
        applied = await asyncio.gather(*(db.migrate(MIGRATIONS) for db in nodes))
        assert sorted(len(names) for names in applied) == [0, len(MIGRATIONS)]
    finally:
        for db in nodes:
            await db.close()


async def test_only_the_leader_computes_coverage_and_the_others_serve_its_figures(
    postgres, demo, data_dir, front_client
):
    url = await _copy_of_demo(postgres, demo)
    apps = [await front_client(create_app(make_settings(data_dir, database_url=url)))]
    apps.append(await front_client(create_app(make_settings(data_dir, database_url=url))))
    deadline = time.monotonic() + 10
    while not any(c.app[keys.NODE].leads for c in apps):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    leader, follower = sorted(apps, key=lambda c: not c.app[keys.NODE].leads)
    assert not follower.app[keys.NODE].leads
    db = follower.app[keys.DB]
    computed = coverage.computations(db)
    # A staff change the figures depend on, made through the follower: every node forgets its
    # figures; the leader computes new ones, which the follower then serves as its own.
    changed_at = time.time()
    await caches.changed(follower.app, "coverage")
    while (await db.fetchval("SELECT MAX(computed_at) FROM coverage_latest") or 0) < changed_at:
        assert time.monotonic() < deadline + 10, "the leader did not recompute"
        await asyncio.sleep(0.1)
    kept = await db.fetchval("SELECT MAX(computed_at) FROM coverage_latest")
    await asyncio.sleep(coverage_tasks.FOLLOW_SECONDS + 1)
    headers = await api_key_header(follower, "coverage:read")
    response = await follower.get("/api/v1/coverage", params={"region": "1506"}, headers=headers)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["as_of"] == clock.iso(kept) and body["stale"] is False
    assert coverage.computations(db) == computed  # the follower computed nothing
