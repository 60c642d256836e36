"""Entering the TV: the operator portal's signed launch URL, the demo entry, unknown boxes."""

import time

import pytest
from aiohttp import web

from tests.helpers import enter, launch_params, make_settings
from tv_server import keys
from tv_server.settings import load_settings


async def test_signed_launch_opens_home(client):
    response = await client.get("/tv/launch", params=launch_params())
    assert response.status == 200
    assert "/tv/b/" in str(response.url) and str(response.url).endswith("/home")
    html = await response.text()
    for label in ("普法节目", "服务指南", "申请回电", "我的申请", "12348"):
        assert label in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (lambda: {**launch_params(), "sig": "0" * 64}, "启动地址无效"),
        (lambda: launch_params(secret="someone-else"), "启动地址无效"),
        (lambda: launch_params(ts=int(time.time()) - 301), "已过期"),
        (lambda: launch_params(ts=int(time.time()) + 600), "已过期"),
        (lambda: {"stb": "DEMO-0001", "ts": "abc", "sig": "zz"}, "启动地址无效"),
        (lambda: {"stb": "DEMO-0001"}, "启动地址不完整"),
    ],
    ids=["wrong-sig", "wrong-secret", "stale", "future", "garbage", "missing"],
)
async def test_bad_launch_gets_a_clear_screen(client, params, message):
    response = await client.get("/tv/launch", params=params(), allow_redirects=False)
    assert response.status == 403
    html = await response.text()
    assert message in html or "重新进入" in html
    assert "Traceback" not in html
    assert 'class="f btn"' in html  # a way on, reachable by remote


async def test_launch_within_five_minutes_is_accepted(client):
    response = await client.get(
        "/tv/launch", params=launch_params(ts=int(time.time()) - 290), allow_redirects=False
    )
    assert response.status == 303


async def test_unsigned_entry_is_refused_outside_demo(front_client, data_dir):
    from tv_server.app import create_app

    client = await front_client(
        create_app(make_settings(data_dir, demo=False, allow_unsigned=False))
    )
    response = await client.get("/tv/", params={"stb": "DEMO-0001"}, allow_redirects=False)
    assert response.status == 403
    response = await client.get("/tv/launch", params=launch_params(), allow_redirects=False)
    assert response.status == 303


async def test_unknown_box_sees_polite_screen_and_is_recorded_pending(client):
    response = await client.get("/tv/launch", params=launch_params("NEW-BOX-77"))
    assert response.status == 200
    assert "还没有在您家的机顶盒开通" in await response.text()
    db = client.app[keys.DB]
    row = await db.fetchone("SELECT state, launches FROM devices WHERE serial = 'NEW-BOX-77'")
    assert row["state"] == "pending"
    await client.get("/tv/launch", params=launch_params("NEW-BOX-77"))
    row = await db.fetchone("SELECT state, launches FROM devices WHERE serial = 'NEW-BOX-77'")
    assert row["launches"] == 2


async def test_box_outside_started_waves_sees_coming_soon(client):
    # DEMO-0240 lies in a pastoral banner (Mongolian by default): its household chose Chinese.
    await client.get("/tv/", params={"stb": "DEMO-0240", "lang": "zh"})
    base = await enter(client, "DEMO-0240")
    response = await client.get(base + "home")
    assert "即将在您所在的地区开通" in await response.text()


async def test_token_keeps_box_identified_without_cookies(client, box):
    client.session.cookie_jar.clear()
    response = await client.get(box + "programs")
    assert response.status == 200
    assert "宪法与公民权利" in await response.text()


async def test_tampered_token_is_refused(client, box):
    token = box.split("/")[3]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = await client.get(f"/tv/b/{forged}/home")
    assert response.status == 403
    assert "重新进入" in await response.text()


async def test_cookie_brings_the_box_back_to_its_home(client, box):
    response = await client.get("/tv/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == box + "home"


def test_launch_secret_is_generated_once_and_kept(tmp_path):
    from tv_server.settings import ensure_secrets

    settings = load_settings(env={}, data_dir=str(tmp_path))
    first = ensure_secrets(settings).launch_secret
    second = ensure_secrets(settings).launch_secret
    assert first == second and len(first) == 64
    assert (tmp_path / "launch_secret").stat().st_mode & 0o077 == 0


async def test_launch_redirect_is_the_same_as_a_raised_one(client, box):
    # The launch returns its 303 (no exception); `/tv/` with the cookie still raises its own:
    # the two answers carry the same bytes apart from the launch's cookie and the date.
    response = await client.get("/tv/launch", params=launch_params(), allow_redirects=False)
    assert response.status == 303
    location = response.headers["Location"]
    assert response.headers["Set-Cookie"].startswith("ltv_box=" + location.split("/")[3] + ";")
    # The cookie as aiohttp's set_cookie writes it (the launch joins it around the token).
    expected = web.Response()
    settings = client.app[keys.SETTINGS]
    expected.set_cookie(
        "ltv_box",
        location.split("/")[3],
        max_age=settings.box_token_ttl,
        httponly=True,
        samesite="Lax",
        path="/tv",
        secure=settings.cookie_secure,
    )
    assert response.headers["Set-Cookie"] == expected.cookies["ltv_box"].OutputString()
    raised = await client.get("/tv/", allow_redirects=False)
    assert raised.status == 303 and raised.headers["Location"] == location
    apart = {"Set-Cookie", "Date"}
    assert [(k, v) for k, v in response.headers.items() if k not in apart] == [
        (k, v) for k, v in raised.headers.items() if k not in apart
    ]
    assert await response.read() == await raised.read() == b"303: See Other"


async def test_the_home_after_a_launch_takes_its_token_as_issued(client, box):
    """The token a launch issued is known good where it was signed: the home it redirects to
    reads it without checking its signature again (one HMAC less per launch)."""
    response = await client.get("/tv/launch", params=launch_params(), allow_redirects=False)
    tokens = client.app[keys.TOKENS].verified_tokens
    misses = tokens.misses
    home = await client.get(response.headers["Location"])
    assert home.status == 200 and "我的申请" in await home.text()
    assert tokens.misses == misses
