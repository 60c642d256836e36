"""The client's address behind nginx (`trusted_proxies`): each client gets its own login and
self-registration bucket and its own address in the audit log, and nobody can pick an address
by sending X-Forwarded-For."""

import pytest

from tests.helpers import login, make_settings
from tv_server import keys
from tv_server.app import create_app
from tv_server.settings import load_settings


async def _client(front_client, data_dir, **settings):
    return await front_client(create_app(make_settings(data_dir, **settings)))


async def _login_from(client, forwarded_for: str | None) -> int:
    # The login form's session cookie and token, then a wrong password sent "through nginx".
    html = await (await client.get("/admin/login")).text()
    token = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = await client.post(
        "/admin/login",
        data={"csrf_token": token, "username": "nobody", "password": "whatever pw"},
        headers=headers,
    )
    return response.status


async def _audited_addresses(client) -> set[str]:
    rows = await client.app[keys.DB].fetchall("SELECT ip FROM audit_log WHERE action = 'login'")
    return {r["ip"] for r in rows}


async def test_without_trusted_proxies_x_forwarded_for_is_ignored(front_client, data_dir):
    client = await _client(front_client, data_dir, login_attempts_per_ip=3)
    statuses = [await _login_from(client, f"198.51.100.{i}") for i in range(4)]
    assert statuses == [401, 401, 401, 429]  # a new header each time does not buy a new bucket
    assert await _audited_addresses(client) == {"127.0.0.1"}


async def test_behind_a_trusted_proxy_every_client_has_its_own_login_bucket(front_client, data_dir):
    client = await _client(
        front_client, data_dir, login_attempts_per_ip=3, trusted_proxies="127.0.0.1"
    )
    assert [await _login_from(client, "203.0.113.1") for _ in range(4)] == [401, 401, 401, 429]
    # Another household behind the same nginx is not locked out by the first one.
    assert await _login_from(client, "203.0.113.2") == 401
    assert await _audited_addresses(client) == {"203.0.113.1", "203.0.113.2"}


async def test_a_client_cannot_spoof_its_address_through_the_proxy(front_client, data_dir):
    client = await _client(
        front_client, data_dir, login_attempts_per_ip=3, trusted_proxies="127.0.0.1, 10.0.0.0/8"
    )
    for _ in range(3):
        assert await _login_from(client, "203.0.113.7") == 401
    # The client wrote an address of its own; nginx appended the one it saw (203.0.113.7),
    # and a second trusted proxy its own: the client is still 203.0.113.7, and over its limit.
    assert await _login_from(client, "192.0.2.1, 203.0.113.7") == 429
    assert await _login_from(client, "192.0.2.2, 203.0.113.7, 10.1.2.3") == 429
    assert await _login_from(client, "not an address, 203.0.113.7") == 429


async def test_registration_limits_use_the_client_address(front_client, data_dir):
    async def register(client, serial: str, forwarded_for: str) -> int:
        response = await client.post(
            f"/api/v1/devices/{serial}/register",
            json={},
            headers={"X-Forwarded-For": forwarded_for},
        )
        return response.status

    behind = await _client(
        front_client, data_dir, register_attempts_per_ip=2, trusted_proxies="127.0.0.0/8"
    )
    assert [await register(behind, f"NEW-A{i}", "203.0.113.1") for i in range(3)] == [
        202,
        202,
        429,
    ]
    assert await register(behind, "NEW-B0", "203.0.113.2") == 202

    direct = await _client(front_client, data_dir, register_attempts_per_ip=2)
    statuses = [await register(direct, f"NEW-C{i}", f"198.51.100.{i}") for i in range(3)]
    assert statuses == [202, 202, 429]


def test_trusted_proxies_setting_reads_lists_and_networks(tmp_path):
    settings = load_settings(env={"LEGALTV_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8"]
    config = tmp_path / "legaltv.toml"
    config.write_text('trusted_proxies = ["::1", "192.168.1.0/24"]\n')
    assert len(load_settings(config, env={}).trusted_proxies) == 2
    assert load_settings(env={}).trusted_proxies == ()
    with pytest.raises(ValueError, match="LEGALTV_TRUSTED_PROXIES: trusted_proxies must be"):
        load_settings(env={"LEGALTV_TRUSTED_PROXIES": "nginx.local"})


async def test_login_still_works_from_behind_the_proxy(front_client, data_dir):
    client = await _client(front_client, data_dir, trusted_proxies="127.0.0.1")
    assert (await login(client, "admin")).status == 303
