"""Heartbeats from boxes, written in batches.

`HeartbeatWriter.record()` validates nothing and only keeps the latest beat per box in memory;
`flush()` (a background task every few seconds, and at shutdown) writes them all in one
transaction: firmware, portal version, uptime, first/last seen, activation and state. On SQLite
that is one prepared UPDATE per box (no round trips: the database is in the process); on
PostgreSQL one multi-row UPDATE over arrays of the beats (`HEARTBEAT_UPDATE_MANY`), one
statement and one round trip for the whole batch.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from device_registry.states import BEAT_ACTIVATES, REFUSED_STATES, DeviceState, sql_list
from storage import Database

# A heartbeat's own clock may drift; further off than this it is refused as absurd.
MAX_FUTURE_SECONDS = 300
MAX_PAST_SECONDS = 86400
MAX_UPTIME_SECONDS = 10 * 365 * 86400
_BECOME_ACTIVE = sql_list(BEAT_ACTIVATES)
_REFUSED = sql_list(REFUSED_STATES)

# One flushed beat: firmware and portal version only when the box sent them, last_seen never goes
# back, a box in a not-yet-live state becomes active; retired, rejected and pending boxes stay as
# they are. Parameters: firmware twice, portal version twice, uptime,
# then the beat's time three times, the device id (bench/registry_bench.py runs the same
# statement as a raw baseline).
HEARTBEAT_UPDATE = (
    "UPDATE devices SET"
    " firmware = CASE WHEN ? != '' THEN ? ELSE firmware END,"
    " portal_version = CASE WHEN ? != '' THEN ? ELSE portal_version END,"
    " uptime = COALESCE(?, uptime),"
    " last_seen = MAX(COALESCE(last_seen, 0), ?),"
    " first_seen = COALESCE(first_seen, ?),"
    " activated_at = COALESCE(activated_at, ?),"
    f" state = CASE WHEN state IN ({_BECOME_ACTIVE}) THEN '{DeviceState.ACTIVE}'"
    f" ELSE state END WHERE id = ? AND state NOT IN ({_REFUSED})"
)

# The same update for a whole batch, on PostgreSQL: the beats as five arrays (device ids, times,
# firmware, portal versions, uptimes) unnested into rows and joined to their devices.
HEARTBEAT_UPDATE_MANY = (
    "UPDATE devices SET"
    " firmware = CASE WHEN b.firmware != '' THEN b.firmware ELSE devices.firmware END,"
    " portal_version = CASE WHEN b.portal_version != '' THEN b.portal_version"
    " ELSE devices.portal_version END,"
    " uptime = COALESCE(b.uptime, devices.uptime),"
    " last_seen = GREATEST(COALESCE(devices.last_seen, 0), b.at),"
    " first_seen = COALESCE(devices.first_seen, b.at),"
    " activated_at = COALESCE(devices.activated_at, b.at),"
    f" state = CASE WHEN devices.state IN ({_BECOME_ACTIVE}) THEN '{DeviceState.ACTIVE}'"
    " ELSE devices.state END"
    " FROM unnest(?::bigint[], ?::double precision[], ?::text[], ?::text[], ?::bigint[])"
    " AS b(id, at, firmware, portal_version, uptime)"
    f" WHERE devices.id = b.id AND devices.state NOT IN ({_REFUSED})"
)


class Beat(NamedTuple):  # a tuple: made once per heartbeat request, so cheap to make
    device_id: int
    at: float
    firmware: str
    portal_version: str
    uptime: int | None


def timestamp_ok(at: float, now: float | None = None) -> bool:
    """True when a beat's time lies within the accepted window around the server's clock."""
    now = time.time() if now is None else now
    return now - MAX_PAST_SECONDS <= at <= now + MAX_FUTURE_SECONDS


class HeartbeatWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._beats: dict[int, Beat] = {}

    def record(self, beat: Beat) -> None:
        known = self._beats.get(beat.device_id)
        if known is None or known.at <= beat.at:
            self._beats[beat.device_id] = beat

    @property
    def pending(self) -> int:
        return len(self._beats)

    async def flush(self) -> int:
        """Write the buffered beats in one transaction; return how many boxes were updated."""
        if not self._beats:
            return 0
        beats, self._beats = self._beats, {}
        ordered = sorted(beats.values())  # by device id: each table page is visited once
        try:
            if self.db.backend == "postgresql":
                columns = [list(column) for column in zip(*ordered, strict=True)]
                async with self.db.transaction() as tx:
                    await tx.execute(HEARTBEAT_UPDATE_MANY, columns)
            else:
                await self._write_each(ordered)
        except BaseException:
            for device_id, beat in beats.items():
                self._beats.setdefault(device_id, beat)
            raise
        return len(ordered)

    async def _write_each(self, beats: list[Beat]) -> None:
        rows = [
            (
                b.firmware,
                b.firmware,
                b.portal_version,
                b.portal_version,
                b.uptime,
                b.at,
                b.at,
                b.at,
                b.device_id,
            )
            for b in beats
        ]
        async with self.db.transaction() as tx:
            await tx.executemany(HEARTBEAT_UPDATE, rows)
