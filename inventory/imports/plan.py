"""Compares the file's records with the database: what to create, what to change, and what conflicts.

Nothing is written here. A product whose records conflict with the database (a SKU or barcode another
product has, options that would orphan SKUs) gets an error and no plan; the rest are planned in full, so the
writer only saves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from djmoney.money import Money

from catalog.models import Product, Variant
from inventory.imports.checks import options_key, sku_candidates, skus_assign
from inventory.imports.records import ImageRecord, ProductRecord, VariantRecord
from inventory.imports.report import Duplicate, ImportReport
from inventory.imports.snapshot import Snapshot, skus_taken

MONEY_FIELDS = ("price", "compare_at_price", "cost")


@dataclass
class VariantPlan:
    record: VariantRecord
    variant: Variant
    is_new: bool
    changed: set[str] = field(default_factory=set)
    barcodes_add: list[str] = field(default_factory=list)
    barcodes_remove: list[int] = field(default_factory=list)  # Barcode ids
    prices_set: dict[str, Decimal] = field(default_factory=dict)
    prices_remove: list[int] = field(default_factory=list)  # ChannelPrice ids
    stock: dict[int, int] = field(default_factory=dict)  # location id -> on hand wanted (differs today)
    reorder_points: dict[int, int] = field(default_factory=dict)

    @property
    def updated(self) -> bool:
        return bool(
            self.changed or self.barcodes_add or self.barcodes_remove or self.prices_set or self.prices_remove
        )


@dataclass
class ProductPlan:
    record: ProductRecord
    product: Product
    is_new: bool
    changed: set[str] = field(default_factory=set)
    category_path: list[str] | None = None  # a category to create first
    brand_name: str = ""  # a brand to create first
    images: list[tuple[str, str]] | None = None  # (url, alt) replacing the product's images
    variants: list[VariantPlan] = field(default_factory=list)

    @property
    def updated(self) -> bool:
        return bool(self.changed or self.images is not None or self.category_path or self.brand_name)


def plans_make(records: list[ProductRecord], snap: Snapshot, report: ImportReport) -> list[ProductPlan]:
    """A plan for each record without errors; records found in conflict here get errors and are failed."""
    file_skus = {variant.sku.upper() for record in records for variant in record.variants if variant.sku}
    plans = [
        plan
        for record in records
        if not record.failed
        if (plan := product_plan(record, snap, report, file_skus))
    ]
    plans = barcode_conflicts(plans, snap, report)
    skus_generate(plans, file_skus)
    return plans


def product_plan(
    record: ProductRecord, snap: Snapshot, report: ImportReport, file_skus: set[str]
) -> ProductPlan | None:
    existing = snap.products.get(record.handle)
    product = existing or Product(handle=record.handle, option_names=record.option_names)
    plan = ProductPlan(record, product, is_new=existing is None)
    for name, value in record.fields.items():
        if getattr(product, name) != value:
            setattr(product, name, value)
            plan.changed.add(name)
    fail = Failure(record, report)
    if not (product.name_en or product.name_zh_hant):
        fail(record.row, _("A product needs a name in English or Chinese."), code="missing_name")
    category_plan(plan, snap)
    brand_plan(plan, snap)
    images_plan(plan, snap)
    current = snap.variants_by_product.get(product.pk, []) if existing else []
    by_options = {options_key(variant.option_values): variant for variant in current}
    matched: set[int] = set()
    next_position = max((variant.position for variant in current), default=-1) + 1
    for vrecord in record.variants:
        errors_before = fail.count
        match = variant_match(vrecord, existing, snap, by_options, file_skus, fail)
        if fail.count > errors_before:
            continue
        if match is not None and match.pk in matched:
            fail(
                vrecord.row,
                _("Two rows of the file are the same variant (SKU %(sku)s).") % {"sku": match.sku},
            )
            continue
        if match is not None:
            matched.add(match.pk)
            plan.variants.append(variant_plan(vrecord, match, snap, fail))
        else:
            variant = Variant(product=product, option_values=vrecord.option_values, sku=vrecord.sku)
            variant.position = next_position
            next_position += 1
            plan.variants.append(variant_plan(vrecord, variant, snap, fail, is_new=True))
    if existing is not None and list(existing.option_names) != record.option_names:
        left = [variant.sku for variant in current if variant.pk not in matched]
        if left:
            fail(
                record.row,
                _(
                    "The options change from (%(before)s) to (%(after)s), but SKUs %(skus)s of this "
                    "product are not in the file."
                )
                % {
                    "before": ", ".join(existing.option_names),
                    "after": ", ".join(record.option_names),
                    "skus": ", ".join(left[:10]),
                },
                code="options_changed",
            )
        product.option_names = record.option_names
        plan.changed.add("option_names")
    final = [options_key(v.option_values) for v in current if v.pk not in matched]
    final += [options_key(vplan.variant.option_values) for vplan in plan.variants]
    if len(set(final)) != len(final):
        fail(
            record.row,
            _("Two variants of this product would have the same options."),
            code="duplicate_options",
        )
    if not record.variants and existing is None:
        fail(record.row, _("A product needs at least one variant (SKU)."), code="no_variants")
    if fail.count:
        record.failed = True
        return None
    return plan


class Failure:
    """Records a product's errors in the report; the product is left out when it has any."""

    def __init__(self, record: ProductRecord, report: ImportReport) -> None:
        self.record, self.report, self.count = record, report, 0

    def __call__(self, row: int, message: str, *, code: str = "invalid", **details: Any) -> None:
        self.count += 1
        self.report.error(row, message, code=code, handle=self.record.handle, **details)


def variant_match(
    vrecord: VariantRecord,
    existing: Product | None,
    snap: Snapshot,
    by_options: dict[tuple[tuple[str, str], ...], Variant],
    file_skus: set[str],
    fail: Failure,
) -> Variant | None:
    """The variant a row updates: by SKU; else by the product's handle and options."""
    same_options = by_options.get(options_key(vrecord.option_values))
    if not vrecord.sku:
        return same_options
    owner = snap.variants_by_sku.get(vrecord.sku.upper())
    if owner is not None and (existing is None or owner.product_id != existing.pk):
        used_by = snap.handles_by_product.get(owner.product_id, "")
        fail(
            vrecord.row,
            _("SKU %(sku)s is already used by product %(product)s.")
            % {"sku": vrecord.sku, "product": used_by},
            code="duplicate_sku",
            column="sku",
            value=vrecord.sku,
            sku=vrecord.sku,
        )
        fail.report.duplicates.append(Duplicate("sku", vrecord.sku, [vrecord.row], used_by=used_by))
        return None
    if owner is None and same_options is not None and same_options.sku.upper() not in file_skus:
        # The same variant under a new SKU (renamed in the file): update it rather than add a twin.
        fail.report.warning(
            vrecord.row,
            _("The SKU of this variant changes from %(before)s to %(after)s.")
            % {"before": same_options.sku, "after": vrecord.sku},
            code="sku_renamed",
            handle=fail.record.handle,
            sku=vrecord.sku,
        )
        return same_options
    return owner


def variant_plan(
    vrecord: VariantRecord, variant: Variant, snap: Snapshot, fail: Failure, *, is_new: bool = False
) -> VariantPlan:
    plan = VariantPlan(vrecord, variant, is_new)
    if vrecord.sku and variant.sku != vrecord.sku:
        variant.sku = vrecord.sku
        plan.changed.add("sku")
    if variant.option_values != vrecord.option_values:
        variant.option_values = vrecord.option_values
        plan.changed.add("option_values")
    for name, value in vrecord.fields.items():
        current = getattr(variant, name, None)
        if name in MONEY_FIELDS:
            current = current.amount if isinstance(current, Money) else current
            if name == "price" and value is None:
                continue  # a bad or missing price is already an error
        if current != value:
            setattr(variant, name, value)
            plan.changed.add(name)
    if is_new and vrecord.fields.get("price") is None:
        fail(vrecord.row, _("A price is required."), code="invalid_price", column="price", sku=vrecord.sku)
    barcodes = snap.barcodes_by_variant.get(variant.pk, {}) if not is_new else {}
    if vrecord.barcodes is not None:
        plan.barcodes_add = [code for code in vrecord.barcodes if code not in barcodes]
        if vrecord.barcodes_replace:
            plan.barcodes_remove = [b.pk for code, b in barcodes.items() if code not in vrecord.barcodes]
    if vrecord.channel_prices is not None:
        prices = snap.channel_prices.get(variant.pk, {}) if not is_new else {}
        plan.prices_set = {
            channel: amount
            for channel, amount in vrecord.channel_prices.items()
            if channel not in prices or prices[channel].price.amount != amount
        }
        plan.prices_remove = [
            price.pk for channel, price in prices.items() if channel not in vrecord.channel_prices
        ]
    stock_plan(plan, snap, fail)
    return plan


def stock_plan(plan: VariantPlan, snap: Snapshot, fail: Failure) -> None:
    vrecord = plan.record
    if (vrecord.stock or vrecord.reorder_points) and not plan.variant.track_inventory:
        fail.report.warning(
            vrecord.row,
            _("This SKU does not track stock; its quantity is not imported."),
            code="stock_not_tracked",
            handle=fail.record.handle,
            sku=plan.variant.sku,
        )
        return
    for location_id, quantity in vrecord.stock.items():
        on_hand, _reorder = (
            snap.stock.get((plan.variant.pk, location_id), (0, None)) if not plan.is_new else (0, None)
        )
        if on_hand != quantity:
            plan.stock[location_id] = quantity
    for location_id, point in vrecord.reorder_points.items():
        _on_hand, reorder = (
            snap.stock.get((plan.variant.pk, location_id), (0, None)) if not plan.is_new else (0, None)
        )
        if reorder != point:
            plan.reorder_points[location_id] = point


def category_plan(plan: ProductPlan, snap: Snapshot) -> None:
    path = plan.record.category_path
    if path is None:
        return
    if not path:
        target: int | None = None
    else:
        target = snap.categories.get(tuple(name.casefold() for name in path))
        if target is None:
            plan.category_path = path
            return
    if plan.product.category_id != target:
        plan.product.category_id = target
        plan.changed.add("category")


def brand_plan(plan: ProductPlan, snap: Snapshot) -> None:
    name = plan.record.brand
    if name is None:
        return
    target = snap.brands.get(name.upper()) if name else None
    if name and target is None:
        plan.brand_name = name
    elif plan.product.brand_id != target:
        plan.product.brand_id = target
        plan.changed.add("brand")


def images_plan(plan: ProductPlan, snap: Snapshot) -> None:
    """Replaces the images when their addresses, order or alt texts differ; an alt not given is kept."""
    wanted: list[ImageRecord] | None = plan.record.images
    if wanted is None:
        return
    current = snap.images.get(plan.product.pk, []) if not plan.is_new else []
    alts = {image.url: image.alt for image in current}
    images = [
        (image.url, image.alt if image.alt is not None else alts.get(image.url, "")) for image in wanted
    ]
    if images != [(image.url, image.alt) for image in current]:
        plan.images = images


def barcode_conflicts(plans: list[ProductPlan], snap: Snapshot, report: ImportReport) -> list[ProductPlan]:
    """Leaves out products adding a barcode another SKU has, unless that SKU gives it up in this file."""
    while True:
        freed = {
            code
            for plan in plans
            for vplan in plan.variants
            for code, barcode in snap.barcodes_by_variant.get(vplan.variant.pk or 0, {}).items()
            if barcode.pk in vplan.barcodes_remove
        }
        kept = []
        for plan in plans:
            fail = Failure(plan.record, report)
            for vplan in plan.variants:
                for code in vplan.barcodes_add:
                    owner = snap.barcode_owners.get(code)
                    if owner is None or owner.variant_id == vplan.variant.pk or code in freed:
                        continue
                    fail(
                        vplan.record.row,
                        _("Barcode %(code)s is already used by SKU %(sku)s.")
                        % {"code": code, "sku": owner.sku},
                        code="duplicate_barcode",
                        column="barcode",
                        value=code,
                        sku=vplan.variant.sku,
                    )
                    report.duplicates.append(
                        Duplicate("barcode", code, [vplan.record.row], used_by=owner.sku)
                    )
            if fail.count:
                plan.record.failed = True
            else:
                kept.append(plan)
        if len(kept) == len(plans):
            return kept
        plans = kept  # a product left out no longer frees its barcodes: check again


def skus_generate(plans: list[ProductPlan], file_skus: set[str]) -> None:
    """New variants without a SKU get one made of the handle and options, unique in file and database."""
    wanted = []
    for plan in plans:
        for vplan in plan.variants:
            if vplan.is_new and not vplan.variant.sku:
                readable, hashed = sku_candidates(plan.product.handle, vplan.record.option_values)
                wanted.append((vplan.record, readable, hashed))
    if not wanted:
        return
    taken = file_skus | skus_taken({sku.upper() for _record, *pair in wanted for sku in pair})
    skus_assign(wanted, taken)
    generated = {id(vplan.record): vplan for plan in plans for vplan in plan.variants}
    for record, _readable, _hashed in wanted:
        generated[id(record)].variant.sku = record.sku_generated
