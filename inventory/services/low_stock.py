"""Reorder points, low-stock alerts (once per crossing) and what to replenish from where."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Variant
from inventory.locks import stock_lock
from inventory.models import StockLevel
from inventory.services.access import access_location
from omo.errors import ValidationFailed
from omo.services.audit import audit_record
from omo.services.events import event_emit

# Available as the selectors see it: holds past their time count as free at once, swept or not. Measured
# on the raw `reserved` instead, a row would raise an alert for units a timed-out hold no longer keeps, and
# raise it again after the sweep resolved it: two alerts for one crossing.
RAISE_SQL = """
INSERT INTO inventory_lowstockalert (stock_id, raised_at, available_at_raise, reorder_point)
SELECT s.id, %(now)s, s.on_hand - s.reserved + x.expired, s.reorder_point
FROM inventory_stocklevel s
JOIN catalog_variant v ON v.id = s.variant_id
CROSS JOIN LATERAL (
    SELECT COALESCE(SUM(r.qty), 0) AS expired FROM inventory_reservation r
    WHERE r.variant_id = s.variant_id AND r.location_id = s.location_id
      AND r.status = 'active' AND r.expires_at <= %(now)s
) x
WHERE s.reorder_point IS NOT NULL AND v.track_inventory
  AND s.on_hand - s.reserved + x.expired <= s.reorder_point
ON CONFLICT (stock_id) WHERE resolved_at IS NULL DO NOTHING
RETURNING stock_id, available_at_raise, reorder_point
"""
RESOLVE_SQL = """
UPDATE inventory_lowstockalert a
SET resolved_at = %(now)s
FROM inventory_stocklevel s
JOIN catalog_variant v ON v.id = s.variant_id
CROSS JOIN LATERAL (
    SELECT COALESCE(SUM(r.qty), 0) AS expired FROM inventory_reservation r
    WHERE r.variant_id = s.variant_id AND r.location_id = s.location_id
      AND r.status = 'active' AND r.expires_at <= %(now)s
) x
WHERE a.stock_id = s.id AND a.resolved_at IS NULL
  AND (s.reorder_point IS NULL OR NOT v.track_inventory
       OR s.on_hand - s.reserved + x.expired > s.reorder_point)
"""


@transaction.atomic
def stock_reorder_set(
    *, variant: Variant, location_id: int, actor: Any, reorder_point: int | None, reorder_qty: int | None
) -> StockLevel:
    """Sets when to reorder a SKU at a location, and how many. Managers only; audited."""
    access_location(actor, location_id, managers_only=True)
    errors = {}
    if reorder_point is not None and reorder_point < 0:
        errors["reorder_point"] = _("A reorder point is zero or more.")
    if reorder_qty is not None and reorder_qty <= 0:
        errors["reorder_qty"] = _("A reorder quantity is above zero.")
    if errors:
        raise ValidationFailed(fields=errors)
    stock_lock([(variant.pk, location_id)], create_missing=True)
    level = StockLevel.objects.get(variant=variant, location_id=location_id)
    before = {"reorder_point": level.reorder_point, "reorder_qty": level.reorder_qty}
    level.reorder_point, level.reorder_qty = reorder_point, reorder_qty
    level.save(update_fields=["reorder_point", "reorder_qty", "updated_at"])
    audit_record(
        actor=actor,
        action="stock.reorder_set",
        branch=location_id,
        obj=variant,
        before=before,
        after={"reorder_point": reorder_point, "reorder_qty": reorder_qty},
    )
    return level


@transaction.atomic
def low_stock_check() -> tuple[int, int]:
    """Raises an alert (and a `stock.low` event) for each row whose available units (timed-out holds count as
    free) have fallen to its reorder point and that has no open alert; resolves the alerts of rows that have
    recovered, or no longer have a point or track stock. Returns (raised, resolved).

    One alert per crossing: a row that stays low keeps its one open alert however often this runs (a partial
    unique index makes that hold even for two runs at once).
    """
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(RESOLVE_SQL, {"now": now})
        resolved = cursor.rowcount
        cursor.execute(RAISE_SQL, {"now": now})
        raised = cursor.fetchall()
    if raised:
        levels = StockLevel.objects.select_related("variant", "location").in_bulk([row[0] for row in raised])
        for stock_id, available, reorder_point in raised:
            level = levels[stock_id]
            event_emit(
                topic="stock.low",
                payload={
                    "sku": level.variant.sku,
                    "location": level.location.code,
                    "available": available,
                    "reorder_point": reorder_point,
                    "reorder_qty": level.reorder_qty,
                },
            )
    return len(raised), resolved
