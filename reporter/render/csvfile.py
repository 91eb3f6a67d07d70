"""Rows -> a CSV file that spreadsheets open as they should: RFC 4180, UTF-8 with a BOM.

A report shows the first rows of a long table and keeps all of them in a CSV next to it (and
attached to its email); the team digest reuses this writer. What the file holds and why:

* RFC 4180: one header line, CRLF line ends, a field quoted when it holds a comma, a quote or
  a line break, quotes doubled — Python's ``csv`` module with ``lineterminator="\\r\\n"``.
* UTF-8 with a byte-order mark: Excel otherwise opens UTF-8 as the local code page and turns
  Chinese names into mojibake; every other reader skips the BOM.
* Names come from the data. A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return would be run as a formula by a spreadsheet (CSV injection), so it gets a
  leading apostrophe — shown by spreadsheets as text, visible to a program as a changed name.
  Numbers are written as numbers (a negative number is not text and keeps its minus).
* ``None`` is an empty cell (no data), never ``0``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

BOM = "\ufeff"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")

# (key in each row, header of the column)
Column = tuple[str, str]


def cell(value: Any) -> Any:
    """One value as the CSV writer gets it (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_text(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> str:
    """The CSV document as text, BOM first."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([header for _, header in columns])
    for row in rows:
        writer.writerow([cell(row.get(key)) for key, _ in columns])
    return out.getvalue()


def csv_bytes(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The CSV document as UTF-8 bytes (with the BOM): what a file or an attachment holds."""
    return csv_text(columns, rows).encode("utf-8")


def write_csv(path: str | Path, columns: Sequence[Column],
              rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write the CSV to ``path`` (bytes as ``csv_bytes``: no newline translation)."""
    path = Path(path)
    path.write_bytes(csv_bytes(columns, rows))
    return path


__all__ = ["Column", "cell", "csv_text", "csv_bytes", "write_csv"]
