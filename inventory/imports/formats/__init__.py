"""The file formats the importer reads, and which one a file is, told by its headers."""

from __future__ import annotations

from collections.abc import Callable

from django.utils.translation import gettext as _

from inventory.exceptions import ImportRefused
from inventory.imports.columns import header_key
from inventory.imports.formats import omo, shopify, woocommerce
from inventory.imports.formats.common import ParseContext, Progress
from inventory.imports.reading import Table
from inventory.imports.records import ProductRecord
from inventory.imports.report import ImportReport

Parser = Callable[..., list[ProductRecord]]
# Checked in this order: the OMO template has a "price" and a "handle" column that Shopify's 2024 template
# also has, so it is recognised by its own names first.
FORMATS: dict[str, tuple[Callable[[set[str]], bool], Parser]] = {
    "omo": (omo.detect, omo.parse),
    "woocommerce": (woocommerce.detect, woocommerce.parse),
    "shopify": (shopify.detect, shopify.parse),
}
FORMAT_CHOICES = ("auto", *FORMATS)


def format_detect(headers: list[str]) -> str:
    """ "omo", "shopify" or "woocommerce". Raises ImportRefused when the headers match none."""
    keys = {header_key(header) for header in headers}
    for name, (detect, _parse) in FORMATS.items():
        if detect(keys):
            return name
    raise ImportRefused(
        _(
            "The columns match no known format (the OMO template, a Shopify or a WooCommerce product "
            "export). "
            "Check that the first row names the columns."
        )
    )


def format_resolve(requested: str, headers: list[str]) -> str:
    if requested in ("", "auto"):
        return format_detect(headers)
    if requested not in FORMATS:
        raise ImportRefused(_("Unknown format %(format)s.") % {"format": requested})
    return requested


def records_parse(
    file_format: str, table: Table, *, context: ParseContext, report: ImportReport, progress: Progress
) -> list[ProductRecord]:
    _detect, parse = FORMATS[file_format]
    return parse(table, context=context, report=report, progress=progress)
