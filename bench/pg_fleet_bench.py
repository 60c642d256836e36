"""Fleet heartbeats on PostgreSQL: one node, and two nodes behind nginx, against an aiohttp
hello-world in the same run, with the CPU time each process spends per heartbeat and a capacity
model for the province (5 million boxes beating every 5 minutes).

A throwaway PostgreSQL cluster (Debian's server binaries, `tests.pgcluster`: a temp folder, a Unix
socket, fsync off) holds a registry made by `legaltv registry synth --database …`; signed device
tokens are written straight into it (COPY, one transaction), minted by the real `tokens.mint`
under the key both nodes get from their settings. Two `legaltv serve` processes on that one
database, each with its own data dir and the same explicit secrets (`LEGALTV_SECRET_KEY`,
`LEGALTV_LAUNCH_SECRET`, `LEGALTV_DEVICE_TOKEN_SECRET`: a box's token verifies on either node),
and two nginx instances from the shipped `deploy/nginx/legaltv.conf` (one worker each): one with
node A alone upstream, one with both nodes.

Rows, interleaved per repeat: hello-world; node A directly; nginx → node A; nginx → nodes A and
B. Every request is the next box of the fleet (no box twice in a run); each run starts on its
own slice of the fleet. For each run the CPU time (utime + stime from /proc) of node A, node B,
every process of the PostgreSQL cluster (the postmaster and its children) and nginx is read
before the run and after the nodes' next heartbeat flush (`usage_flush_seconds`, 2 s), and
divided by the run's requests; the WAL PostgreSQL wrote per beat too.

On a 2-core machine shared with other work two nodes cannot show CPU scaling (wrk, nginx, two
nodes and PostgreSQL share the same two cores): the per-heartbeat CPU figures, not the req/s of
the two-node row, are what the capacity model uses.

Skips (returns a result saying why) when the PostgreSQL server binaries, nginx or wrk are
missing, except under CI=true, where that is an error.

    .venv/bin/python -m bench.pg_fleet_bench [--quick] [--write]
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common, fleet_bench, server_bench
from bench.common import fmt, median, verdict

START = "<!-- pgfleet:start -->"
END = "<!-- pgfleet:end -->"
TARGET = fleet_bench.TARGET  # heartbeat req/s ÷ hello-world req/s, one node (as on SQLite)
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TICK = os.sysconf("SC_CLK_TCK")
FLUSH_WAIT = 2.6  # one heartbeat flush (usage_flush_seconds = 2) after a run, in its CPU window
# The province: 5 million boxes, one beat every 5 minutes each.
PROVINCE_BOXES = 5_000_000
BEAT_SECONDS = 300
BUSY = 0.6  # a process or core planned at 60 % busy: headroom for the evening peak and GC
LABELS = ("hello", "direct", "nginx1", "nginx2")
TITLES = {
    "hello": "aiohttp hello-world `GET /`",
    "direct": "heartbeat, node A directly (one node)",
    "nginx1": "heartbeat, nginx → node A (one node behind nginx)",
    "nginx2": "heartbeat, nginx → nodes A + B (two nodes)",
}


def skip_reason() -> str | None:
    """Why this bench cannot run here, or None."""
    from tests.pgcluster import server_bin

    missing = []
    if server_bin() is None:
        missing.append("the PostgreSQL server binaries (/usr/lib/postgresql/*/bin: `postgresql`)")
    if not os.path.exists(NGINX):
        missing.append("nginx (`nginx`)")
    if not shutil.which("wrk"):
        missing.append("wrk (`wrk`)")
    if not missing:
        return None
    return "missing " + ", ".join(missing) + " (Debian packages; `make bench` installs them)"


# ---- CPU time from /proc ---------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def tree_cpu(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process and all its descendants."""
    kids = _children()
    out = {}
    for name, root in pids.items():
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += _cpu_s(pid)
            todo += kids.get(pid, [])
        out[name] = total
    return out


def postmaster_pid(cluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


# ---- the database ----------------------------------------------------------------------------


async def _fill_tokens(url: str, secret: str, count: int) -> list[tuple[str, str]]:
    """Signed tokens for `count` admitted boxes, written with COPY in one transaction."""
    from device_registry import tokens
    from storage import database_for

    key = tokens.key_of(secret)
    db = database_for(url, None)
    await db.open()
    try:
        admitted = fleet_bench.ADMITTED
        marks = ",".join("?" * len(admitted))
        rows = await db.fetchall(
            f"SELECT id, serial FROM devices WHERE state IN ({marks}) ORDER BY id LIMIT ?",  # noqa: S608
            (*admitted, count),
        )
        if len(rows) < count:
            raise RuntimeError(f"only {len(rows)} admitted boxes; {count} wanted")
        now = time.time()
        fleet = [(r[1], tokens.mint(key, r[1], r[0], 1, now)) for r in rows]
        async with db.transaction() as tx:
            await tx.copy_rows(
                "device_token_state",
                ("device_id", "generation", "seq"),
                [(r[0], 1, n + 1) for n, r in enumerate(rows)],
            )
            await tx.copy_rows(
                "device_tokens",
                ("device_id", "token_hash", "issued_at"),
                [
                    (r[0], hashlib.sha256(t.encode()).hexdigest(), now)
                    for r, (_s, t) in zip(rows, fleet, strict=True)
                ],
            )
        return fleet
    finally:
        await db.close()


async def _scalar(url: str, sql: str, *args):
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def wal_lsn(url: str) -> str:
    return asyncio.run(_scalar(url, "SELECT pg_current_wal_lsn()::text"))


def wal_bytes(url: str, since: str) -> int:
    return int(
        asyncio.run(
            _scalar(url, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)", since)
        )
    )


# ---- servers ---------------------------------------------------------------------------------


def start_node(url: str, data_dir: Path, env: dict[str, str]) -> common.Proc:
    port = common.free_port()
    argv = [common.LEGALTV, "serve", "--database", url, "--data-dir", str(data_dir)]
    argv += ["--host", common.HOST, "--port", str(port)]
    return common.start_server(argv, port, "legaltv", data_dir, "/healthz", env)


def start_nginx(folder: Path, ports: list[int], data_dir: Path) -> common.Proc:
    folder.mkdir(parents=True, exist_ok=True)
    listen = common.free_port()
    from tests.helpers import nginx_confs  # the shipped config as the tests run it

    main = nginx_confs(folder, upstreams=ports, listen=listen, root=data_dir, connections=1024)
    argv = [NGINX, "-p", str(folder), "-c", str(main)]
    return common.start_server(argv, listen, "nginx", folder, "/healthz")


# ---- the bench -------------------------------------------------------------------------------


def _secrets() -> dict[str, str]:
    """The same explicit secrets for every node (shared settings, not per-node generated)."""
    return {
        "LEGALTV_SECRET_KEY": secrets.token_hex(32),
        "LEGALTV_LAUNCH_SECRET": secrets.token_hex(32),
        "LEGALTV_DEVICE_TOKEN_SECRET": secrets.token_hex(32),
    }


def run(quick: bool = False) -> dict:
    reason = skip_reason()
    if reason:
        if os.environ.get("CI") == "true":
            raise RuntimeError(reason)
        print(f"  [pgfleet] skipped: {reason}", file=sys.stderr, flush=True)
        return {"skipped": reason, "quick": quick}
    from tests.pgcluster import Cluster

    started = time.perf_counter()
    fleet_size = 45_000 if quick else 120_000
    duration, repeats, connections = (2.0 if quick else 4.0), 3, 64
    folder = Path(tempfile.mkdtemp(prefix="legaltv-pgfleet-"))
    cluster = Cluster()
    procs: dict[str, common.Proc] = {}
    env = _secrets()
    try:
        cluster.start()
        cluster.psql("CREATE DATABASE legaltv")
        url = cluster.url("legaltv")
        dirs = {name: folder / name for name in ("a", "b")}
        for d in dirs.values():
            d.mkdir()
        synth_started = time.perf_counter()
        argv = [common.LEGALTV, "registry", "synth", "--boxes", str(int(fleet_size * 1.25))]
        subprocess.run(
            [*argv, "--database", url, "--data-dir", str(dirs["a"])],
            check=True,
            capture_output=True,
            cwd=common.ROOT,
            timeout=900,
            env={**os.environ, **env},
        )
        synth_s = time.perf_counter() - synth_started
        fill_started = time.perf_counter()
        fleet = asyncio.run(_fill_tokens(url, env["LEGALTV_DEVICE_TOKEN_SECRET"], fleet_size))
        fill_s = time.perf_counter() - fill_started
        # In the order boxes beat in the field (each on its own clock), not by id: consecutive ids
        # share table pages, so beats by id would fill each page within one flush and defeat
        # PostgreSQL's in-place (HOT) updates, which a real fleet's scattered beats get.
        random.Random(7).shuffle(fleet)
        script = fleet_bench.lua_script(fleet, folder, "fleet")
        before = fleet_bench.neighbours()
        began = time.time() - 1
        procs["a"] = start_node(url, dirs["a"], env)
        procs["b"] = start_node(url, dirs["b"], env)
        ports = {n: int(procs[n].base.rsplit(":", 1)[1]) for n in ("a", "b")}
        procs["nginx1"] = start_nginx(folder / "nginx1", [ports["a"]], dirs["a"])
        procs["nginx2"] = start_nginx(folder / "nginx2", [ports["a"], ports["b"]], dirs["a"])
        procs["hello"] = common.start_hello_server(folder)
        pg_pid = postmaster_pid(cluster)
        bases = {
            "direct": procs["a"].base,
            "nginx1": procs["nginx1"].base,
            "nginx2": procs["nginx2"].base,
        }
        runs: dict[str, list[dict]] = {label: [] for label in LABELS}
        slices = repeats * (len(LABELS) - 1)
        n = 0
        for rep in range(repeats):
            for label in LABELS:
                pids = {name: p.pid for name, p in procs.items() if name != "hello"}
                pids |= {"postgres": pg_pid, "hello": procs["hello"].pid}
                cpu0, lsn0 = tree_cpu(pids), wal_lsn(url)
                if label == "hello":
                    r = server_bench.load(procs["hello"].base + "/", duration, connections)
                else:
                    start = n * fleet_size // slices  # each run: its own slice of the fleet
                    n += 1
                    r = fleet_bench.load(bases[label], script, duration, connections, start)
                    r["repeats"] = max(0, (r["requests"] or 0) - fleet_size)
                    r["start"] = start
                    time.sleep(FLUSH_WAIT)  # the flush of these beats belongs to the run
                cpu1 = tree_cpu(pids)
                r["wal_bytes"] = wal_bytes(url, lsn0)
                r["cpu_s"] = {k: cpu1[k] - cpu0[k] for k in cpu0}
                runs[label].append(r)
                print(
                    f"  [pgfleet] rep {rep + 1}/{repeats} {label:7s} {fmt(r['rps'], 0)} req/s"
                    f" p99 {fmt(r['p99_ms'], 2)} ms errors {r['errors']} cpu "
                    + " ".join(f"{k} {v:.2f}s" for k, v in r["cpu_s"].items() if v > 0.005),
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(0.5)
        rss = {name: procs[name].rss_kb() for name in ("a", "b", "hello")}
        stored = int(
            asyncio.run(
                _scalar(url, "SELECT COUNT(*) FROM devices WHERE last_seen >= $1", float(began))
            )
        )
        db_bytes = int(asyncio.run(_scalar(url, "SELECT pg_database_size(current_database())")))
        pg_version = asyncio.run(_scalar(url, "SHOW server_version"))
    finally:
        for name in ("nginx1", "nginx2", "hello", "a", "b"):
            if name in procs:
                procs[name].stop()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    after = fleet_bench.neighbours()
    return summarise(
        {
            "quick": quick,
            "fleet": fleet_size,
            "synth_s": synth_s,
            "fill_s": fill_s,
            "duration_s": duration,
            "repeats": repeats,
            "connections": connections,
            "runs": runs,
            "rss_kb": rss,
            "stored": stored,
            "beaten": beaten(runs, fleet_size),
            "db_bytes": db_bytes,
            "pg_version": pg_version,
            "neighbours": {"before": before, "after": after},
            "elapsed_s": time.perf_counter() - started,
        }
    )


def beaten(runs: dict[str, list[dict]], fleet: int) -> int:
    """How many distinct boxes of the fleet the runs sent beats for (each run takes the boxes
    from its start on, wrapping at the end of the list)."""
    hit = bytearray(fleet)
    for label in LABELS[1:]:
        for r in runs[label]:
            count = min(r.get("requests") or 0, fleet)
            for i in range(r["start"], r["start"] + count):
                hit[(i + 1) % fleet] = 1
    return sum(hit)


def _per_beat_ms(r: dict, who: str) -> float | None:
    if not r.get("requests"):
        return None
    return r["cpu_s"].get(who, 0.0) * 1000 / r["requests"]


def summarise(result: dict) -> dict:
    runs = result["runs"]
    ratios = {
        label: [
            x["rps"] / h["rps"]
            for x, h in zip(runs[label], runs["hello"], strict=True)
            if x["rps"] and h["rps"]
        ]
        for label in LABELS[1:]
    }
    cpu = {
        label: {
            who: median([_per_beat_ms(r, who) for r in runs[label]])
            for who in ("a", "b", "postgres", "nginx1", "nginx2", "hello")
        }
        for label in LABELS
    }
    wal = {
        label: median([r["wal_bytes"] / r["requests"] for r in runs[label] if r.get("requests")])
        for label in LABELS[1:]
    }
    errors = sum(x["errors"] or 0 for label in LABELS[1:] for x in runs[label])
    ratio = median(ratios["direct"])
    result |= {
        "ratios": ratios,
        "ratio": ratio,
        "cpu_ms": cpu,
        "wal_per_beat": wal,
        "errors": errors,
        "pass": ratio is not None and ratio >= TARGET and errors == 0,
        "model": capacity(cpu, wal),
    }
    return result


def capacity(cpu: dict, wal: dict) -> dict:
    """Nodes and PostgreSQL cores for the province, from the two-node runs' CPU per beat."""
    rate = PROVINCE_BOXES / BEAT_SECONDS
    two = cpu["nginx2"]
    app_ms = (two["a"] or 0) + (two["b"] or 0)  # one beat is served by one node: A's + B's share
    pg_ms = two["postgres"] or 0
    nginx_ms = two["nginx2"] or 0
    app_cores = rate * app_ms / 1000
    pg_cores = rate * pg_ms / 1000
    return {
        "rate": rate,
        "app_ms": app_ms,
        "pg_ms": pg_ms,
        "nginx_ms": nginx_ms,
        "app_cores": app_cores,
        "nodes": math.ceil(app_cores / BUSY),  # one `legaltv serve` process uses ≤ 1 core
        "pg_cores": pg_cores,
        "pg_cores_planned": math.ceil(pg_cores / BUSY),
        "nginx_cores": rate * nginx_ms / 1000,
        "wal_mb_s": rate * (wal.get("nginx2") or 0) / 1e6,
    }


def _mib(kb: dict, key: str = "VmRSS") -> str:
    return fmt(kb.get(key, 0) / 1024, 1)


def markdown(r: dict) -> str:
    if r.get("skipped"):
        return f"**Skipped**: {r['skipped']}."
    m = r["model"]
    lines = [
        "| budget | measured | target | result |",
        "| --- | --- | --- | --- |",
        f"| Fleet heartbeat on PostgreSQL, one node (no box twice in a run) vs hello-world "
        f"(req/s, median of per-repeat ratios), no errors | {fmt(r['ratio'], 2)}×, "
        f"{r['errors']} errors | ≥ {TARGET}× (as on SQLite) | {verdict(r['pass'])} |",
        f"| The same behind nginx, one node / two nodes | "
        f"{fmt(median(r['ratios']['nginx1']), 2)}× / {fmt(median(r['ratios']['nginx2']), 2)}× "
        "| — (2 shared cores: no scaling can show) | — |",
        "",
        f"PostgreSQL {r['pg_version']} (a throwaway cluster: Unix socket, `fsync=off`, "
        f"`synchronous_commit=off`, shared_buffers 64 MB), a registry of "
        f"{fmt(int(r['fleet'] * 1.25))} boxes by `legaltv registry synth --database …` "
        f"({fmt(r['synth_s'])} s), {fmt(r['fleet'])} signed tokens written with COPY "
        f"({fmt(r['fill_s'])} s); database {fmt(r['db_bytes'] / 2**20, 0)} MiB. Two "
        "`legaltv serve` processes on that one database, each with its own data dir and the "
        "same explicit `LEGALTV_SECRET_KEY`, `LEGALTV_LAUNCH_SECRET` and "
        "`LEGALTV_DEVICE_TOKEN_SECRET` (what multi-node needs: a token minted under one node's "
        "key verifies on the other); each node flushes its own beats (one multi-row write every "
        "2 s) and runs its own background tasks (no leader election in this tree). nginx: the "
        "shipped `deploy/nginx/legaltv.conf` (upstream keepalive 64, access log on), one worker. "
        f"`wrk` 1 thread, {r['connections']} connections, {r['duration_s']:.0f} s per run, "
        f"{r['repeats']} interleaved repeats; every request is the next box of the fleet (in a "
        "shuffled order, as boxes beat on their own clocks, not by id), each run on its own "
        "slice of it.",
        "",
        "| target | req/s (median) | p50 ms | p99 ms | runs req/s | errors | beats past the "
        "fleet size |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for label in LABELS:
        rs = r["runs"][label]
        past = "—" if label == "hello" else fmt(max(x.get("repeats", 0) for x in rs))
        lines.append(
            f"| {TITLES[label]} | {fmt(median([x['rps'] for x in rs]), 0)} | "
            f"{fmt(median([x['p50_ms'] for x in rs]), 2)} | "
            f"{fmt(median([x['p99_ms'] for x in rs]), 2)} | "
            f"{', '.join(fmt(x['rps'], 0) for x in rs)} | {sum(x['errors'] or 0 for x in rs)} "
            f"| {past} |"
        )
    c = r["cpu_ms"]
    lines += [
        "",
        "CPU time per request, ms (median over the repeats; each window is the run plus the "
        "nodes' next flush, so the flush's writes count):",
        "",
        "| target | node A | node B | PostgreSQL (all its processes) | nginx | hello-world | "
        "WAL bytes per beat |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in LABELS:
        x = c[label]
        proxy = x["nginx1"] if label == "nginx1" else x["nginx2"] if label == "nginx2" else None
        lines.append(
            f"| {TITLES[label]} | {fmt(x['a'], 3)} | {fmt(x['b'], 3)} | "
            f"{fmt(x['postgres'], 3)} | {fmt(proxy, 3)} | {fmt(x['hello'], 3)} | "
            f"{fmt(r['wal_per_beat'].get(label), 0)} |"
        )
    lines += [
        "",
        f"Boxes whose `last_seen` the runs moved: {fmt(r['stored'])}; distinct boxes the runs "
        f"sent beats for: {fmt(r['beaten'])} (of a fleet of {fmt(r['fleet'])}). "
        f"RSS after the load: node A {_mib(r['rss_kb']['a'])} MiB, node B "
        f"{_mib(r['rss_kb']['b'])} MiB, hello-world {_mib(r['rss_kb']['hello'])} MiB.",
        "",
        "### Capacity model: 5 million boxes, one beat every 5 minutes",
        "",
        f"{fmt(PROVINCE_BOXES)} boxes ÷ {BEAT_SECONDS} s = **{fmt(m['rate'], 0)} beats/s**. "
        f"From the two-node runs: a beat costs {fmt(m['app_ms'], 3)} ms of LegalTV CPU (node "
        f"A's + node B's per beat), {fmt(m['pg_ms'], 3)} ms of PostgreSQL CPU and "
        f"{fmt(m['nginx_ms'], 3)} ms of nginx CPU.",
        "",
        "| what | CPU needed | planned at 60 % busy |",
        "| --- | ---: | ---: |",
        f"| LegalTV (`legaltv serve` processes, one core each at most) | "
        f"{fmt(m['app_cores'], 1)} cores | **{m['nodes']} processes** |",
        f"| PostgreSQL | {fmt(m['pg_cores'], 1)} cores | **{m['pg_cores_planned']} cores** |",
        f"| nginx | {fmt(m['nginx_cores'], 1)} cores | {math.ceil(m['nginx_cores'] / BUSY)} "
        "cores |",
        "",
        f"WAL at that rate: {fmt(m['wal_mb_s'], 1)} MB/s (what a standby and the PITR archive "
        "receive). Assumptions: beats spread evenly over the 5 minutes (boxes beat on their "
        "own clocks; a synchronised start after a power cut is a burst the flush absorbs, not "
        "a rate); the CPU per beat measured here holds at 5 million rows (index depth grows by "
        "about one level; the batches get larger with the rate, which lowers the per-beat cost "
        "of the flush, so the PostgreSQL figure is on the safe side); a production cluster with "
        "`fsync=on` adds I/O waits, not CPU (one commit per node every 2 s); heartbeats only: "
        "screens, launches and callbacks come on top (bench/RESULTS.md's peak bench), and so does "
        "the coverage refresh of the node that runs the background work (at 5 million boxes a "
        "large share of a PostgreSQL core: bench/province_bench.py, docs/scaling.md); the "
        "machine is a shared 2-core VM, so every figure carries the neighbours' noise.",
        "",
        "The machine is shared: absolute req/s are noisy, the ratios are taken within one run. "
        f"Before: {r['neighbours']['before']}. After: {r['neighbours']['after']}.",
        "",
        f"Whole bench: {fmt(r['elapsed_s'], 0)} s.",
    ]
    return "\n".join(lines)


def add_section(text: str, result: dict, machine: dict) -> str:
    """`text` (bench/RESULTS.md) with this bench's section put in or replaced."""
    intro = common.run_intro("pg_fleet_bench.py", result["quick"], machine)
    return common.put_section(
        text,
        START,
        END,
        "Fleet heartbeats on PostgreSQL: one node and two behind nginx",
        intro,
        markdown(result),
    )


def main() -> None:
    common.bench_main(__doc__, run, markdown, add_section, "a smaller fleet, 2 s load runs")


if __name__ == "__main__":
    main()
