"""Writes the plans in bulk (a few statements per table, whatever the number of rows), stock via the ledger.

Runs inside the import's transaction: a dry run runs this same code and rolls it back, so its report is
exactly what the commit does.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Barcode, Brand, Category, ChannelPrice, Product, ProductImage, Variant
from catalog.services import brand_ensure, category_path_ensure
from inventory.imports.plan import ProductPlan, VariantPlan
from inventory.imports.report import ImportReport, StockChangeLine
from inventory.ledger import StockChange, stock_apply
from inventory.locks import stock_lock
from inventory.models import MovementKind

BATCH = 500
REORDER_SQL = """
UPDATE inventory_stocklevel s
SET reorder_point = c.point, updated_at = %(now)s
FROM unnest(%(ids)s::bigint[], %(points)s::int[]) AS c(stock_id, point)
WHERE s.id = c.stock_id AND s.reorder_point IS DISTINCT FROM c.point
"""


def plans_write(
    plans: list[ProductPlan],
    *,
    report: ImportReport,
    location_codes: dict[int, str],
    actor: Any,
    reason: str,
    reference: str,
) -> None:
    """Saves every plan: categories and brands first, then products, variants, their barcodes, channel
    prices and images, then stock (locked in primary-key order, changed through the ledger)."""
    now = timezone.now()
    parents_ensure(plans)
    products_save(plans, now)
    variants = [vplan for plan in plans for vplan in plan.variants]
    variants_save(variants, now)
    barcodes_save(variants)
    channel_prices_save(variants)
    report.images_changed = images_save(plans)
    stock_save(
        variants,
        report=report,
        location_codes=location_codes,
        actor=actor,
        reason=reason,
        reference=reference,
    )
    tally(plans, report)


def parents_ensure(plans: list[ProductPlan]) -> None:
    categories: dict[tuple[str, ...], Category | None] = {}
    brands: dict[str, Brand | None] = {}
    for plan in plans:
        if plan.category_path:
            key = tuple(name.casefold() for name in plan.category_path)
            if key not in categories:
                categories[key] = category_path_ensure(plan.category_path)
            plan.product.category = categories[key]
            plan.changed.add("category")
        if plan.brand_name:
            key_brand = plan.brand_name.upper()
            if key_brand not in brands:
                brands[key_brand] = brand_ensure(plan.brand_name)
            plan.product.brand = brands[key_brand]
            plan.changed.add("brand")


def products_save(plans: list[ProductPlan], now: Any) -> None:
    Product.objects.bulk_create([plan.product for plan in plans if plan.is_new], batch_size=BATCH)
    changed = [plan for plan in plans if not plan.is_new and plan.changed]
    if changed:
        for plan in changed:
            plan.product.updated_at = now
        fields = sorted({name for plan in changed for name in plan.changed} | {"updated_at"})
        Product.objects.bulk_update([plan.product for plan in changed], fields, batch_size=BATCH)


def variants_save(variants: list[VariantPlan], now: Any) -> None:
    # New variants of new products take their product's id here: Django reads it from the saved product.
    Variant.objects.bulk_create([vplan.variant for vplan in variants if vplan.is_new], batch_size=BATCH)
    changed = [vplan for vplan in variants if not vplan.is_new and vplan.changed]
    if changed:
        for vplan in changed:
            vplan.variant.updated_at = now
        fields = sorted({name for vplan in changed for name in vplan.changed} | {"updated_at"})
        Variant.objects.bulk_update([vplan.variant for vplan in changed], fields, batch_size=BATCH)


def barcodes_save(variants: list[VariantPlan]) -> None:
    # Removals first: a barcode may move from one SKU to another within the file.
    removed = [pk for vplan in variants for pk in vplan.barcodes_remove]
    if removed:
        Barcode.objects.filter(pk__in=removed).delete()
    Barcode.objects.bulk_create(
        [Barcode(variant=vplan.variant, code=code) for vplan in variants for code in vplan.barcodes_add],
        batch_size=BATCH,
    )


def channel_prices_save(variants: list[VariantPlan]) -> None:
    removed = [pk for vplan in variants for pk in vplan.prices_remove]
    if removed:
        ChannelPrice.objects.filter(pk__in=removed).delete()
    prices = [
        ChannelPrice(variant=vplan.variant, channel=channel, price=amount)
        for vplan in variants
        for channel, amount in vplan.prices_set.items()
    ]
    if prices:
        ChannelPrice.objects.bulk_create(
            prices,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["variant", "channel"],
            update_fields=["price", "price_currency"],
        )


def images_save(plans: list[ProductPlan]) -> int:
    replaced = [plan for plan in plans if plan.images is not None]
    if not replaced:
        return 0
    ProductImage.objects.filter(product__in=[plan.product for plan in replaced if not plan.is_new]).delete()
    ProductImage.objects.bulk_create(
        [
            ProductImage(product=plan.product, url=url, alt=alt[:200], position=position)
            for plan in replaced
            for position, (url, alt) in enumerate(plan.images or [])
        ],
        batch_size=BATCH,
    )
    return len(replaced)


def stock_save(
    variants: list[VariantPlan],
    *,
    report: ImportReport,
    location_codes: dict[int, str],
    actor: Any,
    reason: str,
    reference: str,
) -> None:
    """Sets on-hand to the file's figures (count adjustments through the ledger) and reorder points."""
    keys = {(vplan.variant.pk, location_id) for vplan in variants for location_id in vplan.stock}
    keys |= {(vplan.variant.pk, location_id) for vplan in variants for location_id in vplan.reorder_points}
    if not keys:
        return
    rows = stock_lock(keys, create_missing=True)
    changes = []
    for vplan in variants:
        for location_id, quantity in vplan.stock.items():
            row = rows[(vplan.variant.pk, location_id)]
            if quantity == row.on_hand:
                continue
            changes.append(StockChange(row, on_hand=quantity - row.on_hand))
            code = location_codes.get(location_id, str(location_id))
            report.stock_changes.append(StockChangeLine(vplan.variant.sku, code, row.on_hand, quantity))
            if quantity < row.reserved:
                report.warning(
                    vplan.record.row,
                    _("%(reserved)d units are held at %(location)s, more than the %(on_hand)d on hand now.")
                    % {"reserved": row.reserved, "location": code, "on_hand": quantity},
                    code="below_reserved",
                    sku=vplan.variant.sku,
                )
    stock_apply(changes, kind=MovementKind.COUNT_ADJUSTMENT, actor=actor, reason=reason, reference=reference)
    points = [
        (rows[(vplan.variant.pk, location_id)].id, point)
        for vplan in variants
        for location_id, point in vplan.reorder_points.items()
    ]
    if points:
        with connection.cursor() as cursor:
            cursor.execute(
                REORDER_SQL,
                {"now": timezone.now(), "ids": [pk for pk, _p in points], "points": [p for _pk, p in points]},
            )
            report.reorder_points_changed = cursor.rowcount


def tally(plans: list[ProductPlan], report: ImportReport) -> None:
    for plan in plans:
        tally = report.products
        if plan.is_new:
            tally.created += 1
        elif plan.updated:
            tally.updated += 1
        else:
            tally.unchanged += 1
        for vplan in plan.variants:
            if vplan.is_new:
                report.variants.created += 1
            elif vplan.updated:
                report.variants.updated += 1
            else:
                report.variants.unchanged += 1
