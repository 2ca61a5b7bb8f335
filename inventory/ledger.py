"""The only writer of on-hand: each change and its movement are one SQL statement, so they cannot part.

Every service that moves stock locks the rows (`inventory.locks.stock_lock`), checks what it needs under the
lock, then calls `stock_apply` once, whatever the number of lines. Taking units off (a sale, say) can be one
statement for all three: `stock_take_locked` locks the rows in primary-key order, checks every line and takes
them, so the lock is held for that statement and the commit only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from inventory.locks import LOCK_ROWS, LockedStock, StockKey
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


# {lock}: the lock recipe of inventory.locks, over the keys `k`.
TAKE_TEMPLATE = """
WITH k AS (
    SELECT * FROM unnest(%(variants)s::bigint[], %(locations)s::bigint[], %(qty)s::int[], %(net)s::bool[])
        AS k(variant_id, location_id, qty, net_of_reserved)
), locked AS ({lock}), checked AS (
    SELECT l.id, l.variant_id, l.location_id, l.on_hand, l.reserved, k.qty,
           l.on_hand - CASE WHEN k.net_of_reserved THEN l.reserved ELSE 0 END AS can
    FROM locked l JOIN k ON k.variant_id = l.variant_id AND k.location_id = l.location_id
), enough AS (
    -- Every line has its row and can have its quantity, or nothing is taken.
    SELECT count(*) = %(lines)s AND coalesce(bool_and(can >= qty), false) AS ok FROM checked
), updated AS (
    UPDATE inventory_stocklevel s
    SET on_hand = s.on_hand - c.qty, updated_at = %(now)s
    FROM checked c, enough e
    WHERE s.id = c.id AND e.ok
    RETURNING s.id, s.variant_id, s.location_id, s.on_hand, c.qty
), moved AS (
    INSERT INTO inventory_stockmovement (
        variant_id, location_id, kind, quantity, on_hand_after, unit_cost, unit_cost_currency,
        reason, reference, actor_id, actor_label, created_at
    )
    SELECT u.variant_id, u.location_id, %(kind)s, -u.qty, u.on_hand, NULL, NULL,
           %(reason)s, %(reference)s, %(actor_id)s, %(actor_label)s, %(now)s
    FROM updated u
    ORDER BY u.id
)
SELECT c.id, c.variant_id, c.location_id, COALESCE(u.on_hand, c.on_hand), c.reserved, u.id IS NOT NULL
FROM checked c LEFT JOIN updated u ON u.id = c.id
ORDER BY c.id
"""
TAKE_SQL = TAKE_TEMPLATE.format(lock=LOCK_ROWS.format(keys="k"))


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


@dataclass(frozen=True)
class Take:
    """`qty` units off the row of `key` if it has them (of on-hand, or of on-hand less held units)."""

    key: StockKey
    qty: int
    net_of_reserved: bool


def stock_take_locked(
    takes: Sequence[Take],
    *,
    kind: MovementKind | str,
    actor: Any,
    reason: str = "",
    reference: str = "",
) -> tuple[dict[StockKey, LockedStock], bool]:
    """Locks the rows of these takes in primary-key order and, if every take can have its units, takes them
    all off and writes one movement each; one query, whatever the number of takes (one per key).

    Returns the rows found, as they are under the lock (after the take, when it was made), and whether it was
    made. When it was not, nothing changed and the rows stay locked until the commit, so the caller can see
    what is short, free expired holds and try again with `stock_apply`. Must run inside a transaction.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("stock_take_locked() must run inside a transaction")
    if not takes:
        return {}, True
    if len({take.key for take in takes}) != len(takes):
        raise ValueError("one take per (variant, location): add up the lines first")
    if any(take.qty <= 0 for take in takes):
        raise ValueError("a take is of one unit or more")
    actor_id, actor_label = actor_fields(actor)
    with connection.cursor() as cursor:
        cursor.execute(
            TAKE_SQL,
            {
                "variants": [take.key[0] for take in takes],
                "locations": [take.key[1] for take in takes],
                "qty": [take.qty for take in takes],
                "net": [take.net_of_reserved for take in takes],
                "lines": len(takes),
                "now": timezone.now(),
                "kind": str(kind),
                "reason": reason[:255],
                "reference": reference[:64],
                "actor_id": actor_id,
                "actor_label": actor_label,
            },
        )
        found = cursor.fetchall()
    rows = {(row.variant_id, row.location_id): row for row in (LockedStock(*values[:5]) for values in found)}
    return rows, bool(found) and all(values[5] for values in found)
