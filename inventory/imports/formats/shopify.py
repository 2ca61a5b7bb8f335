"""Shopify's product CSV, any vintage: rows grouped by Handle; the first row carries the product.

Later rows of a handle are more variants when they have option values (or a SKU or price), or more images
when they have only Image Src / Image Position. Option1 "Title" = "Default Title" means no options. Columns
are read by name, with the names of the 2024 template ("URL handle", "Price", ...) as aliases.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from catalog.models import ProductStatus
from catalog.validation import Invalid, bool_parse, handle_make, option_values_clean, tags_clean
from inventory.imports.columns import columns_map
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

FIELDS = {
    "handle": ("handle", "url handle"),
    "title": ("title",),
    "body": ("body (html)", "body html", "description"),
    "vendor": ("vendor",),
    "type": ("type", "custom product type"),
    "tags": ("tags",),
    "published": ("published", "published on online store"),
    "status": ("status",),
    "option1_name": ("option1 name",),
    "option1_value": ("option1 value",),
    "option2_name": ("option2 name",),
    "option2_value": ("option2 value",),
    "option3_name": ("option3 name",),
    "option3_value": ("option3 value",),
    "sku": ("variant sku", "sku"),
    "grams": ("variant grams", "weight value (grams)"),
    "qty": ("variant inventory qty", "inventory quantity"),
    "policy": ("variant inventory policy", "continue selling when out of stock"),
    "price": ("variant price", "price"),
    "compare_at_price": ("variant compare at price", "compare-at price", "compare at price"),
    "cost": ("cost per item",),
    "barcode": ("variant barcode", "barcode"),
    "image_src": ("image src", "product image url"),
    "image_position": ("image position",),
    "image_alt": ("image alt text",),
    "variant_image": ("variant image", "variant image url"),
}
# Columns Shopify exports that have no place in this catalogue (taxes, shipping, SEO, markets, ...).
IGNORED = {
    "variant inventory tracker",
    "inventory tracker",
    "variant fulfillment service",
    "fulfillment service",
    "variant requires shipping",
    "requires shipping",
    "variant taxable",
    "charge tax",
    "variant tax code",
    "tax code",
    "variant weight unit",
    "weight unit for display",
    "gift card",
    "seo title",
    "seo description",
    "product category",
    "standard product type",
    "unit price total measure",
    "unit price total measure unit",
    "unit price base measure",
    "unit price base measure unit",
    "product rating count",
}
IGNORED_PATTERNS = (
    r"google shopping / .*",
    r"option\d linked to",
    r"(included|price|compare at price) / .*",
    r".*\((product|variant)\.metafields\..*\)",
    r"metafield:.*",
    r"variant metafield:.*",
)
OPTION_NONE = ("title", "default title")  # Shopify's way to say "this product has no options"


def detect(keys: set[str]) -> bool:
    return bool(keys & {"handle", "url handle"}) and bool(
        keys & {"variant price", "body (html)", "option1 name", "variant sku"}
    )


def parse(
    table: Table, *, context: ParseContext, report: ImportReport, progress: Progress
) -> list[ProductRecord]:
    columns = columns_map(
        table.headers, report, fields=FIELDS, ignored=IGNORED, ignored_patterns=IGNORED_PATTERNS
    )
    groups: dict[str, list[Cells]] = {}
    for done, row in enumerate(table.rows, start=1):
        cells = Cells(row, columns, report)
        handle = handle_make(cells.get("handle"))
        if handle:
            cells.handle = handle
            groups.setdefault(handle, []).append(cells)
        else:
            cells.error("handle", _("A row needs a handle."), code="missing_handle")
        progress(done, len(table.rows))
    products = [product_build(handle, group, context) for handle, group in groups.items()]
    if context.location_id is None and not context.no_stock:
        stock_rows = [cells.number for group in groups.values() for cells in group if cells.get("qty")]
        if stock_rows:
            report.error(
                None,
                _("The file has stock quantities: choose the location they are for."),
                code="location_required",
                column=columns.header("qty"),
            )
    return products


def product_build(handle: str, group: list[Cells], context: ParseContext) -> ProductRecord:
    first = group[0]
    record = ProductRecord(row=first.number, handle=handle, rows=[cells.number for cells in group])
    if first.get("title"):
        if len(first.get("title")) > 200:
            first.error("title", _("A name is at most 200 characters."))
        record.fields["name_en"] = first.get("title")
    if first.has("body"):
        record.fields["description_en"] = first.get("body")
    if first.has("vendor"):
        record.brand = first.get("vendor")[:100]
    if first.has("type"):
        record.category_path = category_split(first.get("type"))
    if first.has("tags"):
        record.fields["tags"] = tags_clean(first.get("tags"))
    status = product_status(first)
    if status:
        record.fields["status"] = status
    names = [first.get(f"option{index}_name") for index in (1, 2, 3)]
    names = [name for name in names if name]
    if [name.casefold() for name in names] == [OPTION_NONE[0]]:
        names = []
    record.option_names = option_names_from(first, names)
    images: list[ImageRecord] = []
    for cells in group:
        if cells is first or is_variant_row(cells):
            variant = variant_build(cells, record.option_names, context)
            if variant is not None:
                record.variants.append(variant)
        elif not cells.get("image_src"):
            cells.report.skip(cells.number, _("The row has no variant and no image."), handle=handle)
        image_add(cells, images)
    if first.has("image_src") or first.has("variant_image"):
        record.images = images
    record.failed = any(cells.failed for cells in group)
    return record


def product_status(cells: Cells) -> str:
    """Status (newer exports) wins; else Published true/false is active/draft."""
    status = cells.get("status").lower()
    if status:
        if status not in ProductStatus.values:
            cells.error("status", _("Choose draft, active or archived."))
            return ""
        return status
    if cells.get("published"):
        published = cells.parse("published", lambda v: bool_parse(v, default=True), code="invalid_value")
        return ProductStatus.ACTIVE if published else ProductStatus.DRAFT if published is False else ""
    return ""


def is_variant_row(cells: Cells) -> bool:
    return any(
        cells.get(name) for name in ("option1_value", "option2_value", "option3_value", "sku", "price")
    )


def variant_build(cells: Cells, option_names: list[str], context: ParseContext) -> VariantRecord | None:
    sku = cells.sku_value("sku")
    given = {name: cells.get(f"option{index}_value") for index, name in enumerate(option_names, start=1)}
    for index in range(len(option_names) + 1, 4):
        stray = cells.get(f"option{index}_value")
        if stray and not (index == 1 and stray.casefold() == OPTION_NONE[1]):
            cells.error(f"option{index}_value", _("This value has no option name."), code="invalid_options")
    try:
        values = option_values_clean(option_names, given)
    except Invalid as problem:
        missing = next((i for i, name in enumerate(option_names, start=1) if not given[name]), 1)
        cells.error(f"option{missing}_value", str(problem), code="missing_option_value")
        values = {name: text for name, text in given.items() if text}
    variant = VariantRecord(row=cells.number, option_values=values, sku=sku)
    variant.fields["price"] = cells.money("price", allow_blank=False)
    if cells.has("compare_at_price"):
        variant.fields["compare_at_price"] = cells.money("compare_at_price")
    if cells.has("cost"):
        variant.fields["cost"] = cells.money("cost")
    if cells.get("grams"):
        variant.fields["weight_grams"] = cells.grams("grams")
    if cells.get("policy"):
        variant.fields["allow_backorder"] = cells.boolean("policy", default=False)
    if cells.get("barcode"):
        variant.barcodes = cells.barcodes("barcode")
    quantity = cells.on_hand("qty") if context.location_id is not None and not context.no_stock else None
    if quantity is not None and context.location_id is not None:
        variant.stock[context.location_id] = quantity
    return variant


def image_add(cells: Cells, images: list[ImageRecord]) -> None:
    """The row's Image Src and Variant Image join the product's images once each, in file order."""
    for name in ("image_src", "variant_image"):
        text = cells.get(name)
        if text and text not in {image.url for image in images}:
            url = cells.url(name, text)
            if url:
                alt = cells.get("image_alt")[:200] if name == "image_src" and cells.has("image_alt") else None
                images.append(ImageRecord(url, alt))
