"""The one place stock rows are locked: always in primary-key order, so concurrent sellers never deadlock.

Callers lock stock rows before any reservation row and before their own rows (the order, the transfer), and
compute availability only after the lock is held. The recipe (LOCK_ROWS) is also the first step of
`inventory.ledger.stock_take_locked`, which locks, checks and takes units off in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

StockKey = tuple[int, int]  # (variant_id, location_id)

# The lock recipe, over `{keys}`: a relation `k` of (variant_id, location_id) pairs.
LOCK_ROWS = """
SELECT s.id, s.variant_id, s.location_id, s.on_hand, s.reserved
FROM inventory_stocklevel s
JOIN {keys} ON s.variant_id = k.variant_id AND s.location_id = k.location_id
ORDER BY s.id
FOR UPDATE OF s
"""

LOCK_SQL = LOCK_ROWS.format(keys="unnest(%s::bigint[], %s::bigint[]) AS k(variant_id, location_id)")

CREATE_SQL = """
INSERT INTO inventory_stocklevel (variant_id, location_id, on_hand, reserved, updated_at)
SELECT k.variant_id, k.location_id, 0, 0, now()
FROM unnest(%s::bigint[], %s::bigint[]) AS k(variant_id, location_id)
ORDER BY k.variant_id, k.location_id
ON CONFLICT (variant_id, location_id) DO NOTHING
"""


@dataclass
class LockedStock:
    """A stock row as it is under our lock; `on_hand` and `reserved` are kept current as we change them."""

    id: int
    variant_id: int
    location_id: int
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def stock_lock(keys: Iterable[StockKey], *, create_missing: bool = False) -> dict[StockKey, LockedStock]:
    """Locks the stock rows of these (variant, location) pairs in primary-key order; one query.

    With create_missing, absent rows are first created empty (one more query), so that receiving at a new
    location, or a backorder reservation, has a row to hold. Must run inside a transaction.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("stock_lock() must run inside a transaction")
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    variant_ids = [variant_id for variant_id, _ in pairs]
    location_ids = [location_id for _, location_id in pairs]
    with connection.cursor() as cursor:
        if create_missing:
            cursor.execute(CREATE_SQL, [variant_ids, location_ids])
        cursor.execute(LOCK_SQL, [variant_ids, location_ids])
        rows = [LockedStock(*row) for row in cursor.fetchall()]
    return {(row.variant_id, row.location_id): row for row in rows}
