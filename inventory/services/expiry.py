"""Holds whose time has run out: swept by a seller who needs the units, and in batches by Celery beat.

Both paths lock the stock rows first (primary-key order), then flip only reservations still `active`, so a
hold is never released twice however many sweepers run at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from inventory.ledger import StockChange, stock_apply
from inventory.locks import LockedStock, StockKey, stock_lock
from inventory.models import MovementKind, Reservation, ReservationStatus
from omo.services.events import event_emit

SWEEP_SQL = """
UPDATE inventory_reservation r
SET status = 'expired', closed_at = %(now)s
FROM unnest(%(variants)s::bigint[], %(locations)s::bigint[]) AS k(variant_id, location_id)
WHERE r.variant_id = k.variant_id AND r.location_id = k.location_id
  AND r.status = 'active' AND r.expires_at <= %(now)s
RETURNING r.variant_id, r.location_id, r.qty
"""

EXPIRE_IDS_SQL = """
UPDATE inventory_reservation
SET status = 'expired', closed_at = %(now)s
WHERE id = ANY(%(ids)s) AND status = 'active' AND expires_at <= %(now)s
RETURNING variant_id, location_id, qty
"""


def released_apply(rows: dict[StockKey, LockedStock], released: Sequence[tuple[int, int, int]]) -> int:
    """Gives the released units back to their (locked) stock rows; returns how many holds that was."""
    freed: dict[StockKey, int] = defaultdict(int)
    for variant_id, location_id, qty in released:
        freed[(variant_id, location_id)] += qty
    stock_apply(
        [StockChange(rows[key], reserved=-qty) for key, qty in freed.items()],
        kind=MovementKind.COUNT_ADJUSTMENT,  # no movement is written: on-hand does not change
        actor="expiry",
    )
    return len(released)


def expired_sweep(rows: dict[StockKey, LockedStock], keys: list[StockKey]) -> int:
    """Expires the timed-out holds of these locked rows and frees their units; returns how many."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            SWEEP_SQL,
            {"now": now, "variants": [k[0] for k in keys], "locations": [k[1] for k in keys]},
        )
        released = cursor.fetchall()
    return released_apply(rows, released)


def reservations_expire(*, batch_size: int = 500, now: datetime | None = None) -> int:
    """Expires every hold whose time has run out, batch by batch, each batch its own transaction.

    Idempotent and safe to run twice at once: a hold already expired, sold or released is skipped.
    """
    total = 0
    while True:
        cutoff = now or timezone.now()
        ids_and_keys = list(
            Reservation.objects.filter(status=ReservationStatus.ACTIVE, expires_at__lte=cutoff)
            .order_by("expires_at", "pk")
            .values_list("pk", "variant_id", "location_id")[:batch_size]
        )
        if not ids_and_keys:
            return total
        with transaction.atomic():
            rows = stock_lock((variant_id, location_id) for _, variant_id, location_id in ids_and_keys)
            with connection.cursor() as cursor:
                cursor.execute(EXPIRE_IDS_SQL, {"now": cutoff, "ids": [pk for pk, _, _ in ids_and_keys]})
                released = cursor.fetchall()
            done = released_apply(rows, released)
        total += done
        if len(ids_and_keys) < batch_size:
            return total


def reservations_warn_expiring(*, within: timedelta, batch_size: int = 500) -> int:
    """Emits `reservation.expiring` once for each live hold that runs out within `within`; returns how many.

    Batch by batch, each its own transaction: the row is marked in the same transaction as the event is stored
    (outbox), so a second run emits nothing. Locks only the holds (SKIP LOCKED: a hold being sold or released
    right now is left for the next run).
    """
    now = timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            due = list(
                # of=self: FOR UPDATE on the joined variant and location rows would block every sale of those
                # SKUs (a movement takes a key-share lock on its variant and location) while this runs.
                Reservation.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("variant", "location")
                .filter(
                    status=ReservationStatus.ACTIVE,
                    expiry_warned_at__isnull=True,
                    expires_at__gt=now,
                    expires_at__lte=now + within,
                )
                .order_by("expires_at", "pk")[:batch_size]
            )
            for reservation in due:
                reservation.expiry_warned_at = now
                event_emit(
                    topic="reservation.expiring",
                    payload={
                        "reservation_id": reservation.pk,
                        "source": reservation.source,
                        "sku": reservation.variant.sku,
                        "location": reservation.location.code,
                        "qty": reservation.qty,
                        "expires_at": reservation.expires_at.isoformat() if reservation.expires_at else None,
                        "customer_name": reservation.customer_name,
                        "reference": reservation.reference,
                    },
                )
            Reservation.objects.bulk_update(due, ["expiry_warned_at"])
        total += len(due)
        if not due or len(due) < batch_size:
            return total
