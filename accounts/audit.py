"""The audit log: who did what to which object, when, from which address, and the outcome.

Whatever a request can put into a row is capped here, so no caller can forget: every text
column at FIELD_MAX characters and every text inside `detail` at DETAIL_TEXT_MAX (a cut text
ends with CUT), `detail` at DETAIL_ITEMS_MAX entries per list or object and DETAIL_DEPTH_MAX
levels. Anonymous refusals (failed logins, CSRF failures) go through a `Folder`: at most one row
per address and kind a minute, the rest counted into the next row.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from storage import Database


@dataclass(frozen=True)
class Entry:
    id: int
    at: float
    user_id: int | None
    username: str
    action: str
    object_type: str
    object_id: str
    outcome: str
    detail: dict
    ip: str


FIELD_MAX = 64
DETAIL_TEXT_MAX = 500
DETAIL_ITEMS_MAX = 200
DETAIL_DEPTH_MAX = 4
DETAIL_MAX = 16_000  # characters of the whole `detail` JSON
CUT = "…[cut]"


def _cap(text: str, limit: int = FIELD_MAX) -> str:
    return text if len(text) <= limit else text[:limit] + CUT


def _capped(value, text_max: int, items_max: int, depth: int = 0):
    """`value` with every text, list and object cut to size (JSON-ready)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict | list | tuple | set | frozenset):
        if depth >= DETAIL_DEPTH_MAX:
            return CUT
        if isinstance(value, dict):
            items = list(value.items())
            capped: dict | list = {
                _cap(str(k)): _capped(v, text_max, items_max, depth + 1)
                for k, v in items[:items_max]
            }
            if len(items) > items_max:
                capped[CUT] = len(items) - items_max
            return capped
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        capped = [_capped(v, text_max, items_max, depth + 1) for v in items[:items_max]]
        if len(items) > items_max:
            capped.append(CUT)
        return capped
    return _cap(str(value), text_max)


def _detail_json(detail: dict) -> str:
    """The `detail` column: capped texts and lists, then a cap on the whole."""
    for text_max, items_max in ((DETAIL_TEXT_MAX, DETAIL_ITEMS_MAX), (FIELD_MAX, 20)):
        text = json.dumps(_capped(detail, text_max, items_max), ensure_ascii=False, sort_keys=True)
        if len(text) <= DETAIL_MAX:
            return text
    return json.dumps({CUT: sorted(_cap(str(k)) for k in detail)[:20]}, ensure_ascii=False)


async def record(
    db_or_tx,
    *,
    user,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    outcome: str = "ok",
    detail: dict | None = None,
    ip: str = "",
) -> None:
    """Write one entry. Pass the open transaction to log inside the change it describes."""
    params = (
        time.time(),
        getattr(user, "id", None),
        _cap(getattr(user, "username", "") or ""),
        _cap(action),
        _cap(object_type),
        _cap(str(object_id)),
        outcome,
        _detail_json(detail or {}),
        _cap(ip),
    )
    sql = (
        "INSERT INTO audit_log (at, user_id, username, action, object_type, object_id,"
        " outcome, detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    await db_or_tx.execute(sql, params)  # a Database or an open Transaction


async def drop_detail_fields(
    tx, *, object_type: str, object_id: str, fields: tuple[str, ...]
) -> int:
    """Remove free-text fields (e.g. note excerpts) from the entries about one object, keeping
    who did what and when: used when that object's personal data is erased. Returns how many
    entries changed."""
    rows = await tx.fetchall(
        "SELECT id, detail FROM audit_log WHERE object_type = ? AND object_id = ?",
        (object_type, str(object_id)),
    )
    changed = 0
    for row in rows:
        detail = json.loads(row[1] or "{}")
        if not isinstance(detail, dict) or not any(f in detail for f in fields):
            continue
        for f in fields:
            detail.pop(f, None)
        await tx.execute(
            "UPDATE audit_log SET detail = ? WHERE id = ?",
            (json.dumps(detail, ensure_ascii=False, sort_keys=True), row[0]),
        )
        changed += 1
    return changed


async def search(
    db: Database,
    *,
    username: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    outcome: str = "",
    since: float | None = None,
    until: float | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Entry], int]:
    where, params = [], []
    for column, value in (
        ("username", username),
        ("action", action),
        ("object_type", object_type),
        ("object_id", object_id),
        ("outcome", outcome),
    ):
        if value:
            if column == "action" and value.endswith("*"):
                where.append("action LIKE ?")
                params.append(value[:-1] + "%")
            else:
                where.append(f"{column} = ?")
                params.append(value)
    if since is not None:
        where.append("at >= ?")
        params.append(since)
    if until is not None:
        where.append("at < ?")
        params.append(until)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = await db.fetchval(f"SELECT COUNT(*) FROM audit_log{clause}", params)
    rows = await db.fetchall(
        f"SELECT * FROM audit_log{clause} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [
        Entry(
            r["id"],
            r["at"],
            r["user_id"],
            r["username"],
            r["action"],
            r["object_type"],
            r["object_id"],
            r["outcome"],
            json.loads(r["detail"]),
            r["ip"],
        )
        for r in rows
    ], int(total)


class Folder:
    """At most one row per key (an address and a kind of refusal) every `window` seconds; the
    refusals in between are only counted, and the next row written for the key carries their
    number as `detail["folded"]`. Kept in memory, bounded like the rate limits."""

    MAX_KEYS = 10_000

    def __init__(self, window: float = 60.0) -> None:
        self.window = window  # the admin's comes from the setting refusal_audit_seconds
        self._last: dict[str, float] = {}  # key -> when its last row was written
        self._folded: dict[str, int] = {}  # key -> refusals counted since that row

    def admit(self, key: str, now: float | None = None) -> int | None:
        """None when this refusal is only counted; else how many were folded before it."""
        now = time.monotonic() if now is None else now
        last = self._last.get(key)
        if last is not None and now - last < self.window:
            self._folded[key] = self._folded.get(key, 0) + 1
            return None
        if len(self._last) >= self.MAX_KEYS:
            self._forget(now)
        self._last[key] = now
        return self._folded.pop(key, 0)

    def _forget(self, now: float) -> None:
        stale = [k for k, at in self._last.items() if now - at >= self.window]
        for key in stale if stale else list(self._last)[: self.MAX_KEYS // 10]:
            del self._last[key]
            self._folded.pop(key, None)

    async def record(
        self, db_or_tx, *, ip: str, action: str, detail: dict | None = None, **entry
    ) -> bool:
        """Write the refusal unless its address already had one of this action this window;
        True when a row was written."""
        folded = self.admit(f"{action} {ip}")
        if folded is None:
            return False
        detail = dict(detail or {})
        if folded:
            detail["folded"] = folded
        await record(db_or_tx, ip=ip, action=action, detail=detail, **entry)
        return True
