"""A signed-in web shop customer's own orders, from every channel (a POS sale booked to their member too).

Session-only, for a customer with a member (members.api.me.IsSignedInCustomer). Only orders whose member is
the caller's member are found: another customer's order number answers 404, the same as a number that does
not exist. The output leaves out what is for staff only (cashier, staff, internal note, payment providers).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.api.fields import HkdField
from members.api.me import MeBaseApi
from members.models import Member
from omo.api.serializers import ErrorOutput
from orders.api.serializers import MONEY_FIELDS, OrderLineOutput, OrderMoneyOutput, OrderOutput
from orders.exceptions import OrderNotFound
from orders.models import Order, Payment, Refund


def my_orders(member: Member) -> QuerySet[Order]:
    """The member's orders, newest first."""
    return Order.objects.filter(member=member).select_related("location", "pickup_location", "pickup_point")


def my_order_get(member: Member, number: str) -> Order:
    """One of the member's orders by its number (any case); OrderNotFound for any other."""
    order = (
        my_orders(member)
        .prefetch_related(
            "lines",
            Prefetch("payments", queryset=Payment.objects.order_by("id")),
            Prefetch("refunds", queryset=Refund.objects.order_by("id")),
        )
        .filter(number__iexact=number.strip())
        .first()
    )
    if order is None:
        raise OrderNotFound(number=number)
    return order


class MyPaymentOutput(serializers.ModelSerializer[Payment]):
    amount = HkdField(read_only=True)

    class Meta:
        model = Payment
        fields = ["tender", "amount", "created_at"]


class MyRefundOutput(serializers.ModelSerializer[Refund]):
    amount = HkdField(read_only=True)

    class Meta:
        model = Refund
        fields = ["tender", "amount", "status", "created_at"]


class MyOrderListOutput(OrderMoneyOutput):
    location_code = serializers.CharField(source="location.code")
    location_name_en = serializers.CharField(source="location.name_en")
    location_name_zh_hant = serializers.CharField(source="location.name_zh_hant")

    class Meta:
        model = Order
        fields = [
            "number",
            "channel",
            "fulfilment",
            "status",
            "location_code",
            "location_name_en",
            "location_name_zh_hant",
            "total",
            "placed_at",
        ]


class MyOrderOutput(MyOrderListOutput):
    pickup_location_code = serializers.CharField(source="pickup_location.code", default=None)
    pickup_point_code = serializers.CharField(source="pickup_point.code", default=None)
    lines = OrderLineOutput(many=True)
    payments = MyPaymentOutput(many=True)
    refunds = MyRefundOutput(many=True)
    balance = serializers.SerializerMethodField()
    receipt_url = serializers.SerializerMethodField()

    class Meta(MyOrderListOutput.Meta):
        fields = [
            *MyOrderListOutput.Meta.fields,
            *MONEY_FIELDS,
            "balance",
            "discount_reason",
            "pickup_location_code",
            "pickup_point_code",
            "ship_name",
            "ship_phone",
            "ship_address",
            "ship_district",
            "tracking_number",
            "pickup_code",
            "pickup_deadline",
            "language",
            "paid_at",
            "ready_at",
            "fulfilled_at",
            "completed_at",
            "cancelled_at",
            "lines",
            "payments",
            "refunds",
            "receipt_url",
        ]

    def get_balance(self, order: Order) -> str:
        return str(max(order.total.amount - order.paid.amount, 0))

    def get_receipt_url(self, order: Order) -> str:
        return OrderOutput.receipt_link(order)


class MyOrderListApi(MeBaseApi, ListAPIView[Order]):
    """The signed-in customer's orders, newest first (paginated)."""

    serializer_class = MyOrderListOutput
    filter_backends: list[Any] = []

    @extend_schema(responses={200: MyOrderListOutput(many=True), 403: ErrorOutput})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Order]:
        return my_orders(self.member)


class MyOrderDetailApi(MeBaseApi):
    """One of the signed-in customer's orders; any other number is 404."""

    @extend_schema(responses={200: MyOrderOutput, 403: ErrorOutput, 404: ErrorOutput})
    def get(self, request: Request, number: str) -> Response:
        return Response(MyOrderOutput(my_order_get(self.member, number)).data)
