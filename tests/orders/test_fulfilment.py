"""Fulfilment: ready, handover by pickup code, ship, locker, complete; and cancelling."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Variant
from inventory.models import Reservation, ReservationStatus, StockMovement
from inventory.selectors import stock_verify
from omo.errors import BranchAccessDenied, ValidationFailed
from omo.models import AuditLog, Location, User
from orders.exceptions import IllegalTransition, ManagerApprovalRequired, OrderNotFound, PickupCodeInvalid
from orders.models import Order, OrderStatus, PickupPoint, Refund, RefundStatus
from orders.services import (
    ShipTo,
    order_cancel,
    order_collected,
    order_complete,
    order_handover,
    order_pay,
    order_place,
    order_ready,
    order_ship,
)
from tests.factories.inventory import level, movements, staff
from tests.factories.omo import outbox_events
from tests.orders.conftest import cash, lines, pay

HOME = ShipTo(name="陳小姐", phone="91234567", address="香港銅鑼灣軒尼詩道500號 12樓A室", district="wan_chai")


@pytest.fixture(autouse=True)
def _ledger_proved(db: None):
    yield
    assert stock_verify()[1] == []


@pytest.fixture
def kc_staff(warehouse: Location) -> User:
    return staff("kc-packer", "cashier", warehouse)


@pytest.fixture
def locker(db: None) -> PickupPoint:
    return PickupPoint.objects.create(
        code="SF-WC-01",
        kind="sf_locker",
        name_en="SF Locker Wan Chai",
        name_zh_hant="順豐智能櫃 灣仔",
        district="wan_chai",
    )


def web_pickup(
    customer: User, shop: dict[str, Location], *pairs: tuple[Variant, int], at: str = "mk"
) -> Order:
    """A web order collected at a branch, from that branch's stock, unpaid."""
    return order_place(
        actor=customer,
        channel="web",
        location_id=shop["kc"].pk,
        lines=lines(*pairs),
        fulfilment="pickup",
        pickup_location_id=shop[at].pk,
        customer_name="Amy",
        customer_phone="61234567",
    )


def paid_web_pickup(customer: User, shop: dict[str, Location], *pairs: tuple[Variant, int]) -> Order:
    order = web_pickup(customer, shop, *pairs)
    return order_pay(order_id=order.pk, payments=[pay("fps", str(order.total.amount), "FPS-1")], actor="fps")


def endless_aisle(cashier: User, shop: dict[str, Location], variant: Variant, *payments) -> Order:
    """Sold at Causeway Bay, sent from the Kwai Chung warehouse."""
    return order_place(
        actor=cashier,
        channel="pos",
        location_id=shop["cwb"].pk,
        lines=lines((variant, 1)),
        fulfilment="ship",
        fulfil_from_id=shop["kc"].pk,
        ship_to=HOME,
        payments=list(payments) or [pay("fps", "199", "FPS-2")],
    )


def hold_of(order: Order) -> Reservation:
    return Reservation.objects.get(pk=order.lines.get().reservation_id)


def topics_of(order: Order) -> list[str]:
    return [topic for topic, payload in outbox_events() if payload.get("id") == order.pk]


# --- Click and collect --------------------------------------------------------------------------------------


def test_click_and_collect_from_paid_to_ready_to_picked_up(customer, mk_cashier, shop, dress):
    order = paid_web_pickup(customer, shop, (dress[0], 1))
    assert (order.fulfil_from_id, order.pickup_location_id) == (shop["mk"].pk, shop["mk"].pk)
    assert level(dress[0], shop["mk"]) == (5, 1)

    before = timezone.now()
    order = order_ready(order_id=order.pk, actor=mk_cashier)
    assert order.status == OrderStatus.READY and order.ready_at is not None
    assert before + timedelta(days=7) <= order.pickup_deadline <= timezone.now() + timedelta(days=7)
    assert "order.ready" in topics_of(order)

    order = order_handover(actor=mk_cashier, location_id=shop["mk"].pk, pickup_code=f" {order.pickup_code} ")

    order.refresh_from_db()
    assert order.status == OrderStatus.PICKED_UP and order.fulfilled_at is not None
    assert level(dress[0], shop["mk"]) == (4, 0)
    assert movements(dress[0], shop["mk"])[-1] == ("sale", -1, 4)
    assert StockMovement.objects.filter(reference=order.number, kind="sale").get().actor == mk_cashier
    assert hold_of(order).status == ReservationStatus.CONSUMED
    assert "order.fulfilled" in topics_of(order)
    assert level(dress[0], shop["cwb"]) == (5, 0)  # other branches untouched


def test_handover_by_staff_of_another_branch_is_refused(customer, cwb_cashier, mk_cashier, shop, dress):
    order = order_ready(order_id=paid_web_pickup(customer, shop, (dress[0], 1)).pk, actor=mk_cashier)
    with pytest.raises(BranchAccessDenied):
        order_handover(actor=cwb_cashier, location_id=shop["mk"].pk, pickup_code=order.pickup_code)
    with pytest.raises(PickupCodeInvalid):  # at their own branch, the code finds nothing waiting there
        order_handover(actor=cwb_cashier, location_id=shop["cwb"].pk, pickup_code=order.pickup_code)
    with pytest.raises(OrderNotFound):  # nor may they make it ready
        order_ready(order_id=order.pk, actor=cwb_cashier)
    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    assert level(dress[0], shop["mk"]) == (5, 1)


def test_a_wrong_or_empty_code_finds_nothing(customer, mk_cashier, shop, dress):
    order = order_ready(order_id=paid_web_pickup(customer, shop, (dress[0], 1)).pk, actor=mk_cashier)
    wrong = f"{(int(order.pickup_code) + 1) % 10**6:06d}"
    for code in (wrong, "", "   "):
        with pytest.raises(PickupCodeInvalid):
            order_handover(actor=mk_cashier, location_id=shop["mk"].pk, pickup_code=code)
    assert level(dress[0], shop["mk"]) == (5, 1)


def test_two_orders_waiting_with_one_code_are_not_guessed_between(customer, mk_cashier, shop, dress):
    first = order_ready(order_id=paid_web_pickup(customer, shop, (dress[0], 1)).pk, actor=mk_cashier)
    second = order_ready(order_id=paid_web_pickup(customer, shop, (dress[1], 1)).pk, actor=mk_cashier)
    Order.objects.filter(pk=second.pk).update(pickup_code=first.pickup_code)
    with pytest.raises(ValidationFailed):
        order_handover(actor=mk_cashier, location_id=shop["mk"].pk, pickup_code=first.pickup_code)
    order = order_handover(actor=mk_cashier, location_id=shop["mk"].pk, order_id=second.pk)
    assert order.status == OrderStatus.PICKED_UP


def test_an_unpaid_order_is_not_handed_over(customer, mk_cashier, shop, dress):
    order = web_pickup(customer, shop, (dress[0], 1))
    with pytest.raises(IllegalTransition):
        order_handover(actor=mk_cashier, location_id=shop["mk"].pk, order_id=order.pk)
    with pytest.raises(PickupCodeInvalid):
        order_handover(actor=mk_cashier, location_id=shop["mk"].pk, pickup_code=order.pickup_code)
    with pytest.raises(IllegalTransition):  # nor made ready before it is paid
        order_ready(order_id=order.pk, actor=mk_cashier)
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    assert level(dress[0], shop["mk"]) == (5, 1)
    assert hold_of(order).status == ReservationStatus.ACTIVE


def test_pay_at_the_counter_then_hand_over(customer, mk_cashier, shop, dress):
    order = web_pickup(customer, shop, (dress[2], 1))
    order_pay(order_id=order.pk, payments=[cash("200")], actor=mk_cashier)
    order_ready(order_id=order.pk, actor=mk_cashier)
    order = order_handover(actor=mk_cashier, location_id=shop["mk"].pk, order_id=order.pk)
    assert order.status == OrderStatus.PICKED_UP
    assert level(dress[2], shop["mk"]) == (4, 0)


def test_handover_at_the_wrong_branch_is_refused(customer, mk_cashier, shop, dress):
    order = order_ready(order_id=paid_web_pickup(customer, shop, (dress[0], 1)).pk, actor=mk_cashier)
    mk_cashier.branches.add(shop["cwb"])
    mk_cashier = User.objects.get(pk=mk_cashier.pk)
    with pytest.raises(IllegalTransition):
        order_handover(actor=mk_cashier, location_id=shop["cwb"].pk, order_id=order.pk)


# --- Shipping -----------------------------------------------------------------------------------------------


def test_endless_aisle_shipped_by_the_warehouse(cwb_cashier, kc_staff, shop, dress):
    order = endless_aisle(cwb_cashier, shop, dress[1])
    assert order.status == OrderStatus.PAID
    assert level(dress[1], shop["kc"]) == (20, 1)
    with pytest.raises(BranchAccessDenied):  # the selling branch sees it, but the warehouse ships it
        order_ship(order_id=order.pk, actor=cwb_cashier)

    order = order_ship(order_id=order.pk, actor=kc_staff, tracking_number=" SF1234567890 ")

    order.refresh_from_db()
    assert (order.status, order.tracking_number) == (OrderStatus.FULFILLED, "SF1234567890")
    assert order.fulfilled_at is not None
    assert level(dress[1], shop["kc"]) == (19, 0)
    assert movements(dress[1], shop["kc"])[-1] == ("sale", -1, 19)
    assert level(dress[1], shop["cwb"]) == (5, 0)
    assert hold_of(order).status == ReservationStatus.CONSUMED
    assert "order.fulfilled" in topics_of(order)
    with pytest.raises(IllegalTransition):
        order_ship(order_id=order.pk, actor=kc_staff)
    assert level(dress[1], shop["kc"]) == (19, 0)

    order = order_complete(order_id=order.pk, actor=kc_staff)
    assert order.status == OrderStatus.COMPLETED and order.completed_at is not None


def test_an_unpaid_delivery_is_not_shipped(cwb_cashier, kc_staff, shop, dress):
    order = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=shop["cwb"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="ship",
        fulfil_from_id=shop["kc"].pk,
        ship_to=HOME,
    )
    with pytest.raises(IllegalTransition):
        order_ship(order_id=order.pk, actor=kc_staff)
    assert level(dress[0], shop["kc"]) == (20, 1)


def test_locker_order_ships_to_ready_then_is_collected(customer, kc_staff, shop, dress, locker):
    order = order_place(
        actor=customer,
        channel="web",
        location_id=shop["kc"].pk,
        lines=lines((dress[2], 2)),
        fulfilment="locker",
        pickup_point_code=locker.code,
    )
    order = order_pay(order_id=order.pk, payments=[pay("payme", "398", "PM-1")], actor="payme")
    with pytest.raises(IllegalTransition):  # a locker order is ready by being shipped, not by a branch
        order_ready(order_id=order.pk, actor=kc_staff)
    assert level(dress[2], shop["kc"]) == (20, 2)

    order = order_ship(order_id=order.pk, actor=kc_staff, tracking_number="SF-9")
    assert order.status == OrderStatus.READY
    assert level(dress[2], shop["kc"]) == (18, 0)
    assert movements(dress[2], shop["kc"])[-1] == ("sale", -2, 18)
    assert "order.ready" in topics_of(order)
    with pytest.raises(IllegalTransition):  # the parcel has left: it comes back as a return, if at all
        order_cancel(order_id=order.pk, actor="system", reason="changed mind")
    with pytest.raises(IllegalTransition):
        order_handover(actor=kc_staff, location_id=shop["kc"].pk, order_id=order.pk)

    order = order_collected(order_id=order.pk, actor="sf-express")  # the carrier's webhook
    assert order.status == OrderStatus.PICKED_UP and order.fulfilled_at is not None
    assert level(dress[2], shop["kc"]) == (18, 0)
    with pytest.raises(IllegalTransition):
        order_collected(order_id=order.pk, actor="sf-express")


# --- Illegal moves ------------------------------------------------------------------------------------------


def test_illegal_moves_are_refused(cwb_cashier, cwb_manager, kc_staff, customer, shop, dress):
    placed = web_pickup(customer, shop, (dress[0], 1), at="cwb")
    with pytest.raises(IllegalTransition) as error:
        order_complete(order_id=placed.pk, actor=cwb_manager)
    assert error.value.extra == {"current": "placed", "requested": "completed"}
    sale = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=shop["cwb"].pk,
        lines=lines((dress[0], 1)),
        payments=[cash("200")],
    )
    assert sale.status == OrderStatus.COMPLETED
    with pytest.raises(IllegalTransition):
        order_ready(order_id=sale.pk, actor=cwb_cashier)
    with pytest.raises(IllegalTransition):
        order_ship(order_id=sale.pk, actor=cwb_cashier)
    with pytest.raises(IllegalTransition):
        order_collected(order_id=sale.pk, actor=cwb_cashier)
    with pytest.raises(IllegalTransition):
        order_cancel(order_id=sale.pk, actor=cwb_manager, reason="oops")
    shipped = endless_aisle(cwb_cashier, shop, dress[0])
    with pytest.raises(IllegalTransition):  # a delivery is never "ready" at a branch
        order_ready(order_id=shipped.pk, actor=cwb_cashier)
    with pytest.raises(IllegalTransition):
        order_complete(order_id=shipped.pk, actor=cwb_cashier)  # not sent yet
    for order in (placed, sale, shipped):
        before = order.status
        order.refresh_from_db()
        assert order.status == before


# --- Cancelling ---------------------------------------------------------------------------------------------


def test_cancelling_an_unpaid_order_releases_its_holds(cwb_cashier, shop, dress):
    order = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=shop["cwb"].pk,
        lines=lines((dress[0], 2), (dress[1], 1)),
        fulfilment="pickup",
    )
    assert level(dress[0], shop["cwb"]) == (5, 2)

    order = order_cancel(order_id=order.pk, actor=cwb_cashier, reason=" customer changed her mind ")

    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "customer changed her mind")
    assert order.cancelled_at is not None and order.refunded.amount == 0
    assert level(dress[0], shop["cwb"]) == (5, 0) and level(dress[1], shop["cwb"]) == (5, 0)
    assert set(Reservation.objects.filter(reference=order.number).values_list("status", flat=True)) == {
        ReservationStatus.RELEASED
    }
    assert not Refund.objects.filter(order=order).exists()
    log = AuditLog.objects.get(action="order.cancel", object_id=str(order.pk))
    assert (log.actor, log.before["status"], log.after["status"]) == (cwb_cashier, "placed", "cancelled")
    assert "order.cancelled" in topics_of(order)
    with pytest.raises(IllegalTransition):
        order_cancel(order_id=order.pk, actor=cwb_cashier, reason="again")


def test_a_cancel_needs_a_reason(cwb_cashier, shop, dress):
    order = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=shop["cwb"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="pickup",
    )
    with pytest.raises(ValidationFailed):
        order_cancel(order_id=order.pk, actor=cwb_cashier, reason="  ")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PLACED


def test_cancelling_a_paid_order_needs_a_manager_and_refunds_each_tender(
    cwb_cashier, cwb_manager, kc_staff, shop, dress
):
    order = endless_aisle(cwb_cashier, shop, dress[0], pay("fps", "100", "FPS-5"), cash("100"))
    assert (order.status, order.paid.amount) == (OrderStatus.PAID, Decimal("199.00"))
    with pytest.raises(ManagerApprovalRequired):
        order_cancel(order_id=order.pk, actor=cwb_cashier, reason="out of stock")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and not Refund.objects.exists()
    assert level(dress[0], shop["kc"]) == (20, 1)

    # The hold sits at the warehouse, which the Causeway Bay manager cannot act at: the cancel still frees it.
    order = order_cancel(order_id=order.pk, actor=cwb_manager, reason="customer cancelled")

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.refunded == order.paid
    refunds = sorted(
        Refund.objects.filter(order=order).values_list("tender", "amount", "status", "approved_by")
    )
    assert refunds == [
        ("cash", Decimal("99.00"), RefundStatus.PENDING, cwb_manager.pk),
        ("fps", Decimal("100.00"), RefundStatus.PENDING, cwb_manager.pk),
    ]
    assert all(p.refunded == p.amount for p in order.payments.all())
    assert level(dress[0], shop["kc"]) == (20, 0)
    assert hold_of(order).status == ReservationStatus.RELEASED
    log = AuditLog.objects.get(action="order.cancel", object_id=str(order.pk))
    assert log.actor == cwb_manager and log.reason == "customer cancelled"
    assert log.after["approved_by"] == "cwb-manager" and len(log.after["refunds"]) == 2
    assert {"order.cancelled", "order.refunded"} <= set(topics_of(order))
    with pytest.raises(IllegalTransition):  # nothing left to ship
        order_ship(order_id=order.pk, actor=kc_staff)


def test_a_cashier_cancels_a_paid_order_with_a_managers_approval(
    customer, mk_cashier, mk_manager, shop, dress
):
    order = order_ready(order_id=paid_web_pickup(customer, shop, (dress[0], 1)).pk, actor=mk_cashier)
    order = order_cancel(
        order_id=order.pk, actor=mk_cashier, reason="damaged on the shelf", approver=mk_manager
    )
    assert order.status == OrderStatus.CANCELLED
    refund = Refund.objects.get(order=order)
    assert (refund.tender, refund.amount.amount, refund.status) == ("fps", Decimal("199.00"), "pending")
    assert (refund.created_by, refund.approved_by) == (mk_cashier, mk_manager)
    assert level(dress[0], shop["mk"]) == (5, 0)


def test_a_cashier_is_no_approver(customer, mk_cashier, shop, dress):
    order = paid_web_pickup(customer, shop, (dress[0], 1))
    other = staff("mk-cashier-2", "cashier", shop["mk"])
    with pytest.raises(ManagerApprovalRequired):
        order_cancel(order_id=order.pk, actor=mk_cashier, reason="x", approver=other)
    with pytest.raises(ManagerApprovalRequired):  # lifting the branch scope never lifts the manager rule
        order_cancel(order_id=order.pk, actor=mk_cashier, reason="x", user_scope=False)


def test_staff_of_another_branch_do_not_find_the_order_to_cancel(cwb_manager, mk_cashier, shop, dress):
    order = order_place(
        actor=mk_cashier,
        channel="phone",
        location_id=shop["mk"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="pickup",
    )
    with pytest.raises(OrderNotFound):
        order_cancel(order_id=order.pk, actor=cwb_manager, reason="x")
    assert level(dress[0], shop["mk"]) == (5, 1)


def test_system_work_cancels_a_paid_order_without_a_manager(customer, shop, dress):
    order = paid_web_pickup(customer, shop, (dress[0], 1))
    order = order_cancel(order_id=order.pk, actor="system", reason="fraud check failed")
    assert order.status == OrderStatus.CANCELLED
    assert Refund.objects.get(order=order).created_by is None
    assert AuditLog.objects.get(action="order.cancel").actor_label == "system"
    assert level(dress[0], shop["mk"]) == (5, 0)


class PointsHook:
    """Stands in for the members app's points accounting."""

    def __init__(self) -> None:
        self.redeemed: list[Decimal] = []
        self.reversed: list[Decimal] = []

    def redeem(self, *, order, amount, reference, actor) -> None:
        self.redeemed.append(amount)

    def reverse(self, *, order, amount, reference, actor) -> None:
        self.reversed.append(amount)


def test_cancelling_gives_points_back_at_once_and_money_as_payouts(
    monkeypatch, cwb_cashier, cwb_manager, shop, dress
):
    from orders import tenders

    hook = PointsHook()
    monkeypatch.setitem(tenders.TENDER_HOOKS, "points", hook)
    order = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=shop["cwb"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="pickup",
        payments=[pay("points", "50"), pay("fps", "149", "FPS-8")],
    )
    assert order.status == OrderStatus.PAID and hook.redeemed == [Decimal("50")]

    order_cancel(order_id=order.pk, actor=cwb_manager, reason="out of stock after all")

    assert hook.reversed == [Decimal("50.00")]
    assert sorted(Refund.objects.filter(order=order).values_list("tender", "status")) == [
        ("fps", RefundStatus.PENDING),
        ("points", RefundStatus.DONE),
    ]
