"""Returns, refunds and exchanges: any order, any branch; money net of discounts, never more than was paid."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Variant
from inventory.models import StockMovement
from inventory.selectors import stock_verify
from omo.errors import BranchAccessDenied, ValidationFailed
from omo.models import AuditLog, Location, User
from orders.exceptions import ManagerApprovalRequired, RefundExceedsPaid, ReturnNotAllowed
from orders.models import Order, OrderLine, OrderStatus, Payment, PickupPoint, Refund, Return, ReturnLine
from orders.pricing import Discount
from orders.services import (
    LineInput,
    RefundInput,
    ReturnItem,
    ShipTo,
    order_cancel,
    order_exchange,
    order_pay,
    order_place,
    order_return,
    order_ship,
)
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level, movements, receive, staff
from tests.factories.omo import event_sent
from tests.factories.orders import refund_add
from tests.orders.conftest import cash, lines, pay

D = Decimal
HOME = ShipTo(name="陳小姐", phone="91234567", address="香港銅鑼灣軒尼詩道500號 12樓A室", district="wan_chai")


@pytest.fixture(autouse=True)
def _ledger_proved(db: None):
    yield
    assert stock_verify()[1] == []


def sale(
    cashier: User, branch: Location, *pairs: tuple[Variant, int], payments: list | None = None, **kw
) -> Order:
    return order_place(
        actor=cashier,
        channel="pos",
        location_id=branch.pk,
        lines=lines(*pairs),
        payments=payments
        if payments is not None
        else [pay("card", str(199 * sum(q for _v, q in pairs)), "T-1")],
        **kw,
    )


def line_of(order: Order, variant: Variant) -> OrderLine:
    return order.lines.get(variant=variant)


def item(order: Order, variant: Variant, qty: int = 1, **kw) -> ReturnItem:
    return ReturnItem(line_id=line_of(order, variant).pk, qty=qty, **kw)


def take_back(order: Order, actor: User, branch: Location, *items: ReturnItem, **kw) -> Return:
    return order_return(
        order_id=order.pk,
        actor=actor,
        location_id=branch.pk,
        items=list(items),
        reason=kw.pop("reason", "does not fit"),
        **kw,
    )


def refunds_of(order: Order) -> list[tuple[str, Decimal]]:
    return [(r.tender, r.amount.amount) for r in Refund.objects.filter(order=order).order_by("pk")]


def assert_money_adds_up(order: Order) -> None:
    order.refresh_from_db()
    assert order.refunded <= order.paid
    assert order.refunded.amount == sum((a for _t, a in refunds_of(order)), D(0))
    for payment in Payment.objects.filter(order=order):
        assert payment.refunded <= payment.amount
        assert payment.refunded.amount == sum(
            (r.amount.amount for r in Refund.objects.filter(payment=payment)), D(0)
        )


# --- Returns by line and quantity ---------------------------------------------------------------------------


def test_full_return_refunds_the_card_and_puts_the_goods_back(cwb_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1), (dress[1], 1))
    assert level(dress[0], shop["cwb"]) == (4, 0)

    record = take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0]), item(order, dress[1]))

    assert record.number == f"{order.number}-R1" and record.value.amount == D("398.00")
    assert refunds_of(order) == [("card", D("398.00"))]
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED and order.refunded == order.paid
    assert level(dress[0], shop["cwb"]) == (5, 0) and level(dress[1], shop["cwb"]) == (5, 0)
    assert movements(dress[0], shop["cwb"])[-1] == ("return", 1, 5)
    log = AuditLog.objects.get(action="order.refund", object_id=str(order.pk))
    assert (log.actor, log.after["return"], log.after["refunded"]) == (cwb_cashier, record.number, "398.00")
    assert event_sent("order.refunded", id=order.pk)
    assert_money_adds_up(order)
    with pytest.raises(ReturnNotAllowed):
        take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0]))


def test_partial_returns_by_line_and_quantity(cwb_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 2), (dress[1], 1))

    first = take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1))
    order.refresh_from_db()
    assert (order.status, order.refunded.amount, first.value.amount) == (
        OrderStatus.PARTLY_REFUNDED,
        D("199.00"),
        D("199.00"),
    )
    assert line_of(order, dress[0]).returned_qty == 1

    second = take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1), item(order, dress[1], 1))
    order.refresh_from_db()
    assert (order.status, order.refunded.amount, second.number) == (
        OrderStatus.REFUNDED,
        D("597.00"),
        f"{order.number}-R2",
    )
    assert level(dress[0], shop["cwb"]) == (5, 0)
    assert AuditLog.objects.filter(action="order.refund", object_id=str(order.pk)).count() == 2
    assert_money_adds_up(order)


def test_returning_more_than_was_bought_is_refused(cwb_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 2))
    with pytest.raises(ReturnNotAllowed):
        take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 3))
    with pytest.raises(ReturnNotAllowed):  # the same line twice, adding up to too many
        take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1), item(order, dress[0], 2))
    take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1))
    with pytest.raises(ReturnNotAllowed):
        take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 2))
    assert Return.objects.filter(order=order).count() == 1
    assert level(dress[0], shop["cwb"]) == (4, 0)


def test_bad_items_are_refused(cwb_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1))
    other = sale(cwb_cashier, shop["cwb"], (dress[1], 1))
    for items in (
        [],
        [item(other, dress[1])],
        [item(order, dress[0], 0)],
        [item(order, dress[0], disposition="lost")],
        [item(order, dress[0], stock_location_id=999999)],
    ):
        with pytest.raises(ValidationFailed):
            take_back(order, cwb_cashier, shop["cwb"], *items)
    with pytest.raises(ValidationFailed):
        take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0]), reason=" ")
    assert not Return.objects.exists()
    assert level(dress[0], shop["cwb"]) == (4, 0)


def test_orders_whose_goods_have_not_left_cannot_be_returned(cwb_cashier, shop, dress):
    placed = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=shop["cwb"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="pickup",
    )
    with pytest.raises(ReturnNotAllowed):
        take_back(placed, cwb_cashier, shop["cwb"], item(placed, dress[0]))
    order_cancel(order_id=placed.pk, actor=cwb_cashier, reason="no longer wanted")
    with pytest.raises(ReturnNotAllowed):
        take_back(placed, cwb_cashier, shop["cwb"], item(placed, dress[0]))
    assert level(dress[0], shop["cwb"]) == (5, 0)


# --- Any branch, any location -------------------------------------------------------------------------------


def test_a_causeway_bay_sale_returned_in_mong_kok_restocks_where_chosen(cwb_cashier, mk_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1), (dress[1], 1))

    record = take_back(
        order,
        mk_cashier,
        shop["mk"],
        item(order, dress[0]),
        item(order, dress[1], stock_location_id=shop["kc"].pk),
    )

    assert level(dress[0], shop["cwb"]) == (4, 0)  # not back where it was sold
    assert level(dress[0], shop["mk"]) == (6, 0)
    assert level(dress[1], shop["kc"]) == (21, 0)
    assert movements(dress[1], shop["kc"])[-1] == ("return", 1, 21)
    rows = dict(
        ReturnLine.objects.filter(return_record=record).values_list("order_line__variant", "stock_location")
    )
    assert rows == {dress[0].pk: shop["mk"].pk, dress[1].pk: shop["kc"].pk}
    assert record.location_id == shop["mk"].pk and record.created_by == mk_cashier
    assert set(Refund.objects.filter(order=order).values_list("location", flat=True)) == {shop["mk"].pk}
    assert AuditLog.objects.get(action="order.refund").branch_id == shop["mk"].pk
    assert_money_adds_up(order)


def test_a_return_is_taken_only_at_the_actors_branch(cwb_cashier, mk_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1))
    with pytest.raises(BranchAccessDenied):
        take_back(order, mk_cashier, shop["cwb"], item(order, dress[0]))
    assert not Return.objects.exists()


def test_damaged_goods_come_back_and_are_written_off(cwb_cashier, mk_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 2))

    record = take_back(
        order,
        mk_cashier,
        shop["mk"],
        item(order, dress[0], 2, disposition="damaged", stock_location_id=shop["kc"].pk),
        reason="torn seam",
    )

    assert level(dress[0], shop["mk"]) == (5, 0)  # written off where it came back, whatever was asked
    assert level(dress[0], shop["kc"]) == (20, 0)
    assert movements(dress[0], shop["mk"])[-2:] == [("return", 2, 7), ("damage", -2, 5)]
    assert set(StockMovement.objects.filter(reference=record.number).values_list("kind", flat=True)) == {
        "return",
        "damage",
    }
    assert AuditLog.objects.filter(action="stock.write_off", branch=shop["mk"]).exists()
    assert refunds_of(order) == [("card", D("398.00"))]


def test_one_line_split_between_restock_and_damaged_shares_its_value_by_units(cwb_cashier, shop, dress):
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 3),
        payments=[pay("card", "587", "T-2")],
        discount=Discount(amount=D("10"), reason="regular"),
    )
    record = take_back(
        order,
        cwb_cashier,
        shop["cwb"],
        item(order, dress[0], 1),
        item(order, dress[0], 1, disposition="damaged"),
        item(order, dress[0], 1),
    )
    values = list(
        ReturnLine.objects.filter(return_record=record).order_by("pk").values_list("value", flat=True)
    )
    assert sorted(values) == [D("195.66"), D("195.67"), D("195.67")]
    assert sum(values) == record.value.amount == D("587.00")
    assert level(dress[0], shop["cwb"]) == (4, 0)


def test_a_shipped_web_order_is_returned_at_a_branch(customer, mk_cashier, shop, dress):
    kc_staff = staff("kc-packer", "cashier", shop["kc"])
    order = order_place(
        actor=customer,
        channel="web",
        location_id=shop["kc"].pk,
        lines=lines((dress[1], 1)),
        fulfilment="ship",
        ship_to=HOME,
    )
    order_pay(order_id=order.pk, payments=[pay("fps", "199", "FPS-1")], actor="fps")
    order_ship(order_id=order.pk, actor=kc_staff, tracking_number="SF-1")
    assert level(dress[1], shop["kc"]) == (19, 0)

    take_back(order, mk_cashier, shop["mk"], item(order, dress[1]))

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert refunds_of(order) == [("fps", D("199.00"))]
    assert level(dress[1], shop["mk"]) == (6, 0) and level(dress[1], shop["kc"]) == (19, 0)
    assert_money_adds_up(order)


def test_an_uncollected_locker_parcel_comes_back_to_the_warehouse(customer, shop, dress):
    kc_staff = staff("kc-packer", "cashier", shop["kc"])
    locker = PickupPoint.objects.create(
        code="SF-1", kind="sf_locker", name_en="Locker", name_zh_hant="智能櫃", district="wan_chai"
    )
    order = order_place(
        actor=customer,
        channel="web",
        location_id=shop["kc"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="locker",
        pickup_point_code=locker.code,
    )
    order_pay(order_id=order.pk, payments=[pay("fps", "199", "FPS-1")], actor="fps")
    order = order_ship(order_id=order.pk, actor=kc_staff)
    assert order.status == OrderStatus.READY

    take_back(order, kc_staff, shop["kc"], item(order, dress[0]), reason="not collected from the locker")

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED and order.refunded == order.paid
    assert level(dress[0], shop["kc"]) == (20, 0)


# --- What a returned unit is worth --------------------------------------------------------------------------


def test_value_is_net_of_line_and_order_discounts(cwb_cashier, shop, dress):
    order = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=shop["cwb"].pk,
        lines=[
            LineInput(variant_id=dress[0].pk, qty=2, discount=Discount(amount=D("10"), reason="promo")),
            LineInput(variant_id=dress[1].pk, qty=1, unit_price=D("180.00")),
        ],
        discount=Discount(percent=D("5"), reason="VIP"),
        payments=[pay("card", "539.60", "T-3")],
    )
    assert (order.subtotal.amount, order.discount.amount, order.total.amount) == (
        D("568.00"),
        D("28.40"),
        D("539.60"),
    )
    # The 5% is spread over the lines by their totals: 19.40 on the 388.00 line, 9.00 on the 180.00 one.
    first = take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1))
    assert first.value.amount == D("184.30")  # (388.00 - 19.40) / 2
    second = take_back(order, cwb_cashier, shop["cwb"], item(order, dress[1], 1))
    assert second.value.amount == D("171.00")
    last = take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1))
    assert last.value.amount == D("184.30")
    order.refresh_from_db()
    assert first.value + second.value + last.value == order.paid == order.refunded
    assert order.status == OrderStatus.REFUNDED
    assert_money_adds_up(order)


def test_one_line_returned_in_three_parts_adds_up_to_its_net_value(cwb_cashier, shop, dress):
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 3),
        payments=[pay("card", "587", "T-2")],
        discount=Discount(amount=D("10"), reason="regular"),
    )
    values = [
        take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1)).value.amount for _ in range(3)
    ]
    assert values == [D("195.67"), D("195.66"), D("195.67")]
    assert sum(values) == D("587.00") == line_of(order, dress[0]).total.amount - D("10")
    order.refresh_from_db()
    assert order.refunded == order.paid and order.status == OrderStatus.REFUNDED


def test_a_cash_sale_with_rounding_is_refunded_exactly_what_was_paid(cwb_cashier, shop, dress):
    scuffed = [
        LineInput(variant_id=dress[0].pk, qty=1, discount=Discount(amount=D("0.47"), reason="scuff")),
        LineInput(variant_id=dress[1].pk, qty=1),
    ]
    order = order_place(
        actor=cwb_cashier, channel="pos", location_id=shop["cwb"].pk, lines=scuffed, payments=[cash("400")]
    )
    assert (order.total.amount, order.rounding.amount, order.paid.amount) == (
        D("397.50"),
        D("-0.03"),
        D("397.50"),
    )

    first = take_back(order, cwb_cashier, shop["cwb"], item(order, dress[1]))
    assert first.value.amount == D("199.00")
    last = take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0]))
    assert last.value.amount == D("198.50")  # 198.53 less the sale's cash rounding

    order.refresh_from_db()
    assert order.refunded == order.paid and order.status == OrderStatus.REFUNDED
    assert refunds_of(order) == [("cash", D("199.00")), ("cash", D("198.50"))]


# --- Where the money goes, and who may say so ---------------------------------------------------------------


def test_default_refund_goes_to_the_tenders_paid_with_card_first_then_cash(cwb_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 2), payments=[cash("100"), pay("card", "298", "T-4")])
    take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1))
    assert refunds_of(order) == [("card", D("199.00"))]
    take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1))
    assert refunds_of(order) == [("card", D("199.00")), ("card", D("99.00")), ("cash", D("100.00"))]
    assert {p.tender: p.refunded.amount for p in Payment.objects.filter(order=order)} == {
        "card": D("298.00"),
        "cash": D("100.00"),
    }
    assert_money_adds_up(order)


def test_refund_to_another_tender_needs_a_manager(cwb_cashier, cwb_manager, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1))
    cash_back = [RefundInput(tender="cash", amount=D("199"))]
    with pytest.raises(ManagerApprovalRequired):
        take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0]), refunds=cash_back)
    assert not Return.objects.exists() and level(dress[0], shop["cwb"]) == (4, 0)

    take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0]), refunds=cash_back, approver=cwb_manager)

    refund = Refund.objects.get(order=order)
    assert (refund.tender, refund.payment, refund.approved_by, refund.created_by) == (
        "cash",
        None,
        cwb_manager,
        cwb_cashier,
    )
    assert Payment.objects.get(order=order).refunded.amount == 0
    order.refresh_from_db()
    assert order.refunded == order.paid
    assert AuditLog.objects.get(action="order.refund").after["approved_by"] == "cwb-manager"


def test_a_partial_refund_to_the_same_tender_needs_no_manager(cwb_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1))
    take_back(
        order,
        cwb_cashier,
        shop["cwb"],
        item(order, dress[0]),
        reason="worn",
        refunds=[RefundInput(tender="card", amount=D("150"), reference="RF-1")],
    )
    order.refresh_from_db()
    assert (order.status, order.refunded.amount) == (OrderStatus.REFUNDED, D("150.00"))
    assert Refund.objects.get(order=order).reference == "RF-1"


def test_a_card_number_is_never_stored_as_a_refund_reference(cwb_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1))
    with pytest.raises(ValidationFailed):
        take_back(
            order,
            cwb_cashier,
            shop["cwb"],
            item(order, dress[0]),
            refunds=[RefundInput(tender="card", amount=D("199"), reference="4111111111111111")],
        )
    assert not Refund.objects.exists()


def test_refunds_above_the_threshold_need_a_manager(settings, cwb_cashier, cwb_manager, shop, dress):
    settings.REFUND_MANAGER_AMOUNT = "300"
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 2))
    take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1))  # 199: within the cashier's limit
    order = sale(cwb_cashier, shop["cwb"], (dress[1], 2))
    with pytest.raises(ManagerApprovalRequired):
        take_back(order, cwb_cashier, shop["cwb"], item(order, dress[1], 2))
    assert not Return.objects.filter(order=order).exists()

    record = take_back(order, cwb_cashier, shop["cwb"], item(order, dress[1], 2), approver=cwb_manager)

    assert record.approved_by == cwb_manager
    assert Refund.objects.get(order=order).approved_by == cwb_manager
    # Another cashier's word is no approval.
    order = sale(cwb_cashier, shop["cwb"], (dress[2], 2))
    with pytest.raises(ManagerApprovalRequired):
        take_back(
            order,
            cwb_cashier,
            shop["cwb"],
            item(order, dress[2], 2),
            approver=staff("cwb-cashier-2", "cashier", shop["cwb"]),
        )


def test_a_refund_beyond_what_was_paid_is_refused_and_changes_nothing(cwb_cashier, cwb_manager, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1))
    with pytest.raises(RefundExceedsPaid):  # more than the goods are worth
        take_back(
            order,
            cwb_cashier,
            shop["cwb"],
            item(order, dress[0]),
            refunds=[RefundInput(tender="card", amount=D("250"))],
            approver=cwb_manager,
        )
    refund_add(order, D("50"), reference="goodwill")  # 50 went back earlier, outside a return
    with pytest.raises(RefundExceedsPaid) as error:
        take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0]))
    assert error.value.extra["refundable"] == "149.00"

    order.refresh_from_db()
    assert (order.refunded.amount, order.status) == (D("50.00"), OrderStatus.PARTLY_REFUNDED)
    assert Payment.objects.get(order=order).refunded.amount == D("50.00")
    assert not Return.objects.exists() and not ReturnLine.objects.exists()
    assert Refund.objects.count() == 1 and line_of(order, dress[0]).returned_qty == 0
    assert level(dress[0], shop["cwb"]) == (4, 0)
    assert not AuditLog.objects.filter(action="order.refund").exists()


def test_outside_the_return_window_a_manager_must_approve(cwb_cashier, cwb_manager, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 2))
    Order.objects.filter(pk=order.pk).update(fulfilled_at=timezone.now() - timedelta(days=15))
    with pytest.raises(ManagerApprovalRequired):
        take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1))
    take_back(order, cwb_manager, shop["cwb"], item(order, dress[0], 1))
    take_back(order, cwb_cashier, shop["cwb"], item(order, dress[0], 1), approver=cwb_manager)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert (
        list(Return.objects.filter(order=order).values_list("approved_by", flat=True)) == [cwb_manager.pk] * 2
    )


# --- Exchanges ----------------------------------------------------------------------------------------------


@pytest.fixture
def dearer(dress: list[Variant], shop: dict[str, Location]) -> Variant:
    variant = VariantFactory(
        product=dress[0].product, sku="DRESS-XL", option_values={"Size": "XL"}, price=D("229.00")
    )
    receive(variant, shop["cwb"], 3)
    return variant


@pytest.fixture
def cheaper(shop: dict[str, Location]) -> Variant:
    variant = VariantFactory(sku="SCARF-1", price=D("150.00"))
    receive(variant, shop["cwb"], 3)
    return variant


def exchange(order: Order, actor: User, branch: Location, back: ReturnItem, new: Variant, payments=()):
    return order_exchange(
        order_id=order.pk,
        actor=actor,
        location_id=branch.pk,
        items=[back],
        reason="wrong size",
        lines=lines((new, 1)),
        payments=list(payments),
    )


def test_exchange_for_a_dearer_one_pays_only_the_difference(cwb_cashier, shop, dress, dearer):
    order = sale(cwb_cashier, shop["cwb"], (dress[1], 1))

    record, new, refunds = exchange(
        order, cwb_cashier, shop["cwb"], item(order, dress[1]), dearer, [cash("30")]
    )

    assert new.exchange_of == record and new.status == OrderStatus.COMPLETED
    assert sorted((p.tender, p.amount.amount) for p in new.payments.all()) == [
        ("cash", D("30.00")),
        ("exchange", D("199.00")),
    ]
    assert (new.total.amount, new.paid.amount) == (D("229.00"), D("229.00"))
    assert [(r.tender, r.amount.amount, r.reference) for r in refunds] == [("exchange", D("199.00"), "card")]
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED and order.refunded.amount == record.value.amount == D(
        "199.00"
    )
    assert sum(a for _t, a in refunds_of(order)) == record.value.amount
    assert level(dress[1], shop["cwb"]) == (5, 0) and level(dearer, shop["cwb"]) == (2, 0)
    assert AuditLog.objects.filter(action="order.exchange", object_id=str(order.pk)).exists()
    assert_money_adds_up(order)


def test_exchange_for_a_cheaper_one_refunds_the_difference_to_the_card(cwb_cashier, shop, dress, cheaper):
    order = sale(cwb_cashier, shop["cwb"], (dress[1], 1))

    record, new, _refunds = exchange(order, cwb_cashier, shop["cwb"], item(order, dress[1]), cheaper)

    assert [(p.tender, p.amount.amount) for p in new.payments.all()] == [("exchange", D("150.00"))]
    assert sorted(refunds_of(order)) == [("card", D("49.00")), ("exchange", D("150.00"))]
    assert sum(a for _t, a in refunds_of(order)) == record.value.amount
    order.refresh_from_db()
    assert order.refunded == order.paid
    assert_money_adds_up(order)


def test_exchange_difference_goes_back_electronic_first(cwb_cashier, shop, dress, cheaper):
    order = sale(cwb_cashier, shop["cwb"], (dress[1], 1), payments=[cash("99"), pay("card", "100", "T-5")])
    exchange(order, cwb_cashier, shop["cwb"], item(order, dress[1]), cheaper)
    assert sorted(refunds_of(order)) == [
        ("card", D("49.00")),
        ("exchange", D("51.00")),
        ("exchange", D("99.00")),
    ]
    assert {p.tender: p.refunded.amount for p in Payment.objects.filter(order=order)} == {
        "card": D("100.00"),
        "cash": D("99.00"),
    }


def test_exchange_goods_returned_later_go_back_to_the_original_card_never_as_cash(
    cwb_cashier, shop, dress, dearer
):
    order = sale(cwb_cashier, shop["cwb"], (dress[1], 1))
    _record, new, _refunds = exchange(
        order, cwb_cashier, shop["cwb"], item(order, dress[1]), dearer, [cash("30")]
    )

    take_back(new, cwb_cashier, shop["cwb"], item(new, dearer), reason="changed her mind")

    assert sorted(refunds_of(new)) == [("card", D("199.00")), ("cash", D("30.00"))]
    new.refresh_from_db()
    assert new.refunded == new.paid and new.status == OrderStatus.REFUNDED
    assert level(dearer, shop["cwb"]) == (3, 0)
