"""Pieces every order service shares: numbers, money, the order's event payload, side effects after commit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from djmoney.money import Money

from omo.models import Location, Role
from omo.services.events import events_item
from omo.services.outbox import outbox_enqueue_many
from orders.models import Order

CURRENCY = "HKD"
DOCUMENT_TASK = "orders.tasks.order_documents_render_task"


def hkd(amount: Decimal) -> Money:
    return Money(amount, CURRENCY)


def order_number_next(location: Location) -> str:
    """`CWB-000123`: the branch's next number, taken and bumped in one statement.

    The counter row stays locked until the sale commits, so numbers have no gaps and never repeat; a sale
    that rolls back gives its number back.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO orders_ordercounter (location_id, last) VALUES (%s, 1) "
            "ON CONFLICT (location_id) DO UPDATE SET last = orders_ordercounter.last + 1 RETURNING last",
            [location.pk],
        )
        (last,) = cursor.fetchone()
    return f"{location.code}-{last:06d}"


def is_manager(user: Any) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and (user.is_superuser or user.role in (Role.OWNER, Role.MANAGER))
    )


def order_payload(order: Order) -> dict[str, Any]:
    """What webhooks and the audit log say about an order."""
    return {
        "id": order.pk,
        "number": order.number,
        "channel": order.channel,
        "fulfilment": order.fulfilment,
        "status": order.status,
        "location": order.location_id,
        "fulfil_from": order.fulfil_from_id,
        "member": order.member_id,
        "total": str(order.total.amount),
        "paid": str(order.paid.amount),
        "refunded": str(order.refunded.amount),
        "currency": CURRENCY,
    }


def after_commit(
    order: Order,
    topics: list[str],
    *,
    extra: list[tuple[str, dict[str, Any]]] | None = None,
    receipt: bool = False,
    extra_items: list[tuple[str, dict[str, Any]]] | None = None,
) -> None:
    """Events for the order (one outbox row for all of them), the receipt's rendering and `extra_items`
    (other tasks of the act, such as the member's points), stored in one INSERT with the act itself."""
    payload = order_payload(order)
    events = [(topic, payload) for topic in topics] + list(extra or [])
    items = [events_item(events)] if events else []
    if receipt and getattr(settings, "RECEIPTS_RENDER", True):
        items.append((DOCUMENT_TASK, {"order_id": order.pk}))
    items += extra_items or []
    outbox_enqueue_many(items)


def stock_changed(
    lines: list[tuple[str, int, int]], *, kind: str, reference: str
) -> tuple[str, dict[str, Any]]:
    """A `stock.changed` event: (sku, location id, change of on-hand or of what is held)."""
    return (
        "stock.changed",
        {
            "kind": kind,
            "reference": reference,
            "lines": [
                {"sku": sku, "location": location, "change": change} for sku, location, change in lines
            ],
        },
    )
