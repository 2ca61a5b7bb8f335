"""Orders that ran out of time, cancelled in batches by Celery beat: pickup orders never collected, and unpaid
orders whose holds ran out.

Each order is claimed in its own transaction under its lock (SKIP LOCKED, with the conditions checked again
under the lock), then cancelled by `order_cancel` as system work: its holds released, what was paid refunded
as pending payouts, the act audited. So two runs at once never cancel one order twice, a second run finds
nothing to do, and one order that cannot be cancelled (logged) does not hold up the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from inventory.models import Reservation, ReservationSource, ReservationStatus
from orders.models import Channel, Fulfilment, Order, OrderLine, OrderStatus
from orders.services.fulfilment import order_cancel

logger = logging.getLogger(__name__)

SYSTEM = "system"
UNCOLLECTED_REASON = "not collected"
UNPAID_REASON = "not paid in time"


def uncollected_due(now: datetime) -> QuerySet[Order]:
    """Branch-pickup orders waiting at the branch past their collection deadline."""
    return Order.objects.filter(
        status=OrderStatus.READY, fulfilment=Fulfilment.PICKUP, pickup_deadline__lt=now
    )


def unpaid_due(now: datetime) -> QuerySet[Order]:
    """Orders still waiting for payment whose goods are no longer held for them: a line's hold is no longer
    active and live (it ran out, or was swept or released); or, for an order that holds nothing (SKUs that
    track no stock), it is older than a hold of its kind lasts (a web checkout's, or a staff hold's for
    phone and chat orders, as `order_place` makes them)."""
    live = Reservation.objects.filter(pk=OuterRef("reservation_id"), status=ReservationStatus.ACTIVE).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    held = OrderLine.objects.filter(order=OuterRef("pk"), reservation_id__isnull=False)
    dead_hold = held.filter(~Exists(live))
    lifetimes = settings.RESERVATION_LIFETIMES
    aged = Q(pk__in=[])
    web = lifetimes.get(ReservationSource.WEB_CHECKOUT)
    if web:
        aged |= Q(channel=Channel.WEB, placed_at__lte=now - web)
    staff = lifetimes.get(ReservationSource.STAFF_HOLD)
    if staff:
        aged |= ~Q(channel=Channel.WEB) & Q(placed_at__lte=now - staff)
    return (
        Order.objects.filter(status=OrderStatus.PLACED)
        .exclude(fulfilment=Fulfilment.IN_STORE)
        .filter(Q(Exists(dead_hold)) | (~Q(Exists(held)) & aged))
    )


def cancel_due(
    due: Callable[[datetime], QuerySet[Order]], *, reason: str, now: datetime, batch_size: int
) -> int:
    """Cancels every order `due` finds, batch by batch (by id, so an order that fails is not picked again
    in this run); returns how many were cancelled by this run."""
    cancelled = 0
    after = 0
    while True:
        ids = list(due(now).filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size])
        for order_id in ids:
            cancelled += cancel_one(due, order_id, reason=reason, now=now)
        if len(ids) < batch_size:
            return cancelled
        after = ids[-1]


def cancel_one(
    due: Callable[[datetime], QuerySet[Order]], order_id: int, *, reason: str, now: datetime
) -> int:
    """1 if this run cancelled the order; 0 if it no longer qualifies, another run holds it, or it failed."""
    try:
        with transaction.atomic():
            claimed = (
                due(now)
                .select_for_update(skip_locked=True, of=("self",))
                .filter(pk=order_id)
                .values_list("pk", flat=True)
                .first()
            )
            if claimed is None:
                return 0
            order_cancel(order_id=order_id, actor=SYSTEM, reason=reason)
    except Exception:
        # Left for the next run (and for someone to look at); the other orders go ahead.
        logger.exception("order %s could not be cancelled (%s)", order_id, reason)
        return 0
    return 1


def orders_uncollected_cancel(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Cancels branch-pickup orders not collected by their deadline ("not collected"): their holds are
    released and what was paid is refunded as pending payouts. Returns how many were cancelled.

    Idempotent and safe to run twice at once (each order is claimed under its lock and checked again)."""
    return cancel_due(
        uncollected_due, reason=UNCOLLECTED_REASON, now=now or timezone.now(), batch_size=batch_size
    )


def orders_unpaid_cancel(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Cancels orders still waiting for payment whose holds ran out ("not paid in time"), releasing any hold
    still active and refunding any part payment as a pending payout. Returns how many were cancelled.

    Idempotent and safe to run twice at once (each order is claimed under its lock and checked again)."""
    return cancel_due(unpaid_due, reason=UNPAID_REASON, now=now or timezone.now(), batch_size=batch_size)
