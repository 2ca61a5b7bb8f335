"""order_place: the one placing service of every channel."""

from decimal import Decimal

import pytest

from catalog.models import Variant
from inventory.models import Reservation, ReservationStatus
from inventory.selectors import stock_verify
from members.models import Member
from omo.errors import BranchAccessDenied, ValidationFailed
from omo.models import Location, OutboxMessage, User
from orders.exceptions import ManagerApprovalRequired, PaymentMismatch, TenderUnavailable
from orders.models import Order, OrderStatus
from orders.pricing import Discount
from orders.services import LineInput, ShipTo, order_place
from tests.factories.inventory import level
from tests.factories.omo import outbox_events
from tests.orders.conftest import cash, lines, pay


def sale(
    actor: User, location: Location, *pairs: tuple[Variant, int], payments: list | None = None, **kw
) -> Order:
    return order_place(
        actor=actor,
        channel="pos",
        location_id=location.pk,
        lines=lines(*pairs),
        payments=payments if payments is not None else [cash("1000")],
        **kw,
    )


def test_pos_cash_sale_takes_stock_numbers_and_gives_change(cwb_cashier, shop, dress, member):
    order = sale(
        cwb_cashier, shop["cwb"], (dress[0], 2), (dress[1], 1), member_id=member.pk, payments=[cash("600")]
    )
    assert order.number == "CWB-000001"
    assert order.status == OrderStatus.COMPLETED
    assert order.total.amount == Decimal("597.00")
    payment = order.payments.get()
    assert (payment.amount.amount, payment.tendered.amount, payment.change.amount) == (
        Decimal("597.00"),
        Decimal("600.00"),
        Decimal("3.00"),
    )
    assert level(dress[0], shop["cwb"]) == (3, 0)
    assert order.customer_phone == "+85291234567"
    assert order.staff_id == cwb_cashier.pk
    second = sale(cwb_cashier, shop["cwb"], (dress[2], 1))
    assert second.number == "CWB-000002"
    assert stock_verify()[1] == []


def test_cash_rounds_to_ten_cents_card_is_exact(cwb_cashier, shop, dress):
    discount = LineInput(
        variant_id=dress[0].pk, qty=1, discount=Discount(amount=Decimal("0.47"), reason="scuff")
    )
    order = order_place(
        actor=cwb_cashier, channel="pos", location_id=shop["cwb"].pk, lines=[discount], payments=[cash("200")]
    )
    assert order.subtotal.amount == Decimal("198.53")
    assert order.rounding.amount == Decimal("-0.03")
    assert order.total.amount == Decimal("198.50")
    assert order.payments.get().change.amount == Decimal("1.50")
    card = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=shop["cwb"].pk,
        lines=[discount],
        payments=[pay("card", "198.53", "T-123")],
    )
    assert card.total.amount == Decimal("198.53")
    assert card.rounding.amount == 0


def test_split_tender(cwb_cashier, shop, dress):
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 3),
        payments=[pay("fps", "300", "FPS-1"), pay("card", "200", "T-9"), cash("100")],
    )
    assert order.total.amount == Decimal("597.00")
    assert sorted((p.tender, p.amount.amount) for p in order.payments.all()) == [
        ("card", Decimal("200.00")),
        ("cash", Decimal("97.00")),
        ("fps", Decimal("300.00")),
    ]
    assert order.payments.get(tender="cash").change.amount == Decimal("3.00")


def test_overpaid_by_card_and_underpaid_are_refused_and_change_nothing(cwb_cashier, shop, dress):
    with pytest.raises(PaymentMismatch):
        sale(cwb_cashier, shop["cwb"], (dress[0], 1), payments=[pay("card", "250", "T-1")])
    with pytest.raises(PaymentMismatch) as error:
        sale(cwb_cashier, shop["cwb"], (dress[0], 1), payments=[pay("card", "100", "T-1"), cash("50")])
    assert error.value.extra["remaining"] == "49.00"
    assert not Order.objects.exists()
    assert level(dress[0], shop["cwb"]) == (5, 0)


def test_card_number_is_refused(cwb_cashier, shop, dress):
    with pytest.raises(ValidationFailed):
        sale(cwb_cashier, shop["cwb"], (dress[0], 1), payments=[pay("card", "199", "4111 1111 1111 1111")])


def test_points_wait_for_membership(cwb_cashier, shop, dress):
    with pytest.raises(TenderUnavailable):
        sale(cwb_cashier, shop["cwb"], (dress[0], 1), payments=[pay("points", "10"), cash("200")])


def test_cashier_of_another_branch_is_refused(cwb_cashier, shop, dress):
    with pytest.raises(BranchAccessDenied):
        sale(cwb_cashier, shop["mk"], (dress[0], 1))


def test_big_discount_needs_a_manager(cwb_cashier, cwb_manager, shop, dress):
    half = [LineInput(variant_id=dress[0].pk, qty=1, discount=Discount(percent=Decimal(50), reason="friend"))]
    with pytest.raises(ManagerApprovalRequired):
        order_place(
            actor=cwb_cashier, channel="pos", location_id=shop["cwb"].pk, lines=half, payments=[cash("100")]
        )
    order = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=shop["cwb"].pk,
        lines=half,
        payments=[cash("100")],
        approver=cwb_manager,
    )
    assert order.total.amount == Decimal("99.50")


def test_endless_aisle_ship_from_warehouse_holds_its_stock(cwb_cashier, shop, dress, member):
    order = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=shop["cwb"].pk,
        lines=lines((dress[1], 2)),
        fulfilment="ship",
        fulfil_from_id=shop["kc"].pk,
        member_id=member.pk,
        ship_to=ShipTo(
            name="陳小姐", phone="91234567", address="香港銅鑼灣軒尼詩道500號 12樓A室", district="wan_chai"
        ),
        shipping_fee=Decimal("30"),
        payments=[pay("fps", "428", "FPS-77")],
    )
    assert order.status == OrderStatus.PAID
    assert level(dress[1], shop["kc"]) == (20, 2)
    hold = Reservation.objects.get(pk=order.lines.get().reservation_id)
    assert (hold.source, hold.expires_at, hold.status) == ("endless_aisle", None, ReservationStatus.ACTIVE)


def test_web_checkout_unpaid_holds_for_a_while(customer, shop, dress):
    order = order_place(
        actor=customer,
        channel="web",
        location_id=shop["kc"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="pickup",
        pickup_location_id=shop["mk"].pk,
        fulfil_from_id=shop["kc"].pk,
        customer_phone="6123 4567",
        customer_name="Amy",
    )
    assert order.status == OrderStatus.PLACED
    assert len(order.pickup_code) == 6
    hold = Reservation.objects.get(pk=order.lines.get().reservation_id)
    assert hold.source == "web_checkout"
    assert hold.expires_at is not None


def test_customer_cannot_discount_or_use_pos(customer, shop, dress):
    with pytest.raises(ValidationFailed):
        order_place(
            actor=customer,
            channel="pos",
            location_id=shop["cwb"].pk,
            lines=lines((dress[0], 1)),
            payments=[cash("200")],
        )
    with pytest.raises(ValidationFailed):
        order_place(
            actor=customer,
            channel="web",
            location_id=shop["kc"].pk,
            fulfilment="ship",
            lines=[LineInput(variant_id=dress[0].pk, qty=1, unit_price=Decimal("1"))],
            ship_to=ShipTo(name="A", phone="91234567", address="1 Queen's Road", district="central_western"),
        )


def test_ship_needs_a_district(cwb_cashier, shop, dress):
    with pytest.raises(ValidationFailed) as error:
        order_place(
            actor=cwb_cashier,
            channel="phone",
            location_id=shop["cwb"].pk,
            lines=lines((dress[0], 1)),
            fulfilment="ship",
            ship_to=ShipTo(name="A", phone="123", address="x", district="kowloon"),
        )
    assert set(error.value.extra["fields"]) == {"ship_to.phone", "ship_to.address", "ship_to.district"}


def test_events_and_receipt_are_in_the_outbox(cwb_cashier, shop, dress):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1))
    topics = [topic for topic, _payload in outbox_events()]
    assert topics == ["order.placed", "order.paid", "stock.changed"]
    # The events of the sale travel as one message; the receipt is the other.
    assert OutboxMessage.objects.count() == 2
    assert OutboxMessage.objects.filter(
        task_name="orders.tasks.order_documents_render_task", kwargs__order_id=order.pk
    ).exists()


def test_totals_recompute_from_lines(cwb_cashier, shop, dress):
    order = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=shop["cwb"].pk,
        lines=[
            LineInput(variant_id=dress[0].pk, qty=2, discount=Discount(amount=Decimal("10"), reason="promo")),
            LineInput(variant_id=dress[1].pk, qty=1, unit_price=Decimal("180.00")),
        ],
        discount=Discount(percent=Decimal("5"), reason="VIP"),
        payments=[cash("600")],
    )
    order.refresh_from_db()
    rows = list(order.lines.all())
    assert all(r.total.amount == r.unit_price.amount * r.qty - r.discount.amount for r in rows)
    assert order.subtotal.amount == sum(r.total.amount for r in rows)
    assert order.total.amount == (
        order.subtotal.amount - order.discount.amount + order.shipping_fee.amount + order.rounding.amount
    )


@pytest.mark.parametrize("count", [1, 20])
def test_sale_query_count_is_the_same_for_1_and_20_lines(
    count, cwb_cashier, shop, member, django_assert_num_queries
):
    variants = [
        v
        for i in range(5)
        for v in __import__("tests.factories.inventory", fromlist=["x"]).sized_product(
            ("S", "M", "L", "XL"), prefix=f"Q{i}"
        )
    ][:count]
    from tests.factories.inventory import receive

    for v in variants:
        receive(v, shop["cwb"], 5)
    sale(cwb_cashier, shop["cwb"], (variants[0], 1), payments=[pay("card", "199", "warm")])
    Member.objects.get(pk=member.pk)
    cwb_cashier = User.objects.get(pk=cwb_cashier.pk)
    with django_assert_num_queries(QUERIES):
        sale(
            cwb_cashier,
            shop["cwb"],
            *[(v, 1) for v in variants],
            member_id=member.pk,
            payments=[cash(str(199 * count + 1))],
        )


QUERIES = 14  # savepoint, branches, location, member, SKUs with channel prices, counter, order, lines,
# payments, stock (savepoint, lock-check-take, release), outbox, release


def test_cents_left_after_card_are_rounded_away_in_cash(cwb_cashier, shop, dress):
    discount = LineInput(
        variant_id=dress[0].pk, qty=1, discount=Discount(amount=Decimal("0.47"), reason="scuff")
    )
    order = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=shop["cwb"].pk,
        lines=[discount],
        payments=[pay("card", "198.50", "T-5"), cash("0.10")],
    )
    assert (order.total.amount, order.rounding.amount, order.paid.amount) == (
        Decimal("198.50"),
        Decimal("-0.03"),
        Decimal("198.50"),
    )
    assert [p.tender for p in order.payments.all()] == ["card"]


def test_exchange_tender_cannot_be_named_by_a_client(cwb_cashier, shop, dress):
    with pytest.raises(TenderUnavailable):
        sale(cwb_cashier, shop["cwb"], (dress[0], 1), payments=[pay("exchange", "199")])


def test_card_number_in_a_note_is_refused(cwb_cashier, shop, dress):
    with pytest.raises(ValidationFailed):
        sale(cwb_cashier, shop["cwb"], (dress[0], 1), note="card 4111-1111-1111-1111 exp 12/28")
    assert not Order.objects.exists()


def test_each_channel_pays_its_own_price(cwb_cashier, shop, dress):
    from catalog.models import ChannelPrice

    ChannelPrice.objects.create(variant=dress[0], channel="pos", price=Decimal("150.00"))
    ChannelPrice.objects.create(variant=dress[0], channel="web", price=Decimal("179.00"))
    pos = sale(cwb_cashier, shop["cwb"], (dress[0], 1), (dress[1], 1))
    assert [line.unit_price.amount for line in pos.lines.order_by("position")] == [
        Decimal("150.00"),
        Decimal("199.00"),
    ]
    phone = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=shop["cwb"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="pickup",
        pickup_location_id=shop["cwb"].pk,
    )
    assert phone.lines.get().unit_price.amount == Decimal("179.00")
