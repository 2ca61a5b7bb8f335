"""order_pay: web and phone orders paid after placing, at once or in parts; holds and their expiry."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Variant
from inventory.models import Reservation, ReservationStatus
from inventory.selectors import stock_verify
from inventory.services import reservations_expire
from omo.errors import ValidationFailed
from omo.models import Location, OutboxMessage, User
from orders.exceptions import (
    CheckoutExpired,
    IllegalTransition,
    OrderNotFound,
    PaymentMismatch,
    TenderUnavailable,
)
from orders.models import Order, OrderStatus, Payment
from orders.pricing import Discount
from orders.services import LineInput, ShipTo, order_pay, order_place
from tests.factories.inventory import level
from tests.factories.omo import event_sent
from tests.orders.conftest import cash, lines, pay

HOME = ShipTo(name="陳小姐", phone="91234567", address="香港銅鑼灣軒尼詩道500號 12樓A室", district="wan_chai")


@pytest.fixture(autouse=True)
def _ledger_proved(db: None):
    yield
    assert stock_verify()[1] == []


def phone_order(cashier: User, branch: Location, variant: Variant, *, off: str = "0.47") -> Order:
    """A phone order to collect at the branch, unpaid, at HK$199 less `off` (198.53 by default)."""
    line = LineInput(variant_id=variant.pk, qty=1, discount=Discount(amount=Decimal(off), reason="scuff"))
    return order_place(
        actor=cashier, channel="phone", location_id=branch.pk, lines=[line], fulfilment="pickup"
    )


def web_order(customer: User, shop: dict[str, Location], *pairs: tuple[Variant, int]) -> Order:
    return order_place(
        actor=customer,
        channel="web",
        location_id=shop["kc"].pk,
        lines=lines(*pairs),
        fulfilment="ship",
        ship_to=HOME,
    )


def holds(order: Order) -> list[Reservation]:
    return list(Reservation.objects.filter(pk__in=order.lines.values_list("reservation_id", flat=True)))


def test_phone_order_paid_in_parts_fps_then_cash_with_rounding(cwb_cashier, shop, dress):
    order = phone_order(cwb_cashier, shop["cwb"], dress[0])
    assert (order.status, order.total.amount) == (OrderStatus.PLACED, Decimal("198.53"))
    (hold,) = holds(order)
    assert hold.source == "staff_hold" and hold.expires_at is not None

    order = order_pay(order_id=order.pk, payments=[pay("fps", "100", "FPS-1")], actor=cwb_cashier)
    assert (order.status, order.paid.amount, order.total.amount) == (
        OrderStatus.PLACED,
        Decimal("100.00"),
        Decimal("198.53"),
    )
    hold.refresh_from_db()
    assert hold.expires_at is not None  # a part payment keeps the hold as it was
    assert not event_sent("order.paid")

    order = order_pay(order_id=order.pk, payments=[cash("100")], actor=cwb_cashier)
    assert order.status == OrderStatus.PAID and order.paid_at is not None
    order.refresh_from_db()
    assert (order.paid.amount, order.rounding.amount, order.total.amount) == (
        Decimal("198.50"),
        Decimal("-0.03"),
        Decimal("198.50"),
    )
    assert order.total.amount == (
        order.subtotal.amount - order.discount.amount + order.shipping_fee.amount + order.rounding.amount
    )
    cash_row = order.payments.get(tender="cash")
    assert (cash_row.amount.amount, cash_row.tendered.amount, cash_row.change.amount) == (
        Decimal("98.50"),
        Decimal("100.00"),
        Decimal("1.50"),
    )
    assert cash_row.created_by == cwb_cashier
    assert sorted(order.payments.values_list("tender", flat=True)) == ["cash", "fps"]
    hold.refresh_from_db()
    assert (hold.status, hold.expires_at) == (ReservationStatus.ACTIVE, None)  # lasts until collected
    assert level(dress[0], shop["cwb"]) == (5, 1)
    assert event_sent("order.paid", id=order.pk)
    assert OutboxMessage.objects.filter(
        task_name="orders.tasks.order_documents_render_task", kwargs__order_id=order.pk
    ).exists()


def test_web_order_paid_by_fps_callback_makes_every_hold_last(customer, shop, dress):
    order = web_order(customer, shop, (dress[0], 1), (dress[1], 2))
    assert {h.source for h in holds(order)} == {"web_checkout"}
    assert all(h.expires_at is not None for h in holds(order))

    # The payment provider's callback is system work: it passes a label, not a user.
    order = order_pay(order_id=order.pk, payments=[pay("fps", "597", "FPS-9")], actor="fps")

    assert order.status == OrderStatus.PAID
    assert [(h.status, h.expires_at) for h in holds(order)] == [(ReservationStatus.ACTIVE, None)] * 2
    assert order.payments.get().created_by is None
    assert level(dress[1], shop["kc"]) == (20, 2)


def test_overpaying_by_card_is_refused_and_records_nothing(cwb_cashier, shop, dress):
    order = phone_order(cwb_cashier, shop["cwb"], dress[0])
    with pytest.raises(PaymentMismatch):
        order_pay(order_id=order.pk, payments=[pay("card", "200", "T-1")], actor=cwb_cashier)
    order.refresh_from_db()
    assert (order.status, order.paid.amount) == (OrderStatus.PLACED, 0)
    assert not Payment.objects.filter(order=order).exists()
    assert holds(order)[0].expires_at is not None


def test_paying_a_paid_order_is_an_illegal_transition(cwb_cashier, shop, dress):
    order = phone_order(cwb_cashier, shop["cwb"], dress[0], off="0")
    order_pay(order_id=order.pk, payments=[pay("card", "199", "T-1")], actor=cwb_cashier)
    with pytest.raises(IllegalTransition):
        order_pay(order_id=order.pk, payments=[cash("10")], actor=cwb_cashier)
    assert Payment.objects.filter(order=order).count() == 1


@pytest.mark.parametrize(
    "payment", [pay("fps", "597", "FPS-2"), pay("fps", "100", "FPS-2")], ids=["in full", "in part"]
)
def test_paying_after_the_checkout_hold_ran_out_is_refused_and_records_nothing(
    payment, customer, shop, dress
):
    order = web_order(customer, shop, (dress[0], 1), (dress[1], 2))
    first, _second = holds(order)
    Reservation.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    with pytest.raises(CheckoutExpired):
        order_pay(order_id=order.pk, payments=[payment], actor="fps")

    order.refresh_from_db()
    assert (order.status, order.paid.amount) == (OrderStatus.PLACED, 0)
    assert not Payment.objects.filter(order=order).exists()
    # Nothing was kept either: the live hold still runs out like a checkout's.
    assert all(h.expires_at is not None for h in holds(order))


def test_paying_after_the_expiry_task_swept_the_hold_is_refused(customer, shop, dress):
    order = web_order(customer, shop, (dress[0], 1))
    Reservation.objects.filter(pk=holds(order)[0].pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert reservations_expire() == 1
    assert level(dress[0], shop["kc"]) == (20, 0)

    with pytest.raises(CheckoutExpired):
        order_pay(order_id=order.pk, payments=[pay("fps", "199", "FPS-3")], actor="fps")
    assert not Payment.objects.filter(order=order).exists()
    assert holds(order)[0].status == ReservationStatus.EXPIRED


def test_a_cashier_of_another_branch_does_not_find_the_order(cwb_cashier, mk_cashier, shop, dress):
    order = phone_order(cwb_cashier, shop["cwb"], dress[0])
    with pytest.raises(OrderNotFound):
        order_pay(order_id=order.pk, payments=[cash("200")], actor=mk_cashier)
    assert not Payment.objects.filter(order=order).exists()


def test_bad_payments_are_refused(cwb_cashier, shop, dress):
    order = phone_order(cwb_cashier, shop["cwb"], dress[0])
    with pytest.raises(ValidationFailed):
        order_pay(order_id=order.pk, payments=[], actor=cwb_cashier)
    with pytest.raises(TenderUnavailable):
        order_pay(order_id=order.pk, payments=[pay("points", "10")], actor=cwb_cashier)
    with pytest.raises(ValidationFailed):
        order_pay(order_id=order.pk, payments=[pay("card", "10", "4111 1111 1111 1111")], actor=cwb_cashier)
    assert not Payment.objects.filter(order=order).exists()


def test_a_phone_pickup_paid_later_becomes_click_and_collect_and_leaves_the_staff_holds(
    cwb_cashier, shop, dress
):
    from inventory.selectors import staff_holds_list

    order = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=shop["cwb"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="pickup",
        pickup_location_id=shop["cwb"].pk,
        customer_phone="91234567",
    )
    hold = Reservation.objects.get(pk=order.lines.get().reservation_id)
    assert hold.source == "staff_hold"
    assert [h.pk for h in staff_holds_list(cwb_cashier, location_id=shop["cwb"].pk)] == [hold.pk]
    order_pay(order_id=order.pk, actor=cwb_cashier, payments=[pay("fps", "199.00", "FPS-9")])
    hold.refresh_from_db()
    assert (hold.source, hold.expires_at) == ("click_collect", None)
    assert list(staff_holds_list(cwb_cashier, location_id=shop["cwb"].pk)) == []
