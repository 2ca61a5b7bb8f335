"""Reads of the order book used by views, the POS and reports."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _

from omo.errors import ValidationFailed
from omo.models import Location, User
from omo.scoping import branch_scope
from orders.exceptions import OrderNotFound
from orders.models import Order, Refund, Return


def order_detail_base(user: Any = None) -> QuerySet[Order]:
    """Orders with what their detail shows; with `user`, only those of the user's branches."""
    queryset = Order.objects.for_user(user) if user is not None else Order.objects.all()
    return queryset.select_related("location").prefetch_related(
        "lines", "payments", Prefetch("refunds", queryset=Refund.objects.select_related("return_record"))
    )


def order_list(user: Any) -> QuerySet[Order]:
    """Orders sold at, sent from or collected at the user's branches."""
    return Order.objects.for_user(user).select_related("location")


def order_get(user: Any, order_id: int) -> Order:
    order = order_detail_base(user).filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound(order_id=order_id)
    return order


def order_for_return(*, order_id: int | None = None, number: str = "") -> Order:
    """Any branch's order, for a return at this branch (a web order brought back to Mong Kok): staff only,
    which the view checks."""
    queryset = order_detail_base()
    order = (
        queryset.filter(pk=order_id) if order_id else queryset.filter(number__iexact=number.strip())
    ).first()
    if order is None:
        raise OrderNotFound(order_id=order_id, number=number)
    return order


def returns_list(user: Any) -> QuerySet[Return]:
    return (
        branch_scope(Return.objects.all(), user)
        .select_related("order")
        .prefetch_related(
            "lines__order_line", Prefetch("refunds", queryset=Refund.objects.select_related("return_record"))
        )
    )


def return_get(return_id: int) -> Return:
    """A return just made, with its lines and refunds, for the response (no branch filter: its maker asks)."""
    return (
        Return.objects.select_related("order")
        .prefetch_related(
            "lines__order_line", Prefetch("refunds", queryset=Refund.objects.select_related("return_record"))
        )
        .get(pk=return_id)
    )


def is_staff_user(user: Any) -> bool:
    return isinstance(user, User) and user.is_staff_member


def web_location() -> Location:
    """Where web orders are booked (and numbered): WEB_LOCATION_CODE, else the first location that ships."""
    code = getattr(settings, "WEB_LOCATION_CODE", "")
    queryset = Location.objects.filter(is_active=True)
    location = (
        (queryset.filter(code=code) if code else queryset.filter(ships_orders=True)).order_by("pk").first()
    )
    if location is None:
        raise ValidationFailed(_("The web shop is not set up: no location ships orders."))
    return location
