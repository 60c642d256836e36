"""`/metrics`: the server's figures in the Prometheus text format (version 0.0.4), hand-written.

Requests are counted and timed by the front (tv_server.front), so answers of the front lanes
count too; everything else is read when scraped: the caches' hits and misses (every cache
registered on the change hub, storage.changes), the database writer (transactions waiting, commits
and time in COMMIT), the heartbeats buffered for the next write, the open announcement streams
and the change events published.

Who may read it: the `metrics_access` setting — `loopback` (the default: only from this machine,
and never a request a reverse proxy forwarded), `token` (`Authorization: Bearer` with
`metrics_token`, from anywhere) or `off` (404).
"""

from __future__ import annotations

import bisect
import hmac
import ipaddress

from aiohttp import web

from tv_server import keys

# Route families: the first matching prefix of the raw path names a request's family.
FAMILIES = (
    ("/tv/b/", "tv_screen"),
    ("/tv/", "tv_entry"),
    ("/api/v1/devices/", "api_devices"),
    ("/api/", "api"),
    ("/open311/", "open311"),
    ("/admin", "admin"),
    ("/static/", "static"),
    ("/media/", "media"),
    ("/healthz", "healthz"),
    ("/metrics", "metrics"),
)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
ACCESS = ("loopback", "token", "off")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the text format Prometheus reads
_FORWARDED = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def family(path: str) -> str:
    for prefix, name in FAMILIES:
        if path.startswith(prefix):
            return "tv_events" if name == "tv_screen" and path.endswith("/events") else name
    return "other"


class RequestMetrics:
    """Requests by family and status, and a latency histogram per family."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        # family -> [count per bucket (+Inf last), sum of seconds]
        self.latency: dict[str, list] = {}

    def observe(self, path: str, status: int, seconds: float) -> None:
        name = family(path)
        key = (name, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get(name)
        if hist is None:
            hist = self.latency[name] = [[0] * (len(BUCKETS) + 1), 0.0]
        hist[0][bisect.bisect_left(BUCKETS, seconds)] += 1
        hist[1] += seconds


METRICS = web.AppKey("request_metrics", RequestMetrics)


def setup(app: web.Application) -> None:
    settings = app[keys.SETTINGS]
    if settings.metrics_access not in ACCESS:
        raise ValueError(
            f"metrics_access must be one of {', '.join(ACCESS)}, not {settings.metrics_access!r}"
        )
    if settings.metrics_access == "token" and len(settings.metrics_token) < 16:
        raise ValueError("metrics_access = token needs a metrics_token of 16 characters or more")
    app[METRICS] = RequestMetrics()  # its route, /metrics, is in tv_server/app.py's ROUTES


def _refusal(request: web.Request) -> web.HTTPException | None:
    settings = request.app[keys.SETTINGS]
    if settings.metrics_access == "off":
        return web.HTTPNotFound(reason="not_found")
    if settings.metrics_access == "token":
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {settings.metrics_token}".encode()):
            return web.HTTPUnauthorized(reason="unauthorized")
        return None
    peer = request.transport.get_extra_info("peername") if request.transport else None
    try:
        local = peer is not None and ipaddress.ip_address(peer[0]).is_loopback
    except ValueError:  # a Unix socket: local by definition
        local = True
    if not local or any(name in request.headers for name in _FORWARDED):
        return web.HTTPForbidden(reason="forbidden")
    return None


def _line(name: str, value, labels: dict | None = None) -> str:
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return f"{name}{{{inner}}} {value}"
    return f"{name} {value}"


def render(app: web.Application) -> str:
    out: list[str] = []

    def head(name: str, kind: str, text: str) -> None:
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")

    metrics = app[METRICS]
    head("legaltv_requests_total", "counter", "Requests answered, by route family and status.")
    for (name, status), n in sorted(metrics.requests.items()):
        out.append(_line("legaltv_requests_total", n, {"family": name, "status": status}))
    head("legaltv_request_seconds", "histogram", "Time to answer a request, by route family.")
    for name, (counts, total) in sorted(metrics.latency.items()):
        running = 0
        for bound, n in zip((*BUCKETS, "+Inf"), counts, strict=True):
            running += n
            out.append(
                _line("legaltv_request_seconds_bucket", running, {"family": name, "le": bound})
            )
        out.append(_line("legaltv_request_seconds_sum", f"{total:.6f}", {"family": name}))
        out.append(_line("legaltv_request_seconds_count", running, {"family": name}))
    beats = sum(n for (name, status), n in metrics.requests.items() if name == "api_devices"
                and status == 202)  # fmt: skip
    head("legaltv_heartbeats_accepted_total", "counter", "Heartbeats answered 202 Accepted.")
    out.append(_line("legaltv_heartbeats_accepted_total", beats))

    db = app[keys.DB]
    head("legaltv_cache_hits_total", "counter", "Cache look-ups answered from memory, by cache.")
    caches = sorted(db.changes.caches.items())
    for name, cache in caches:
        out.append(_line("legaltv_cache_hits_total", cache.hits, {"cache": name}))
    head("legaltv_cache_misses_total", "counter", "Cache look-ups that missed, by cache.")
    for name, cache in caches:
        out.append(_line("legaltv_cache_misses_total", cache.misses, {"cache": name}))
    head("legaltv_cache_entries", "gauge", "Entries held now, by cache.")
    for name, cache in caches:
        out.append(_line("legaltv_cache_entries", len(cache), {"cache": name}))
    head("legaltv_changes_total", "counter", "Change events published, by kind.")
    for kind, n in sorted(db.changes.published.items()):
        out.append(_line("legaltv_changes_total", n, {"kind": kind}))

    head("legaltv_db_write_queue", "gauge", "Write transactions waiting for the writer now.")
    out.append(_line("legaltv_db_write_queue", db.write_queue()))
    head("legaltv_db_commits_total", "counter", "Write transactions committed.")
    out.append(_line("legaltv_db_commits_total", db.commits))
    head("legaltv_db_commit_seconds_total", "counter", "Time spent in COMMIT (with its fsync).")
    out.append(_line("legaltv_db_commit_seconds_total", f"{db.commit_seconds:.6f}"))
    head("legaltv_db_reads_total", "counter", "Queries run on the read-only connections.")
    out.append(_line("legaltv_db_reads_total", db.reads))

    from tv_server.api.devices import HEARTBEATS  # the API registers it on the app

    head("legaltv_heartbeats_pending", "gauge", "Heartbeats buffered for the next batch write.")
    out.append(_line("legaltv_heartbeats_pending", app[HEARTBEATS].pending if HEARTBEATS in app
                     else 0))  # fmt: skip
    head("legaltv_sse_streams", "gauge", "Announcement streams (SSE) open now.")
    out.append(_line("legaltv_sse_streams", app[keys.HUB].listeners))
    head("legaltv_node_leader", "gauge", "1 when this node runs the background work.")
    out.append(_line("legaltv_node_leader", int(app[keys.NODE].leads)))
    return "\n".join(out) + "\n"


async def serve(request: web.Request) -> web.Response:
    refused = _refusal(request)
    if refused is not None:
        raise refused
    return web.Response(
        body=render(request.app).encode(),
        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
    )
