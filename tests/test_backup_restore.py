"""`legaltv backup` while the real app takes callbacks and heartbeats, `legaltv restore` into a
fresh data dir, every table compared; damaged backups and non-empty targets are refused with
nothing half-restored. A backup is of the SQLite file: on PostgreSQL `legaltv backup` and
`legaltv restore` refuse and name PostgreSQL's own tools (the last test, on either backend)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest

from device_registry import enrolment
from tests.helpers import ROOT, TEST_SECRET, device_token_key, launch_params, make_settings
from tv_server import keys
from tv_server.app import create_app

# Every test here but the last examines the SQLite file a backup holds.
SQLITE_FILE = pytest.mark.sqlite_only(
    "a backup holds the SQLite file; PostgreSQL is backed up with pg_dump (docs/scaling.md)"
)


async def _cli(*args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEGALTV_LAUNCH_SECRET": TEST_SECRET}
    env.pop("LEGALTV_DATA_DIR", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tv_server.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


def _tables(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {n: sorted(map(tuple, conn.execute(f'SELECT rowid, * FROM "{n}"'))) for n in names}
    finally:
        conn.close()


class Load:
    """Households asking for callbacks and boxes sending heartbeats, until stopped."""

    def __init__(self, client) -> None:
        self.client = client
        self.refs: list[str] = []  # receipts shown: committed requests
        self.beats = 0
        self.running = True
        self.started = asyncio.Event()  # set once five receipts were shown

    async def callbacks(self, serials: list[str]) -> None:
        n = 0
        while self.running:
            serial = serials[n % len(serials)]
            n += 1
            entered = await self.client.get("/tv/launch", params=launch_params(serial))
            assert entered.status == 200, await entered.text()
            box = entered.url.path[: -len("home")]
            response = await self.client.post(
                box + "cb-phone",
                data={"svc": "consultation", "sp": "", "d": "", "phone": "13800138000"},
                allow_redirects=False,
            )
            draft = re.search(r"d=([0-9a-f]+)", response.headers["Location"]).group(1)
            response = await self.client.post(
                box + "cb-submit", data={"d": draft, "w": "morning"}, allow_redirects=False
            )
            assert response.status == 303, await response.text()
            self.refs.append(response.headers["Location"].rsplit("r-", 1)[1])
            if len(self.refs) >= 5:
                self.started.set()

    async def heartbeats(self, tokens: list[str]) -> None:
        serials = [f"DEMO-{n:04d}" for n in range(1, len(tokens) + 1)]
        while self.running:
            for serial, token in zip(serials, tokens, strict=True):
                response = await self.client.post(
                    f"/api/v1/devices/{serial}/heartbeat",
                    json={"uptime": self.beats},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status == 202, await response.text()
                self.beats += 1
            await asyncio.sleep(0.01)


@SQLITE_FILE
async def test_backup_under_load_restores_every_table(front_client, data_dir, tmp_path):
    # Twenty boxes submit for as long as the backup runs: neither the open-request cap nor the
    # daily one (10 a box) may refuse them, however slow the machine makes the backup.
    settings = make_settings(data_dir, max_open_callbacks=10**6, requests_per_box_per_day=10**6)
    client = await front_client(create_app(settings))
    db = client.app[keys.DB]
    tokens = [
        await enrolment.issue_token(db, f"DEMO-{n:04d}", key=device_token_key(client.app))
        for n in range(1, 21)
    ]
    await asyncio.sleep(0.5)  # the usage flusher has written what start-up recorded
    before = _tables(data_dir / "legaltv.sqlite3")

    load = Load(client)
    serials = [f"DEMO-{n:04d}" for n in range(1, 21)]  # boxes of the first pilot township
    workers = [
        asyncio.create_task(load.callbacks(serials[0::2])),
        asyncio.create_task(load.callbacks(serials[1::2])),
        asyncio.create_task(load.heartbeats(tokens)),
    ]
    await asyncio.wait_for(load.started.wait(), 60)
    acknowledged = list(load.refs)  # receipts shown before the backup began
    beats_before = load.beats
    code, out, err = await _cli("backup", str(tmp_path / "backup"), "--data-dir", str(data_dir))
    beats_during = load.beats - beats_before
    refs_during = len(load.refs) - len(acknowledged)
    load.running = False
    for worker in workers:
        await worker
    await asyncio.sleep(0.5)  # the last heartbeats flushed
    after = _tables(data_dir / "legaltv.sqlite3")
    assert code == 0, err
    assert "backed up" in out
    assert beats_during > 0 and refs_during > 0, "the backup did not run under load"

    restored_dir = tmp_path / "restored"
    code, out, err = await _cli(
        "restore", str(tmp_path / "backup"), "--data-dir", str(restored_dir)
    )
    assert code == 0, err
    restored = _tables(restored_dir / "legaltv.sqlite3")

    assert restored.keys() == before.keys() == after.keys()
    for table, rows in restored.items():
        # Rows nobody changed during the backup are all there, and nothing else than what
        # the live database held before, after, or (rows updated in place) under its ids.
        steady = Counter(before[table]) & Counter(after[table])
        assert not steady - Counter(rows), f"{table}: rows lost"
        known = set(before[table]) | set(after[table])
        live_ids = {r[0] for r in after[table]}
        if table == "callback_drafts":
            # A draft lives between a box's steps and is deleted when submitted: the snapshot
            # may hold drafts made and submitted while it ran, which neither side saw.
            continue
        strange = [r for r in rows if r not in known and r[0] not in live_ids]
        assert not strange, f"{table}: rows the live database never had: {strange[:3]}"
        if before[table] == after[table] and table != "callback_drafts":  # see above
            assert rows == before[table], f"{table} differs"
    conn = sqlite3.connect(restored_dir / "legaltv.sqlite3")
    refs = {r[0] for r in conn.execute("SELECT ref FROM callback_requests")}
    assert set(acknowledged) <= refs  # every receipt shown before the backup began
    orphans = conn.execute(
        "SELECT COUNT(*) FROM callback_requests r WHERE NOT EXISTS (SELECT 1 FROM"
        " callback_events e WHERE e.request_id = r.id AND e.kind = 'submitted')"
    ).fetchone()[0]
    assert orphans == 0  # one consistent moment: each request with its event
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    first_serial = conn.execute(
        "SELECT d.serial FROM callback_requests r JOIN devices d ON d.id = r.device_id"
        " WHERE r.ref = ?",
        (acknowledged[0],),
    ).fetchone()[0]
    conn.close()

    # Media, renditions and title cards came along, byte for byte.
    for folder in ("media", "renditions", "titlecards"):
        live = sorted(p.relative_to(data_dir / folder) for p in (data_dir / folder).rglob("*"))
        assert live and live == sorted(
            p.relative_to(restored_dir / folder) for p in (restored_dir / folder).rglob("*")
        )
    sample = next(p for p in (data_dir / "media").rglob("*") if p.is_file())
    twin = restored_dir / sample.relative_to(data_dir)
    assert twin.read_bytes() == sample.read_bytes()
    assert (restored_dir / "secret_key").read_text() == (data_dir / "secret_key").read_text()
    await client.close()

    # The restored data dir serves.
    served = await front_client(create_app(make_settings(restored_dir)))
    response = await served.get("/tv/launch", params=launch_params(first_serial))
    assert response.status == 200
    receipt = await served.get(response.url.path[: -len("home")] + f"r-{acknowledged[0]}")
    assert receipt.status == 200
    assert acknowledged[0] in await receipt.text()


@pytest.fixture
async def made_backup(data_dir, tmp_path) -> Path:
    code, _out, err = await _cli("backup", str(tmp_path / "bk"), "--data-dir", str(data_dir))
    assert code == 0, err
    return tmp_path / "bk"


async def _restore_fails(backup: Path, target: Path, message: str) -> None:
    code, out, err = await _cli("restore", str(backup), "--data-dir", str(target))
    assert code != 0
    assert message in err
    assert "Traceback" not in err
    assert _empty(target), "something was restored"


def _empty(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


@SQLITE_FILE
async def test_a_damaged_media_file_restores_nothing(made_backup, tmp_path):
    manifest = json.loads((made_backup / "manifest.json").read_text())
    rel = next(r for r in sorted(manifest["files"]) if r.startswith("renditions/"))
    damaged = bytearray((made_backup / rel).read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (made_backup / rel).write_bytes(bytes(damaged))
    await _restore_fails(made_backup, tmp_path / "new", f"{rel}: checksum mismatch")
    empty = tmp_path / "empty"
    empty.mkdir()
    await _restore_fails(made_backup, empty, f"{rel}: checksum mismatch")
    assert empty.is_dir()  # the operator's empty folder stays


@SQLITE_FILE
async def test_a_missing_file_restores_nothing(made_backup, tmp_path):
    manifest = json.loads((made_backup / "manifest.json").read_text())
    rel = next(r for r in sorted(manifest["files"]) if r.startswith("media/"))
    (made_backup / rel).unlink()
    await _restore_fails(made_backup, tmp_path / "new", f"{rel}: missing from the backup")
    (made_backup / "manifest.json").unlink()
    await _restore_fails(made_backup, tmp_path / "new", "not a finished backup")


@SQLITE_FILE
async def test_a_corrupt_database_restores_nothing(made_backup, tmp_path):
    db = made_backup / "legaltv.sqlite3"
    data = bytearray(db.read_bytes())
    for offset in range(4096 * 3, len(data) - 4096, 4096 * 7):  # scribble over some pages
        data[offset + 100 : offset + 400] = b"\xde\xad" * 150
    db.write_bytes(bytes(data))
    # Even with a manifest matching the damaged file, the integrity check catches it.
    manifest = json.loads((made_backup / "manifest.json").read_text())
    import hashlib

    manifest["files"]["legaltv.sqlite3"] = {
        "size": len(data),
        "sha256": hashlib.sha256(bytes(data)).hexdigest(),
    }
    (made_backup / "manifest.json").write_text(json.dumps(manifest))
    code, out, err = await _cli("restore", str(made_backup), "--data-dir", str(tmp_path / "n"))
    assert code != 0
    assert "legaltv.sqlite3" in err and "Traceback" not in err
    assert not (tmp_path / "n").exists()


@SQLITE_FILE
async def test_restore_refuses_a_data_dir_in_use(made_backup, data_dir):
    before = sorted(p.name for p in data_dir.iterdir())
    code, out, err = await _cli("restore", str(made_backup), "--data-dir", str(data_dir))
    assert code != 0
    assert "not empty" in err
    assert sorted(p.name for p in data_dir.iterdir()) == before
    code, out, err = await _cli("backup", str(made_backup), "--data-dir", str(data_dir))
    assert code != 0 and "not an empty folder" in err  # an old backup is never overwritten


async def test_backup_and_restore_refuse_postgresql_and_name_its_tools(tmp_path):
    url = "postgresql://legaltv@/legaltv?host=/nonexistent"  # refused before any connection
    common = ["--database", url, "--data-dir", str(tmp_path / "data")]
    code, out, err = await _cli("backup", str(tmp_path / "bk"), *common)
    assert code == 2 and "pg_dump" in err and "Traceback" not in err
    assert not (tmp_path / "bk").exists()
    (tmp_path / "bk").mkdir()
    code, out, err = await _cli("restore", str(tmp_path / "bk"), *common)
    assert code == 2 and "pg_restore" in err and "Traceback" not in err
    assert not (tmp_path / "data").exists() or _empty(tmp_path / "data")
