"""An attacker hammering the operator portal's launch URL (`/tv/launch`) with forged or stale
signatures: failed launches are limited per client address (`launch_failures_per_ip`), answered
with the TV's readable notice and 429, while valid signed launches — many boxes behind one
operator NAT — are never limited."""

import time

from tests.helpers import TEST_SECRET, launch_params, make_settings
from tv_server.app import create_app
from tv_server.boxauth import launch_signature

LIMIT = 4


async def _client(front_client, data_dir, **settings):
    return await front_client(
        create_app(make_settings(data_dir, launch_failures_per_ip=LIMIT, **settings))
    )


def forged(serial="DEMO-0001", lang=""):
    params = {"stb": serial, "ts": str(int(time.time())), "sig": "0" * 64}
    if lang:
        params["lang"] = lang
    return params


async def _launch(client, params, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await client.get("/tv/launch", params=params, headers=headers, allow_redirects=False)


async def test_forged_signatures_are_limited_per_address(front_client, data_dir):
    client = await _client(front_client, data_dir)
    statuses = [(await _launch(client, forged())).status for _ in range(LIMIT)]
    assert statuses == [403] * LIMIT  # the ordinary 无法识别 notice while under the limit
    refused = await _launch(client, forged())
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    html = await refused.text()
    assert "操作太频繁，请稍后再试。" in html and 'id="n-ok"' in html  # the readable TV notice
    # A stale signature (a real one, an hour old) is a failure too, and refused as well.
    stale = launch_params(ts=int(time.time()) - 3600)
    assert (await _launch(client, stale)).status == 429
    # The box with a valid signature behind the same address goes in all the same.
    valid = await _launch(client, launch_params())
    assert valid.status == 303 and "/tv/b/" in valid.headers["Location"]


async def test_valid_signed_launches_are_never_limited(front_client, data_dir):
    client = await _client(front_client, data_dir)
    for i in range(LIMIT * 5):
        serial = f"DEMO-000{1 + i % 4}"
        response = await _launch(client, launch_params(serial))
        assert response.status == 303, (i, response.status)


async def test_each_client_behind_the_proxy_has_its_own_bucket(front_client, data_dir):
    client = await _client(front_client, data_dir, trusted_proxies="127.0.0.1")
    for _ in range(LIMIT):
        assert (await _launch(client, forged(), "203.0.113.9")).status in (400, 403)
    assert (await _launch(client, forged(), "203.0.113.9")).status == 429
    assert (await _launch(client, forged(), "203.0.113.10")).status in (400, 403)


async def test_the_refusal_reads_in_mongolian_with_the_chinese_under_it(front_client, data_dir):
    client = await _client(front_client, data_dir)
    for _ in range(LIMIT):
        await _launch(client, forged(lang="mn"))
    refused = await _launch(client, forged(lang="mn"))
    assert refused.status == 429
    html = await refused.text()
    # A box not known yet asking for Mongolian: the image path (every box can show it) with
    # the Chinese text under it (docs/translation.md).
    assert '<img class="mi"' in html and 'alt="操作太频繁，请稍后再试。"' in html
    assert '<div class="zh-twin"' in html and "操作太频繁，请稍后再试。</p>" in html


async def test_a_signed_launch_for_another_language_is_not_a_failure(front_client, data_dir):
    client = await _client(front_client, data_dir)
    ts = str(int(time.time()))
    for _ in range(LIMIT * 2):
        params = {"stb": "DEMO-0002", "ts": ts, "lang": "mn"}
        params["sig"] = launch_signature(TEST_SECRET, "DEMO-0002", ts, "mn")
        assert (await _launch(client, params)).status == 303
