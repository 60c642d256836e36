"""Demo safety: the demo's accounts (published password) and unsigned box entry are off unless
asked for, and a server with either on says so loudly."""

from __future__ import annotations

import asyncio
import os
import socket
import sys

from accounts import users
from tests.helpers import ROOT, TEST_SECRET, login, make_settings
from tv_server import keys
from tv_server.app import create_app
from tv_server.settings import LIMITS, SETTINGS


async def _app_client(front_client, data_dir, **overrides):
    return await front_client(create_app(make_settings(data_dir, **overrides)))


async def test_demo_accounts_cannot_log_in_after_a_start_without_demo(front_client, data_dir):
    demo = await _app_client(front_client, data_dir, demo=True)
    assert (await login(demo, "admin")).status == 303  # the demo as `make run` shows it
    assert (await demo.get("/admin/", allow_redirects=False)).status == 200
    cookies = demo.session.cookie_jar.filter_cookies(demo.make_url("/admin/"))
    await demo.close()

    plain = await _app_client(front_client, data_dir, demo=False, allow_unsigned=False)
    for username in ("admin", "editor", "reviewer", "staff", "dsq_editor", "viewer"):
        response = await login(plain, username)
        assert response.status != 303, username
        assert "ltv_admin" not in response.cookies, username
    # The session opened while the demo was on ends too.
    plain.session.cookie_jar.update_cookies(cookies, plain.make_url("/"))
    response = await plain.get("/admin/", allow_redirects=False)
    assert response.status in (302, 303)
    assert "/admin/login" in response.headers["Location"]
    # Recorded in the audit log as disabling each account.
    db = plain.app[keys.DB]
    actions = await db.fetchall(
        "SELECT object_id, detail FROM audit_log WHERE action = 'user.disable'"
    )
    assert len(actions) == 6
    assert all("demo mode off" in row["detail"] for row in actions)
    await plain.close()

    again = await _app_client(front_client, data_dir, demo=True)
    assert (await login(again, "admin")).status == 303  # --demo enables them again


async def test_demo_mode_keeps_what_people_chose(front_client, data_dir):
    demo = await _app_client(front_client, data_dir, demo=True)
    db = demo.app[keys.DB]
    editor = await users.find_user(db, "editor")
    viewer = await users.find_user(db, "viewer")
    await users.set_password(db, editor.id, "a-new-private-passphrase-7")
    await users.set_disabled(db, viewer.id, True)
    await demo.close()

    plain = await _app_client(front_client, data_dir, demo=False)
    # A demo account given its own password is a person's account now and stays.
    assert (await login(plain, "editor", "a-new-private-passphrase-7")).status == 303
    assert (await login(plain, "reviewer")).status != 303
    await plain.close()

    again = await _app_client(front_client, data_dir, demo=True)
    assert (await login(again, "reviewer")).status == 303
    assert (await login(again, "viewer")).status != 303  # a person disabled it: stays so


async def test_unsigned_entry_needs_its_own_flag(front_client, data_dir):
    demo_only = await _app_client(front_client, data_dir, demo=True, allow_unsigned=False)
    response = await demo_only.get("/tv/", params={"stb": "DEMO-0001"}, allow_redirects=False)
    assert response.status == 403
    assert "Traceback" not in await response.text()
    await demo_only.close()

    flag = await _app_client(front_client, data_dir, demo=False, allow_unsigned=True)
    response = await flag.get("/tv/", params={"stb": "DEMO-0001"}, allow_redirects=False)
    assert response.status == 303


async def test_health_and_admin_show_unsafe_modes(front_client, data_dir):
    plain = await _app_client(front_client, data_dir, demo=False, allow_unsigned=False)
    assert (await (await plain.get("/healthz")).json())["warnings"] == []
    assert "演示模式已开启" not in await (await plain.get("/admin/login")).text()
    await plain.close()

    demo = await _app_client(front_client, data_dir, demo=True, allow_unsigned=True)
    assert (await (await demo.get("/healthz")).json())["warnings"] == ["demo", "allow_unsigned"]
    html = await (await demo.get("/admin/login")).text()
    assert "演示模式已开启" in html
    assert "已允许未签名进入" in html


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _serve_until_listening(data_dir, *flags: str, env=None) -> tuple[str, str, dict]:
    """Run `legaltv serve` (with `env` added to its environment) until it answers /healthz;
    return its stdout, stderr and the health report."""
    import aiohttp

    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LEGALTV_LAUNCH_SECRET": TEST_SECRET,
        **(env or {}),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tv_server.cli",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        *flags,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                await asyncio.sleep(0.1)
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        health = await response.json()
                        break
                except aiohttp.ClientConnectionError:
                    assert proc.returncode is None, "the server stopped"
            else:
                raise AssertionError("the server did not start")
    finally:
        proc.terminate()
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 30)
        except TimeoutError:
            proc.kill()
            await proc.communicate()
            raise AssertionError("the server did not stop on SIGTERM") from None
    return out.decode(), err.decode(), health


async def test_serve_prints_a_warning_for_each_unsafe_mode(data_dir):
    out, err, health = await _serve_until_listening(data_dir, "--demo", "--allow-unsigned")
    assert health["warnings"] == ["demo", "allow_unsigned"]
    assert "WARNING: demo mode is on" in err
    assert "ordos-demo-2026" in err
    assert "WARNING: unsigned box entry is on" in err
    assert "/tv/?stb=DEMO-0001" in out  # the README's demo URLs keep working

    out, err, health = await _serve_until_listening(data_dir, "--demo")
    assert health["warnings"] == ["demo"]
    assert "unsigned box entry" not in err
    assert "/tv/?stb=DEMO-0001" not in out  # not printed when they would be refused

    out, err, health = await _serve_until_listening(data_dir)
    assert health["warnings"] == [] and health["limits_off"] == []
    assert "which turns that limit off" not in err
    assert "WARNING: demo mode is on" not in err
    assert "unsigned box entry" not in err
    assert "demo accounts with the published password disabled" in err  # the log says so


async def test_serve_warns_of_each_limit_turned_off(data_dir):
    """0 turns a limit off: allowed (a proxy in front may limit the same), but never quietly."""
    off = {"LEGALTV_REGISTER_ATTEMPTS_PER_IP": "0", "LEGALTV_SSE_STREAMS_PER_BOX": "0"}
    _out, err, health = await _serve_until_listening(data_dir, env=off)
    assert health["limits_off"] == ["register_attempts_per_ip", "sse_streams_per_box"]
    assert health["warnings"] == []  # not an unsafe mode: a choice an operator may make
    assert "WARNING: register_attempts_per_ip is 0, which turns that limit off" in err
    assert "WARNING: sse_streams_per_box is 0, which turns that limit off" in err
    assert "launch_failures_per_ip is 0" not in err


def test_every_limit_that_0_turns_off_is_warned_of():
    says_off = {s.name for s in SETTINGS if "0 turns the limit off" in s.help}
    assert says_off == set(LIMITS)
