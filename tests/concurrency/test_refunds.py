"""Concurrent returns of one order against real PostgreSQL: goods come back once, money goes back once.

Each client is a thread with its own database connection, all released together at a barrier (the pattern of
test_no_oversell). Without the order's row lock (orders.locks.order_lock) every client would read the order
before any of them wrote: all of them would pass the checks, return the goods and refund the money (or trip
over one another's return number).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db.models import Sum

from catalog.models import Variant
from inventory.models import StockLevel, StockMovement
from inventory.selectors import stock_verify
from omo.models import Location, User
from orders.exceptions import RefundExceedsPaid, ReturnNotAllowed
from orders.models import Order, OrderStatus, Payment, Refund, Return, ReturnLine
from orders.pricing import Discount
from orders.services import LineInput, RefundInput, ReturnItem, order_place, order_return
from orders.tenders import PaymentInput
from tests.concurrency.racing import errors_of, race
from tests.factories.inventory import receive, sized_product, staff

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

CLIENTS = 12


@pytest.fixture
def dress(cwb: Location) -> list[Variant]:
    sizes = sized_product(("S", "M"), prefix="DRESS")
    for variant in sizes:
        receive(variant, cwb, 10)
    return sizes


@pytest.fixture
def cashiers(cwb: Location, mk: Location) -> list[User]:
    """Staff of both branches: a return may be taken at any branch."""
    return [staff(f"cashier-{n}", "cashier", cwb if n % 2 else mk) for n in range(CLIENTS)]


def sold(cashier: User, cwb: Location, dress: list[Variant]) -> Order:
    """3 × S and 1 × M at HK$199 less a 5% order discount (HK$756.20), paid by card and cash."""
    return order_place(
        actor=cashier,
        channel="pos",
        location_id=cwb.pk,
        lines=[LineInput(variant_id=dress[0].pk, qty=3), LineInput(variant_id=dress[1].pk, qty=1)],
        discount=Discount(percent=Decimal(5), reason="VIP"),
        payments=[
            PaymentInput(tender="card", amount=Decimal("500"), reference="T-1"),
            PaymentInput(tender="cash", tendered=Decimal("300")),
        ],
    )


def on_hand(variant: Variant, location: Location) -> int:
    row = StockLevel.objects.filter(variant=variant, location=location).first()
    return row.on_hand if row else 0


def test_many_clients_return_the_whole_order_at_once_only_one_does(
    cwb, mk, cwb_cashier, cwb_manager, cashiers, dress
):
    """Half the clients refund to the tenders paid with, half name the tenders (a manager approving): the
    first one takes everything back, every other one is told there is nothing left to return."""
    order = sold(cwb_cashier, cwb, dress)
    lines = list(order.lines.order_by("position"))
    assert order.paid.amount == Decimal("756.20")
    named = [
        RefundInput(tender="card", amount=Decimal("500")),
        RefundInput(tender="cash", amount=Decimal("256.20")),
    ]

    def client(index: int, cashier: User) -> Callable[[], str]:
        def run() -> str:
            branch = next(iter(cashier.branches.all()))
            order_return(
                order_id=order.pk,
                actor=cashier,
                location_id=branch.pk,
                reason="all of it",
                items=[ReturnItem(line_id=line.pk, qty=line.qty, stock_location_id=cwb.pk) for line in lines],
                refunds=named if index % 2 else None,
                approver=cwb_manager,
            )
            return "returned"

        return run

    outcomes = race([client(index, cashier) for index, cashier in enumerate(cashiers)])

    assert errors_of(outcomes, ReturnNotAllowed, RefundExceedsPaid) == []
    assert outcomes.count("returned") == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded == order.paid
    assert Return.objects.filter(order=order).count() == 1
    assert Refund.objects.filter(order=order).aggregate(total=Sum("amount"))["total"] == order.paid.amount
    for payment in Payment.objects.filter(order=order):
        assert payment.refunded == payment.amount
    assert (on_hand(dress[0], cwb), on_hand(dress[1], cwb)) == (10, 10)  # back once, not 12 times
    assert StockMovement.objects.filter(kind="return").count() == 2
    assert stock_verify()[1] == []


def test_many_clients_refund_the_full_value_one_unit_at_a_time(cwb, mk, cwb_cashier, cashiers, dress):
    """Each client returns one unit of the 3-unit line, refunded by hand to the card: three win, and the
    refunds add up to the line's share of what was paid, never more."""
    order = sold(cwb_cashier, cwb, dress)
    line = order.lines.get(position=1)

    def client(cashier: User) -> Callable[[], str]:
        def run() -> str:
            branch = next(iter(cashier.branches.all()))
            record = order_return(
                order_id=order.pk,
                actor=cashier,
                location_id=branch.pk,
                reason="one back",
                items=[ReturnItem(line_id=line.pk, qty=1)],
            )
            return str(record.value.amount)

        return run

    outcomes = race([client(cashier) for cashier in cashiers])

    assert errors_of(outcomes, ReturnNotAllowed, RefundExceedsPaid) == []
    won = [Decimal(o) for o in outcomes if isinstance(o, str)]
    assert len(won) == 3
    order.refresh_from_db()
    line.refresh_from_db()
    assert line.returned_qty == 3
    # 597.00 less its part of the 5% (29.85): 567.15, in three parts that add up to the cent.
    assert sum(won) == Decimal("567.15") == order.refunded.amount
    assert order.status == OrderStatus.PARTLY_REFUNDED and order.refunded <= order.paid
    assert ReturnLine.objects.filter(order_line=line).aggregate(qty=Sum("qty"))["qty"] == 3
    assert sum(on_hand(dress[0], location) for location in (cwb, mk)) == 10
    assert stock_verify()[1] == []


def test_explicit_refunds_racing_stop_at_what_was_paid(cwb, cwb_cashier, cwb_manager, dress):
    """12 clients each return one unit of a 6-unit sale with an explicit card refund of its price: six win,
    the rest are refused, and the card gets back exactly what it paid."""
    order = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=cwb.pk,
        lines=[LineInput(variant_id=dress[0].pk, qty=6)],
        payments=[PaymentInput(tender="card", amount=Decimal("1194"), reference="T-2")],
    )
    line = order.lines.get()

    def client() -> str:
        order_return(
            order_id=order.pk,
            actor=cwb_manager,
            location_id=cwb.pk,
            reason="goodwill",
            items=[ReturnItem(line_id=line.pk, qty=1)],
            refunds=[RefundInput(tender="card", amount=Decimal("199"))],
        )
        return "refunded"

    outcomes = race([client for _ in range(CLIENTS)])

    assert errors_of(outcomes, ReturnNotAllowed, RefundExceedsPaid) == []
    assert outcomes.count("refunded") == 6
    order.refresh_from_db()
    assert order.refunded == order.paid and order.status == OrderStatus.REFUNDED
    assert Payment.objects.get(order=order).refunded == order.paid
    assert on_hand(dress[0], cwb) == 10
    assert stock_verify()[1] == []
