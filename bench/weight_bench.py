"""Weight bench: per screen, the requests until `load` and the bytes of HTML+CSS+JS.

Playwright (Chromium) opens each screen in a fresh context (empty cache, like a box's first
visit) and lists every request made before the `load` event. Each HTML/CSS/JS response is then
fetched again with aiohttp, once without `Accept-Encoding` (bytes before compression: budget
≤ 30 KB, images apart) and once with `Accept-Encoding: gzip` (transfer size of the body).
Budget: ≤ 5 requests for a screen's first paint (counted here: all requests before `load`, the
font apart). The same screens are measured again in Mongolian (box MN_SERIAL, switched to
`lang=mn`): their one stylesheet holds tv.css and the vertical layout; the font subset is counted
apart, in requests and in bytes (≤ 40 KB), as the budget defines it.

    .venv/bin/python -m bench.weight_bench [--base http://127.0.0.1:8080]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
from pathlib import Path

import aiohttp

from bench import common
from bench.common import fmt, verdict

TARGET_REQUESTS = 5
TARGET_TEXT_BYTES = 30 * 1024
TARGET_FONT_BYTES = 40 * 1024
MN_SERIAL = "DEMO-0002"  # measured in Mongolian (the box is switched to it)
SCREENS = ["home", "programs", "c", "p", "v", "dir", "o", "cb", "cb-phone", "mine"]
TEXT_TYPES = ("document", "stylesheet", "script")


async def _body_len(session: aiohttp.ClientSession, url: str, gzip: bool) -> tuple[int, str]:
    headers = {"Accept-Encoding": "gzip"} if gzip else {"Accept-Encoding": "identity"}
    async with session.get(url, headers=headers, allow_redirects=False) as r:
        body = await r.read()
        return len(body), r.headers.get("Content-Encoding", "")


async def measure_screen(browser, session, url: str) -> dict:
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    requests: list[dict] = []
    loaded = {"done": False}

    def on_request(req):
        if not loaded["done"]:
            requests.append({"url": req.url, "type": req.resource_type})

    def on_load(_page):
        loaded["done"] = True

    page.on("request", on_request)
    page.on("load", on_load)
    try:
        response = await page.goto(url, wait_until="load", timeout=30_000)
        status = response.status if response else None
        loaded["done"] = True
        focus_ok = await page.evaluate(
            "(function(){var a=document.activeElement;"
            "return !!a && a!==document.body && a!==document.documentElement;})()"
        )
    finally:
        await context.close()
    text_raw = text_gz = image_bytes = font_bytes = 0
    parts = []
    for req in requests:
        u = req["url"]
        if u.startswith("data:"):
            continue
        if req["type"] in TEXT_TYPES:
            raw, _ = await _body_len(session, u, gzip=False)
            gz, enc = await _body_len(session, u, gzip=True)
            text_raw += raw
            text_gz += gz
            parts.append(f"{req['type']} {raw}→{gz}{'' if enc == 'gzip' else ' (not gzipped)'}")
        elif req["type"] == "image":
            raw, _ = await _body_len(session, u, gzip=False)
            image_bytes += raw
        elif req["type"] == "font":
            raw, _ = await _body_len(session, u, gzip=False)
            font_bytes += raw
    by_type: dict[str, int] = {}
    for req in requests:
        by_type[req["type"]] = by_type.get(req["type"], 0) + 1
    favicon = any(r["url"].endswith("favicon.ico") for r in requests)
    fetched = [r for r in requests if not r["url"].startswith("data:")]
    fonts = len([r for r in fetched if r["type"] == "font"])
    count = len(fetched) - fonts  # the budget counts the font apart
    return {
        "status": status,
        "requests": count,
        "font_requests": fonts,
        "by_type": by_type,
        "favicon_requested": favicon,
        "text_bytes": text_raw,
        "text_gzip_bytes": text_gz,
        "image_bytes": image_bytes,
        "font_bytes": font_bytes,
        "parts": parts,
        "focus_not_on_body": focus_ok,
        "pass_requests": count <= TARGET_REQUESTS,
        "pass_bytes": text_raw <= TARGET_TEXT_BYTES and font_bytes <= TARGET_FONT_BYTES,
    }


async def run_async(base: str) -> dict:
    from playwright.async_api import async_playwright

    screens = await asyncio.to_thread(common.discover, base)
    mn_screens = await asyncio.to_thread(common.discover, base, MN_SERIAL, "mn")
    results = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=common.CHROMIUM, args=common.CHROMIUM_ARGS
        )
        try:
            timeout = aiohttp.ClientTimeout(total=20)
            async with aiohttp.ClientSession(
                auto_decompress=False, timeout=timeout, skip_auto_headers=["Accept-Encoding"]
            ) as session:
                for prefix, found in (("", screens), ("mn:", mn_screens)):
                    for label in SCREENS:
                        if label not in found.paths:
                            results[prefix + label] = None
                            continue
                        r = await measure_screen(browser, session, found.url(label))
                        r["path"] = prefix + found.paths[label]
                        results[prefix + label] = r
        finally:
            await browser.close()
    done = [r for r in results.values() if r]
    return {
        "screens": results,
        "pass_requests": all(r["pass_requests"] for r in done),
        "pass_bytes": all(r["pass_bytes"] for r in done),
        "pass": all(r["pass_requests"] and r["pass_bytes"] for r in done),
    }


def run(base: str | None = None, data_dir: Path | None = None) -> dict:
    if base:
        return asyncio.run(run_async(base))
    own_dir = data_dir is None
    data_dir = data_dir or common.prepare_demo_dir()
    server = common.start_demo_server(data_dir)
    try:
        return asyncio.run(run_async(server.base))
    finally:
        server.stop()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def markdown(r: dict) -> str:
    lines = [
        "Fresh browser context per screen (empty cache). Requests = everything requested before "
        "`load` (data: URLs excluded; the Mongolian font subset counted apart, as the budget "
        "does — it is in the by-type list). Bytes: HTML+CSS+JS bodies fetched again without "
        "compression / with gzip; images apart.",
        "",
        "| screen | status | requests before load (by type) | ≤ 5 | HTML+CSS+JS bytes | ≤ 30 KB "
        "(font ≤ 40 KB) | gzip bytes | images bytes | font bytes | focus set |",
        "| --- | ---: | --- | --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for label in [*SCREENS, *("mn:" + s for s in SCREENS)]:
        s = r["screens"].get(label)
        if not s:
            lines.append(f"| {label} | – | not found in the demo | – | – | – | – | – | – | – |")
            continue
        types = ", ".join(f"{k} {v}" for k, v in sorted(s["by_type"].items()))
        lines.append(
            f"| `{s['path']}` | {s['status']} | {s['requests']} ({types}) | "
            f"{verdict(s['pass_requests'])} | {fmt(s['text_bytes'])} | {verdict(s['pass_bytes'])} "
            f"| {fmt(s['text_gzip_bytes'])} | {fmt(s['image_bytes'])} | {fmt(s['font_bytes'])} | "
            f"{'yes' if s['focus_not_on_body'] else 'NO (body)'} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", help="a running demo server (default: start one on a fresh demo)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    result = run(base=a.base)
    print(markdown(result))
    if a.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
