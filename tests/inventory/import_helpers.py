"""Shared by the import tests: where the sample exports are, and small CSV/XLSX builders."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

SAMPLES = Path(
    os.environ.get(
        "OMO_IMPORT_SAMPLES", Path(__file__).resolve().parents[3] / "shared" / "data" / "import-samples"
    )
)


def sample(name: str) -> bytes:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"import sample {path} is not on this machine")
    return path.read_bytes()


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_edit(
    data: bytes, edits: dict[tuple[int, str], str], *, extra_rows: list[dict[str, str]] = ()
) -> bytes:
    """The CSV with cells replaced: {(spreadsheet row, column name): value}; rows appended as dicts."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    rows = list(reader)
    header = rows[0]
    for (row, column), value in edits.items():
        rows[row - 1][header.index(column)] = value
    for extra in extra_rows:
        rows.append([extra.get(column, "") for column in header])
    return csv_bytes(rows)
