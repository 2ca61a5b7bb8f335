"""What the database holds for the file's products, loaded in a fixed number of queries (not one per row)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q
from django.db.models.functions import Upper

from catalog.models import Barcode, Brand, ChannelPrice, Product, ProductImage, Variant
from catalog.selectors import category_tree
from inventory.imports.records import ProductRecord
from inventory.models import StockLevel


@dataclass
class BarcodeOwner:
    variant_id: int
    sku: str


@dataclass
class Snapshot:
    products: dict[str, Product] = field(default_factory=dict)  # by handle
    variants_by_product: dict[int, list[Variant]] = field(default_factory=dict)
    variants_by_sku: dict[str, Variant] = field(default_factory=dict)  # upper-case SKU
    handles_by_product: dict[int, str] = field(default_factory=dict)
    barcodes_by_variant: dict[int, dict[str, Barcode]] = field(default_factory=dict)
    barcode_owners: dict[str, BarcodeOwner] = field(default_factory=dict)
    channel_prices: dict[int, dict[str, ChannelPrice]] = field(default_factory=dict)
    images: dict[int, list[ProductImage]] = field(default_factory=dict)
    stock: dict[tuple[int, int], tuple[int, int | None]] = field(default_factory=dict)  # on hand, reorder
    categories: dict[tuple[str, ...], int] = field(default_factory=dict)  # casefolded path -> id
    brands: dict[str, int] = field(default_factory=dict)  # upper-case name -> id


def category_paths() -> dict[tuple[str, ...], int]:
    """Every category by its path of (case-folded) English names; the tree is small, so it is read whole."""
    return {tuple(name.casefold() for name in row["names_en"]): row["id"] for row in category_tree()}


def snapshot_load(records: list[ProductRecord], *, lock: bool) -> Snapshot:
    """Loads the rows the import compares against. With lock, the file's existing products are locked
    (FOR UPDATE, primary-key order) so that a staff edit cannot slip between the check and the write."""
    snap = Snapshot()
    handles = sorted({record.handle for record in records})
    products = Product.objects.filter(handle__in=handles).order_by("pk")
    if lock:
        # NO KEY UPDATE, as catalog.services does: serialises edits of these products without blocking
        # the rows that merely point at them.
        products = products.select_for_update(no_key=True, of=("self",))
    snap.products = {product.handle: product for product in products}
    product_ids = [product.pk for product in snap.products.values()]
    skus = {variant.sku.upper() for record in records for variant in record.variants if variant.sku}
    variants = (
        Variant.objects.annotate(code=Upper("sku"))
        .filter(Q(product_id__in=product_ids) | Q(code__in=skus))
        .select_related("product")
    )
    for variant in variants.order_by("product_id", "position", "pk"):
        snap.variants_by_sku[variant.sku.upper()] = variant
        snap.handles_by_product[variant.product_id] = variant.product.handle
        if variant.product_id in product_ids:
            snap.variants_by_product.setdefault(variant.product_id, []).append(variant)
    variant_ids = [variant.pk for variant in snap.variants_by_sku.values()]
    codes = {code for record in records for variant in record.variants for code in variant.barcodes or ()}
    barcodes = Barcode.objects.filter(Q(variant_id__in=variant_ids) | Q(code__in=codes))
    for barcode in barcodes.select_related("variant"):
        snap.barcodes_by_variant.setdefault(barcode.variant_id, {})[barcode.code] = barcode
        snap.barcode_owners[barcode.code] = BarcodeOwner(barcode.variant_id, barcode.variant.sku)
    for price in ChannelPrice.objects.filter(variant_id__in=variant_ids):
        snap.channel_prices.setdefault(price.variant_id, {})[price.channel] = price
    images: dict[int, list[ProductImage]] = defaultdict(list)
    for image in ProductImage.objects.filter(product_id__in=product_ids).order_by("position", "pk"):
        images[image.product_id].append(image)
    snap.images = dict(images)
    levels = StockLevel.objects.filter(variant_id__in=variant_ids).values_list(
        "variant_id", "location_id", "on_hand", "reorder_point"
    )
    snap.stock = {
        (variant_id, location_id): (on_hand, reorder) for variant_id, location_id, on_hand, reorder in levels
    }
    snap.categories = category_paths()
    snap.brands = {name.upper(): pk for pk, name in Brand.objects.values_list("pk", "name")}
    return snap


def skus_taken(candidates: set[str]) -> set[str]:
    """Which of these (upper-case) SKUs the database already has."""
    if not candidates:
        return set()
    found = (
        Variant.objects.annotate(code=Upper("sku")).filter(code__in=candidates).values_list("code", flat=True)
    )
    return set(found)
