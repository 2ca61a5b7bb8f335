"""Orders that ran out of time: pickups never collected, unpaid orders whose holds ran out (beat tasks)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Variant
from inventory.models import Reservation, ReservationStatus
from inventory.selectors import stock_verify
from inventory.services import reservations_expire
from omo.models import AuditLog, Location, User
from orders.models import Order, OrderStatus, Refund, RefundStatus
from orders.services import ShipTo, order_pay, order_place, order_ready
from orders.services.expiry import orders_uncollected_cancel, orders_unpaid_cancel
from orders.tasks import orders_uncollected_cancel_task, orders_unpaid_cancel_task
from tests.concurrency.test_refunds import errors_of, race
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level
from tests.factories.omo import event_sent
from tests.orders.conftest import lines, pay

HOME = ShipTo(name="陳小姐", phone="91234567", address="香港銅鑼灣軒尼詩道500號 12樓A室", district="wan_chai")


@pytest.fixture(autouse=True)
def _ledger_proved(db: None):
    yield
    assert stock_verify()[1] == []


def ready_pickup(customer: User, mk_cashier: User, shop: dict[str, Location], variant: Variant) -> Order:
    """A web order paid by FPS and waiting at Mong Kok."""
    order = order_place(
        actor=customer,
        channel="web",
        location_id=shop["kc"].pk,
        lines=lines((variant, 1)),
        fulfilment="pickup",
        pickup_location_id=shop["mk"].pk,
    )
    order_pay(order_id=order.pk, payments=[pay("fps", "199", "FPS-1")], actor="fps")
    return order_ready(order_id=order.pk, actor=mk_cashier)


def checkout(customer: User, shop: dict[str, Location], *pairs: tuple[Variant, int]) -> Order:
    return order_place(
        actor=customer,
        channel="web",
        location_id=shop["kc"].pk,
        lines=lines(*pairs),
        fulfilment="ship",
        ship_to=HOME,
    )


def run_out(order: Order) -> None:
    """The order's holds' time has passed (the expiry task may not have swept them yet)."""
    Reservation.objects.filter(reference=order.number).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


# --- Not collected ------------------------------------------------------------------------------------------


def test_uncollected_pickup_is_cancelled_its_stock_freed_and_its_payment_refunded(
    customer, mk_cashier, shop, dress
):
    late = ready_pickup(customer, mk_cashier, shop, dress[0])
    waiting = ready_pickup(customer, mk_cashier, shop, dress[1])
    Order.objects.filter(pk=late.pk).update(pickup_deadline=timezone.now() - timedelta(minutes=1))
    assert level(dress[0], shop["mk"]) == (5, 1)

    assert orders_uncollected_cancel() == 1

    late.refresh_from_db()
    assert (late.status, late.cancel_reason) == (OrderStatus.CANCELLED, "not collected")
    assert level(dress[0], shop["mk"]) == (5, 0)
    assert Reservation.objects.get(reference=late.number).status == ReservationStatus.RELEASED
    refund = Refund.objects.get(order=late)
    assert (refund.tender, refund.amount.amount, refund.status) == (
        "fps",
        Decimal("199.00"),
        RefundStatus.PENDING,
    )
    assert late.refunded == late.paid
    log = AuditLog.objects.get(action="order.cancel", object_id=str(late.pk))
    assert (log.actor, log.actor_label, log.reason) == (None, "system", "not collected")
    assert event_sent("order.cancelled", id=late.pk)
    assert status_of(waiting) == OrderStatus.READY and level(dress[1], shop["mk"]) == (5, 1)

    assert orders_uncollected_cancel() == 0  # a second run changes nothing
    assert Refund.objects.filter(order=late).count() == 1
    assert AuditLog.objects.filter(action="order.cancel").count() == 1


def test_uncollected_by_the_clock_given(customer, mk_cashier, shop, dress):
    order = ready_pickup(customer, mk_cashier, shop, dress[0])
    assert orders_uncollected_cancel(now=timezone.now() + timedelta(days=6)) == 0
    assert orders_uncollected_cancel(now=timezone.now() + timedelta(days=8)) == 1
    assert status_of(order) == OrderStatus.CANCELLED


def test_uncollected_in_batches(customer, mk_cashier, shop, dress):
    orders = [ready_pickup(customer, mk_cashier, shop, dress[n % 3]) for n in range(5)]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(
        pickup_deadline=timezone.now() - timedelta(hours=1)
    )
    assert orders_uncollected_cancel(batch_size=2) == 5
    assert {status_of(o) for o in orders} == {OrderStatus.CANCELLED}
    assert all(level(variant, shop["mk"]) == (5, 0) for variant in dress)


# --- Not paid in time ---------------------------------------------------------------------------------------


def test_unpaid_checkout_whose_hold_ran_out_is_cancelled(customer, shop, dress):
    late = checkout(customer, shop, (dress[0], 1), (dress[1], 2))
    live = checkout(customer, shop, (dress[2], 1))
    run_out(late)
    assert level(dress[1], shop["kc"]) == (20, 2)  # not swept yet: still held in the row

    assert orders_unpaid_cancel() == 1

    late.refresh_from_db()
    assert (late.status, late.cancel_reason) == (OrderStatus.CANCELLED, "not paid in time")
    assert level(dress[0], shop["kc"]) == (20, 0) and level(dress[1], shop["kc"]) == (20, 0)
    assert set(Reservation.objects.filter(reference=late.number).values_list("status", flat=True)) == {
        ReservationStatus.RELEASED
    }
    assert not Refund.objects.filter(order=late).exists()
    assert status_of(live) == OrderStatus.PLACED and level(dress[2], shop["kc"]) == (20, 1)
    assert orders_unpaid_cancel() == 0


def test_unpaid_checkout_whose_hold_was_swept_is_cancelled(customer, shop, dress):
    order = checkout(customer, shop, (dress[0], 1))
    run_out(order)
    assert reservations_expire() == 1

    assert orders_unpaid_cancel() == 1

    assert status_of(order) == OrderStatus.CANCELLED
    assert Reservation.objects.get(reference=order.number).status == ReservationStatus.EXPIRED  # not twice
    assert level(dress[0], shop["kc"]) == (20, 0)


def test_a_part_payment_on_an_expired_order_is_refunded_as_pending(cwb_cashier, shop, dress):
    order = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=shop["cwb"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="pickup",
    )
    order_pay(order_id=order.pk, payments=[pay("fps", "50", "FPS-DEP")], actor=cwb_cashier)
    run_out(order)

    assert orders_unpaid_cancel() == 1

    refund = Refund.objects.get(order=order)
    assert (refund.tender, refund.amount.amount, refund.status) == ("fps", Decimal("50.00"), "pending")
    assert level(dress[0], shop["cwb"]) == (5, 0)


def test_paid_and_live_orders_are_left_alone(customer, cwb_cashier, shop, dress):
    paid = checkout(customer, shop, (dress[0], 1))
    order_pay(order_id=paid.pk, payments=[pay("fps", "199", "FPS-4")], actor="fps")
    # A phone order whose staff hold was extended by staff lives as long as its hold, however old it is.
    phone = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=shop["cwb"].pk,
        lines=lines((dress[1], 1)),
        fulfilment="pickup",
    )
    Order.objects.filter(pk=phone.pk).update(placed_at=timezone.now() - timedelta(days=2))
    Reservation.objects.filter(reference=phone.number).update(expires_at=timezone.now() + timedelta(days=1))

    assert orders_unpaid_cancel() == 0
    assert orders_unpaid_cancel(now=timezone.now() + timedelta(hours=1)) == 0

    assert status_of(paid) == OrderStatus.PAID and status_of(phone) == OrderStatus.PLACED
    assert orders_unpaid_cancel(now=timezone.now() + timedelta(days=2)) == 1
    assert status_of(phone) == OrderStatus.CANCELLED
    assert level(dress[1], shop["cwb"]) == (5, 0)


def test_an_unpaid_order_holding_nothing_expires_with_its_age(customer, shop):
    gift_card = VariantFactory(sku="GIFT-100", price=Decimal("100.00"), track_inventory=False)
    order = checkout(customer, shop, (gift_card, 1))
    assert order.lines.get().reservation_id is None
    assert orders_unpaid_cancel() == 0
    assert orders_unpaid_cancel(now=timezone.now() + timedelta(minutes=16)) == 1
    assert status_of(order) == OrderStatus.CANCELLED


# --- The beat tasks -----------------------------------------------------------------------------------------


def test_the_tasks_call_the_services(customer, mk_cashier, shop, dress):
    ready = ready_pickup(customer, mk_cashier, shop, dress[0])
    Order.objects.filter(pk=ready.pk).update(pickup_deadline=timezone.now() - timedelta(minutes=1))
    unpaid = checkout(customer, shop, (dress[1], 1))
    run_out(unpaid)
    assert orders_uncollected_cancel_task() == 1
    assert orders_unpaid_cancel_task() == 1
    assert orders_uncollected_cancel_task() == 0 and orders_unpaid_cancel_task() == 0
    assert {status_of(ready), status_of(unpaid)} == {OrderStatus.CANCELLED}


# --- Two runs at once ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_runs_at_once_cancel_each_order_once(customer, mk_cashier, shop, dress):
    unpaid = [checkout(customer, shop, (dress[n % 3], 1)) for n in range(9)]
    for order in unpaid:
        run_out(order)
    ready = [ready_pickup(customer, mk_cashier, shop, dress[n % 3]) for n in range(6)]
    Order.objects.filter(pk__in=[o.pk for o in ready]).update(
        pickup_deadline=timezone.now() - timedelta(hours=1)
    )

    outcomes = race(
        [lambda: orders_unpaid_cancel(batch_size=2) for _ in range(4)]
        + [lambda: orders_uncollected_cancel(batch_size=2) for _ in range(4)]
    )

    assert errors_of(outcomes) == []
    assert sum(outcomes[:4]) == 9 and sum(outcomes[4:]) == 6
    assert {status_of(o) for o in unpaid + ready} == {OrderStatus.CANCELLED}
    assert AuditLog.objects.filter(action="order.cancel").count() == 15
    assert Refund.objects.count() == 6  # the paid pickups, once each
    assert all(
        level(variant, shop["kc"]) == (20, 0) and level(variant, shop["mk"]) == (5, 0) for variant in dress
    )
