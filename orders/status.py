"""The order's status machine: every move is checked here, so an illegal one is refused with a clear error."""

from __future__ import annotations

from orders.exceptions import IllegalTransition
from orders.models import Fulfilment, Order, OrderStatus

S = OrderStatus
F = Fulfilment
# Statuses from which goods can come back (they were handed over or sent). A locker parcel is also `ready`
# once it has left: see `returnable`.
REFUNDABLE = frozenset({S.FULFILLED, S.PICKED_UP, S.COMPLETED, S.PARTLY_REFUNDED})

MOVES: dict[str, frozenset[str]] = {
    S.PLACED: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.READY, S.FULFILLED, S.CANCELLED}),
    S.READY: frozenset({S.PICKED_UP, S.CANCELLED, S.PARTLY_REFUNDED, S.REFUNDED}),
    S.FULFILLED: frozenset({S.COMPLETED, S.PARTLY_REFUNDED, S.REFUNDED}),
    S.PICKED_UP: frozenset({S.COMPLETED, S.PARTLY_REFUNDED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.PARTLY_REFUNDED, S.REFUNDED}),
    S.PARTLY_REFUNDED: frozenset({S.PARTLY_REFUNDED, S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}
# Which fulfilment may pass through which status on its way.
ONLY_FOR = {
    S.READY: frozenset({F.PICKUP, F.LOCKER}),
    S.PICKED_UP: frozenset({F.PICKUP, F.LOCKER}),
    # A pickup or locker order is handed over (`picked_up`), never just `fulfilled`.
    S.FULFILLED: frozenset({F.IN_STORE, F.SHIP}),
}
# Moves that only some fulfilments may make. A branch-pickup order that is `ready` still has its goods on
# hold at the branch, so it can be cancelled; a locker parcel that is `ready` has left (its stock was sold
# when it shipped), so it cannot be cancelled, only returned when it comes back.
MOVE_ONLY_FOR = {
    (S.READY, S.CANCELLED): frozenset({F.PICKUP}),
    (S.READY, S.PARTLY_REFUNDED): frozenset({F.LOCKER}),
    (S.READY, S.REFUNDED): frozenset({F.LOCKER}),
}
TIMESTAMP = {
    S.PAID: "paid_at",
    S.READY: "ready_at",
    S.FULFILLED: "fulfilled_at",
    S.PICKED_UP: "fulfilled_at",
    S.COMPLETED: "completed_at",
    S.CANCELLED: "cancelled_at",
}


def can_move(order: Order, target: str) -> bool:
    if target not in MOVES.get(order.status, frozenset()):
        return False
    allowed = ONLY_FOR.get(OrderStatus(target))
    if allowed is not None and order.fulfilment not in allowed:
        return False
    allowed = MOVE_ONLY_FOR.get((OrderStatus(order.status), OrderStatus(target)))
    return allowed is None or order.fulfilment in allowed


def returnable(order: Order) -> bool:
    """Whether goods of this order can come back: they were handed over or sent (a locker parcel is sent when
    it is `ready`, and may come back uncollected)."""
    return can_move(order, S.PARTLY_REFUNDED) or can_move(order, S.REFUNDED)


def move(order: Order, target: str, *, at: object = None) -> list[str]:
    """Moves the order in memory (the caller saves), stamping the time; returns the fields changed.

    Raises IllegalTransition naming both statuses.
    """
    from django.utils import timezone

    if not can_move(order, target):
        raise IllegalTransition(current=order.status, requested=str(target))
    order.status = target
    fields = ["status"]
    stamp = TIMESTAMP.get(OrderStatus(target))
    if stamp:
        setattr(order, stamp, at or timezone.now())
        fields.append(stamp)
    return fields


def walk(order: Order, *targets: str) -> list[str]:
    """Several moves in a row (an in-store sale goes placed → paid → fulfilled → completed at once)."""
    fields: list[str] = []
    for target in targets:
        fields += [f for f in move(order, target) if f not in fields]
    return fields
