"""/metrics: the Prometheus text a scraper reads, and who may read it (metrics_access)."""

from __future__ import annotations

import re

from tests.helpers import make_settings
from tv_server import keys
from tv_server.app import create_app

TOKEN = "scrape-me-please-0123456789"


def _value(text: str, name: str, **labels) -> float:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(f"{name}{{{inner}}}" if labels else name) + r" (\S+)$"
    found = re.search(pattern, text, re.M)
    assert found, f"{name} {labels} missing"
    return float(found.group(1))


async def test_metrics_count_requests_caches_heartbeats_and_the_writer(client, box):
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE status = 'published' LIMIT 1")
    for _ in range(3):
        assert (await client.get(f"{box}p-{pid}-1")).status == 200  # 2 from the fast lane
    assert (await client.get(f"{box}no-such")).status == 404
    response = await client.get("/metrics")  # the test client comes from 127.0.0.1
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    assert _value(text, "legaltv_requests_total", family="tv_screen", status=200) >= 3
    assert _value(text, "legaltv_requests_total", family="tv_screen", status=404) == 1
    assert _value(text, "legaltv_requests_total", family="tv_entry", status=303) == 1  # enter
    count = _value(text, "legaltv_request_seconds_count", family="tv_screen")
    assert _value(text, "legaltv_request_seconds_bucket", family="tv_screen", le="+Inf") == count
    assert _value(text, "legaltv_cache_hits_total", cache="tv_fastlane") >= 2
    assert _value(text, "legaltv_cache_misses_total", cache="tv_screens") >= 1
    assert _value(text, "legaltv_db_commits_total") >= 1
    for name in (
        "legaltv_db_write_queue",
        "legaltv_sse_streams",
        "legaltv_heartbeats_pending",
        "legaltv_heartbeats_accepted_total",
        "legaltv_db_commit_seconds_total",
        "legaltv_node_leader",
    ):
        _value(text, name)
    # Every sample line is NAME{labels} VALUE or NAME VALUE, after its HELP and TYPE.
    for line in text.splitlines():
        assert line.startswith("# ") or re.fullmatch(r"[a-z_]+(\{[^}]*\})? [-+.\deInf]+", line)


async def test_metrics_refuse_a_request_forwarded_by_a_proxy(client):
    response = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


async def test_metrics_by_token_and_off(front_client, data_dir):
    app = create_app(make_settings(data_dir, metrics_access="token", metrics_token=TOKEN))
    client = await front_client(app)
    assert (await client.get("/metrics")).status == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    good = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status == 200 and "legaltv_requests_total" in await good.text()
    off = await front_client(create_app(make_settings(data_dir, metrics_access="off")))
    assert (await off.get("/metrics")).status == 404


async def test_healthz_says_the_database_answers_and_the_writer_queue(client):
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok" and body["database"]["status"] == "ok"
    assert isinstance(body["database"]["write_queue"], int)  # transactions waiting


async def test_every_cache_reports_its_hits_and_misses(client, box):
    """The caches that were hand-rolled dicts (verified box tokens and legacy device tokens, the
    announcements per region chain, the pruned stylesheets, phone number forms, 我的申请's
    office names, routing's points per chain) are one BoundedCache each, counted in /metrics."""
    from tests.helpers import draft_for, submit

    draft = await draft_for(client, box)
    assert (await submit(client, box, draft)).status == 303
    for _ in range(2):
        assert (await client.get(box + "mine")).status == 200
    text = await (await client.get("/metrics")).text()
    for name in (
        "tv_box_tokens",
        "tv_announcements_by_chain",
        "tv_sheet_names",
        "phone_national_forms",
        "tv_point_names",
        "callbacks_routing_points",
    ):
        hits = _value(text, "legaltv_cache_hits_total", cache=name)
        assert hits + _value(text, "legaltv_cache_misses_total", cache=name) >= 1, name
        _value(text, "legaltv_cache_entries", cache=name)
    assert _value(text, "legaltv_cache_hits_total", cache="tv_box_tokens") >= 3
    assert _value(text, "legaltv_cache_hits_total", cache="tv_point_names") >= 1
    _value(text, "legaltv_cache_misses_total", cache="device_auth")
