"""The only writer of on-hand: each change and its movement are one SQL statement, so they cannot part.

Every service that moves stock locks the rows (`inventory.locks.stock_lock`), checks what it needs under the
lock, then calls `stock_apply` once, whatever the number of lines. Taking units off (a sale, say) can be one
statement for all three: `stock_take_locked` locks the rows in primary-key order, checks every line and takes
them, so the lock is held for that statement and the commit only.
"""

from __future__ import annotations

import json
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


# Holding units: lock, check and raise `reserved` and insert the holds, in one statement (see TAKE_TEMPLATE).
HOLD_TEMPLATE = """
WITH k AS (
    SELECT * FROM unnest(%(variants)s::bigint[], %(locations)s::bigint[], %(qty)s::int[])
        AS k(variant_id, location_id, qty)
), locked AS ({lock}), checked AS (
    SELECT l.id, l.variant_id, l.location_id, l.on_hand, l.reserved, k.qty
    FROM locked l JOIN k ON k.variant_id = l.variant_id AND k.location_id = l.location_id
), enough AS (
    SELECT count(*) = %(lines)s AND coalesce(bool_and(on_hand - reserved >= qty), false) AS ok FROM checked
), updated AS (
    UPDATE inventory_stocklevel s
    SET reserved = s.reserved + c.qty, updated_at = %(now)s
    FROM checked c, enough e
    WHERE s.id = c.id AND e.ok
    RETURNING s.id, s.variant_id, s.location_id, c.qty
), held AS (
    INSERT INTO inventory_reservation (
        variant_id, location_id, qty, source, status, expires_at, member_id, customer_name, customer_phone,
        note, reference, created_by_id, created_at
    )
    SELECT u.variant_id, u.location_id, u.qty, %(source)s, 'active', %(expires_at)s, %(member_id)s,
           %(customer_name)s, %(customer_phone)s, %(note)s, %(reference)s, %(created_by)s, %(now)s
    FROM updated u
    ORDER BY u.id
    RETURNING id, variant_id, location_id
)
SELECT c.id, c.variant_id, c.location_id, c.on_hand, c.reserved, h.id
FROM checked c LEFT JOIN held h ON h.variant_id = c.variant_id AND h.location_id = c.location_id
ORDER BY c.id
"""
HOLD_SQL = HOLD_TEMPLATE.format(lock=LOCK_ROWS.format(keys="k"))


def stock_hold_locked(
    wanted: dict[StockKey, int], *, hold: dict[str, Any]
) -> tuple[dict[StockKey, LockedStock], dict[StockKey, int]]:
    """Locks the rows of `wanted` (variant, location -> units) in primary-key order and, if every one has the
    units available, holds them all: `reserved` up and one active reservation each; one query.

    `hold` gives the reservation's columns (source, expires_at, member_id, customer_name, customer_phone,
    note, reference, created_by, now). Returns the rows as they were under the lock, and the new holds' ids
    by key (empty when nothing was held: then nothing changed and the rows stay locked until the commit).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("stock_hold_locked() must run inside a transaction")
    keys = list(wanted)
    with connection.cursor() as cursor:
        cursor.execute(
            HOLD_SQL,
            {
                "variants": [key[0] for key in keys],
                "locations": [key[1] for key in keys],
                "qty": [wanted[key] for key in keys],
                "lines": len(keys),
                **hold,
            },
        )
        found = cursor.fetchall()
    rows = {(row[1], row[2]): LockedStock(*row[:5]) for row in found}
    held = {(row[1], row[2]): row[5] for row in found if row[5] is not None}
    if held:
        for key, stock in rows.items():
            stock.reserved += wanted[key]
    return rows, held


# Selling holds: the stock rows are locked first (CONSUME_LOCK_SQL), then one statement locks the holds still
# active, checks that every one is there and every row has the units on hand, and only then closes the holds,
# takes their units off on-hand and reserved, and writes the movements: all of it or nothing.
CONSUME_LOCK_SQL = LOCK_ROWS.format(
    keys="(SELECT DISTINCT variant_id, location_id FROM inventory_reservation WHERE id = ANY(%s)) AS k"
)
CONSUME_SQL = """
WITH target AS (
    SELECT id, variant_id, location_id, qty FROM inventory_reservation
    WHERE id = ANY(%(ids)s) AND status = 'active'
    ORDER BY id
    FOR UPDATE
), taken AS (
    SELECT variant_id, location_id, sum(qty)::int AS qty FROM target GROUP BY variant_id, location_id
), checked AS (
    SELECT s.id, s.variant_id, s.location_id, s.on_hand, t.qty
    FROM inventory_stocklevel s JOIN taken t ON s.variant_id = t.variant_id AND s.location_id = t.location_id
), enough AS (
    SELECT (SELECT count(*) FROM target) = %(count)s
           AND (SELECT count(*) FROM checked) = (SELECT count(*) FROM taken)
           AND coalesce(bool_and(on_hand >= qty), true) AS ok
    FROM checked
), closed AS (
    UPDATE inventory_reservation r
    SET status = 'consumed', closed_at = %(now)s, closed_by_id = %(actor_id)s
    FROM target t, enough e
    WHERE r.id = t.id AND e.ok
), updated AS (
    UPDATE inventory_stocklevel s
    SET on_hand = s.on_hand - c.qty, reserved = s.reserved - c.qty, updated_at = %(now)s
    FROM checked c, enough e
    WHERE s.id = c.id AND e.ok
    RETURNING s.id, s.variant_id, s.location_id, s.on_hand, c.qty
), moved AS (
    INSERT INTO inventory_stockmovement (
        variant_id, location_id, kind, quantity, on_hand_after, unit_cost, unit_cost_currency,
        reason, reference, actor_id, actor_label, created_at
    )
    SELECT u.variant_id, u.location_id, 'sale', -u.qty, u.on_hand, NULL, NULL,
           %(reason)s, %(reference)s, %(actor_id)s, %(actor_label)s, %(now)s
    FROM updated u
    ORDER BY u.id
)
SELECT (SELECT ok FROM enough),
       (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM target),
       (SELECT coalesce(json_agg(json_build_array(variant_id, location_id, on_hand, qty)), '[]') FROM checked)
"""


@dataclass(frozen=True)
class Consumed:
    done: bool
    active_ids: list[int]  # the holds that were still active (all of them were sold when done)
    rows: list[tuple[int, int, int, int]]  # (variant, location, on hand before, units wanted)


def holds_consume(
    reservation_ids: list[int], *, actor: Any, reason: str = "", reference: str = ""
) -> Consumed:
    """Sells these holds: locks their stock rows (primary-key order), then the holds, and, only when every one
    is still active and every row has the units on hand (a backorder hold may not), closes them, takes their
    units off on-hand and reserved and writes a `sale` movement per row. Two queries for any number of holds.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("holds_consume() must run inside a transaction")
    actor_id, actor_label = actor_fields(actor)
    with connection.cursor() as cursor:
        cursor.execute(CONSUME_LOCK_SQL, [reservation_ids])
        cursor.execute(
            CONSUME_SQL,
            {
                "ids": reservation_ids,
                "count": len(reservation_ids),
                "now": timezone.now(),
                "actor_id": actor_id,
                "actor_label": actor_label,
                "reason": reason[:255],
                "reference": reference[:64],
            },
        )
        ok, active_ids, rows = cursor.fetchone()
    if isinstance(rows, str):
        rows = json.loads(rows)
    return Consumed(bool(ok), list(active_ids), [tuple(row) for row in rows])
