"""Stock counts: a sheet per location, counted by several staff at once, posted by a manager in one go."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Variant
from inventory.exceptions import StockCountClosed
from inventory.ledger import StockChange, stock_apply
from inventory.locks import stock_lock
from inventory.models import CountStatus, MovementKind, StockCount, StockCountLine, StockLevel
from inventory.services.access import access_location, is_user
from omo.errors import NotFound, ValidationFailed
from omo.services.audit import audit_record

ADD_SQL = """
INSERT INTO inventory_stockcountline (count_id, variant_id, counted, counted_by_id, updated_at)
VALUES (%(count)s, %(variant)s, %(qty)s, %(actor)s, %(now)s)
ON CONFLICT (count_id, variant_id) DO UPDATE
SET counted = inventory_stockcountline.counted + EXCLUDED.counted,
    counted_by_id = EXCLUDED.counted_by_id, updated_at = EXCLUDED.updated_at
RETURNING counted
"""
SET_SQL = """
INSERT INTO inventory_stockcountline (count_id, variant_id, counted, counted_by_id, updated_at)
VALUES (%(count)s, %(variant)s, %(qty)s, %(actor)s, %(now)s)
ON CONFLICT (count_id, variant_id) DO UPDATE
SET counted = EXCLUDED.counted, counted_by_id = EXCLUDED.counted_by_id, updated_at = EXCLUDED.updated_at
RETURNING counted
"""
UNDO_SQL = """
UPDATE inventory_stockcountline
SET counted = counted + %(qty)s, counted_by_id = %(actor)s, updated_at = %(now)s
WHERE count_id = %(count)s AND variant_id = %(variant)s AND counted + %(qty)s >= 0
RETURNING counted
"""


@transaction.atomic
def stock_count_open(*, location_id: int, actor: Any, full: bool = False, note: str = "") -> StockCount:
    """Opens a count sheet. `full`: SKUs with stock here that nobody counts are posted as zero."""
    access_location(actor, location_id)
    count = StockCount.objects.create(
        location_id=location_id,
        full=full,
        note=note.strip()[:255],
        created_by=actor if is_user(actor) else None,
    )
    audit_record(actor=actor, action="stock_count.open", branch=location_id, obj=count, after={"full": full})
    return count


SHARE_SQL = "SELECT status FROM inventory_stockcount WHERE id = %s FOR SHARE"


def count_for_share(count_id: int) -> None:
    """Counting shares the sheet with other counters but waits for (and then refuses after) a posting.

    FOR SHARE, which Django's select_for_update cannot ask for: counters do not wait for each other, while
    the posting's FOR UPDATE waits for every counter in flight, and each counter waits for a posting.
    """
    with connection.cursor() as cursor:
        cursor.execute(SHARE_SQL, [count_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("No such stock count."))
    if row[0] != CountStatus.OPEN:
        raise StockCountClosed()


def stock_count_record(*, count_id: int, variant: Variant, qty: int, actor: Any, mode: str = "add") -> int:
    """Records a scan (`add` 1), a typed figure (`set`), or a correction (`add` -1); returns the line's count.

    Several staff may count the same SKU at once: each change is one atomic upsert, none is lost. Raises
    StockCountClosed, ValidationFailed (a result below zero, a SKU that tracks no stock).
    """
    if mode not in {"add", "set"}:
        raise ValidationFailed(fields={"mode": _("Choose add or set.")})
    if not isinstance(qty, int) or (mode == "set" and qty < 0):
        raise ValidationFailed(fields={"qty": _("A count is a whole number, zero or more.")})
    if not variant.track_inventory:
        raise ValidationFailed(_("This SKU does not track stock."), sku=variant.sku)
    with transaction.atomic():
        count = StockCount.objects.filter(pk=count_id).values_list("location_id", flat=True).first()
        if count is None:
            raise NotFound(_("No such stock count."))
        access_location(actor, count)
        count_for_share(count_id)
        params = {
            "count": count_id,
            "variant": variant.pk,
            "qty": qty,
            "actor": actor.pk if is_user(actor) else None,
            "now": timezone.now(),
        }
        sql = SET_SQL if mode == "set" else ADD_SQL if qty >= 0 else UNDO_SQL
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            raise ValidationFailed(_("A count cannot go below zero."), sku=variant.sku)
        return int(row[0])


def count_expected(count: StockCount) -> dict[int, int]:
    """variant id -> on-hand now, for the counted SKUs and (full count) every SKU with stock here."""
    levels = StockLevel.objects.filter(location_id=count.location_id)
    expected = dict(
        levels.filter(variant_id__in=count.lines.values("variant_id")).values_list("variant_id", "on_hand")
    )
    if count.full:
        in_stock = levels.filter(variant__track_inventory=True).exclude(on_hand=0)
        expected.update(in_stock.values_list("variant_id", "on_hand"))
    return expected


@transaction.atomic
def stock_count_post(*, count_id: int, actor: Any) -> StockCount:
    """Sets on-hand to the counted figures in one transaction (`count_adjustment` movements). Managers only.

    Locks the sheet, then the stock rows (primary-key order). The expected figure of each line is kept, so the
    variance report stays as it was at posting. Audited with every variance.
    """
    count = StockCount.objects.select_for_update().filter(pk=count_id).first()
    if count is None:
        raise NotFound(_("No such stock count."))
    access_location(actor, count.location_id, managers_only=True)
    if count.status != CountStatus.OPEN:
        raise StockCountClosed()
    lines = {line.variant_id: line for line in count.lines.all()}
    expected_now = count_expected(count)
    if count.full:
        for variant_id in expected_now.keys() - lines.keys():
            lines[variant_id] = StockCountLine(count=count, variant_id=variant_id, counted=0)
    rows = stock_lock([(pk, count.location_id) for pk in lines], create_missing=True)
    changes = []
    variances = {}
    for variant_id, line in lines.items():
        row = rows[(variant_id, count.location_id)]
        line.expected = row.on_hand
        if line.counted != row.on_hand:
            changes.append(StockChange(row, on_hand=line.counted - row.on_hand))
            variances[str(variant_id)] = line.counted - row.on_hand
    stock_apply(
        changes,
        kind=MovementKind.COUNT_ADJUSTMENT,
        actor=actor,
        reason=_("Stock count %(number)s") % {"number": str(count)},
        reference=str(count),
    )
    StockCountLine.objects.bulk_create([line for line in lines.values() if line.pk is None])
    StockCountLine.objects.bulk_update([line for line in lines.values() if line.pk], ["expected"])
    count.status = CountStatus.POSTED
    count.posted_by = actor if is_user(actor) else None
    count.posted_at = timezone.now()
    count.save(update_fields=["status", "posted_by", "posted_at"])
    audit_record(
        actor=actor,
        action="stock_count.post",
        branch=count.location_id,
        obj=count,
        after={"lines": len(lines), "variances": variances},
    )
    return count


@transaction.atomic
def stock_count_cancel(*, count_id: int, actor: Any) -> StockCount:
    count = StockCount.objects.select_for_update().filter(pk=count_id).first()
    if count is None:
        raise NotFound(_("No such stock count."))
    access_location(actor, count.location_id, managers_only=True)
    if count.status != CountStatus.OPEN:
        raise StockCountClosed()
    count.status = CountStatus.CANCELLED
    count.save(update_fields=["status"])
    audit_record(actor=actor, action="stock_count.cancel", branch=count.location_id, obj=count)
    return count
