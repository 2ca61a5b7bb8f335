"""What every file format is turned into: products with their variants, images and stock, format-free.

A field a record leaves out (not in `fields`, or None where None means "not given") is left as it is in the
database; a field it gives is set, blank included. So a Shopify file never wipes the Chinese names, while the
OMO template, which carries every field, round-trips exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class VariantRecord:
    row: int
    option_values: dict[str, str]
    sku: str = ""  # as the file gives it; blank: matched by options, or generated from the handle
    fields: dict[str, Any] = field(default_factory=dict)  # price, compare_at_price, cost, weight_grams, ...
    barcodes: list[str] | None = None
    barcodes_replace: bool = False  # the OMO template lists them all; other formats only add one
    channel_prices: dict[str, Decimal] | None = None  # given: the overrides, all of them
    stock: dict[int, int] = field(default_factory=dict)  # location id -> on hand
    reorder_points: dict[int, int] = field(default_factory=dict)  # location id -> reorder point
    sku_generated: str = ""  # filled when planning: the SKU made for a new variant without one


@dataclass
class ImageRecord:
    url: str
    alt: str | None = None  # None: keep the alt text the image already has


@dataclass
class ProductRecord:
    row: int  # the product's first row
    handle: str
    rows: list[int] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # name_en, description_en, status, tags, ...
    category_path: list[str] | None = None  # None: leave the category; []: no category
    brand: str | None = None  # None: leave the brand; "": no brand
    option_names: list[str] = field(default_factory=list)
    variants: list[VariantRecord] = field(default_factory=list)
    images: list[ImageRecord] | None = None  # None: leave the images
    failed: bool = False  # has an error: never written

    @property
    def label(self) -> str:
        return self.handle


@dataclass
class ParseResult:
    products: list[ProductRecord]
    rows_total: int
    location_ids: dict[str, int] = field(default_factory=dict)  # code -> id of the locations stock is for
