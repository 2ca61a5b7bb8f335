"""The directory of pickup points (SF lockers, SF stores, partner shops), imported from the carrier's list.

The carrier's list is the source of truth: a file names every point by its code, an import upserts them all
in one transaction, and with `deactivate_missing` the points the carrier dropped are switched off (never
deleted: orders keep pointing at them).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, TypedDict

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from omo.errors import NotFound, ValidationFailed
from omo.services.audit import audit_record
from orders.models import District, PickupPoint, PickupPointKind

__all__ = [
    "PickupImportIssue",
    "PickupImportReport",
    "PickupPointNotFound",
    "district_parse",
    "kind_parse",
    "pickup_points_import",
]

AUDIT_ACTION = "pickup_points.import"
BATCH_SIZE = 500
# Tried in order when the file is not UTF-8: Excel in Hong Kong saves "CSV" in Big5 (HKSCS has 埗 and 邨).
FALLBACK_ENCODINGS = ("big5hkscs", "cp950")


class PickupPointNotFound(NotFound):
    code = "pickup_point_not_found"
    http_status = 404
    default_message = _("No such pickup point.")


# --- values -------------------------------------------------------------------------------------------

# English name, then Traditional and Simplified Chinese (carriers' mainland systems export Simplified).
DISTRICT_NAMES: dict[District, tuple[str, ...]] = {
    District.CENTRAL_WESTERN: ("Central and Western", "Central & Western", "中西區", "中西区"),
    District.WAN_CHAI: ("Wan Chai", "灣仔區", "湾仔区"),
    District.EASTERN: ("Eastern", "東區", "东区"),
    District.SOUTHERN: ("Southern", "南區", "南区"),
    District.YAU_TSIM_MONG: ("Yau Tsim Mong", "油尖旺區", "油尖旺区"),
    District.SHAM_SHUI_PO: ("Sham Shui Po", "深水埗區", "深水埗区"),
    District.KOWLOON_CITY: ("Kowloon City", "九龍城區", "九龙城区"),
    District.WONG_TAI_SIN: ("Wong Tai Sin", "黃大仙區", "黄大仙区"),
    District.KWUN_TONG: ("Kwun Tong", "觀塘區", "观塘区"),
    District.KWAI_TSING: ("Kwai Tsing", "葵青區", "葵青区"),
    District.TSUEN_WAN: ("Tsuen Wan", "荃灣區", "荃湾区"),
    District.TUEN_MUN: ("Tuen Mun", "屯門區", "屯门区"),
    District.YUEN_LONG: ("Yuen Long", "元朗區", "元朗区"),
    District.NORTH: ("North", "北區", "北区"),
    District.TAI_PO: ("Tai Po", "大埔區", "大埔区"),
    District.SHA_TIN: ("Sha Tin", "沙田區", "沙田区"),
    District.SAI_KUNG: ("Sai Kung", "西貢區", "西贡区"),
    District.ISLANDS: ("Islands", "Outlying Islands", "離島區", "离岛区"),
}

KIND_ALIASES: dict[PickupPointKind, tuple[str, ...]] = {
    PickupPointKind.SF_LOCKER: (
        "sf locker",
        "locker",
        "sf smart locker",
        "smart locker",
        "順豐智能櫃",
        "智能櫃",
        "順豐櫃",
    ),
    PickupPointKind.SF_STORE: ("sf store", "store", "sf station", "順豐站", "順豐店", "順豐營業點"),
    PickupPointKind.PARTNER: ("partner", "partner shop", "partner store", "合作商戶", "合作點", "代收點"),
}

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "active", "是", "啟用", "有效"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "inactive", "否", "停用", "無效"})


def district_key(text: str) -> str:
    """ "Central & Western", "central_western", " 中西區 " and "Wan Chai District" compare by this."""
    text = text.strip().lower().replace("&", "and")
    text = re.sub(r"[\s_\-/.,]+", "", text)
    return text.removesuffix("district")


def district_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for district, names in DISTRICT_NAMES.items():
        for name in (district.value, *names):
            table[district_key(name)] = district.value
            # 油尖旺 as well as 油尖旺區; not 東 or 北 alone, which name too much else.
            short = name.removesuffix("區").removesuffix("区")
            if short != name and len(short) > 1:
                table[district_key(short)] = district.value
    return table


DISTRICTS = district_table()


def district_parse(text: str) -> str | None:
    """Our district code for a code, English name or Chinese name; None when it is none of them."""
    return DISTRICTS.get(district_key(text))


def kind_key(text: str) -> str:
    return " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())


KINDS = {kind_key(alias): kind.value for kind, aliases in KIND_ALIASES.items() for alias in (kind, *aliases)}


def kind_parse(text: str) -> str | None:
    """Our kind for "sf_locker", "SF Locker", "順豐智能櫃", "store" and so on; None when unknown."""
    return KINDS.get(kind_key(text))


# --- columns ------------------------------------------------------------------------------------------

REQUIRED = ("code", "kind", "name_en", "name_zh_hant", "district")
OPTIONAL = ("address_en", "address_zh_hant", "opening_hours", "is_active")
# The header the sample file uses for each field: what an error about a missing column names.
HEADERS = {
    "code": "code",
    "kind": "type",
    "name_en": "name_en",
    "name_zh_hant": "name_zh",
    "address_en": "address_en",
    "address_zh_hant": "address_zh",
    "district": "district",
    "opening_hours": "hours",
    "is_active": "active",
}
# Header names in header_key form: lower case, "_" as a space, single spaces.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "點碼", "網點代碼", "網點編號", "point code", "pickup point code"),
    "kind": ("kind", "type", "類型", "網點類型", "point type"),
    "name_en": ("name en", "name (english)", "english name"),
    "name_zh_hant": (
        "name zh",
        "name zh hant",
        "名稱",
        "中文名稱",
        "name (chinese)",
        "name (traditional chinese)",
    ),
    "address_en": ("address en", "address (english)", "english address"),
    "address_zh_hant": (
        "address zh",
        "address zh hant",
        "地址",
        "中文地址",
        "address (chinese)",
        "address (traditional chinese)",
    ),
    "district": ("district", "地區", "區域", "分區"),
    "opening_hours": ("hours", "opening hours", "營業時間", "服務時間"),
    "is_active": ("active", "is active", "啟用"),
}
COLUMNS = {alias: name for name, aliases in COLUMN_ALIASES.items() for alias in aliases}
TEXT_FIELDS = ("name_en", "name_zh_hant", "address_en", "address_zh_hant", "opening_hours")
CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9._-]*")


def header_key(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").replace("_", " ").strip().lower().split())


def max_length(name: str) -> int:
    model_field = PickupPoint._meta.get_field(name)
    if not isinstance(model_field, models.CharField) or model_field.max_length is None:
        raise TypeError(f"PickupPoint.{name} is not a text field")
    return model_field.max_length


# --- the report ---------------------------------------------------------------------------------------


class PickupImportIssue(TypedDict):
    row: int | None  # as a spreadsheet shows it: the header is row 1; None for the whole file
    column: str  # the header as the file spells it
    message: str


@dataclass
class PickupImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    errors: list[PickupImportIssue] = field(default_factory=list)
    rows: int = 0
    filename: str = ""
    encoding: str = ""
    dry_run: bool = False
    unknown_columns: list[str] = field(default_factory=list)

    def error(self, row: int | None, column: str, message: Any) -> None:
        self.errors.append({"row": row, "column": column, "message": str(message)})

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deactivated": self.deactivated,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def as_text(self) -> str:
        names = {"file": self.filename or "-", **self.counts()}
        if self.errors:
            headline = _("%(file)s has errors; nothing was imported.") % names
        elif self.dry_run:
            headline = _("Dry run of %(file)s (%(rows)d rows): nothing was written.") % names
        else:
            headline = _("Imported %(file)s (%(rows)d rows).") % names
        lines = [headline]
        if not self.errors:
            lines.append(
                _(
                    "Pickup points: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
                    "%(deactivated)d deactivated"
                )
                % names
            )
        if self.encoding and self.encoding != "utf-8":
            lines.append(
                _("The file is not UTF-8; it was read as %(encoding)s.") % {"encoding": self.encoding}
            )
        if self.unknown_columns:
            lines.append(_("Columns not read: %(names)s") % {"names": ", ".join(self.unknown_columns)})
        if self.errors:
            lines += ["", _("Errors (%(count)d):") % {"count": len(self.errors)}]
            for issue in self.errors:
                where = _("row %(row)d") % {"row": issue["row"]} if issue["row"] else str(_("file"))
                column = f" [{issue['column']}]" if issue["column"] else ""
                lines.append(f"  {where}{column}: {issue['message']}")
        return "\n".join(lines) + "\n"


# --- reading ------------------------------------------------------------------------------------------

PathLike = str | os.PathLike[str]


def source_read(file: IO[bytes] | IO[str] | PathLike) -> tuple[bytes | str, str]:
    """The file's content and its name (for the report and the audit row)."""
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        return path.read_bytes(), path.name
    return file.read(), Path(str(getattr(file, "name", "") or "")).name


def text_decode(data: bytes | str) -> tuple[str, str]:
    """The file as text and the encoding it was read in. UTF-8 with or without a BOM, else Big5."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), "utf-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"  # Excel's "Unicode text"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    for encoding in FALLBACK_ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError("utf-8", data, 0, len(data), "not UTF-8, Big5-HKSCS or cp950")


def records_read(text: str) -> Iterator[tuple[int, list[str]]]:
    """The header (row 1), then each non-blank row with its number as a spreadsheet shows it."""
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)  # Excel's export differs by locale
    reader = csv.reader(io.StringIO(text.replace("\x00", ""), newline=""), delimiter=delimiter)
    for number, record in enumerate(reader, start=1):
        if number == 1 or any(cell.strip() for cell in record):
            yield number, record


# --- checking -----------------------------------------------------------------------------------------


@dataclass
class Parsed:
    """The file checked: one dict of model field values per pickup point, in file order."""

    points: dict[str, dict[str, Any]]  # code -> field values
    fields: list[str]  # the fields the file gives (a column it leaves out keeps its value on update)


def columns_map(headers: list[str], report: PickupImportReport) -> dict[str, tuple[int, str]]:
    """Field -> (position, header as the file spells it); reports missing required columns."""
    columns: dict[str, tuple[int, str]] = {}
    for position, header in enumerate(headers):
        key = header_key(header)
        if not key:
            continue
        name = COLUMNS.get(key)
        if name is None:
            report.unknown_columns.append(header.strip())
        elif name not in columns:  # the first of two columns for the same field wins
            columns[name] = (position, header.strip())
    for name in REQUIRED:
        if name not in columns:
            report.error(1, HEADERS[name], _("This column is missing."))
    return columns


def row_check(
    number: int, record: list[str], columns: dict[str, tuple[int, str]], report: PickupImportReport
) -> tuple[dict[str, Any], bool]:
    """The row's field values, and whether they are all right (the errors are in the report)."""
    errors_before = len(report.errors)
    values: dict[str, Any] = {}

    def cell(name: str) -> tuple[str, str]:
        position, header = columns[name]
        return (record[position].strip() if position < len(record) else ""), header

    for name in columns:
        text, header = cell(name)
        if name == "code":
            code = text.upper()
            if not code:
                report.error(number, header, _("The code is required."))
            elif len(code) > max_length("code"):
                report.error(number, header, too_long(max_length("code")))
            elif not CODE_PATTERN.fullmatch(code):
                report.error(number, header, _("Use only letters, digits, '-', '_' and '.' in a code."))
            values["code"] = code
        elif name == "kind":
            kind = kind_parse(text) if text else None
            if kind is None:
                message = (
                    _("Unknown type “%(value)s”: use SF Locker, SF Store or Partner.") % {"value": text}
                    if text
                    else _("The type is required.")
                )
                report.error(number, header, message)
            values["kind"] = kind
        elif name == "district":
            district = district_parse(text) if text else None
            if district is None:
                message = (
                    _("Unknown district “%(value)s”: use one of Hong Kong's 18 districts.") % {"value": text}
                    if text
                    else _("The district is required.")
                )
                report.error(number, header, message)
            values["district"] = district
        elif name == "is_active":
            word = text.lower()
            if not word or word in TRUE_WORDS:
                values["is_active"] = True
            elif word in FALSE_WORDS:
                values["is_active"] = False
            else:
                report.error(number, header, _("Use yes or no (or 1 or 0)."))
        else:
            if not text and name in REQUIRED:
                report.error(number, header, _("This value is required."))
            elif len(text) > max_length(name):
                report.error(number, header, too_long(max_length(name)))
            values[name] = text
    values.setdefault("is_active", True)  # a point the carrier lists is open, unless the file says otherwise
    return values, len(report.errors) == errors_before


def too_long(limit: int) -> str:
    return _("Use at most %(limit)d characters.") % {"limit": limit}


def file_check(text: str, report: PickupImportReport) -> Parsed:
    records = records_read(text)
    try:
        _number, headers = next(records, (1, []))
        columns = columns_map(headers, report)
        points: dict[str, dict[str, Any]] = {}
        rows_of: dict[str, int] = {}
        for number, record in records:
            report.rows += 1
            values, ok = row_check(number, record, columns, report)
            code = values.get("code", "")
            if code and code in rows_of:
                report.error(
                    number,
                    columns["code"][1],
                    _("The code %(code)s is also in row %(row)d.") % {"code": code, "row": rows_of[code]},
                )
            elif code:
                rows_of[code] = number
                if ok:
                    points[code] = values
    except csv.Error as error:
        report.error(None, "", _("The CSV file cannot be read: %(error)s") % {"error": error})
        return Parsed({}, [])
    if not report.rows and not any(issue["row"] == 1 for issue in report.errors):
        report.error(None, "", _("The file has no pickup points."))
    fields = [name for name in (*REQUIRED, *OPTIONAL) if name in columns and name != "code"]
    if "is_active" not in fields:
        fields.append("is_active")
    return Parsed(points, fields)


# --- the service --------------------------------------------------------------------------------------


@transaction.atomic
def pickup_points_import(
    *,
    file: IO[bytes] | IO[str] | PathLike,
    actor: Any,
    deactivate_missing: bool = False,
    dry_run: bool = False,
) -> PickupImportReport:
    """Creates and updates pickup points by code from a CSV file; one audit row per import.

    The CSV has a header row (English or Chinese names, any case); it may be UTF-8 (with or without a BOM) or
    Big5. Every row is checked and every error is reported, by row and column. A column the file leaves out
    keeps its value on existing points; `active` left out means active. With `deactivate_missing`, active
    points whose code is not in the file are deactivated. With `dry_run` nothing is written and the report
    (errors included) is returned. The queries are the same few for 2 rows or 2,000 (batches of 500).
    Locks nothing: two imports at the same time that both create a code fail on the unique code, whole.

    Raises ValidationFailed (extra: errors, a list of {row, column, message}) when the file has an error and
    this is not a dry run; nothing is written then.
    """
    data, filename = source_read(file)
    report = PickupImportReport(filename=filename, dry_run=dry_run)
    parsed = Parsed({}, [])
    try:
        text, report.encoding = text_decode(data)
    except UnicodeDecodeError:
        report.error(None, "", _("The file's text encoding is not recognised; save it as CSV UTF-8."))
    else:
        if text.strip():
            parsed = file_check(text, report)
        else:
            report.error(None, "", _("The file is empty."))
    if not report.ok:
        if dry_run:
            return report
        count = len(report.errors)
        message = ngettext(
            "The file has %(count)d error; nothing was imported.",
            "The file has %(count)d errors; nothing was imported.",
            count,
        ) % {"count": count}
        raise ValidationFailed(message, errors=report.errors)

    existing = {point.code: point for point in PickupPoint.objects.filter(code__in=list(parsed.points))}
    now = timezone.now()
    to_create: list[PickupPoint] = []
    to_update: list[PickupPoint] = []
    for code, values in parsed.points.items():
        point = existing.get(code)
        if point is None:
            to_create.append(PickupPoint(**{"is_active": True, **values}))
        elif any(getattr(point, name) != values[name] for name in parsed.fields):
            for name in parsed.fields:
                setattr(point, name, values[name])
            point.updated_at = now  # bulk_update does not apply auto_now
            to_update.append(point)
    report.created, report.updated = len(to_create), len(to_update)
    report.unchanged = len(parsed.points) - report.created - report.updated
    dropped = PickupPoint.objects.filter(is_active=True).exclude(code__in=list(parsed.points))
    if dry_run:
        report.deactivated = dropped.count() if deactivate_missing else 0
        return report

    PickupPoint.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    PickupPoint.objects.bulk_update(to_update, [*parsed.fields, "updated_at"], batch_size=BATCH_SIZE)
    if deactivate_missing:
        report.deactivated = dropped.update(is_active=False, updated_at=now)
    audit_record(
        actor=actor,
        action=AUDIT_ACTION,
        after={
            "file": filename,
            "encoding": report.encoding,
            "deactivate_missing": deactivate_missing,
            **report.counts(),
        },
    )
    return report
