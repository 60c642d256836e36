"""The admin's table downloads (CSV/XLSX): every export page answers through here, with the
tables written by `storage.sheets` (text cells never run as formulas in Excel)."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from storage import clock, sheets


def attachment(body: bytes, fmt: str, filename: str) -> web.Response:
    """A file the browser saves rather than shows; never kept by a cache on the way."""
    return web.Response(
        body=body,
        content_type=sheets.CONTENT_TYPES[fmt],
        charset="utf-8" if fmt == "csv" else None,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def dated(body: bytes, fmt: str, name: str) -> web.Response:
    """A file named `NAME-YYYYMMDD.FMT`, dated in the server's time zone (settings)."""
    return attachment(body, fmt, f"{name}-{clock.stamp()}.{fmt}")


def table(name: str, fmt: str, header: sheets.Row, rows: Iterable[sheets.Row]) -> web.Response:
    """The table as `NAME-YYYYMMDD.csv` or `.xlsx` (sheet NAME)."""
    return dated(sheets.table_bytes(fmt, header, rows, title=name), fmt, name)
