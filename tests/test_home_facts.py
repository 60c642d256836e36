"""The home screen's per-box facts (tv_server/tv/home.py `box_facts`): 我的申请's count, a rating
due, 继续观看 — read in ONE trip to the database per home, and whatever changed them (the box
itself, staff, or another process writing straight to the database) shows on the next home at
once; the page spliced from the shared body is the page the whole-page path makes."""

from __future__ import annotations

import asyncio
import gzip
import re
import time
import zlib

from tests.helpers import BACKEND, draft_for, enter, submit, write_in
from tv_server import caches, keys, tvfont


def _write_by_hand(data_dir, sql: str, params=()) -> None:
    """Another process writing: a connection of its own to the test's database (either
    backend), in its own thread so the server's loop runs meanwhile."""
    write_in(data_dir, sql, [params])


async def _device_id(client, serial: str) -> int:
    return await client.app[keys.DB].fetchval("SELECT id FROM devices WHERE serial = ?", (serial,))


async def _neighbour(client) -> None:
    """DEMO-0002 moved into DEMO-0001's village (same shell, same adviser card)."""
    async with client.app[keys.DB].transaction() as tx:
        await tx.execute(
            "UPDATE devices SET village_code = (SELECT village_code FROM devices"
            " WHERE serial = 'DEMO-0001'), model = (SELECT model FROM devices"
            " WHERE serial = 'DEMO-0001') WHERE serial = 'DEMO-0002'"
        )
        tx.emit("box", ["DEMO-0002"])


async def _trips(client) -> tuple[int, int, int]:
    """Reads by DEMO-0002's launch, the home after it, and a later home."""
    db = client.app[keys.DB]
    await caches.changed(client.app, "box", ["DEMO-0002"])  # a stranger to the box directory
    counts = [db.reads]
    other = await enter(client, "DEMO-0002")  # the launch: the box's record and its facts
    counts.append(db.reads)
    for _ in range(2):  # the home after the launch; later, the facts read afresh
        assert 'id="t-mine"' in await (await client.get(other + "home")).text()
        counts.append(db.reads)
    return counts[1] - counts[0], counts[2] - counts[1], counts[3] - counts[2]


async def test_a_launch_and_its_home_cost_one_database_trip_and_a_later_home_one(client, box):
    await _neighbour(client)
    await (await client.get(box + "home")).text()  # the village's shell and adviser card
    # Background tasks read too (announcements, device tokens): the counts of the quietest of
    # a few tries are the requests' own.
    tries = [await _trips(client) for _ in range(3)]
    if BACKEND == "sqlite":
        assert min(tries) == (1, 0, 1), tries
    else:  # PostgreSQL: the facts are read together but one statement after another
        launch, home_after, later = min(tries)
        assert home_after == 0 and launch <= 5 and later <= 4, tries


async def test_a_write_between_launch_and_home_is_on_that_home(client, settings):
    """The facts read with the launch serve its home only while nothing was committed since."""
    other = await enter(client, "DEMO-0002")
    device = await _device_id(client, "DEMO-0002")
    now = time.time()
    async with client.app[keys.DB].transaction() as tx:  # as the callback flow would
        await tx.execute(
            "INSERT INTO callback_requests (ref, device_id, idempotency_key, service, phone_e164,"
            " phone_masked, time_window, created_at, updated_at) VALUES ('9002', ?, 'k-here',"
            " 'consultation', '+8613800138000', '138****8000', 'morning', ?, ?)",
            (device, now, now),
        )
    assert "1 个正在办理" in await (await client.get(other + "home")).text()


async def test_a_request_written_by_another_process_counts_on_the_next_home(client, box, settings):
    assert "个正在办理" not in await (await client.get(box + "home")).text()
    device = await _device_id(client, "DEMO-0001")
    now = time.time()
    await asyncio.to_thread(
        _write_by_hand,
        settings.data_path,
        "INSERT INTO callback_requests (ref, device_id, idempotency_key, service, phone_e164,"
        " phone_masked, time_window, created_at, updated_at) VALUES ('9001', ?, 'k-other',"
        " 'consultation', '+8613800138000', '138****8000', 'morning', ?, ?)",
        (device, now, now),
    )
    assert "1 个正在办理" in await (await client.get(box + "home")).text()
    # Staff (elsewhere) complete it: the next home asks for the rating instead, at once.
    await asyncio.to_thread(
        _write_by_hand,
        settings.data_path,
        "UPDATE callback_requests SET status = 'completed', closed_at = ? WHERE ref = '9001'",
        (time.time(),),
    )
    response = await client.get(box + "home", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "rate-9001"
    html = await (await client.get(box + "rate-9001")).text()  # asked (an ask is recorded)
    assert 'id="rate-' in html or "满意" in html
    html = await (await client.get(box + "home")).text()  # not asked again within the pause
    assert "个正在办理" not in html and 'id="t-mine"' in html


async def test_where_the_box_stopped_reading_shows_on_the_next_home(client, box):
    assert 'id="t-resume"' not in await (await client.get(box + "home")).text()
    assert (await client.get(box + "p-14-2")).status == 200
    html = await (await client.get(box + "home")).text()
    assert re.search(r'id="t-resume" href="p-14-2"', html)


async def test_an_announcement_and_a_language_change_show_on_the_next_home(client, box):
    html = await (await client.get(box + "home")).text()
    assert '<html lang="zh"' in html
    db = client.app[keys.DB]
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE announcements SET text = '今晚停电检修' WHERE text LIKE '冬季草场%'"
        )
        tx.emit("announcement")
    assert "今晚停电检修" in await (await client.get(box + "home")).text()
    response = await client.post(box + "lang", data={"l": "mn"}, allow_redirects=False)
    assert response.status == 303
    html = await (await client.get(box + "home")).text()
    assert '<html lang="mn"' in html and "/tv/font/mv-" in html


async def test_the_spliced_home_links_the_stylesheet_the_whole_page_path_would(client, box):
    """The shell's names and characters are kept with it and unioned with the box's parts: the
    link is the one `with_mongolian` chooses scanning the whole page (zh: the pruned tv.css;
    mn: the vertical layout and a font subset holding every Mongolian character shown)."""
    db = client.app[keys.DB]
    await db.execute("UPDATE devices SET household_label = '第12户' WHERE serial = 'DEMO-0001'")
    await caches.changed(client.app, "box", ["DEMO-0001"])
    base = client.app[keys.STATIC].url("tv.css")
    base_link = f'<link rel="stylesheet" href="{base}">'
    html = await (await client.get(box + "home")).text()
    served = re.search(r'<link rel="stylesheet" href="/tv/css/zs-[0-9a-f]+\.css">', html)
    assert served is not None
    whole = html.replace(served.group(0), base_link)
    assert client.app[tvfont.STYLES].attach(whole) == html

    await client.post(box + "lang", data={"l": "mn"}, allow_redirects=False)
    html = await (await client.get(box + "home")).text()
    assert '<span class="tcy">12</span>' in html  # the household's number set upright
    served = re.search(r"/tv/font/(mv-[0-9a-f]+)\.css", html)
    assert served is not None
    whole = re.sub(r'<link rel="stylesheet" href="/tv/font/mv-[0-9a-f]+\.css">', base_link, html)
    assert client.app[tvfont.FONT].register(whole) == served.group(1)
    characters = {ord(c) for c in tvfont.MONGOLIAN.findall(html)}
    assert characters <= client.app[tvfont.FONT].sets[served.group(1)][0]


async def test_the_spliced_gzip_body_inflates_to_the_page(client, box):
    """The home's gzip body is joined from the shell's compressed texts and the box's parts
    compressed apart: any inflater reads it back to the exact page, in both languages."""
    db = client.app[keys.DB]
    await db.execute("UPDATE devices SET household_label = '第7户' WHERE serial = 'DEMO-0001'")
    await caches.changed(client.app, "box", ["DEMO-0001"])
    for lang in ("zh", "mn"):
        await client.post(box + "lang", data={"l": lang}, allow_redirects=False)
        plain = await client.get(box + "home", headers={"Accept-Encoding": "identity"})
        packed = await client.get(
            box + "home", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
        )
        assert packed.headers["Content-Encoding"] == "gzip"
        raw = await packed.read()
        assert gzip.decompress(raw) == await plain.read()
        assert zlib.decompress(raw, 16 + zlib.MAX_WBITS) == gzip.decompress(raw)
        assert packed.headers["ETag"] == plain.headers["ETag"]


async def test_the_homes_etag_follows_its_own_parts(client, box):
    """The home's ETag is hashed from its shell's digest and its parts, not the whole body:
    the same page keeps it (and answers 304), a changed part changes it."""
    first = await client.get(box + "home")
    again = await client.get(box + "home")
    assert await first.read() == await again.read()
    etag = first.headers["ETag"]
    assert again.headers["ETag"] == etag
    assert (await client.get(box + "home", headers={"If-None-Match": etag})).status == 304
    db = client.app[keys.DB]
    await db.execute("UPDATE devices SET household_label = '第8户' WHERE serial = 'DEMO-0001'")
    await caches.changed(client.app, "box", ["DEMO-0001"])
    changed = await client.get(box + "home", headers={"If-None-Match": etag})
    assert changed.status == 200 and "第8户" in await changed.text()
    assert changed.headers["ETag"] != etag
    other = await client.get(await enter(client, "DEMO-0002") + "home")
    assert other.headers["ETag"] not in (etag, changed.headers["ETag"])


async def test_a_boxs_facts_are_looked_up_by_the_box_not_by_the_fleets_requests(client):
    """Every home reads whether the box has a completed request to rate and how many are open
    (now on the event loop's thread): each read searches by the box's device id. SQLite chose
    the status index for the rating's and scanned every completed request of the fleet (8.7 ms
    a home with 60,000 of them)."""
    import pytest

    from callbacks import requests as callback_requests
    from feedback import ratings

    if BACKEND != "sqlite":
        pytest.skip("SQLite's query plans")
    db = client.app[keys.DB]
    device_id = await _device_id(client, "DEMO-0001")
    queries = [
        callback_requests.count_open_query(device_id),
        *ratings.due_queries(device_id, now=time.time(), window=30 * 86400, pause=3600),
    ]
    for sql, params in queries:
        plan = [row[3] for row in await db.fetchall("EXPLAIN QUERY PLAN " + sql, params)]
        assert "(device_id=?" in plan[0], plan


async def test_my_requests_reads_both_lists_in_one_trip(client, box):
    """我的申请 shows the box's callback requests and its appointments: both lists come from ONE
    read (two trips to a reader's thread cost the server more CPU than the rest of the screen),
    and they are the box's own, newest first, as the separate reads give them."""
    from appointments import bookings
    from callbacks import requests

    db = client.app[keys.DB]
    device = await _device_id(client, "DEMO-0001")
    for phone in ("13800138000", "13900139000"):
        sent = await submit(client, box, await draft_for(client, box, phone=phone))
        assert sent.status == 303
    page = await client.get(box + "mine")
    assert page.status == 200 and "我的申请" in await page.text()
    asked, booked = (
        await requests.list_for_device(db, device),
        await bookings.list_for_device(db, device),
    )
    assert len(asked) == 2

    async def one_call() -> tuple[int, tuple]:
        before = db.reads
        lists = await bookings.household_lists(db, device)
        return db.reads - before, lists

    # Background tasks read too: the quietest of a few calls is the call's own.
    calls = [await one_call() for _ in range(3)]
    assert all(lists == (asked, booked) for _reads, lists in calls)
    # (PostgreSQL's fetch_together runs the two statements one after another.)
    assert min(reads for reads, _lists in calls) == (1 if BACKEND == "sqlite" else 2)
