"""Reads an uploaded CSV or XLSX into a header list and rows of text, numbered as a spreadsheet shows them.

The header is row 1, so the first product is row 2: the number staff see in Excel is the one the report names.
Every value is text: the format modules parse it with catalog.validation, so a CSV and an XLSX of the same
sheet give the same result.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from inventory.exceptions import ImportRefused

XLSX_MAGIC = b"PK\x03\x04"
# Tried in order when the file is not UTF-8: Excel in Hong Kong saves "CSV" in Big5-HKSCS, elsewhere cp1252.
FALLBACK_ENCODINGS = ("big5hkscs", "cp1252")


@dataclass
class Row:
    number: int  # as a spreadsheet shows it: the header is row 1
    values: list[str]


@dataclass
class Table:
    headers: list[str]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)  # how the file was read, for the report's warnings


def file_kind(data: bytes, filename: str) -> str:
    """ "xlsx" or "csv", by content first (a renamed file is common), then by extension."""
    if data[:4] == XLSX_MAGIC:
        return "xlsx"
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise ImportRefused(_("This file is not a valid Excel workbook (.xlsx)."))
    return "csv"


def table_read(data: bytes, filename: str, *, headers_only: bool = False) -> Table:
    """The table in the file. Raises ImportRefused for an empty, unreadable or header-less file."""
    if not data.strip():
        raise ImportRefused(_("The file is empty."))
    if file_kind(data, filename) == "xlsx":
        table = xlsx_read(data, headers_only=headers_only)
    else:
        table = csv_read(data, headers_only=headers_only)
    if not any(header.strip() for header in table.headers):
        raise ImportRefused(_("The first row of the file must name the columns."))
    return table


# --- CSV -------------------------------------------------------------------------------------------------


def text_decode(data: bytes) -> tuple[str, str | None]:
    """The file as text, and a note when it was not UTF-8 (shown as a warning, as a guess can be wrong)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), None  # Excel's "Unicode text" export
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    for encoding in FALLBACK_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, _("The file is not UTF-8; it was read as %(encoding)s.") % {"encoding": encoding}
    raise ImportRefused(_("The file's text encoding is not recognised; save it as CSV UTF-8."))


def delimiter_guess(first_line: str) -> str:
    """Comma, semicolon (Excel in European locales) or tab (Excel's text export), by the header line."""
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def csv_read(data: bytes, *, headers_only: bool) -> Table:
    text, note = text_decode(data)
    text = text.replace("\x00", "")  # a NUL makes the csv module stop; it is never meant
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_guess(first_line))
    try:
        headers = [cell.strip() for cell in next(reader, [])]
        rows: list[Row] = []
        if not headers_only:
            # One record is one spreadsheet row, even when a description spans lines inside quotes.
            for number, record in enumerate(reader, start=2):
                if any(cell.strip() for cell in record):
                    rows.append(Row(number, record))
    except csv.Error as error:
        raise ImportRefused(_("The CSV file cannot be read: %(error)s") % {"error": error}) from None
    return Table(headers, rows, [note] if note else [])


# --- XLSX ------------------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A cell as the text a person typed: 12.0 -> "12", an EAN as digits, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal | int):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # only imports need it; keeps the web worker's start light

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise ImportRefused(_("This file is not a valid Excel workbook (.xlsx).")) from None
    try:
        sheet = workbook.worksheets[0]
        # Read-only sheets yield every row from row 1, gaps filled with empty rows, so counting numbers them.
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(value) for value in values]
    finally:
        workbook.close()


def xlsx_read(data: bytes, *, headers_only: bool) -> Table:
    """The first sheet; its first non-empty row is the header."""
    headers: list[str] | None = None
    rows: list[Row] = []
    try:
        for number, values in xlsx_rows(data):
            if headers is None:
                if any(value.strip() for value in values):
                    headers = [value.strip() for value in values]
                    if headers_only:
                        break
                continue
            if any(value.strip() for value in values):
                rows.append(Row(number, values))
    except ImportRefused:
        raise
    except Exception as error:  # openpyxl raises many kinds on a damaged file; none is a server error
        raise ImportRefused(
            _("This Excel file cannot be read: %(error)s") % {"error": type(error).__name__}
        ) from None
    return Table(headers or [], rows)
