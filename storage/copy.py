"""Copy a whole installation's database to another (SQLite → PostgreSQL, or back), verified.

The target must be empty: no tables at all. It gets the schema by the same migrations, the
rows the migrations themselves put there (the hotline's pseudo-box) are replaced by the
source's, every table is copied in an order that satisfies its foreign keys, identity
sequences are moved past the copied ids, and each table is compared afterwards by row count
and a checksum over its rows (in primary-key order, values normalised so that SQLite's and
PostgreSQL's representations of the same value agree). Any difference is an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from storage.database import Migration
from storage.errors import Conflict, Invalid

BATCH = 1000


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int
    checksum: str


def _value(v: Any) -> str:
    if v is None:
        return "\x00"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float):
        return repr(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, memoryview):
        v = bytes(v)
    if isinstance(v, bytes):
        return "b" + v.hex()
    return str(v)


async def _ordered(db, table: str, columns: list[str]) -> list:
    quoted = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join(str(i + 1) for i in range(len(columns)))
    return await db.fetchall(f'SELECT {quoted} FROM "{table}" ORDER BY {order}')


def _figures(rows: list) -> tuple[int, str]:
    """(rows, sha256 over the rows' normalised values, in the order given)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update("\x1f".join(_value(v) for v in row).encode("utf-8"))
        digest.update(b"\x1e")
    return len(rows), digest.hexdigest()


async def checksum(db, table: str, columns: list[str]) -> tuple[int, str]:
    """(rows, sha256 over the rows' normalised values in a fixed order)."""
    return _figures(await _ordered(db, table, columns))


async def _copy_order(db, tables: Iterable[str]) -> list[str]:
    """Tables ordered so that each comes after those it references."""
    pending = {t: (await db.references(t)) - {t} for t in tables}
    order: list[str] = []
    while pending:
        ready = sorted(t for t, refs in pending.items() if not refs & pending.keys())
        if not ready:
            raise Invalid("copy_cycle", ", ".join(sorted(pending)))
        order += ready
        for t in ready:
            del pending[t]
    return order


async def copy_database(
    source, target, migrations: list[Migration], progress: Callable[[str], None] = print
) -> list[TableCopy]:
    """Copy `source` (opened) into the empty `target` (opened); return each table's figures."""
    if await target.tables():
        raise Conflict("copy_target_not_empty", "the target database already has tables")
    await source.migrate(migrations)  # the source at the code's schema first
    await target.migrate(migrations)
    names = [t for t in await source.tables() if t != "schema_migrations"]
    missing = set(names) - set(await target.tables())
    if missing:
        raise Invalid("copy_schema_differs", ", ".join(sorted(missing)))
    order = await _copy_order(source, names)
    columns = {t: await source.columns(t) for t in names}
    source_figures: dict[str, tuple[int, str]] = {}  # from the rows as read for the copy
    async with target.transaction() as tx:
        for table in reversed(order):  # what the migrations inserted, children first
            await tx.execute(f'DELETE FROM "{table}"')
        for table in order:
            cols = columns[table]
            quoted = ", ".join(f'"{c}"' for c in cols)
            marks = ", ".join("?" * len(cols))
            rows = await _ordered(source, table, cols)
            source_figures[table] = _figures(rows)
            for start in range(0, len(rows), BATCH):
                await tx.executemany(
                    f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})',
                    [tuple(r) for r in rows[start : start + BATCH]],
                )
            progress(f"{table}: {len(rows)} rows")
    await target.after_bulk_load(names)
    result = []
    for table in order:
        copied = source_figures[table]
        target_figures = await checksum(target, table, columns[table])
        if copied != target_figures:
            raise Invalid(
                "copy_mismatch",
                f"{table}: source {copied[0]} rows, target {target_figures[0]} rows,"
                " checksums differ"
                if copied[0] == target_figures[0]
                else table,
            )
        result.append(TableCopy(table, *copied))
    return result
