"""The one invalidation path (storage.changes, tv_server.caches): writes emit change events on
the database's hub once committed, caches subscribe to what they depend on, and nothing else in
the server drops a cache entry by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from storage import Database
from storage.changes import MAX_IDS, BoundedCache, Change
from tests.helpers import changed, enter, form_pairs
from tv_server import keys

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("tv_server", "storage", "content", "device_registry", "callbacks", "accounts",
           "advisers", "appointments", "feedback")  # fmt: skip
# The hub and the one module that wires the caches to it.
HUB_FILES = {ROOT / "storage" / "changes.py", ROOT / "tv_server" / "caches.py"}
# Dropping cache entries by hand: a forget() call, a screen-cache invalidation or clearing.
BY_HAND = re.compile(
    r"(?<!def )\bforget(_box|_serials)?\(|\.invalidate\("
    r"|\[keys\.(SCREENS|PROGRAMS)\]\.(clear|pop)\("
)


def test_no_cache_is_dropped_by_hand_outside_the_hub():
    found = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in HUB_FILES:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if BY_HAND.search(code) and '"""' not in code and "`" not in code:
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "emit a change event instead (tv_server.caches):\n" + "\n".join(found)


async def test_changes_are_published_after_commit_and_never_for_a_rollback(tmp_path):
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    try:
        seen: list[Change] = []
        db.changes.subscribe(["box", "program"], seen.append)
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x)")
            tx.emit("box", ["DEMO-0001"], region="150602")
            assert seen == []  # not before COMMIT: a reader could refill a cache with old rows
        assert seen == [Change("box", ("DEMO-0001",), "150602")]
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (1)")
                tx.emit("program", [7])
                raise RuntimeError("validation failed")
        assert len(seen) == 1  # the rolled-back write changed nothing
        assert db.changes.published == {"box": 1}
    finally:
        await db.close()


def test_a_change_is_a_small_payload_for_another_node():
    change = Change.of("program", [12, 13], region="150602")
    assert Change.from_payload(change.payload()) == change
    assert len(Change.of("box", [f"SERIAL-{i:08d}" for i in range(MAX_IDS)]).payload()) < 8000
    assert Change.of("box", range(MAX_IDS + 1)).ids == ()  # too many: every box
    with pytest.raises(ValueError):
        Change.of("screens")  # kinds name data, not caches


def test_the_bounded_cache_keeps_its_bound_and_counts():
    cache = BoundedCache("t", 2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)  # the oldest goes
    assert "a" not in cache and len(cache) == 2
    assert cache.get("b") == 2 and cache.get("a") is None
    assert (cache.hits, cache.misses) == (1, 1)


async def _front_answered(client) -> int:
    return (await (await client.get("/healthz")).json())["front"]["tv_screen"]


async def test_a_change_to_one_box_leaves_every_other_box_warm(client, admin_as):
    """Staff retire one box: that box is refused on its next screen, while another box's repeat
    screen is still answered from memory (before the hub, any registry change chilled every
    box's remembered screens and cached tokens)."""
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE status = 'published' LIMIT 1")
    mine, other = await enter(client, "DEMO-0001"), await enter(client, "DEMO-0002")
    for base in (mine, other):
        assert (await client.get(f"{base}p-{pid}-1")).status == 200
    await admin_as("staff")
    page = "/admin/registry/box/DEMO-0001"
    html = await (await client.get(page)).text()
    response = await client.post(
        page + "/edit", data=changed(form_pairs(html), state="retired"), allow_redirects=False
    )
    assert response.status == 303
    before = await _front_answered(client)
    assert (await client.get(f"{other}p-{pid}-1")).status == 200
    assert await _front_answered(client) == before + 1  # still remembered
    refused = await client.get(f"{mine}p-{pid}-1")
    assert "还没有在您家的机顶盒开通" in await refused.text()  # the not-enrolled notice
    assert await _front_answered(client) == before + 1


async def test_a_reset_of_the_hub_drops_every_cache(client, box):
    """What a transport between nodes does when it reconnects (events may have been missed)."""
    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE status = 'published' LIMIT 1")
    url = f"{box}p-{pid}-1"
    await client.get(url)
    assert len(client.app[keys.SCREENS]) and len(client.app[keys.PROGRAMS])
    db.changes.reset()
    assert not len(client.app[keys.SCREENS]) and not len(client.app[keys.PROGRAMS])
    before = await _front_answered(client)
    assert (await client.get(url)).status == 200
    assert await _front_answered(client) == before  # the full path answered


async def test_a_box_retired_through_the_device_api_is_refused_on_its_next_screen(client, box):
    """The PATCH's change event is emitted inside its transaction: the fast lane's remembered
    answer for the box goes as the write commits."""
    from accounts import apikeys

    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE status = 'published' LIMIT 1")
    url = f"{box}p-{pid}-1"
    await client.get(url)
    before = await _front_answered(client)
    assert (await client.get(url)).status == 200
    assert await _front_answered(client) == before + 1  # remembered
    _key, raw = await apikeys.create(db, "op", ["devices:write"])
    response = await client.patch(
        "/api/v1/devices/DEMO-0001",
        json={"state": "retired"},
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status == 200, await response.text()
    assert "还没有在您家的机顶盒开通" in await (await client.get(url)).text()


async def test_a_change_from_another_node_drops_the_caches_here(client, box):
    """What the PostgreSQL transport (storage/pgnodes.py) does: relay this node's changes, and
    hand the other nodes' payloads to `receive` — a program edited elsewhere is rebuilt here."""
    db = client.app[keys.DB]
    sent: list[str] = []
    db.changes.relay = lambda change: sent.append(change.payload())
    pid = await db.fetchval("SELECT id FROM programs WHERE status = 'published' LIMIT 1")
    await client.get(f"{box}p-{pid}-1")
    assert pid in client.app[keys.PROGRAMS]
    await db.changes.receive(Change.of("program", [pid]).payload())
    assert pid not in client.app[keys.PROGRAMS]
    assert sent == []  # a change heard from another node is not sent back
    # A change published after its write is relayed. (A transaction's own changes travel with
    # its COMMIT on PostgreSQL: tests/test_multinode.py.)
    await db.changes.publish(Change.of("directory"))
    assert sent == ['{"k":"directory"}']


async def test_a_cache_that_fails_to_follow_a_change_drops_every_cache(tmp_path, caplog):
    """The write is committed whatever a cache does: it is never failed, and a cache that could
    not follow makes every cache go rather than serve what changed."""
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    try:
        dropped: list[str] = []

        def broken(_change: Change) -> None:
            raise RuntimeError("cache bug")

        db.changes.subscribe(["program"], broken, reset=lambda: dropped.append("all"))
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x)")
            tx.emit("program", [1])
        assert dropped == ["all"]
        assert "every cache is dropped" in caplog.text
    finally:
        await db.close()


async def test_a_directory_write_without_a_handler_reaches_the_tv(client, box):
    """A domain write (as the CLI or an import does it, no admin handler around it) emits its
    change in its own transaction: the box's cached directory screen shows the new name at once,
    and a callback is no longer routed to a point deleted that way."""
    from callbacks import routing
    from content.directory import points as directory
    from tests.helpers import draft_for, submit

    db = client.app[keys.DB]
    view = await client.app[keys.BOXES].get("DEMO-0001")
    points = await directory.points_in_regions(db, list(view.chain))
    point = points[0]
    assert point.name in await (await client.get(box + "dir")).text()  # now cached
    await directory.apply_points(db, [{**point.snapshot(), "name": "乌兰新名调解室"}])
    assert "乌兰新名调解室" in await (await client.get(box + "dir")).text()

    # Routing remembers the chain's points; a point deleted by a domain call is not chosen.
    draft = await draft_for(client, box)
    ref = (await submit(client, box, draft)).headers["Location"].rsplit("r-", 1)[1]
    office = await db.fetchval("SELECT office_code FROM callback_requests WHERE ref = ?", (ref,))
    assert office and routing.CHAIN_CACHE in db.changes.caches
    gone = await directory.get_point(db, office)
    await directory.delete_point(db, gone.id)
    draft = await draft_for(client, box, phone="13900139000")
    ref = (await submit(client, box, draft)).headers["Location"].rsplit("r-", 1)[1]
    again = await db.fetchval("SELECT office_code FROM callback_requests WHERE ref = ?", (ref,))
    assert again != office


async def test_domain_writes_emit_their_own_changes(client, box):
    """Announcements, advisers, appointment slots and waves written by a domain call alone (as
    the CLI, an import or another service would) reach the caches: the write's transaction emits
    its change, no handler has to. An announcement shows on the box's next screen at once."""
    from advisers import advisers
    from appointments import slots
    from content.announcements import notices
    from content.directory import points as directory
    from device_registry import waves

    db = client.app[keys.DB]
    view = await client.app[keys.BOXES].get("DEMO-0001")
    published = dict(db.changes.published)
    await notices.create_announcement(db, "停水通知：明天上午检修", [view.chain[0]])
    html = await (await client.get(box + "programs")).text()
    assert "停水通知：明天上午检修" in html  # no poll interval to wait for

    adviser = await advisers.for_village(db, view.chain[0])
    await advisers.delete(db, adviser.id)
    point = (await directory.points_in_regions(db, list(view.chain)))[0]
    await slots.add_patterns(db, point.code, "notarisation", [1], "09:00", "09:30", 1)
    wave = (await waves.list_waves(db))[0]
    await waves.change_status(db, wave.id, "pause")
    after = db.changes.published
    for kind in ("announcement", "adviser", "appointment", "wave"):
        assert after[kind] == published.get(kind, 0) + 1, kind


async def test_a_program_unpublished_by_a_domain_call_leaves_the_tv_at_once(client, box):
    """The workflow's publication and unpublication emit "program" in their own transaction: a
    program taken off by the scheduler, an import or the CLI is not served from a cache."""
    from content.programs import workflow

    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE status = 'published' LIMIT 1")
    url = f"{box}p-{pid}-1"
    assert (await client.get(url)).status == 200
    assert (await client.get(url)).status == 200  # remembered now
    await workflow.unpublish(db, pid, actor="cli")
    assert (await client.get(url)).status == 404
    await workflow.republish(db, pid, actor="cli")
    assert (await client.get(url)).status == 200


async def test_the_law_register_written_without_a_handler_reaches_the_tv(client, box):
    """A law renamed by the CSV import alone (as `legaltv laws import` does it) shows on the
    cached TV pages citing it; a program withdrawn for legal review and re-approved by domain
    calls leaves and comes back on the TV at once."""
    from content.laws import register as laws
    from content.programs import workflow

    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = 'jiaotong-shigu'")
    url = f"{box}p-{pid}-4"
    assert "《中华人民共和国道路交通安全法》" in await (await client.get(url)).text()
    assert "《中华人民共和国道路交通安全法》" in await (await client.get(url)).text()  # cached
    law = (await laws.get_law(db, "road-traffic-safety-law")).values()
    law |= {"name": "道路交通安全法（新名）", "status": "amended", "amended_on": "2026-10-01"}
    raw = laws.export_csv([laws.Law(**law)])
    result = await laws.import_csv(db, raw, actor="cli")
    assert pid in result.flagged
    assert "《道路交通安全法（新名）》" in await (await client.get(url)).text()

    assert await laws.set_withdrawn(db, pid, True)
    assert (await client.get(url)).status == 404
    live = (await workflow.get_state(db, pid)).workflow.live_revision_id
    assert await laws.reapprove(db, pid, revision=live, actor="cli")
    assert (await client.get(url)).status == 200


async def test_a_mongolian_version_written_without_a_handler_reaches_the_tv(client):
    """A program's Mongolian version saved or deleted by the domain alone (as an import would)
    is what a Mongolian box's cached program page shows next."""
    from content.programs import versions

    db = client.app[keys.DB]
    await client.get("/tv/", params={"stb": "DEMO-0001", "lang": "mn"})
    base = await enter(client, "DEMO-0001")
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = 'xianfa-gongmin-quanli'")
    url = f"{base}p-{pid}-1"
    version = (await versions.get_versions(db, pid))["mn"]
    assert version.title in await (await client.get(url)).text()
    assert version.title in await (await client.get(url)).text()  # cached
    title = "ᠰᠢᠨ᠎ᠡ ᠭᠠᠷᠴᠠᠭ"
    pages = [(p.title, p.markdown) for p in version.pages]
    await versions.save_version(db, pid, "mn", {"title": title, "summary": "", "pages": pages})
    assert title in await (await client.get(url)).text()
    await versions.delete_version(db, pid, "mn")
    html = await (await client.get(url)).text()
    assert title not in html and "宪法与我们" in html  # the Chinese text, labelled
    assert '<span class="tag zh-tag" lang="zh">汉语</span>' in html


async def test_a_tv_language_set_without_a_handler_reaches_the_tv(client, box):
    """The box's language written by the domain alone: its remembered screens go, the next one
    is in the new language."""
    from content.programs import versions
    from device_registry import records

    db = client.app[keys.DB]
    pid = await db.fetchval("SELECT id FROM programs WHERE slug = 'xianfa-gongmin-quanli'")
    url = f"{box}p-{pid}-1"
    assert "宪法与我们" in await (await client.get(url)).text()
    assert "宪法与我们" in await (await client.get(url)).text()  # remembered
    await records.set_language(db, "DEMO-0001", "mn")
    version = (await versions.get_versions(db, pid))["mn"]
    html = await (await client.get(url)).text()
    assert version.title in html and "宪法与我们" not in html


async def test_a_box_replaced_by_the_cli_is_refused_by_the_running_server(client, settings):
    """`legaltv devices replace` with its own connection and its own hub (like another process;
    docs/architecture.md, "Writes by another process"): on SQLite the server re-reads the
    token ledger every flush interval (0.2 s here), on PostgreSQL the change is NOTIFYd — either
    way the old box's next beats are refused without a restart."""
    import asyncio

    from device_registry import enrolment
    from tests.helpers import device_token_key
    from tv_server import cli

    token = await enrolment.issue_token(
        client.app[keys.DB], "DEMO-0001", key=device_token_key(client.app)
    )

    async def beat():
        return await client.post(
            "/api/v1/devices/DEMO-0001/heartbeat",
            json={"firmware": "V1.0", "portal_version": "2.0", "uptime": 60},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert (await beat()).status == 202
    argv = ["devices", "replace", "DEMO-0001", "NEW-4K-0042", "--data-dir", str(settings.data_path)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    for _ in range(50):
        response = await beat()
        if response.status != 202:
            break
        await asyncio.sleep(0.1)
    assert response.status == 410
    assert (await response.json())["error"]["code"] == "device_retired"
