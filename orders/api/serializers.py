"""Order API: inputs check the shape of a request; the services check its meaning (stock, money, who)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money
from rest_framework import serializers

from catalog.api.fields import MAX_QTY, HkdField, IdField, price_field
from orders.models import (
    Channel,
    Disposition,
    District,
    DocumentKind,
    Fulfilment,
    Order,
    OrderLine,
    Payment,
    PickupPoint,
    Refund,
    Return,
    ReturnLine,
    Tender,
)

MAX_LINES = 200


class DiscountInput(serializers.Serializer[dict]):
    amount = price_field(required=False, allow_null=True)
    percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=200)


class LineInput(serializers.Serializer[dict]):
    variant = IdField(required=False, help_text="The SKU's id (or give `sku`).")
    sku = serializers.CharField(
        max_length=64, required=False, help_text="A SKU or barcode (or give `variant`)."
    )
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY)
    unit_price = price_field(
        required=False, allow_null=True, help_text="A price override (staff; may need a manager)."
    )
    discount = DiscountInput(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("variant" in attrs) == ("sku" in attrs):
            raise serializers.ValidationError(_("Give either variant (an id) or sku (a SKU or barcode)."))
        return attrs


class PaymentInput(serializers.Serializer[dict]):
    tender = serializers.ChoiceField(choices=Tender.choices)
    amount = HkdField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="What this tender pays; cash may leave it out (it settles the rest).",
    )
    tendered = HkdField(required=False, allow_null=True, min_value=0, help_text="Cash handed over.")
    reference = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Terminal or wallet reference. Never a card number.",
    )


class ShipToInput(serializers.Serializer[dict]):
    name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=32)
    address = serializers.CharField(max_length=255)
    district = serializers.ChoiceField(choices=District.choices)


class ApprovalInput(serializers.Serializer[dict]):
    """A manager approves on the same iPad with their username and PIN."""

    username = serializers.CharField(max_length=150)
    pin = serializers.CharField(max_length=12, trim_whitespace=False)


class OrderCreateInput(serializers.Serializer[dict]):
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.POS)
    location = IdField()
    fulfilment = serializers.ChoiceField(choices=Fulfilment.choices, default=Fulfilment.IN_STORE)
    member = IdField(required=False, allow_null=True)
    customer_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    customer_phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    customer_email = serializers.EmailField(required=False, allow_blank=True, default="")
    staff = IdField(
        required=False, allow_null=True, help_text="The staff member credited (default: the cashier)."
    )
    lines: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=LineInput(), min_length=1, max_length=MAX_LINES
    )
    payments: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=PaymentInput(), required=False, default=list, max_length=10
    )
    discount = DiscountInput(required=False, allow_null=True)
    shipping_fee = price_field(required=False, allow_null=True)
    ship_to = ShipToInput(required=False, allow_null=True)
    fulfil_from = IdField(
        required=False, allow_null=True, help_text="Where the goods come from (endless aisle)."
    )
    pickup_location = IdField(required=False, allow_null=True)
    pickup_point = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    approval = ApprovalInput(required=False, allow_null=True)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(choices=["zh-hant", "en"], required=False, default="zh-hant")


class CheckoutInput(serializers.Serializer[dict]):
    """A web-shop order: delivery, branch pickup or locker; paid after placing (FPS QR and others)."""

    fulfilment = serializers.ChoiceField(choices=Fulfilment.choices, help_text="ship, pickup or locker.")
    lines: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=LineInput(), min_length=1, max_length=MAX_LINES
    )
    customer_name = serializers.CharField(max_length=100)
    customer_phone = serializers.CharField(max_length=32)
    customer_email = serializers.EmailField(required=False, allow_blank=True, default="")
    ship_to = ShipToInput(required=False, allow_null=True)
    pickup_location = IdField(required=False, allow_null=True)
    pickup_point = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(choices=["zh-hant", "en"], required=False, default="zh-hant")


class PayInput(serializers.Serializer[dict]):
    payments: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=PaymentInput(), min_length=1, max_length=10
    )


class ShipInput(serializers.Serializer[dict]):
    tracking_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class CancelInput(serializers.Serializer[dict]):
    reason = serializers.CharField(max_length=200)
    approval = ApprovalInput(required=False, allow_null=True, help_text="A manager's PIN for a paid order.")


class HandoverInput(serializers.Serializer[dict]):
    location = IdField()
    pickup_code = serializers.CharField(max_length=8)


class ReturnItemInput(serializers.Serializer[dict]):
    line = IdField(help_text="The order line's id.")
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY)
    disposition = serializers.ChoiceField(choices=Disposition.choices, default=Disposition.RESTOCK)
    stock_location = IdField(required=False, allow_null=True, help_text="Where it goes back to stock.")


class RefundInput(serializers.Serializer[dict]):
    tender = serializers.ChoiceField(choices=Tender.choices)
    amount = HkdField(min_value=0)
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class ReturnCreateInput(serializers.Serializer[dict]):
    order = IdField(required=False, help_text="The order's id (or give `order_number`).")
    order_number = serializers.CharField(max_length=20, required=False)
    location = IdField(help_text="The branch taking the goods back.")
    items: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=ReturnItemInput(), min_length=1, max_length=MAX_LINES
    )
    reason = serializers.CharField(max_length=200)
    refunds: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=RefundInput(),
        required=False,
        allow_null=True,
        max_length=10,
        help_text="Leave out to refund to the tenders paid with.",
    )
    approval = ApprovalInput(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("order" in attrs) == ("order_number" in attrs):
            raise serializers.ValidationError(_("Give either order (an id) or order_number."))
        return attrs


class ExchangeCreateInput(ReturnCreateInput):
    refunds = None  # type: ignore[assignment]
    lines: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=LineInput(), min_length=1, max_length=MAX_LINES
    )
    payments: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=PaymentInput(), required=False, default=list, max_length=10
    )


class ForReturnQuery(serializers.Serializer[dict]):
    number = serializers.CharField(max_length=20)


class EmailInput(serializers.Serializer[dict]):
    to = serializers.EmailField()
    kind = serializers.ChoiceField(choices=DocumentKind.choices, default=DocumentKind.RECEIPT)


# --- Output -------------------------------------------------------------------------------------------------


class OrderLineOutput(serializers.ModelSerializer[OrderLine]):
    variant = serializers.IntegerField(source="variant_id")
    unit_price = HkdField(read_only=True)
    list_price = HkdField(read_only=True)
    discount = HkdField(read_only=True)
    total = HkdField(read_only=True)

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "position",
            "variant",
            "sku",
            "name_en",
            "name_zh_hant",
            "options",
            "qty",
            "unit_price",
            "list_price",
            "discount",
            "discount_reason",
            "total",
            "returned_qty",
        ]


class PaymentOutput(serializers.ModelSerializer[Payment]):
    amount = HkdField(read_only=True)
    tendered = HkdField(read_only=True)
    change = HkdField(read_only=True)
    refunded = HkdField(read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "tender",
            "amount",
            "tendered",
            "change",
            "refunded",
            "provider",
            "reference",
            "created_at",
        ]


class RefundOutput(serializers.ModelSerializer[Refund]):
    amount = HkdField(read_only=True)
    return_number = serializers.CharField(source="return_record.number", default=None)

    class Meta:
        model = Refund
        fields = ["id", "tender", "amount", "status", "reference", "location", "return_number", "created_at"]


MONEY_FIELDS = ["subtotal", "discount", "shipping_fee", "rounding", "total", "paid", "refunded"]


class OrderMoneyOutput(serializers.ModelSerializer[Order]):
    """The order's money (MONEY_FIELDS) as HKD decimal strings, for every order output to build on."""

    subtotal = HkdField(read_only=True)
    discount = HkdField(read_only=True)
    shipping_fee = HkdField(read_only=True)
    rounding = HkdField(read_only=True)
    total = HkdField(read_only=True)
    paid = HkdField(read_only=True)
    refunded = HkdField(read_only=True)


class OrderOutput(OrderMoneyOutput):
    location_code = serializers.CharField(source="location.code")
    lines = OrderLineOutput(many=True)
    payments = PaymentOutput(many=True)
    balance = serializers.SerializerMethodField()
    change = serializers.SerializerMethodField()
    receipt_url = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "channel",
            "fulfilment",
            "status",
            "location",
            "location_code",
            "fulfil_from",
            "pickup_location",
            "pickup_point",
            "member",
            "customer_name",
            "customer_phone",
            "customer_email",
            "cashier",
            "staff",
            *MONEY_FIELDS,
            "balance",
            "change",
            "discount_reason",
            "ship_name",
            "ship_phone",
            "ship_address",
            "ship_district",
            "tracking_number",
            "pickup_code",
            "pickup_deadline",
            "exchange_of",
            "note",
            "language",
            "placed_at",
            "paid_at",
            "ready_at",
            "fulfilled_at",
            "completed_at",
            "cancelled_at",
            "cancel_reason",
            "lines",
            "payments",
            "receipt_url",
        ]

    def get_balance(self, order: Order) -> str:
        return str(max(order.total.amount - order.paid.amount, 0))

    def get_change(self, order: Order) -> str:
        return str(sum((p.change.amount for p in order.payments.all()), 0))

    def get_receipt_url(self, order: Order) -> str:
        return self.receipt_link(order)

    @staticmethod
    def receipt_link(order: Order) -> str:
        from orders.documents import document_link

        return document_link(order_id=order.pk, kind="receipt", language=order.language)


class OrderDetailOutput(OrderOutput):
    refunds = RefundOutput(many=True)

    class Meta(OrderOutput.Meta):
        fields = [*OrderOutput.Meta.fields, "refunds"]


class OrderListOutput(serializers.ModelSerializer[Order]):
    location_code = serializers.CharField(source="location.code")
    total = HkdField(read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "channel",
            "fulfilment",
            "status",
            "location",
            "location_code",
            "member",
            "customer_name",
            "customer_phone",
            "total",
            "placed_at",
        ]


class ReturnLineOutput(serializers.ModelSerializer[ReturnLine]):
    value = HkdField(read_only=True)
    sku = serializers.CharField(source="order_line.sku")

    class Meta:
        model = ReturnLine
        fields = ["id", "order_line", "sku", "qty", "disposition", "stock_location", "value"]


class ReturnOutput(serializers.ModelSerializer[Return]):
    order_number = serializers.CharField(source="order.number")
    value = HkdField(read_only=True)
    lines = ReturnLineOutput(many=True)
    refunds = RefundOutput(many=True)

    class Meta:
        model = Return
        fields = [
            "id",
            "number",
            "order",
            "order_number",
            "location",
            "reason",
            "value",
            "created_by",
            "approved_by",
            "created_at",
            "lines",
            "refunds",
        ]


class ExchangeOutput(serializers.Serializer[Any]):
    return_record = ReturnOutput(source="return")
    order = OrderOutput()


class PickupPointOutput(serializers.ModelSerializer[PickupPoint]):
    class Meta:
        model = PickupPoint
        fields = [
            "id",
            "code",
            "kind",
            "name_en",
            "name_zh_hant",
            "address_en",
            "address_zh_hant",
            "district",
            "opening_hours",
        ]


class PickupImportInput(serializers.Serializer[dict]):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(default=False)
    deactivate_missing = serializers.BooleanField(default=False)


# --- The sale's answer, fast ------------------------------------------------------------------------------
# A POS sale answers with the whole order. ModelSerializer builds its fields anew for every response, which
# costs more than the sale's SQL; `order_data` writes the same JSON as OrderOutput straight from the rows,
# reading the field lists of the serializers above (a test holds the two equal).

DATETIME = serializers.DateTimeField()


def plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return DATETIME.to_representation(value)
    if isinstance(value, Money):
        return str(value.amount)
    return value


def attnames(model: type[models.Model], names: list[str]) -> dict[str, str]:
    """The column attribute of each name that is a concrete field of the model (the rest are computed)."""
    found = {}
    for name in names:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if getattr(field, "concrete", False):
            found[name] = field.attname  # type: ignore[union-attr]
    return found


LINE_ATTRS = attnames(OrderLine, OrderLineOutput.Meta.fields)
PAYMENT_ATTRS = attnames(Payment, PaymentOutput.Meta.fields)
ORDER_ATTRS = attnames(Order, OrderOutput.Meta.fields)


def row_data(obj: models.Model, names: list[str], attrs: dict[str, str], **computed: Any) -> dict[str, Any]:
    return {name: computed[name] if name in computed else plain(getattr(obj, attrs[name])) for name in names}


def order_data(order: Order) -> dict[str, Any]:
    """OrderOutput(order).data, built without DRF's per-response field building (the sale's hot path)."""
    payments = list(order.payments.all())
    return row_data(
        order,
        OrderOutput.Meta.fields,
        ORDER_ATTRS,
        location_code=order.location.code,
        balance=str(max(order.total.amount - order.paid.amount, 0)),
        change=str(sum((p.change.amount for p in payments), 0)),
        receipt_url=OrderOutput.receipt_link(order),
        lines=[
            row_data(line, OrderLineOutput.Meta.fields, LINE_ATTRS, variant=line.variant_id)
            for line in order.lines.all()
        ],
        payments=[row_data(p, PaymentOutput.Meta.fields, PAYMENT_ATTRS) for p in payments],
    )
