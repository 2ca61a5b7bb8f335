"""Every write to the order book. Other apps import from here: `from orders.services import order_place`."""

from orders.services.expiry import orders_uncollected_cancel, orders_unpaid_cancel
from orders.services.fulfilment import (
    order_cancel,
    order_collected,
    order_complete,
    order_handover,
    order_ready,
    order_ship,
)
from orders.services.payments import order_pay
from orders.services.placing import LineInput, ShipTo, order_place
from orders.services.returns import RefundInput, ReturnItem, order_exchange, order_return

__all__ = [
    "LineInput",
    "RefundInput",
    "ReturnItem",
    "ShipTo",
    "order_cancel",
    "order_collected",
    "order_complete",
    "order_exchange",
    "order_handover",
    "order_pay",
    "order_place",
    "order_ready",
    "order_return",
    "order_ship",
    "orders_uncollected_cancel",
    "orders_unpaid_cancel",
]
