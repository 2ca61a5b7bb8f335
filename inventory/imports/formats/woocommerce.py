"""WooCommerce's product CSV: simple and variable products, variations pointing at their parent.

Grouped and external products sell nothing of their own: skipped with a reason. "simple, downloadable,
virtual" is a product that does not track stock. A variation attribute left empty is WooCommerce's "any
value": not an option of the product (a warning). The options of a variable product are the attributes its
variations give values for; a variation without a value the others have is an error on its row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from catalog.models import ProductStatus
from catalog.validation import Invalid, handle_make, option_names_clean, tags_clean
from inventory.imports.columns import columns_map
from inventory.imports.formats.common import Cells, ParseContext, Progress, category_split
from inventory.imports.reading import Table
from inventory.imports.records import ImageRecord, ProductRecord, VariantRecord
from inventory.imports.report import ImportReport

FIELDS = {
    "id": ("id",),
    "type": ("type",),
    "sku": ("sku",),
    "name": ("name",),
    "published": ("published",),
    "visibility": ("visibility in catalog",),
    "short_description": ("short description",),
    "description": ("description",),
    "sale_price": ("sale price",),
    "regular_price": ("regular price",),
    "categories": ("categories",),
    "tags": ("tags",),
    "images": ("images",),
    "parent": ("parent",),
    "stock": ("stock",),
    "low_stock": ("low stock amount",),
    "backorders": ("backorders allowed?",),
    "barcode": ("gtin, upc, ean, or isbn", "gtin, upc, ean or isbn"),
    "brands": ("brands",),
}
DYNAMIC = (r"attribute (\d+) (name|value\(s\))", r"weight \((kg|g|lbs|oz)\)")
IGNORED = {
    "is featured?",
    "date sale price starts",
    "date sale price ends",
    "tax status",
    "tax class",
    "in stock?",
    "sold individually?",
    "allow customer reviews?",
    "purchase note",
    "shipping class",
    "download limit",
    "download expiry days",
    "grouped products",
    "upsells",
    "cross-sells",
    "external url",
    "button text",
    "position",
}
IGNORED_PATTERNS = (
    r"attribute \d+ (visible|global|default)",
    r"download \d+ (id|name|url)",
    r"meta:.*",
    r"(length|width|height) \(.*\)",
)
GRAMS_PER_UNIT = {
    "kg": Decimal(1000),
    "g": Decimal(1),
    "lbs": Decimal("453.59237"),
    "oz": Decimal("28.349523125"),
}
BASE_TYPES = ("variation", "variable", "grouped", "external", "simple")
UNESCAPED_COMMA = re.compile(r"(?<!\\),")


@dataclass
class Item:
    """One row with what the second pass needs: its kind and attributes (name -> value, in column order)."""

    cells: Cells
    kind: str
    types: set[str]
    attributes: dict[str, str] = field(default_factory=dict)
    record: ProductRecord | None = None


def detect(keys: set[str]) -> bool:
    return {"type", "sku", "name"} <= keys and bool(keys & {"regular price", "parent", "sale price"})


def parse(
    table: Table, *, context: ParseContext, report: ImportReport, progress: Progress
) -> list[ProductRecord]:
    columns = columns_map(
        table.headers,
        report,
        fields=FIELDS,
        dynamic=DYNAMIC,
        ignored=IGNORED,
        ignored_patterns=IGNORED_PATTERNS,
    )
    weight = next(
        ((m.group(1), position) for m, position, _h in columns.dynamic if m.re.pattern.startswith("weight")),
        None,
    )
    attribute_columns: dict[int, dict[str, int]] = {}
    for match, position, _header in columns.dynamic:
        if match.re.pattern.startswith("attribute"):
            attribute_columns.setdefault(int(match.group(1)), {})[match.group(2)[:4]] = position
    parents: dict[str, Item] = {}  # "id:741" and the SKU (upper case) -> the parent row
    handles: set[str] = set()
    items: list[Item] = []
    for done, row in enumerate(table.rows, start=1):
        item = item_read(Cells(row, columns, report), attribute_columns)
        progress(done, len(table.rows))
        if item is None:
            continue
        if item.kind in ("simple", "variable"):
            item.record = product_build(item, handles, context, weight)
            if item.cells.get("id"):
                parents[f"id:{item.cells.get('id')}"] = item
            if item.cells.get("sku"):
                parents[item.cells.get("sku").upper()] = item
        items.append(item)
    children: dict[int, list[Item]] = {}
    for item in items:
        if item.kind == "variation":
            parent = parent_find(item, parents)
            if parent is not None:
                children.setdefault(id(parent), []).append(item)
    products = []
    for item in items:
        if item.record is None:
            continue
        if item.kind == "variable":
            variations_attach(item, children.get(id(item), []), context, weight)
        item.record.failed = item.cells.failed or any(
            child.cells.failed for child in children.get(id(item), [])
        )
        products.append(item.record)
    if context.location_id is None and not context.no_stock and any(i.cells.get("stock") for i in items):
        report.error(
            None,
            _("The file has stock quantities: choose the location they are for."),
            code="location_required",
            column=columns.header("stock"),
        )
    return products


def item_read(cells: Cells, attribute_columns: dict[int, dict[str, int]]) -> Item | None:
    types = {part.strip().lower() for part in cells.get("type").split(",") if part.strip()} or {"simple"}
    kind = next((base for base in BASE_TYPES if base in types), "")
    if not kind:
        cells.error("type", _("Unknown product type."), code="invalid_type")
        return None
    if kind in ("grouped", "external"):
        reason = {
            "grouped": _("A grouped product only lists other products; import those instead."),
            "external": _("An external (affiliate) product is sold elsewhere; it is not imported."),
        }[kind]
        cells.report.skip(cells.number, reason, sku=cells.get("sku"))
        return None
    item = Item(cells, kind, types)
    for _number, positions in sorted(attribute_columns.items()):
        name = cells.at(positions["name"]) if "name" in positions else ""
        if name:
            item.attributes[name] = cells.at(positions["valu"]) if "valu" in positions else ""
    return item


def product_build(
    item: Item, handles: set[str], context: ParseContext, weight: tuple[str, int] | None
) -> ProductRecord:
    cells = item.cells
    base = handle_make(cells.get("sku") or cells.get("name")) or "product"
    handle, suffix = base, 2
    while handle in handles:  # two products of one file never merge because their names match
        handle, suffix = f"{base[:110]}-{suffix}", suffix + 1
    handles.add(handle)
    cells.handle = handle
    record = ProductRecord(row=cells.number, handle=handle, rows=[cells.number])
    name = cells.get("name")
    if not name:
        cells.error("name", _("A product needs a name."), code="missing_name")
    elif len(name) > 200:
        cells.error("name", _("A name is at most 200 characters."))
    record.fields["name_en"] = name
    description = cells.get("description") or cells.get("short_description")
    record.fields["description_en"] = description.replace("\\n", "\n")  # WooCommerce writes newlines as \n
    if cells.get("published"):
        record.fields["status"] = (
            ProductStatus.ACTIVE if cells.get("published") == "1" else ProductStatus.DRAFT
        )
    if cells.get("visibility"):
        record.fields["visible_web"] = cells.get("visibility").lower() != "hidden"
    if cells.has("categories"):
        first = UNESCAPED_COMMA.split(cells.get("categories"))[0].replace("\\,", ",")
        record.category_path = category_split(first)
    if cells.has("tags"):
        record.fields["tags"] = tags_clean(cells.get("tags").replace("\\,", " "))
    if cells.has("brands"):
        record.brand = UNESCAPED_COMMA.split(cells.get("brands"))[0].replace("\\,", ",").strip()[:100]
    if cells.has("images"):
        record.images = []
        images_add(cells, record.images)
    if item.kind == "simple":
        sku = cells.sku_value("sku")
        variant = variant_build(cells, {}, context, weight)
        variant.sku = sku
        if item.types & {"virtual", "downloadable"}:
            variant.fields["track_inventory"] = False  # nothing to count on a shelf
        record.variants.append(variant)
    return record


def images_add(cells: Cells, images: list[ImageRecord]) -> None:
    for text in cells.get("images").split(","):
        if text.strip() and text.strip() not in {image.url for image in images}:
            url = cells.url("images", text.strip())
            if url:
                images.append(ImageRecord(url))


def parent_find(item: Item, parents: dict[str, Item]) -> Item | None:
    reference = item.cells.get("parent")
    key = reference if reference.lower().startswith("id:") else reference.upper()
    if reference.isdigit():
        key = f"id:{reference}"
    parent = parents.get(key.replace("ID:", "id:"))
    if parent is None or parent.kind != "variable":
        item.cells.error(
            "parent",
            _("The parent product (%(parent)s) is not a variable product in this file.")
            % {"parent": reference}
            if reference
            else _("A variation needs its parent product."),
            code="parent_not_found",
        )
        return None
    item.cells.handle = parent.cells.handle
    return parent


def variations_attach(
    parent: Item, variations: list[Item], context: ParseContext, weight: tuple[str, int] | None
) -> None:
    record = parent.record
    assert record is not None
    if not variations:
        parent.cells.error(
            "type", _("A variable product needs its variations in the file."), code="no_variations"
        )
        return
    order = {name.casefold(): position for position, name in enumerate(parent.attributes)}
    spelled: dict[str, str] = {name.casefold(): name for name in parent.attributes}
    for item in variations:
        for name in item.attributes:
            spelled.setdefault(name.casefold(), name)
    valued = {name.casefold() for item in variations for name, value in item.attributes.items() if value}
    names = sorted(valued, key=lambda key: (order.get(key, len(order)), key))
    try:
        record.option_names = option_names_clean([spelled[key] for key in names])
    except Invalid as problem:
        parent.cells.error("type", str(problem), code="invalid_options")
        return
    for item in variations:
        given = {name.casefold(): value for name, value in item.attributes.items()}
        for key in sorted(set(given) - valued):
            item.cells.warning(
                "",
                _("%(name)s is “any” for this variation in WooCommerce: it is not an option of the product.")
                % {"name": spelled[key]},
                code="any_attribute",
            )
        missing = [spelled[key] for key in names if not given.get(key)]
        if missing:
            item.cells.error(
                "",
                _("Missing value for option %(names)s, which the other variations have.")
                % {"names": ", ".join(missing)},
                code="missing_option_value",
            )
        values = {spelled[key]: given[key] for key in names if given.get(key)}
        sku = item.cells.sku_value("sku")
        variant = variant_build(item.cells, values, context, weight)
        variant.sku = sku
        if item.cells.get("published"):
            variant.fields["is_active"] = item.cells.get("published") == "1"
        if item.cells.has("images"):
            record.images = record.images if record.images is not None else []
            images_add(item.cells, record.images)
        record.rows.append(item.cells.number)
        record.variants.append(variant)


def variant_build(
    cells: Cells, values: dict[str, str], context: ParseContext, weight: tuple[str, int] | None
) -> VariantRecord:
    variant = VariantRecord(row=cells.number, option_values=values)
    sale = cells.money("sale_price")
    regular = cells.money("regular_price", allow_blank=sale is not None)
    variant.fields["price"] = sale if sale is not None else regular
    variant.fields["compare_at_price"] = regular if sale is not None else None
    if weight is not None and cells.at(weight[1]):
        unit, position = weight
        variant.fields["weight_grams"] = cells.grams(
            f"Weight ({unit})", grams_per_unit=GRAMS_PER_UNIT[unit], text=cells.at(position)
        )
    if cells.get("backorders"):
        notify = cells.get("backorders").lower() == "notify"  # allowed, telling the customer
        variant.fields["allow_backorder"] = True if notify else cells.boolean("backorders", default=False)
    if cells.get("barcode"):
        variant.barcodes = cells.barcodes("barcode")
    if context.location_id is not None and not context.no_stock:
        quantity = cells.on_hand("stock")
        if quantity is not None:
            variant.stock[context.location_id] = quantity
        low = cells.quantity("low_stock")
        if low is not None:
            variant.reorder_points[context.location_id] = low
    return variant
