"""Logging in and staying logged in, attacked: anonymous writes to the audit log, the lock-out
race, sessions that outlive a logout, and telling which usernames exist."""

import asyncio
import hashlib
import re
import threading
import time

import pytest

from accounts import audit
from tests.helpers import DEMO_PASSWORD, csrf_of, login, make_settings
from tv_server import keys
from tv_server.app import create_app
from tv_server.settings import load_settings

ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


async def _audit_rows(client, action: str) -> list:
    return await client.app[keys.DB].fetchall(
        "SELECT username, ip, detail, length(detail) AS size FROM audit_log WHERE action = ?"
        " ORDER BY id",
        (action,),
    )


async def _login_token(client) -> str:
    html = await (await client.get("/admin/login")).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# --- anonymous writes to the audit log ------------------------------------------------------


async def test_a_900_kb_username_is_refused_before_parsing_and_writes_nothing(client):
    token = await _login_token(client)
    before = await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM audit_log")
    response = await client.post(
        "/admin/login",
        data={"csrf_token": token, "username": "u" * 900_000, "password": "whatever pw"},
    )
    assert response.status == 413
    assert "未登录时不能提交这么多内容" in await response.text()

    async def chunked():  # no Content-Length: capped while it is read
        yield f"csrf_token={token}&password=x&username=".encode()
        for _ in range(100):
            yield b"u" * 10_000

    response = await client.post(
        "/admin/login",
        data=chunked(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 413
    assert await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM audit_log") == before
    # A normal login still works afterwards.
    assert (await login(client, "admin")).status == 303


async def test_what_a_refused_login_writes_is_capped_and_marked_as_cut(client):
    token = await _login_token(client)
    response = await client.post(
        "/admin/login",
        data={"csrf_token": token, "username": "u" * 3000, "password": "whatever pw"},
    )
    assert response.status == 401
    [row] = await _audit_rows(client, "login")
    assert row["size"] < 700  # not the 3,000 characters typed
    assert '…[cut]"' in row["detail"]


async def test_the_audit_module_caps_every_field_whoever_calls_it(client):
    db = client.app[keys.DB]
    await audit.record(
        db,
        user=None,
        action="a" * 5000,
        object_type="t" * 5000,
        object_id="o" * 5000,
        detail={"k" * 5000: "v" * 100_000, "many": list(range(10_000)), "deep": [[[[[["x"]]]]]]},
        ip="1" * 5000,
    )
    [entry], _total = await audit.search(db, limit=1)
    for value in (entry.action, entry.object_type, entry.object_id, entry.ip):
        assert len(value) <= audit.FIELD_MAX + len(audit.CUT) and value.endswith(audit.CUT)
    row = await db.fetchone("SELECT length(detail) AS size FROM audit_log ORDER BY id DESC")
    assert row["size"] <= audit.DETAIL_MAX


async def test_refused_logins_write_one_row_per_address_a_minute(front_client, data_dir):
    client = await front_client(create_app(make_settings(data_dir, login_attempts_per_ip=20)))
    # 20 wrong passwords, then 5 over the address limit: one row, not 25.
    token = await _login_token(client)
    for i in range(25):
        response = await client.post(
            "/admin/login",
            data={"csrf_token": token, "username": f"guess{i}", "password": "whatever pw"},
        )
        assert response.status == (401 if i < 20 else 429)
    assert len(await _audit_rows(client, "login")) == 1
    # CSRF failures from one address: one row too.
    for _ in range(10):
        response = await client.post("/admin/users/new", data={"csrf_token": "forged"})
        assert response.status == 403
    assert len(await _audit_rows(client, "csrf")) == 1


async def test_the_next_row_says_how_many_refusals_were_folded(front_client, data_dir):
    # One attempt allowed per address: the rest are refused at once (no hashing, no waiting).
    settings = make_settings(data_dir, login_attempts_per_ip=1, refusal_audit_seconds=1.5)
    client = await front_client(create_app(settings))
    statuses = [(await login(client, "nobody", "whatever pw")).status for _ in range(4)]
    assert statuses == [401, 429, 429, 429]
    assert len(await _audit_rows(client, "login")) == 1
    await asyncio.sleep(1.6)
    assert (await login(client, "nobody", "whatever pw")).status == 429
    rows = await _audit_rows(client, "login")
    assert len(rows) == 2
    assert '"folded": 3' in rows[1]["detail"] and "folded" not in rows[0]["detail"]


def test_folding_is_per_address_and_action():
    folder = audit.Folder(window=60.0)
    assert folder.admit("login 10.0.0.1", now=0.0) == 0
    assert folder.admit("login 10.0.0.1", now=10.0) is None
    assert folder.admit("login 10.0.0.2", now=10.0) == 0
    assert folder.admit("csrf 10.0.0.1", now=10.0) == 0
    assert folder.admit("login 10.0.0.1", now=59.0) is None
    assert folder.admit("login 10.0.0.1", now=61.0) == 2


# --- the lock-out race and scrypt off the event loop ------------------------------------------


async def test_fifteen_concurrent_wrong_passwords_lock_the_account(client):
    token = await _login_token(client)

    async def attempt():
        response = await client.post(
            "/admin/login",
            data={"csrf_token": token, "username": "reviewer", "password": "wrong password!"},
            allow_redirects=False,
        )
        return response.status

    statuses = await asyncio.gather(*(attempt() for _ in range(15)))
    assert statuses == [401] * 15
    row = await client.app[keys.DB].fetchone(
        "SELECT failed_logins, locked_until FROM users WHERE username = 'reviewer'"
    )
    assert row["locked_until"] is not None and row["locked_until"] > time.time() + 14 * 60
    # The right password is refused now: the account is locked.
    assert (await login(client, "reviewer")).status == 401
    assert len(await _audit_rows(client, "account.locked")) >= 1


async def test_password_hashing_runs_off_the_event_loop(client, monkeypatch):
    threads = []
    real_scrypt = hashlib.scrypt

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real_scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", spy)
    assert (await login(client, "editor")).status == 303
    assert (await login(client, "editor", "wrong password!")).status == 401
    assert len(threads) == 2
    assert threading.main_thread() not in threads  # the loop's thread never hashes


# --- which usernames exist -------------------------------------------------------------------


async def test_refusals_do_not_tell_which_usernames_exist(client, monkeypatch):
    db = client.app[keys.DB]
    await db.execute("UPDATE users SET disabled = 1 WHERE username = 'viewer'")
    calls = []
    real_scrypt = hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append(1)
        return real_scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    answers = {}
    for label, username, password in (
        ("unknown name", "no-such-user", "wrong password!"),
        ("wrong password", "editor", "wrong password!"),
        ("disabled", "viewer", DEMO_PASSWORD),
    ):
        calls.clear()
        response = await login(client, username, password)
        answers[label] = (response.status, ERROR.search(await response.text()).group(1))
        assert len(calls) == 1, f"{label}: the password hash must run once, like for any name"
    for _ in range(5):
        await login(client, "reviewer", "wrong password!")
    calls.clear()
    response = await login(client, "reviewer", "wrong password!")
    answers["locked"] = (response.status, ERROR.search(await response.text()).group(1))
    assert len(calls) == 1
    assert len(set(answers.values())) == 1, answers
    assert answers["unknown name"][0] == 401


# --- sessions end on the server ---------------------------------------------------------------


async def test_a_copied_cookie_stops_working_after_logout(client, front_client):
    assert (await login(client, "editor")).status == 303
    stolen = client.session.cookie_jar.filter_cookies(client.make_url("/admin/"))["ltv_admin"]
    thief = await front_client(client.server)
    thief.session.cookie_jar.update_cookies({"ltv_admin": stolen.value})
    assert (await thief.get("/admin/", allow_redirects=False)).status == 200
    token = await csrf_of(client)
    response = await client.post("/admin/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303
    assert (await thief.get("/admin/", allow_redirects=False)).status == 302
    # Logging in again gives a new, working session.
    assert (await login(client, "editor")).status == 303
    assert (await client.get("/admin/", allow_redirects=False)).status == 200


async def test_log_out_everywhere_ends_the_other_devices_sessions(client, front_client):
    laptop, phone = client, await front_client(client.server)
    assert (await login(laptop, "editor")).status == 303
    assert (await login(phone, "editor")).status == 303
    token = await csrf_of(laptop)
    response = await laptop.post(
        "/admin/logout", data={"csrf_token": token, "everywhere": "1"}, allow_redirects=False
    )
    assert response.status == 303 and "logged_out_everywhere" in response.headers["Location"]
    assert (await phone.get("/admin/", allow_redirects=False)).status == 302
    assert (await laptop.get("/admin/", allow_redirects=False)).status == 302
    notice = await (await laptop.get(response.headers["Location"])).text()
    assert "您已在所有设备上退出登录" in notice
    assert (await login(phone, "editor")).status == 303


async def test_the_admin_offers_log_out_everywhere(client, admin_as):
    await admin_as("editor")
    html = await (await client.get("/admin/")).text()
    assert 'name="everywhere" value="1"' in html and "在所有设备上退出" in html


@pytest.mark.parametrize(
    ("env", "secure"),
    [
        ({"LEGALTV_PUBLIC_URL": "https://tv-legal.example.org"}, True),
        ({"LEGALTV_PUBLIC_URL": "http://10.0.0.5:8080"}, False),
        (
            {"LEGALTV_PUBLIC_URL": "https://tv-legal.example.org", "LEGALTV_COOKIE_SECURE": "0"},
            False,
        ),
        ({"LEGALTV_COOKIE_SECURE": "1"}, True),
    ],
)
def test_cookie_secure_follows_an_https_public_url(env, secure):
    assert load_settings(env=env).cookie_secure is secure


async def test_an_https_site_sends_its_admin_cookie_secure_only(front_client, data_dir):
    settings = make_settings(data_dir, public_url="https://tv-legal.example.org")
    client = await front_client(create_app(settings))
    response = await client.get("/admin/login")
    assert "Secure" in response.headers["Set-Cookie"]
