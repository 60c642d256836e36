"""The admin's gate: login, sessions, CSRF, lock-out, roles, audit log, user management."""

import re

from tests.helpers import csrf_of, login
from tv_server import keys


async def test_admin_pages_need_a_login(client):
    response = await client.get("/admin/users", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/admin/login?next=/admin/users")


async def test_login_and_logout(client):
    response = await login(client, "admin")
    assert response.status == 303
    home = await client.get("/admin/")
    assert home.status == 200 and "系统管理员" in await home.text()
    token = await csrf_of(client)
    response = await client.post("/admin/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303
    assert (await client.get("/admin/", allow_redirects=False)).status == 302


async def test_wrong_password_is_refused_with_a_message_and_audited(client):
    response = await login(client, "editor", "not the password")
    assert response.status == 401
    assert "用户名或密码不正确" in await response.text()
    db = client.app[keys.DB]
    row = await db.fetchone("SELECT outcome, detail FROM audit_log WHERE action = 'login'")
    assert row["outcome"] == "failed" and "editor" in row["detail"]


async def test_lockout_after_five_failures(client):
    for _ in range(5):
        response = await login(client, "reviewer", "wrong password!")
    # The one refusal message (it must not tell a locked account from an unknown name).
    assert "锁定15分钟" in await response.text()
    response = await login(client, "reviewer")
    assert response.status == 401


async def test_login_rate_limit_per_address(front_client, data_dir):
    from tests.helpers import make_settings
    from tv_server.app import create_app

    client = await front_client(create_app(make_settings(data_dir, login_attempts_per_ip=3)))
    statuses = [(await login(client, f"nobody{i}", "whatever pw")).status for i in range(4)]
    assert statuses == [401, 401, 401, 429]


async def test_forms_without_csrf_are_refused(client, admin_as):
    await admin_as("admin")
    response = await client.post("/admin/users/new", data={"username": "x"})
    assert response.status == 403
    assert "页面已过期" in await response.text()
    response = await client.post(
        "/admin/login", data={"username": "admin", "password": "ordos-demo-2026"}
    )
    assert response.status == 403


async def test_forged_session_cookie_is_ignored(client):
    client.session.cookie_jar.update_cookies({"ltv_admin": "eyJ1IjoxfQ.deadbeef"})
    assert (await client.get("/admin/", allow_redirects=False)).status == 302


async def test_security_headers_on_admin(client):
    response = await client.get("/admin/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def test_viewer_cannot_manage_users_and_it_is_audited(client, admin_as):
    await admin_as("viewer")
    response = await client.get("/admin/users")
    assert response.status == 403
    assert "没有权限" in await response.text()
    row = await client.app[keys.DB].fetchone(
        "SELECT username, action, outcome FROM audit_log WHERE outcome = 'denied'"
    )
    assert tuple(row) == ("viewer", "users.manage", "denied")


async def test_admin_creates_a_scoped_user_who_can_then_log_in(client, admin_as):
    await admin_as("admin")
    token = await csrf_of(client, "/admin/users/new")
    response = await client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "username": "dlt_staff",
            "display_name": "达拉特旗工作人员",
            "role": "staff",
            "region": "150621",
            "password": "dalate-2026-ok",
            "password2": "dalate-2026-ok",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    users_page = await (await client.get("/admin/users")).text()
    assert "dlt_staff" in users_page and "达拉特旗" in users_page
    await client.post("/admin/logout", data={"csrf_token": await csrf_of(client)})
    response = await login(client, "dlt_staff", "dalate-2026-ok")
    assert response.status == 303


async def test_bad_user_form_keeps_input_and_explains(client, admin_as):
    await admin_as("admin")
    token = await csrf_of(client, "/admin/users/new")
    response = await client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "username": "newbie",
            "display_name": "新人",
            "role": "editor",
            "region": "",
            "password": "short",
            "password2": "short",
        },
    )
    assert response.status == 400
    html = await response.text()
    assert "密码至少10个字符" in html and 'value="newbie"' in html


async def test_password_reset_ends_the_users_sessions(client, front_client, admin_as):
    other = await front_client(client.server)
    assert (await login(other, "editor")).status == 303
    assert (await other.get("/admin/", allow_redirects=False)).status == 200
    await admin_as("admin")
    db = client.app[keys.DB]
    uid = await db.fetchval("SELECT id FROM users WHERE username = 'editor'")
    token = await csrf_of(client, f"/admin/users/{uid}")
    response = await client.post(
        f"/admin/users/{uid}",
        data={
            "csrf_token": token,
            "action": "password",
            "password": "brand-new-secret",
            "password2": "brand-new-secret",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    assert (await other.get("/admin/", allow_redirects=False)).status == 302


async def test_audit_log_lists_and_filters(client, admin_as):
    await admin_as("admin")
    html = await (await client.get("/admin/audit?action=login")).text()
    assert re.search(r"<td>admin</td><td>login</td>", html)
