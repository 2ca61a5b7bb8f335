from orders.models.documents import DocumentKind, OrderDocument
from orders.models.fulfilment import HK_DISTRICTS, District, PickupPoint, PickupPointKind
from orders.models.orders import (
    Channel,
    Fulfilment,
    Order,
    OrderCounter,
    OrderLine,
    OrderQuerySet,
    OrderStatus,
)
from orders.models.payments import Payment, Refund, RefundStatus, Tender
from orders.models.returns import Disposition, Return, ReturnLine

__all__ = [
    "HK_DISTRICTS",
    "Channel",
    "Disposition",
    "District",
    "DocumentKind",
    "Fulfilment",
    "Order",
    "OrderCounter",
    "OrderDocument",
    "OrderLine",
    "OrderQuerySet",
    "OrderStatus",
    "Payment",
    "PickupPoint",
    "PickupPointKind",
    "Refund",
    "RefundStatus",
    "Return",
    "ReturnLine",
    "Tender",
]
