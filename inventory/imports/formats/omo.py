"""The project's own template: one row per variant (SKU); product columns may repeat or be blank later.

It carries every field the catalogue has, so `catalog_export` writes it and importing that file changes
nothing. Stock is one column per location (stock:CWB) and optionally reorder_point:CWB.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from catalog.models import ProductStatus
from catalog.validation import Invalid, handle_make, option_values_clean, tags_clean
from inventory.imports.columns import columns_map, header_key
from inventory.imports.formats.common import (
    Cells,
    ParseContext,
    Progress,
    category_split,
    option_names_from,
)
from inventory.imports.reading import Table
from inventory.imports.records import ImageRecord, ProductRecord, VariantRecord
from inventory.imports.report import ImportReport

PRODUCT_COLUMNS = (
    "handle",
    "name_en",
    "name_zh_hant",
    "description_en",
    "description_zh_hant",
    "category",
    "brand",
    "tags",
    "status",
    "visible_web",
    "visible_pos",
)
OPTION_COLUMNS = tuple(f"option{i}_{part}" for i in (1, 2, 3) for part in ("name", "value"))
VARIANT_COLUMNS = (
    "sku",
    "barcodes",
    "price",
    "compare_at_price",
    "cost",
    "weight_grams",
    "track_inventory",
    "allow_backorder",
    "price_web",
    "price_pos",
    "price_social",
    "price_phone",
    "image_urls",
)
COLUMNS = PRODUCT_COLUMNS + OPTION_COLUMNS + VARIANT_COLUMNS
CHANNEL_COLUMNS = {"price_web": "web", "price_pos": "pos", "price_social": "social", "price_phone": "phone"}
STOCK_PREFIX, REORDER_PREFIX = "stock:", "reorder_point:"
LIST_SEPARATOR = "|"
FIELDS = {name: (header_key(name),) for name in COLUMNS}
DYNAMIC = (r"stock:(.+)", r"reorder point:(.+)")


@dataclass(frozen=True)
class StockColumn:
    kind: str  # "stock" or "reorder"
    location_id: int
    position: int
    header: str


def detect(keys: set[str]) -> bool:
    return {"handle", "sku", "price"} <= keys and bool(keys & {"name en", "name zh hant", "option1 name"})


def parse(
    table: Table, *, context: ParseContext, report: ImportReport, progress: Progress
) -> list[ProductRecord]:
    columns = columns_map(table.headers, report, fields=FIELDS, dynamic=DYNAMIC)
    stock_columns = location_columns(columns.dynamic, context, report)
    groups: dict[str, list[Cells]] = {}
    for done, row in enumerate(table.rows, start=1):
        cells = Cells(row, columns, report, unquote=True)
        handle = handle_of(cells)
        if handle:
            groups.setdefault(handle, []).append(cells)
        progress(done, len(table.rows))
    return [product_build(handle, group, stock_columns) for handle, group in groups.items()]


def location_columns(dynamic: list, context: ParseContext, report: ImportReport) -> list[StockColumn]:
    found = []
    for match, position, header in dynamic:
        code = match.group(1).strip().upper()
        location_id = context.locations_by_code.get(code)
        if location_id is None:
            report.error(
                1,
                _("There is no location with the code %(code)s.") % {"code": code},
                code="unknown_location",
                column=header,
            )
        elif not context.no_stock:
            kind = "stock" if header_key(header).startswith("stock:") else "reorder"
            found.append(StockColumn(kind, location_id, position, header))
    return found


def handle_of(cells: Cells) -> str:
    """The row's handle, or one made from its name; a row with neither is an error."""
    given = cells.get("handle")
    handle = handle_make(given or cells.get("name_en") or cells.get("name_zh_hant"))
    if not handle:
        message = _("A row needs a handle or a product name.")
        cells.error("handle" if given else "name_en", message, code="missing_handle")
        return ""
    if given and handle != given:
        cells.handle = handle
        cells.warning("handle", _("The handle is written as %(handle)s.") % {"handle": handle})
    return handle


def product_build(handle: str, group: list[Cells], stock_columns: list[StockColumn]) -> ProductRecord:
    first = group[0]
    record = ProductRecord(row=first.number, handle=handle, rows=[cells.number for cells in group])
    for cells in group:
        cells.handle = handle

    def value(name: str) -> tuple[Cells, str]:
        """The first non-blank value of a product column among the product's rows."""
        for cells in group:
            text = cells.get(name)
            if text:
                return cells, text
        return first, ""

    for name in ("name_en", "name_zh_hant", "description_en", "description_zh_hant"):
        if first.has(name):
            cells, text = value(name)
            if name.startswith("name") and len(text) > 200:
                cells.error(name, _("A name is at most 200 characters."))
            record.fields[name] = text
    if first.has("status"):
        cells, text = value("status")
        if text and text.lower() not in ProductStatus.values:
            cells.error("status", _("Choose draft, active or archived."))
        elif text:
            record.fields["status"] = text.lower()
    for name in ("visible_web", "visible_pos"):
        if first.has(name):
            cells, text = value(name)
            flag = cells.boolean(name, default=True)
            if flag is not None:
                record.fields[name] = flag
    if first.has("tags"):
        record.fields["tags"] = tags_clean(value("tags")[1])
    if first.has("category"):
        record.category_path = category_split(value("category")[1])
    if first.has("brand"):
        record.brand = value("brand")[1][:100]
    names_by_index = option_names(group)
    record.option_names = [name for _index, name in names_by_index]
    record.variants = [variant_build(cells, names_by_index, stock_columns) for cells in group]
    if first.has("image_urls"):
        record.images = []
        for cells in group:
            for text in cells.get("image_urls").split(LIST_SEPARATOR):
                url = cells.url("image_urls", text.strip()) if text.strip() else None
                if url and url not in {image.url for image in record.images}:
                    record.images.append(ImageRecord(url))
    record.failed = any(cells.failed for cells in group)
    return record


def option_names(group: list[Cells]) -> list[tuple[int, str]]:
    """(column number, name) of the product's options, from the first row naming each; checked."""
    found: dict[int, str] = {}
    for index in (1, 2, 3):
        for cells in group:
            name = cells.get(f"option{index}_name")
            if name and index not in found:
                found[index] = name
            elif name and name.casefold() != found[index].casefold():
                message = _("This product's option %(index)d is %(name)s (row %(row)d).") % {
                    "index": index,
                    "name": found[index],
                    "row": group[0].number,
                }
                cells.error(f"option{index}_name", message, code="invalid_options")
    pairs = sorted(found.items())
    cleaned = option_names_from(group[0], [name for _index, name in pairs])
    return list(zip([index for index, _name in pairs], cleaned, strict=False))


def variant_build(
    cells: Cells, names_by_index: list[tuple[int, str]], stock_columns: list[StockColumn]
) -> VariantRecord:
    sku = cells.sku_value("sku")
    given = {name: cells.get(f"option{index}_value") for index, name in names_by_index}
    for index in (1, 2, 3):
        if index not in dict(names_by_index) and cells.get(f"option{index}_value"):
            cells.error(f"option{index}_value", _("This value has no option name."), code="invalid_options")
    names = [name for _index, name in names_by_index]
    try:
        values = option_values_clean(names, given)
    except Invalid as problem:
        missing = next((index for index, name in names_by_index if not given.get(name)), 1)
        cells.error(f"option{missing}_value", str(problem), code="missing_option_value")
        values = {name: text for name, text in given.items() if text}
    variant = VariantRecord(row=cells.number, option_values=values, sku=sku)
    if cells.has("price"):
        variant.fields["price"] = cells.money("price", allow_blank=False)
    for name in ("compare_at_price", "cost"):
        if cells.has(name):
            variant.fields[name] = cells.money(name)
    if cells.has("weight_grams"):
        variant.fields["weight_grams"] = cells.quantity("weight_grams")
    for name, default in (("track_inventory", True), ("allow_backorder", False)):
        if cells.has(name):
            variant.fields[name] = cells.boolean(name, default=default)
    if cells.has("barcodes"):
        variant.barcodes = cells.barcodes("barcodes", separator=LIST_SEPARATOR)
        variant.barcodes_replace = True
    if any(cells.has(name) for name in CHANNEL_COLUMNS):
        variant.channel_prices = {}
        for name, channel in CHANNEL_COLUMNS.items():
            amount = cells.money(name) if cells.has(name) else None
            if amount is not None:
                variant.channel_prices[channel] = amount
    for column in stock_columns:
        quantity = cells.quantity(column.header, text=cells.at(column.position))
        if quantity is not None:
            target = variant.stock if column.kind == "stock" else variant.reorder_points
            target[column.location_id] = quantity
    return variant
