"""Bulk import of the operator's box CSV, all or nothing, with a report of every bad row.

Columns (header row, any order; `serial` and `village_code` required, the others optional):
serial, mac, model, firmware, village_code, household_label, installed_at (YYYY-MM-DD), state
(planned, installed or activated; default installed). Files may be UTF-8 with or without BOM, or
GB18030/GBK. Imported boxes are pre-authorised; a pending box listed in the file is accepted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from device_registry import enrolment, states, validation
from device_registry.regions import decode_csv_bytes
from device_registry.states import DeviceState
from storage import Database

COLUMNS = (
    "serial",
    "mac",
    "model",
    "firmware",
    "village_code",
    "household_label",
    "installed_at",
    "state",
)
REQUIRED = ("serial", "village_code")
CHUNK = 5000
MAX_PROBLEMS = 1000

Progress = Callable[[int, int], None]

# English messages for the CLI; the admin has its own Chinese labels for the same codes.
MESSAGES = {
    "file_empty": "the file is empty",
    "columns_unknown": "unknown columns: %(names)s",
    "columns_missing": "missing columns: %(names)s",
    "columns_repeated": "repeated columns: %(names)s",
    "columns_expected": "expected columns: %(names)s",
    "column_count": "expected %(expected)s columns, found %(found)s",
    "serial_invalid": "malformed serial '%(value)s'",
    "serial_repeated": "duplicate serial %(value)s (also on line %(other)s)",
    "serial_registered": "duplicate serial %(value)s (already registered)",
    "mac_invalid": "malformed MAC '%(value)s'",
    "mac_repeated": "duplicate MAC %(value)s (also on line %(other)s)",
    "mac_registered": "duplicate MAC %(value)s (registered to box %(other)s)",
    "model_unknown": "unknown model '%(value)s'",
    "firmware_invalid": "malformed firmware '%(value)s'",
    "village_unknown": "unknown village code '%(value)s'",
    "household_label_invalid": "household_label longer than 100 characters",
    "installed_at_invalid": "installed_at '%(value)s' is not a date YYYY-MM-DD",
    "state_invalid": "state '%(value)s' is not one of planned, installed, activated",
}


@dataclass
class ImportReport:
    rows: int = 0  # data rows read (empty lines not counted)
    issues: list[tuple[int, str, dict]] = field(default_factory=list)  # (line, code, params)
    new: int = 0
    accepted: int = 0  # pending boxes the file admitted
    dry_run: bool = False
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.issues

    def add(self, line: int, code: str, **params: object) -> None:
        self.issues.append((line, code, params))

    @property
    def problems(self) -> list[tuple[int, str]]:
        """(line, English message) per bad line, sorted by line (several issues joined)."""
        by_line: dict[int, list[str]] = {}
        for line, code, params in sorted(self.issues, key=lambda i: i[0]):
            by_line.setdefault(line, []).append(MESSAGES[code] % params)
        return [(line, "; ".join(texts)) for line, texts in by_line.items()]


def decode(raw: bytes) -> str:
    """UTF-8 (BOM or not) or GB18030/GBK; raise UnicodeDecodeError otherwise."""
    return decode_csv_bytes(raw)


@dataclass(frozen=True)
class _Row:
    line: int
    serial: str
    mac: str | None
    model: str | None
    firmware: str
    village_code: str
    household_label: str
    installed_at: str | None
    state: str


def _parse(text: str, villages: set[str], models: set[str], report: ImportReport) -> list[_Row]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    while header is not None and not any(c.strip() for c in header):
        header = next(reader, None)
    if header is None:
        report.add(1, "file_empty")
        return []
    names = [h.strip().lower() for h in header]
    head_line = reader.line_num
    unknown = [n for n in names if n not in COLUMNS]
    missing = [n for n in REQUIRED if n not in names]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if unknown:
        report.add(head_line, "columns_unknown", names=", ".join(unknown))
    if missing:
        report.add(head_line, "columns_missing", names=", ".join(missing))
    if doubled:
        report.add(head_line, "columns_repeated", names=", ".join(doubled))
    if unknown or missing or doubled:
        report.add(head_line, "columns_expected", names=",".join(COLUMNS))
        return []
    rows: list[_Row] = []
    serial_lines: dict[str, int] = {}
    mac_lines: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        report.rows += 1
        if len(cells) != len(names):
            report.add(line, "column_count", expected=len(names), found=len(cells))
            continue
        v = {n: c.strip() for n, c in zip(names, cells, strict=True)}
        before = len(report.issues)
        serial = v["serial"]
        if not validation.valid_serial(serial):
            report.add(line, "serial_invalid", value=serial)
        elif serial in serial_lines:
            report.add(line, "serial_repeated", value=serial, other=serial_lines[serial])
        else:
            serial_lines[serial] = line
        mac = None
        if v.get("mac"):
            mac = validation.normalize_mac(v["mac"])
            if mac is None:
                report.add(line, "mac_invalid", value=v["mac"])
            elif mac in mac_lines:
                report.add(line, "mac_repeated", value=mac, other=mac_lines[mac])
            else:
                mac_lines[mac] = line
        model = v.get("model") or None
        if model is not None and model not in models:
            report.add(line, "model_unknown", value=model)
        firmware = v.get("firmware", "")
        if firmware and not validation.valid_version(firmware):
            report.add(line, "firmware_invalid", value=firmware)
        village = v["village_code"]
        if village not in villages:
            report.add(line, "village_unknown", value=village)
        label = v.get("household_label", "")
        if len(label) > 100:
            report.add(line, "household_label_invalid")
        installed = v.get("installed_at") or None
        if installed is not None:
            try:
                installed = dt.date.fromisoformat(installed).isoformat()
            except ValueError:
                report.add(line, "installed_at_invalid", value=installed)
        state = v.get("state") or DeviceState.INSTALLED
        if state not in states.IMPORT_STATES:
            report.add(line, "state_invalid", value=state)
        if len(report.issues) > before:
            continue
        rows.append(_Row(line, serial, mac, model, firmware, village, label, installed, state))
    return rows


async def _existing(db: Database, rows: list[_Row], report: ImportReport) -> set[str]:
    """Check serials and MACs against the registry; return the pending serials to accept."""
    pending: set[str] = set()
    by_serial = {r.serial: r for r in rows}
    serials = list(by_serial)
    for i in range(0, len(serials), 500):
        chunk = serials[i : i + 500]
        found = await db.fetchall(
            f"SELECT serial, state FROM devices WHERE serial IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        for serial, state in found:
            if state == DeviceState.PENDING:
                pending.add(serial)
            else:
                report.add(by_serial[serial].line, "serial_registered", value=serial)
    by_mac = {r.mac: r for r in rows if r.mac}
    macs = list(by_mac)
    for i in range(0, len(macs), 500):
        chunk = macs[i : i + 500]
        found = await db.fetchall(
            f"SELECT mac, serial FROM devices WHERE mac IN ({','.join('?' * len(chunk))})", chunk
        )
        for mac, serial in found:
            if serial != by_mac[mac].serial:
                report.add(by_mac[mac].line, "mac_registered", value=mac, other=serial)
    report.issues.sort(key=lambda i: i[0])
    return pending


async def import_devices(
    db: Database,
    text: str,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    now: float | None = None,
) -> ImportReport:
    """Check every row; unless `dry_run` or a row is bad, write them all in one transaction."""
    report = ImportReport(dry_run=dry_run)
    villages = {r[0] for r in await db.fetchall("SELECT code FROM regions WHERE level='village'")}
    rows = _parse(text, villages, await enrolment.known_models(db), report)
    pending = await _existing(db, rows, report) if rows else set()
    del report.issues[MAX_PROBLEMS:]
    if report.issues or dry_run or not rows:
        report.accepted = len(pending)
        report.new = len(rows) - len(pending)
        return report
    now = time.time() if now is None else now
    total = len(rows)
    async with db.transaction() as tx:
        households = {(r.village_code, r.household_label) for r in rows if r.household_label}
        await tx.executemany(
            "INSERT INTO households (village_code, label, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (village_code, label) DO NOTHING",
            [(v, label, now) for v, label in sorted(households)],
        )
        for i in range(0, total, CHUNK):
            chunk = rows[i : i + CHUNK]
            fresh = [r for r in chunk if r.serial not in pending]
            await tx.executemany(
                "INSERT INTO devices (serial, mac, model, firmware, village_code,"
                " household_label, household_id, state, installed_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?,"
                " (SELECT id FROM households WHERE village_code = ? AND label = ?), ?, ?, ?)",
                [
                    (
                        r.serial,
                        r.mac,
                        r.model,
                        r.firmware,
                        r.village_code,
                        r.household_label,
                        r.village_code,
                        r.household_label,
                        r.state,
                        r.installed_at,
                        now,
                    )
                    for r in fresh
                ],
            )
            await tx.executemany(
                "UPDATE devices SET mac = ?, model = ?, firmware = ?, village_code = ?,"
                " household_label = ?,"
                " household_id = (SELECT id FROM households WHERE village_code = ? AND label = ?),"
                " state = ?, installed_at = ?"
                f" WHERE serial = ? AND state = '{DeviceState.PENDING}'",
                [
                    (
                        r.mac,
                        r.model,
                        r.firmware,
                        r.village_code,
                        r.household_label,
                        r.village_code,
                        r.household_label,
                        r.state,
                        r.installed_at,
                        r.serial,
                    )
                    for r in chunk
                    if r.serial in pending
                ],
            )
            await tx.executemany(
                "INSERT INTO household_boxes (household_id, device_id, since, reason)"
                " SELECT household_id, id, ?, 'imported' FROM devices"
                " WHERE serial = ? AND household_id IS NOT NULL"
                " ON CONFLICT DO NOTHING",
                [(now, r.serial) for r in chunk if r.household_label],
            )
            if progress is not None:
                progress(min(i + CHUNK, total), total)
        tx.emit("box", [r.serial for r in rows])  # beyond MAX_IDS: every box
        tx.emit("coverage")
    report.new = total - len(pending)
    report.accepted = len(pending)
    report.written = True
    return report
