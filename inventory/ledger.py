"""The only writer of on-hand: each change and its movement are one SQL statement, so they cannot part.

Every service that moves stock locks the rows (`inventory.locks.stock_lock`), checks what it needs under the
lock, then calls `stock_apply` once, whatever the number of lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from inventory.locks import LockedStock
from inventory.models import MovementKind

APPLY_SQL = """
WITH change AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(on_hand)s::int[], %(reserved)s::int[], %(costs)s::numeric[])
        AS c(stock_id, on_hand_delta, reserved_delta, unit_cost)
), updated AS (
    UPDATE inventory_stocklevel s
    SET on_hand = s.on_hand + c.on_hand_delta, reserved = s.reserved + c.reserved_delta, updated_at = %(now)s
    FROM change c
    WHERE s.id = c.stock_id
    RETURNING s.id, s.variant_id, s.location_id, s.on_hand, c.on_hand_delta, c.unit_cost
)
INSERT INTO inventory_stockmovement (
    variant_id, location_id, kind, quantity, on_hand_after, unit_cost, unit_cost_currency,
    reason, reference, actor_id, actor_label, created_at
)
SELECT u.variant_id, u.location_id, %(kind)s, u.on_hand_delta, u.on_hand, u.unit_cost,
       CASE WHEN u.unit_cost IS NULL THEN NULL ELSE 'HKD' END,
       %(reason)s, %(reference)s, %(actor_id)s, %(actor_label)s, %(now)s
FROM updated u
WHERE u.on_hand_delta <> 0
ORDER BY u.id
"""


@dataclass(frozen=True)
class StockChange:
    stock: LockedStock
    on_hand: int = 0  # signed change of on-hand; writes a movement when not zero
    reserved: int = 0  # signed change of reserved; no movement (a hold moves nothing)
    unit_cost: Decimal | None = None


def merge_changes(changes: Sequence[StockChange]) -> list[StockChange]:
    """One change per row: UPDATE ... FROM applies only one of several rows joining the same stock row."""
    merged: dict[int, StockChange] = {}
    for change in changes:
        seen = merged.get(change.stock.id)
        if seen is not None:
            change = StockChange(
                stock=change.stock,
                on_hand=seen.on_hand + change.on_hand,
                reserved=seen.reserved + change.reserved,
                unit_cost=seen.unit_cost if seen.unit_cost is not None else change.unit_cost,
            )
        merged[change.stock.id] = change
    return [change for change in merged.values() if change.on_hand or change.reserved]


def actor_fields(actor: Any) -> tuple[int | None, str]:
    """A user, or a label for system work (a task, an import)."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor.pk, actor.get_username()[:150]
    return None, str(actor or "system")[:150]


def stock_apply(
    changes: Sequence[StockChange],
    *,
    kind: MovementKind | str,
    actor: Any,
    reason: str = "",
    reference: str = "",
) -> None:
    """Applies the changes to locked rows and writes one movement per on-hand change; one query.

    The caller has locked the rows and checked availability; the table's CHECK constraints are the backstop.
    The LockedStock objects are updated to the new figures.
    """
    changes = merge_changes(changes)
    if not changes:
        return
    actor_id, actor_label = actor_fields(actor)
    with connection.cursor() as cursor:
        cursor.execute(
            APPLY_SQL,
            {
                "ids": [change.stock.id for change in changes],
                "on_hand": [change.on_hand for change in changes],
                "reserved": [change.reserved for change in changes],
                "costs": [change.unit_cost for change in changes],
                "now": timezone.now(),
                "kind": str(kind),
                "reason": reason[:255],
                "reference": reference[:64],
                "actor_id": actor_id,
                "actor_label": actor_label,
            },
        )
    for change in changes:
        change.stock.on_hand += change.on_hand
        change.stock.reserved += change.reserved
