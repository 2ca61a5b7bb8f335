"""Exports the catalogue and stock as the OMO template (CSV or XLSX): importing the file back changes nothing.

One row per variant, product columns repeated on each row, one stock and one reorder-point column per
location. Text that a spreadsheet would run as a formula (=, +, -, @ first) is written so it stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from catalog.models import ChannelPrice, Product, ProductImage, Variant
from catalog.selectors import category_tree
from inventory.imports.formats.common import FORMULA_STARTS, location_code_clean
from inventory.imports.formats.omo import (
    CHANNEL_COLUMNS,
    COLUMNS,
    LIST_SEPARATOR,
    REORDER_PREFIX,
    STOCK_PREFIX,
)
from inventory.models import StockLevel
from omo.errors import ValidationFailed
from omo.models import Location

EXPORT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
NUMERIC_COLUMNS = {"price", "compare_at_price", "cost", "weight_grams", *CHANNEL_COLUMNS}
CHUNK = 500


def export_locations(codes: list[str] | None) -> list[Location]:
    """The locations whose stock is exported: those asked for, else every active one."""
    if not codes:
        return list(Location.objects.filter(is_active=True).order_by("code"))
    wanted = [location_code_clean(code) or code.strip()[:20] for code in codes if code.strip()]
    valid = [code for code in wanted if location_code_clean(code)]
    found = {location.code: location for location in Location.objects.filter(code__in=valid)}
    unknown = [code for code in wanted if code not in found]
    if unknown:
        message = _("There is no location with the code %(code)s.") % {"code": ", ".join(unknown)}
        raise ValidationFailed(message, fields={"location": message})
    return [found[code] for code in dict.fromkeys(wanted)]


def category_names() -> dict[int, str]:
    return {row["id"]: row["path_en"] for row in category_tree()}


def export_header(locations: list[Location]) -> list[str]:
    return [
        *COLUMNS,
        *(f"{STOCK_PREFIX}{location.code}" for location in locations),
        *(f"{REORDER_PREFIX}{location.code}" for location in locations),
    ]


def export_rows(locations: list[Location]) -> Iterator[list[Any]]:
    """One list of values per variant, in the header's order; products by handle, variants by position."""
    categories = category_names()
    location_ids = [location.pk for location in locations]
    stock = {
        (variant_id, location_id): (on_hand, reorder)
        for variant_id, location_id, on_hand, reorder in StockLevel.objects.filter(
            location_id__in=location_ids
        ).values_list("variant_id", "location_id", "on_hand", "reorder_point")
    }
    products = (
        Product.objects.select_related("brand")
        .prefetch_related(
            Prefetch(
                "variants",
                queryset=Variant.objects.order_by("position", "pk").prefetch_related(
                    "barcodes", Prefetch("channel_prices", queryset=ChannelPrice.objects.order_by("channel"))
                ),
            ),
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk")),
        )
        .order_by("handle")
    )
    for product in products.iterator(chunk_size=CHUNK):
        product_values = [
            product.handle,
            product.name_en,
            product.name_zh_hant,
            product.description_en,
            product.description_zh_hant,
            categories.get(product.category_id or 0, ""),
            product.brand.name if product.brand else "",
            ", ".join(product.tags),
            product.status,
            flag(product.visible_web),
            flag(product.visible_pos),
        ]
        images = LIST_SEPARATOR.join(image.url for image in product.images.all())
        names = list(product.option_names)
        for variant in product.variants.all():
            options: list[Any] = []
            for index in range(3):
                name = names[index] if index < len(names) else ""
                options += [name, variant.option_values.get(name, "") if name else ""]
            prices = {price.channel: price.price.amount for price in variant.channel_prices.all()}
            row = [
                *product_values,
                *options,
                variant.sku,
                LIST_SEPARATOR.join(sorted(barcode.code for barcode in variant.barcodes.all())),
                variant.price.amount,
                variant.compare_at_price.amount if variant.compare_at_price is not None else None,
                variant.cost.amount if variant.cost is not None else None,
                variant.weight_grams,
                flag(variant.track_inventory),
                flag(variant.allow_backorder),
                *(prices.get(channel) for channel in CHANNEL_COLUMNS.values()),
                images,
            ]
            levels = [stock.get((variant.pk, location_id), (0, None)) for location_id in location_ids]
            row += [on_hand if variant.track_inventory else None for on_hand, _reorder in levels]
            row += [reorder for _on_hand, reorder in levels]
            yield row


def flag(value: bool) -> str:
    return "true" if value else "false"


def text_safe(value: Any) -> str:
    """The cell as CSV text; a leading =, +, - or @ gets a ' (the importer takes it off again)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def catalog_export(*, file_type: str, location_codes: list[str] | None = None) -> bytes:
    """The whole catalogue with stock as the OMO template. Raises ValidationFailed for an unknown location."""
    if file_type not in EXPORT_TYPES:
        raise ValidationFailed(_("Export as csv or xlsx."))
    locations = export_locations(location_codes)
    header = export_header(locations)
    rows = export_rows(locations)
    return csv_write(header, rows) if file_type == "csv" else xlsx_write(header, rows)


def csv_write(header: list[str], rows: Iterator[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([text_safe(value) for value in row])
    # A BOM makes Excel read the file as UTF-8, so Chinese names survive a double-click.
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_write(header: list[str], rows: Iterator[list[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("catalogue")
    sheet.append(header)
    numeric = {position for position, name in enumerate(header) if name in NUMERIC_COLUMNS or ":" in name}
    for row in rows:
        cells: list[Any] = []
        for position, value in enumerate(row):
            if value is None:
                cells.append(None)
            elif position in numeric and isinstance(value, int | Decimal):
                cells.append(value)
            else:
                cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", str(value)))
                cell.data_type = "s"  # never a formula, whatever the text starts with
                cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
