"""Fleet bench: heartbeats from a fleet in which no box beats twice within a run (real boxes beat
every few minutes, so no per-box cache can help), against an aiohttp hello-world in the same run.

Rows, interleaved per repeat, median of the per-repeat ratios:
  - the fleet with signed tokens (device_registry.tokens): the target, ≥ 0.5× hello-world;
  - the fleet with legacy stored-hash tokens (each beat reads the box's record): the old figure;
  - one box beating over and over (the shape of the registry bench; a cache would hit).

The boxes come from `legaltv registry synth`; their tokens are written straight into the
database (one transaction), minted by the real `tokens.mint` under the key the server reads from
the data dir, and verified by the server the real way. Each wrk thread starts at its own offset
in the box list and every request takes the next box; a run sending more requests than there are
boxes is reported (`repeats`).

    .venv/bin/python -m bench.fleet_bench [--quick] [--write]
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench import common, registry_bench, server_bench
from bench.common import fmt, median, verdict
from device_registry.states import ADMITTED_STATES

START = "<!-- fleet:start -->"
END = "<!-- fleet:end -->"
TARGET = 0.5  # fleet heartbeat req/s ÷ hello-world req/s
BODY = registry_bench.BODY
ADMITTED = ADMITTED_STATES


def fill_tokens(data_dir: Path, signed: int, legacy: int) -> dict:
    """Give `signed` admitted boxes a signed token and the next `legacy` ones a legacy token, in
    one transaction; return the (serial, token) lists and the time taken."""
    from device_registry import tokens
    from tv_server.settings import ensure_secrets, load_settings

    settings = ensure_secrets(load_settings(env={}, data_dir=str(data_dir)))
    key = tokens.key_of(settings.device_token_secret)  # the server reads the same file
    started = time.perf_counter()
    db = sqlite3.connect(data_dir / registry_bench.DB_FILE, isolation_level=None)
    try:
        marks = ",".join("?" * len(ADMITTED))
        rows = db.execute(
            f"SELECT id, serial FROM devices WHERE state IN ({marks}) ORDER BY id LIMIT ?",  # noqa: S608
            (*ADMITTED, signed + legacy),
        ).fetchall()
        if len(rows) < signed + legacy:
            raise RuntimeError(f"only {len(rows)} admitted boxes; {signed + legacy} wanted")
        now = time.time()
        fleet = [(serial, tokens.mint(key, serial, i, 1, now)) for i, serial in rows[:signed]]
        old = [(serial, "ltvd_" + secrets.token_urlsafe(32)) for _i, serial in rows[signed:]]
        ids = {serial: i for i, serial in rows}
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO device_token_state (device_id, generation, refusal, seq)"
            " VALUES (?, 1, NULL, ?) ON CONFLICT (device_id) DO NOTHING",
            [(ids[s], n + 1) for n, (s, _t) in enumerate(fleet)],
        )
        db.executemany(
            "INSERT INTO device_tokens (device_id, token_hash, issued_at) VALUES (?, ?, ?)"
            " ON CONFLICT (device_id) DO UPDATE SET token_hash = excluded.token_hash",
            [(ids[s], hashlib.sha256(t.encode()).hexdigest(), now) for s, t in fleet + old],
        )
        db.execute("COMMIT")
    finally:
        db.close()
    return {"fleet": fleet, "legacy": old, "fill_s": time.perf_counter() - started}


def lua_script(pairs: list[tuple[str, str]], folder: Path, name: str) -> Path:
    """A wrk script: every request is the next box's heartbeat; each wrk thread starts at its own
    offset (threads × offset spread over the list, after the run's start given as the script's
    argument). The boxes are read from a file next to it
    (a Lua table literal of 100,000 entries overflows LuaJIT's constant table) and their requests
    formatted once in init."""
    data = folder / f"{name}.boxes"
    data.write_text("".join(f"{serial} {token}\n" for serial, token in pairs))
    path = folder / f"{name}.lua"
    path.write_text(
        "local threads = 0\n"
        "setup = function(thread)\n"
        "  thread:set('offset', threads)\n"
        "  threads = threads + 1\n"
        "end\n"
        "local reqs = {}\n"
        "local i = 0\n"
        "init = function(args)\n"
        f"  for line in io.lines('{data}') do\n"
        '    local serial, token = line:match("^(%S+) (%S+)$")\n'
        "    local n = #reqs + 1\n"
        '    reqs[n] = wrk.format("POST", "/api/v1/devices/" .. serial .. "/heartbeat",\n'
        '      {["Host"] = wrk.host .. ":" .. wrk.port, ["Content-Type"] = "application/json",\n'
        '       ["Authorization"] = "Bearer " .. token},\n'
        f"      '{BODY}' .. n .. '}}')\n"
        "  end\n"
        "  local start = tonumber(args[1] or '0')\n"
        "  i = start + math.floor((offset or 0) * #reqs / 8)\n"
        "end\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  return reqs[(i % #reqs) + 1]\n"
        "end\n"
    )
    return path


def load(base: str, script: Path, duration: float, connections: int, start: int = 0) -> dict:
    wrk = shutil.which("wrk")
    if not wrk:
        raise RuntimeError("the fleet bench needs wrk (apt-get install wrk)")
    argv = [wrk, "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency"]
    argv += ["--timeout", "5s", "-s", str(script), base + "/", "--", str(start)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60).stdout
    return server_bench.parse_wrk(out)


def neighbours() -> str:
    """What else was running: the load average and the busiest other processes."""
    load_avg = Path("/proc/loadavg").read_text().split()[:3]
    top = subprocess.run(
        ["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()[:6]
    busy = ", ".join(" ".join(line.split()[::-1]) + "%" for line in top if line.strip())
    return f"load average {' '.join(load_avg)}; busiest processes: {busy}"


def run(quick: bool = False) -> dict:
    started = time.perf_counter()
    # Sized so that no box beats twice in a run up to ~30,000 req/s (full) / ~15,000 (quick).
    signed, legacy = (30_000, 10_000) if quick else (120_000, 30_000)
    duration, repeats, connections = (2.0 if quick else 4.0), 3, 64
    data_dir, synth_s = registry_bench.synth_dir(int((signed + legacy) * 1.3))
    tokens = fill_tokens(data_dir, signed, legacy)
    scripts = {
        "fleet": lua_script(tokens["fleet"], data_dir, "fleet"),
        "legacy": lua_script(tokens["legacy"], data_dir, "legacy"),
        "one": lua_script(tokens["fleet"][:1], data_dir, "one"),
    }
    sizes = {"fleet": signed, "legacy": legacy, "one": 1}
    runs: dict[str, list[dict]] = {"hello": [], "fleet": [], "legacy": [], "one": []}
    before = neighbours()
    hello = legaltv = None
    began = time.time() - 1
    try:
        legaltv = registry_bench.start_server(data_dir)
        hello = common.start_hello_server(data_dir)
        for rep in range(repeats):
            for label in runs:
                if label == "hello":
                    r = server_bench.load(hello.base + "/", duration, connections)
                else:
                    start = rep * sizes[label] // repeats  # each repeat: other boxes
                    r = load(legaltv.base, scripts[label], duration, connections, start)
                    r["repeats"] = max(0, (r["requests"] or 0) - sizes[label])
                runs[label].append(r)
                print(
                    f"  [fleet] rep {rep + 1}/{repeats} {label:6s} {fmt(r['rps'], 0)} req/s "
                    f"p50 {fmt(r['p50_ms'], 2)} ms p99 {fmt(r['p99_ms'], 2)} ms "
                    f"errors {r['errors']}",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(0.5)
        rss = {"legaltv": legaltv.rss_kb(), "hello": hello.rss_kb()}
        time.sleep(3)  # one flush interval (usage_flush_seconds = 2) before stopping
    finally:
        for proc in (legaltv, hello):
            if proc:
                proc.stop()
    after = neighbours()
    db = sqlite3.connect(data_dir / registry_bench.DB_FILE)
    try:
        fleet_ids = [s for s, _t in tokens["fleet"]]
        stored = 0
        for i in range(0, len(fleet_ids), 500):
            chunk = fleet_ids[i : i + 500]
            stored += db.execute(
                f"SELECT COUNT(*) FROM devices WHERE serial IN ({','.join('?' * len(chunk))})"  # noqa: S608
                " AND last_seen >= ?",
                (*chunk, began),
            ).fetchone()[0]
    finally:
        db.close()
    shutil.rmtree(data_dir, ignore_errors=True)
    ratios = {
        label: [
            x["rps"] / h["rps"]
            for x, h in zip(runs[label], runs["hello"], strict=True)
            if x["rps"] and h["rps"]
        ]
        for label in ("fleet", "legacy", "one")
    }
    errors = sum(x["errors"] or 0 for label in ("fleet", "legacy", "one") for x in runs[label])
    ratio = median(ratios["fleet"])
    return {
        "quick": quick,
        "signed": signed,
        "legacy": legacy,
        "synth_s": synth_s,
        "fill_s": tokens["fill_s"],
        "duration_s": duration,
        "repeats": repeats,
        "connections": connections,
        "runs": runs,
        "ratios": ratios,
        "ratio": ratio,
        "errors": errors,
        "pass": ratio is not None and ratio >= TARGET and errors == 0,
        "stored": stored,
        "rss_kb": rss,
        "neighbours": {"before": before, "after": after},
        "elapsed_s": time.perf_counter() - started,
    }


def _mib(kb: dict, key: str = "VmRSS") -> str:
    return fmt(kb.get(key, 0) / 1024, 1)


def markdown(r: dict) -> str:
    titles = {
        "hello": "aiohttp hello-world `GET /`",
        "fleet": f"heartbeat, fleet of {fmt(r['signed'])} boxes, signed tokens",
        "legacy": f"heartbeat, fleet of {fmt(r['legacy'])} boxes, legacy stored-hash tokens",
        "one": "heartbeat, one box over and over (cache-hit shape)",
    }
    lines = [
        "| budget | measured | target | result |",
        "| --- | --- | --- | --- |",
        f"| Fleet heartbeat (no box twice in a run, signed tokens) vs hello-world (req/s, "
        f"median of per-repeat ratios), no errors | {fmt(r['ratio'], 2)}×, "
        f"{r['errors']} errors | ≥ {TARGET}× | {verdict(r['pass'])} |",
        f"| One box beating over and over vs hello-world (second row: the cache-hit shape) | "
        f"{fmt(median(r['ratios']['one']), 2)}× | — | — |",
        f"| For scale: the fleet with legacy stored-hash tokens (a database read per beat) | "
        f"{fmt(median(r['ratios']['legacy']), 2)}× | — | — |",
        "",
        f"`wrk` 1 thread, {r['connections']} connections, {r['duration_s']:.0f} s per run, "
        f"{r['repeats']} interleaved repeats (hello, signed fleet, legacy fleet, one box, …). "
        "Requests are `POST /api/v1/devices/{serial}/heartbeat` with the box's bearer token and "
        "a JSON body; every request takes the next box of the list (a wrk Lua script, formatted "
        "once at start; each repeat starts a third of the list further). Every fleet beat is a "
        "row the flush task writes (one transaction every 2 s), the one-box row writes one row "
        "per flush: that write is part of the fleet's cost. Set-up: `registry synth` "
        f"{fmt(r['synth_s'])} s; {fmt(r['signed'] + r['legacy'])} tokens written straight into "
        f"the database ({fmt(r['fill_s'])} s), the signed ones minted by `tokens.mint` under "
        "the server's key and verified by the server the real way.",
        "",
        "| target | req/s (median) | p50 ms | p99 ms | runs req/s | errors | beats past the "
        "fleet size |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for label, title in titles.items():
        rs = r["runs"][label]
        repeats = "—" if label == "hello" else fmt(max(x.get("repeats", 0) for x in rs))
        lines.append(
            f"| {title} | {fmt(median([x['rps'] for x in rs]), 0)} | "
            f"{fmt(median([x['p50_ms'] for x in rs]), 2)} | "
            f"{fmt(median([x['p99_ms'] for x in rs]), 2)} | "
            f"{', '.join(fmt(x['rps'], 0) for x in rs)} | {sum(x['errors'] or 0 for x in rs)} "
            f"| {repeats} |"
        )
    per = r["ratios"]
    lines += [
        "",
        f"Per repeat ÷ hello: signed fleet {', '.join(fmt(x, 2) for x in per['fleet'])}; legacy "
        f"fleet {', '.join(fmt(x, 2) for x in per['legacy'])}; one box "
        f"{', '.join(fmt(x, 2) for x in per['one'])}. **Fleet median {fmt(r['ratio'], 2)}× "
        f"(target ≥ {TARGET}×, no errors): {verdict(r['pass'])}**. Boxes of the signed fleet "
        f"whose `last_seen` the runs moved: {fmt(r['stored'])} of {fmt(r['signed'])}. RSS "
        f"after the load: legaltv {_mib(r['rss_kb']['legaltv'])} MiB (peak "
        f"{_mib(r['rss_kb']['legaltv'], 'VmHWM')} MiB), hello-world "
        f"{_mib(r['rss_kb']['hello'])} MiB.",
        "",
        "The machine is shared: absolute req/s are noisy, the ratios are taken within one run. "
        f"Before: {r['neighbours']['before']}. After: {r['neighbours']['after']}.",
        "",
        f"Whole fleet bench: {fmt(r['elapsed_s'], 0)} s.",
    ]
    return "\n".join(lines)


def add_section(text: str, result: dict, machine: dict) -> str:
    """`text` (bench/RESULTS.md) with this bench's section put in or replaced."""
    intro = common.run_intro("fleet_bench.py", result["quick"], machine)
    return common.put_section(
        text,
        START,
        END,
        "Fleet heartbeats: every box a stranger to the cache",
        intro,
        markdown(result),
    )


def main() -> None:
    common.bench_main(__doc__, run, markdown, add_section, "a smaller fleet, 3 s load runs")


if __name__ == "__main__":
    main()
