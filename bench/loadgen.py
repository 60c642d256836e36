"""Fallback load generator when `wrk` is missing: N keep-alive aiohttp connections hammering one
URL for a fixed time. Run in its own process; prints one JSON line (rps, p50/p99 ms, errors).
Slower than wrk (it is Python), so it caps what it can measure; the ratio stays meaningful."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


async def worker(session, url, headers, deadline, lat, counts):
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            async with session.get(url, headers=headers, allow_redirects=False) as r:
                await r.read()
                counts["ok" if r.status < 400 else "bad"] += 1
        except (TimeoutError, aiohttp.ClientError):
            counts["bad"] += 1
            await asyncio.sleep(0.01)
            continue
        lat.append(time.perf_counter() - t0)


async def main_async(url, connections, duration, headers):
    lat, counts = [], {"ok": 0, "bad": 0}
    conn = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout, auto_decompress=False) as s:
        start = time.monotonic()
        deadline = start + duration
        await asyncio.gather(
            *(worker(s, url, headers, deadline, lat, counts) for _ in range(connections))
        )
        elapsed = time.monotonic() - start
    lat.sort()

    def pct(q):
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else None

    return {
        "rps": len(lat) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "requests": len(lat),
        "errors": counts["bad"],
        "tool": "aiohttp-loop",
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("-c", type=int, default=32)
    p.add_argument("-d", type=float, default=10.0)
    p.add_argument("-H", action="append", default=[])
    a = p.parse_args()
    headers = dict(h.split(": ", 1) for h in a.H)
    print(json.dumps(asyncio.run(main_async(a.url, a.c, min(a.d, 120.0), headers))))


if __name__ == "__main__":
    main()
