"""The one way to lock an order row.

Every order service locks the order first and its stock rows (inventory.locks) after it, never the other way
round: the order is what a payment, a refund or a status move is about, and the stock rows a return or a
handover touches are known only once the order is read under its lock. One fixed order is what prevents
deadlocks; STYLE.md's "stock rows before the order" is satisfied in spirit by never mixing the two orders.
"""

from __future__ import annotations

from typing import Any

from orders.exceptions import OrderNotFound
from orders.models import Order


def order_lock(order_id: int, *, user: Any = None) -> Order:
    """Locks the order (SELECT … FOR UPDATE OF the order row) so payments, refunds and status moves of one
    order run one at a time. With `user`, an order outside the user's branches is not found."""
    queryset = Order.objects.select_for_update(of=("self",)).select_related("location", "fulfil_from")
    if user is not None:
        queryset = queryset.for_user(user)
    order = queryset.filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound(order_id=order_id)
    return order
