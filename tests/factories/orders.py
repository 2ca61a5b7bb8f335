"""Orders built directly (not through the placing service), with totals that add up.

`OrderFactory()` makes a paid POS order of one line, paid in cash. Lines and payments are given as lists of
keyword dicts; a payment without an amount pays what is left:

    OrderFactory(
        lines=[{"qty": 2, "unit_price": "120", "discount": "20", "discount_reason": "Staff"}],
        payments=[{"tender": Tender.CARD, "amount": "100", "reference": "T1"}, {"tender": Tender.CASH}],
        discount="10",
    )

Invariants kept: line.total = qty × unit_price − discount; order.subtotal = Σ line totals;
order.total = subtotal − discount + shipping_fee + rounding; order.paid = Σ payment amounts;
order.refunded = Σ refund amounts. Lines or payments made later with their own factories need
`order_totals_refresh(order)`.
"""

from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone
from djmoney.money import Money
from factory.django import DjangoModelFactory

from omo.models import Location
from orders.models import (
    Channel,
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Refund,
    RefundStatus,
    Tender,
)
from tests.factories.catalog import VariantFactory
from tests.factories.omo import LocationFactory


def hkd(amount: Any) -> Money:
    return Money(Decimal(str(amount)), "HKD")


ZERO = Decimal("0")


class OrderFactory(DjangoModelFactory[Order]):
    class Meta:
        model = Order
        skip_postgeneration_save = True

    location = factory.SubFactory(LocationFactory)
    number = factory.LazyAttributeSequence(lambda o, n: f"{o.location.code}-{n + 1:06d}")
    channel = Channel.POS
    fulfilment = Fulfilment.IN_STORE
    status = OrderStatus.PAID
    fulfil_from = factory.SelfAttribute("location")
    language = "zh-hant"
    subtotal = factory.LazyFunction(lambda: hkd(0))
    discount = factory.LazyFunction(lambda: hkd(0))
    shipping_fee = factory.LazyFunction(lambda: hkd(0))
    rounding = factory.LazyFunction(lambda: hkd(0))
    total = factory.LazyFunction(lambda: hkd(0))
    paid = factory.LazyFunction(lambda: hkd(0))
    refunded = factory.LazyFunction(lambda: hkd(0))
    placed_at = factory.LazyFunction(timezone.now)
    paid_at = factory.LazyAttribute(lambda o: o.placed_at if o.status != OrderStatus.PLACED else None)

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        # Plain numbers or strings for money fields are HKD.
        for field in ("discount", "shipping_fee", "rounding"):
            if not isinstance(kwargs.get(field), Money):
                kwargs[field] = hkd(kwargs.get(field) or 0)
        return kwargs

    @factory.post_generation
    def lines(self, create: bool, extracted: list[dict[str, Any]] | None, **kwargs: Any) -> None:
        if not create:
            return
        for position, values in enumerate(extracted if extracted is not None else [{}], start=1):
            OrderLineFactory(order=self, position=position, **values)
        order_totals_refresh(self)

    @factory.post_generation
    def payments(self, create: bool, extracted: list[dict[str, Any]] | None, **kwargs: Any) -> None:
        if not create:
            return
        for values in extracted if extracted is not None else [{}]:
            values = dict(values)
            if "amount" not in values:
                values["amount"] = self.total.amount - sum(
                    (p.amount.amount for p in self.payments.all()), ZERO
                )
                if values["amount"] <= 0:
                    continue  # nothing left to pay (e.g. an order without lines)
            PaymentFactory(order=self, **values)
        order_totals_refresh(self)


class OrderLineFactory(DjangoModelFactory[OrderLine]):
    """A line snapshot of a variant. Makes its own order only when none is given (that order then has two
    lines: pass `order=` in tests that count them)."""

    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory, lines=[], payments=[])
    position = factory.Sequence(lambda n: n + 100)
    variant = factory.SubFactory(VariantFactory)
    sku = factory.LazyAttribute(lambda o: o.variant.sku)
    name_en = factory.LazyAttribute(lambda o: o.variant.product.name_en)
    name_zh_hant = factory.LazyAttribute(lambda o: o.variant.product.name_zh_hant)
    options = factory.LazyAttribute(lambda o: dict(o.variant.option_values))
    qty = 1
    unit_price = factory.LazyAttribute(lambda o: o.variant.price)
    list_price = factory.LazyAttribute(lambda o: o.unit_price)
    discount = 0
    total = None  # always computed, below

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        for field in ("unit_price", "list_price", "discount"):
            if not isinstance(kwargs[field], Money):
                kwargs[field] = hkd(kwargs[field])
        # Recomputed here too, so a given unit_price or discount can never leave a wrong total.
        kwargs["total"] = kwargs["unit_price"] * kwargs["qty"] - kwargs["discount"]
        return kwargs


class PaymentFactory(DjangoModelFactory[Payment]):
    """A payment; cash is tendered exactly unless `tendered` is given (then `change` is the difference)."""

    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory, payments=[])
    tender = Tender.CASH
    amount = factory.LazyAttribute(lambda o: o.order.total)
    tendered = None  # cash: the amount unless given; other tenders: 0
    change = None  # always computed, below
    refunded = 0
    provider = "manual"

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        cash = kwargs["tender"] == Tender.CASH
        if kwargs["tendered"] is None:
            kwargs["tendered"] = kwargs["amount"] if cash else 0
        for field in ("amount", "tendered", "refunded"):
            if not isinstance(kwargs[field], Money):
                kwargs[field] = hkd(kwargs[field])
        kwargs["change"] = kwargs["tendered"] - kwargs["amount"] if cash else hkd(0)
        return kwargs


def refund_add(
    order: Order,
    amount: Any,
    *,
    payment: Payment | None = None,
    location: Location | None = None,
    status: str = RefundStatus.DONE,
    reference: str = "",
) -> Refund:
    """A refund against `payment` (the order's first by default), with the payment's, the order's refunded
    amount and the order's status kept in step."""
    payment = payment or order.payments.order_by("id").first()
    assert payment is not None, "refund_add needs a paid order"
    refund = Refund.objects.create(
        order=order,
        payment=payment,
        tender=payment.tender,
        amount=hkd(amount),
        status=status,
        reference=reference,
        location=location or order.location,
    )
    payment.refunded += hkd(amount)
    payment.save(update_fields=["refunded"])
    order_totals_refresh(order)
    return refund


def order_totals_refresh(order: Order) -> Order:
    """Recomputes subtotal, total, paid and refunded from the rows, and the status from the money."""
    subtotal = sum((line.total.amount for line in OrderLine.objects.filter(order=order)), ZERO)
    order.subtotal = hkd(subtotal)
    order.total = hkd(subtotal) - order.discount + order.shipping_fee + order.rounding
    order.paid = hkd(sum((p.amount.amount for p in Payment.objects.filter(order=order)), ZERO))
    order.refunded = hkd(sum((r.amount.amount for r in Refund.objects.filter(order=order)), ZERO))
    if order.refunded.amount and order.refunded >= order.paid:
        order.status = OrderStatus.REFUNDED
    elif order.refunded.amount:
        order.status = OrderStatus.PARTLY_REFUNDED
    order.save(update_fields=["subtotal", "total", "paid", "refunded", "status"])
    return order
