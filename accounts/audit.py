"""The audit log: who did what to which object, when, from which address, and the outcome."""

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
        getattr(user, "username", "") or "",
        action,
        object_type,
        str(object_id),
        outcome,
        json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
        ip,
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
