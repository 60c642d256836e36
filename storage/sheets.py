"""The one writer of tables for people's spreadsheets (CSV and XLSX), behind every export.

Text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula by
Excel and WPS, so a service point named `=HYPERLINK(…)` could run when staff open an export.
Every text cell therefore goes out as text: in CSV with one `'` in front (`unguard` takes it
off again when such a file is imported back), in XLSX as a string cell, never a formula.
Numbers stay numbers (a negative number is no formula).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

Cell = str | int | float | None
Row = Sequence[Cell]


def _triggers(text: str) -> bool:
    """Whether the text, after any leading quotes, starts with a formula trigger."""
    return text.lstrip("'").startswith(TRIGGERS)


def guard(text: str) -> str:
    """A text cell as a CSV file carries it: one `'` in front when it would start a formula.

    Text that already starts with quotes before a trigger gets one more, so that `unguard` gives
    back exactly what was written."""
    return "'" + text if _triggers(text) else text


def unguard(text: str) -> str:
    """Undo `guard` on a cell read from a CSV file: drop exactly one leading `'` when a trigger
    follows the quotes. Any other text is returned as it is."""
    return text[1:] if text.startswith("'") and _triggers(text) else text


def _csv_cell(value: Cell) -> Cell:
    if isinstance(value, bool):  # a bool is an int; spreadsheets read 1/0
        return int(value)
    return guard(value) if isinstance(value, str) else value


def csv_text(header: Row, rows: Iterable[Row]) -> str:
    """The table as CSV text (CRLF line ends, every text cell guarded)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_csv_cell(v) for v in header])
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    return out.getvalue()


def csv_bytes(header: Row, rows: Iterable[Row]) -> bytes:
    """UTF-8 with a BOM, so that Excel reads the Chinese right."""
    return (BOM + csv_text(header, rows)).encode("utf-8")


def xlsx_bytes(header: Row, rows: Iterable[Row], title: str = "Sheet") -> bytes:
    """The table as an XLSX workbook of one sheet; every text cell is a string cell."""
    from openpyxl import Workbook  # only the exports need it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31] or "Sheet")

    def cell(value: Cell):
        if isinstance(value, bool):
            return int(value)
        if not isinstance(value, str):
            return value
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        out = WriteOnlyCell(sheet, value=text)
        out.data_type = "s"  # openpyxl would otherwise store "=…" as a formula
        out.quotePrefix = _triggers(text)  # and Excel keeps it text when the cell is edited
        return out

    sheet.append([cell(v) for v in header])
    for row in rows:
        sheet.append([cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_bytes(fmt: str, header: Row, rows: Iterable[Row], title: str = "Sheet") -> bytes:
    """The table in one of FORMATS."""
    if fmt == "csv":
        return csv_bytes(header, rows)
    if fmt == "xlsx":
        return xlsx_bytes(header, rows, title)
    raise ValueError(f"unknown table format {fmt!r}")
