"""Helpers the format modules share: reading one row's cells and turning bad ones into report errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from catalog.validation import Invalid, barcode_clean, bool_parse, money_parse, quantity_parse, sku_clean
from inventory.imports.columns import Columns
from inventory.imports.reading import Row
from inventory.imports.report import ImportReport

Progress = Callable[[int, int], None]
FORMULA_STARTS = ("=", "+", "-", "@")
url_validate = URLValidator(schemes=["http", "https"])


@dataclass
class ParseContext:
    """What a format needs besides the file: where stock goes."""

    locations_by_code: dict[str, int] = field(default_factory=dict)  # every location, by upper-case code
    location_id: int | None = None  # Shopify and WooCommerce: the one location their quantities are for
    location_code: str = ""
    no_stock: bool = False


def no_progress(done: int, total: int) -> None:
    return None


def location_code_clean(code: str) -> str:
    """An upper-case location code, or "" when it cannot be one (letters and digits, at most 8)."""
    code = code.strip().upper()
    return code if code.isascii() and code.isalnum() and len(code) <= 8 else ""


def filename_clean(name: str) -> str:
    """The file's name without its folders and control characters (it is shown and stored)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(char for char in name if char.isprintable())[:255] or "upload"


@dataclass
class Cells:
    """One row's cells by field name, with parsers that report a bad value and return None."""

    row: Row
    columns: Columns
    report: ImportReport
    unquote: bool = False  # the OMO template: undo the ' that export puts before =, +, - and @
    failed: bool = False
    handle: str = ""
    sku: str = ""

    @property
    def number(self) -> int:
        return self.row.number

    def raw(self, name: str) -> str:
        position = self.columns.index.get(name)
        if position is None or position >= len(self.row.values):
            return ""
        value = self.row.values[position].replace("\x00", "")  # PostgreSQL text cannot hold NUL
        if self.unquote and value[:1] == "'" and value[1:2] in FORMULA_STARTS:
            value = value[1:]
        return value

    def get(self, name: str) -> str:
        return self.raw(name).strip()

    def has(self, name: str) -> bool:
        return self.columns.has(name)

    def at(self, position: int) -> str:
        return (
            self.row.values[position].replace("\x00", "").strip() if position < len(self.row.values) else ""
        )

    def error(self, name: str, message: str, *, code: str = "invalid", value: str | None = None) -> None:
        self.failed = True
        self.report.error(
            self.number,
            message,
            code=code,
            column=self.columns.header(name),
            value=self.get(name) if value is None else value,
            handle=self.handle,
            sku=self.sku,
        )

    def warning(self, name: str, message: str, *, code: str = "warning") -> None:
        self.report.warning(
            self.number,
            message,
            code=code,
            column=self.columns.header(name) if name else "",
            value=self.get(name) if name else "",
            handle=self.handle,
            sku=self.sku,
        )

    def parse(self, name: str, parser: Callable[[str], Any], *, code: str, text: str | None = None) -> Any:
        value = self.get(name) if text is None else text
        try:
            return parser(value)
        except Invalid as problem:
            self.error(name, str(problem), code=code, value=value)
            return None

    def money(self, name: str, *, allow_blank: bool = True, text: str | None = None) -> Decimal | None:
        return self.parse(
            name, lambda v: money_parse(v, allow_blank=allow_blank), code="invalid_price", text=text
        )

    def quantity(self, name: str, *, text: str | None = None) -> int | None:
        return self.parse(
            name, lambda v: quantity_parse(v, allow_blank=True), code="invalid_quantity", text=text
        )

    def on_hand(self, name: str) -> int | None:
        """A stock figure; below zero (oversold, backordered in the shop) there is none on the shelf."""
        quantity = self.parse(
            name, lambda v: quantity_parse(v, allow_blank=True, allow_negative=True), code="invalid_quantity"
        )
        if quantity is not None and quantity < 0:
            self.warning(
                name, _("Stock below zero (oversold or backordered) is imported as 0."), code="negative_stock"
            )
            return 0
        return quantity

    def grams(
        self, name: str, *, grams_per_unit: Decimal = Decimal(1), text: str | None = None
    ) -> int | None:
        """A weight in whole grams (453.592 g, or 0.25 kg with grams_per_unit=1000, are rounded)."""
        value = self.get(name) if text is None else text
        try:
            amount = Decimal(value.replace(",", "")) * grams_per_unit
            if not amount.is_finite() or amount < 0 or amount > 2_000_000_000:
                raise InvalidOperation
        except InvalidOperation:
            self.error(name, _("“%(value)s” is not a weight.") % {"value": value}, value=value)
            return None
        return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def boolean(self, name: str, *, default: bool) -> bool | None:
        return self.parse(name, lambda v: bool_parse(v, default=default), code="invalid_value")

    def sku_value(self, name: str) -> str:
        text = self.get(name)
        if not text:
            return ""
        sku = self.parse(name, sku_clean, code="invalid_sku")
        self.sku = sku or ""
        return sku or ""

    def barcodes(self, name: str, *, separator: str | None = None) -> list[str]:
        text = self.get(name)
        parts = [part.strip() for part in (text.split(separator) if separator else [text])]
        codes: list[str] = []
        for part in parts:
            part = part.removeprefix("'")  # a spreadsheet's "keep this as text" mark before an EAN
            if part:
                code = self.parse(name, barcode_clean, code="invalid_barcode", text=part)
                if code and code not in codes:
                    codes.append(code)
        return codes

    def url(self, name: str, text: str) -> str | None:
        if len(text) > 500:
            self.error(name, _("An image address is at most 500 characters."), value=text)
            return None
        try:
            url_validate(text)
        except Exception:
            self.error(name, _("“%(value)s” is not an image address (http or https).") % {"value": text[:80]})
            return None
        return text


def option_names_from(cells: Cells, names: list[str]) -> list[str]:
    """Option names with "Title" (Shopify's name for "no options") left out, checked."""
    from catalog.validation import option_names_clean

    try:
        return option_names_clean(names)
    except Invalid as problem:
        cells.error("option1_name", str(problem), code="invalid_options", value=", ".join(names))
        return []


def category_split(text: str) -> list[str]:
    """ "Clothing > Dresses" -> ["Clothing", "Dresses"]."""
    return [part.strip()[:100] for part in text.split(">") if part.strip()]
