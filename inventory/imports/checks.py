"""Checks across the whole file (duplicate SKUs, barcodes, option sets), and SKUs for rows without one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.utils.text import slugify
from django.utils.translation import gettext as _

from inventory.imports.records import ProductRecord, VariantRecord
from inventory.imports.report import Duplicate, ImportReport

SKU_MAX = 64
# The column each format keeps SKUs and barcodes in, to name it in the report.
SKU_COLUMNS = {"omo": ("sku", "barcodes"), "shopify": ("Variant SKU", "Variant Barcode")}
WOO_COLUMNS = ("SKU", "GTIN, UPC, EAN, or ISBN")


def options_key(values: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def file_duplicates_check(products: list[ProductRecord], report: ImportReport, *, file_format: str) -> None:
    """Every SKU and barcode once in the file (both rows named), and each option set once per product."""
    sku_column, barcode_column = SKU_COLUMNS.get(file_format, WOO_COLUMNS)
    owners: dict[tuple[str, str], list[tuple[ProductRecord, VariantRecord]]] = {}
    for product in products:
        for variant in product.variants:
            if variant.sku:
                owners.setdefault(("sku", variant.sku.upper()), []).append((product, variant))
            for code in variant.barcodes or ():
                owners.setdefault(("barcode", code), []).append((product, variant))
    for (kind, value), found in owners.items():
        if len(found) < 2:
            continue
        rows = [variant.row for _product, variant in found]
        report.duplicates.append(Duplicate(kind, value, rows))
        first = rows[0]
        for product, variant in found:
            product.failed = True
            others = ", ".join(str(row) for row in rows if row != variant.row) or str(first)
            if kind == "sku":
                message = _("SKU %(value)s is also on row %(rows)s.")
            else:
                message = _("Barcode %(value)s is also on row %(rows)s.")
            report.error(
                variant.row,
                message % {"value": value, "rows": others},
                code=f"duplicate_{kind}",
                column=sku_column if kind == "sku" else barcode_column,
                value=value,
                handle=product.handle,
                sku=variant.sku,
            )
    for product in products:
        seen: dict[tuple[tuple[str, str], ...], int] = {}
        for variant in product.variants:
            key = options_key(variant.option_values)
            if key in seen:
                product.failed = True
                report.error(
                    variant.row,
                    _("Row %(row)d has the same options for this product; each variant needs its own.")
                    % {"row": seen[key]},
                    code="duplicate_options",
                    value=" / ".join(variant.option_values.values()),
                    handle=product.handle,
                    sku=variant.sku,
                )
            else:
                seen[key] = variant.row


def sku_candidates(handle: str, values: dict[str, str]) -> tuple[str, str]:
    """A readable SKU from the handle and options (CLASSIC-VARSITY-TOP-SMALL), and the same with a short hash.

    The hashed one is used when the readable one is taken, too long, or lost characters (Chinese options):
    both depend only on the handle and options, so the same file makes the same SKUs every time.
    """
    source = " ".join([handle, *values.values()])
    readable = slugify(source).upper().strip("-")
    digest = hashlib.sha256(source.encode()).hexdigest()[:6].upper()
    hashed = f"{readable[: SKU_MAX - 7].strip('-')}-{digest}" if readable else f"SKU-{digest}"
    lossy = any(not char.isascii() for char in source)
    if not readable or len(readable) > SKU_MAX or lossy:
        return hashed, hashed
    return readable, hashed


def skus_assign(wanted: Iterable[tuple[VariantRecord, str, str]], taken: set[str]) -> None:
    """Gives each new variant without a SKU its candidate, or the hashed one when that is taken."""
    for variant, readable, hashed in wanted:
        sku = readable if readable.upper() not in taken else hashed
        taken.add(sku.upper())
        variant.sku_generated = sku
