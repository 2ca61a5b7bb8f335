"""Membership in the order book: points earned and spent at the POS and on the web, returns after spending,
the tier's member price, staff attribution, the receipt's points block."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from catalog.models import Variant
from members.models import Member, PointsEntry
from members.selectors_points import points_balance
from members.services import PointsInsufficient, points_adjust, points_mature
from members.tasks import points_earn_task, points_reverse_task
from omo.errors import ValidationFailed
from omo.models import Location, OutboxMessage, User
from orders.documents import receipt_extras
from orders.exceptions import ManagerApprovalRequired, TenderUnavailable
from orders.loyalty import POINTS_EARN_TASK, POINTS_REVERSE_TASK
from orders.models import Order, Payment, Refund
from orders.pricing import Discount
from orders.services import (
    LineInput,
    ReturnItem,
    ShipTo,
    order_exchange,
    order_pay,
    order_place,
    order_return,
)
from tests.factories.inventory import receive, sized_product
from tests.orders.conftest import cash, lines, pay

D = Decimal
HOME = ShipTo(name="陳小姐", phone="91234567", address="香港銅鑼灣軒尼詩道500號 12樓A室", district="wan_chai")


def sale(cashier: User, branch: Location, *pairs: tuple[Variant, int], payments: list, **kw: Any) -> Order:
    return order_place(
        actor=cashier, channel="pos", location_id=branch.pk, lines=lines(*pairs), payments=payments, **kw
    )


def web_order(
    customer: User, shop: dict[str, Location], member: Member, *pairs: tuple[Variant, int]
) -> Order:
    return order_place(
        actor=customer,
        channel="web",
        location_id=shop["kc"].pk,
        lines=lines(*pairs),
        fulfilment="ship",
        ship_to=HOME,
        member_id=member.pk,
    )


def run(task: str, reference: str | None = None) -> list[Any]:
    """Runs the outbox's stored messages of `task` (for the order or return `reference`) as a worker would."""
    results = []
    for message in OutboxMessage.objects.filter(task_name=task).order_by("pk"):
        kwargs = message.kwargs
        if reference is not None and reference not in (
            kwargs.get("reference"),
            kwargs.get("return_reference"),
        ):
            continue
        results.append((points_earn_task if task == POINTS_EARN_TASK else points_reverse_task)(**kwargs))
    return results


def give(member: Member, points: int, owner: User) -> None:
    points_adjust(member_id=member.pk, points=points, reason="opening balance", actor=owner)


# --- earning ------------------------------------------------------------------------------------------------


def test_a_members_pos_sale_earns_pending_points_after_commit(cwb_cashier, shop, dress, member):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 2), member_id=member.pk, payments=[cash("400")])
    message = OutboxMessage.objects.get(task_name=POINTS_EARN_TASK)
    assert message.kwargs["reference"] == order.number
    assert message.kwargs["lines"] == [[dress[0].product.category_id, "398.00"]]
    assert run(POINTS_EARN_TASK) == [39]
    assert run(POINTS_EARN_TASK) == [39]  # delivered twice: still one entry
    assert PointsEntry.objects.filter(reference=order.number).count() == 1
    assert points_balance(member.pk) == {"available": 0, "pending": 39}
    points_mature(now=timezone.now() + timedelta(days=15))
    assert points_balance(member.pk) == {"available": 39, "pending": 0}


def test_a_guests_sale_earns_nothing(cwb_cashier, shop, dress):
    sale(cwb_cashier, shop["cwb"], (dress[0], 1), payments=[cash("200")])
    assert not OutboxMessage.objects.filter(task_name=POINTS_EARN_TASK).exists()


def test_an_unpaid_web_order_earns_when_it_is_paid(customer, shop, dress, member):
    order = web_order(customer, shop, member, (dress[0], 1))
    assert not OutboxMessage.objects.filter(task_name=POINTS_EARN_TASK).exists()
    order_pay(order_id=order.pk, payments=[pay("fps", "199", "FPS-1")], actor="fps")
    assert run(POINTS_EARN_TASK) == [19]


# --- points as a tender -------------------------------------------------------------------------------------


def test_points_pay_part_of_a_pos_sale(cwb_cashier, owner, shop, dress, member):
    give(member, 150, owner)
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 1),
        member_id=member.pk,
        payments=[pay("points", "10"), cash("200")],
    )
    assert sorted(p.tender for p in order.payments.all()) == ["cash", "points"]
    redeem = PointsEntry.objects.get(kind="redeem")
    assert (redeem.points, redeem.reference, redeem.order_reference) == (
        -100,
        f"{order.number}-points",
        order.number,
    )
    assert points_balance(member.pk)["available"] == 50
    # Points earn only on the money: HK$189 → 18 points.
    assert run(POINTS_EARN_TASK) == [18]


def test_points_pay_part_of_a_web_order(customer, owner, shop, dress, member):
    give(member, 300, owner)
    order = web_order(customer, shop, member, (dress[0], 1))
    order_pay(order_id=order.pk, payments=[pay("points", "20"), pay("fps", "179", "FPS-2")], actor="web")
    order.refresh_from_db()
    assert order.status == "paid"
    assert points_balance(member.pk)["available"] == 100
    assert run(POINTS_EARN_TASK) == [17]


def test_two_points_payments_on_one_order_are_two_entries(cwb_cashier, owner, shop, dress, member):
    give(member, 300, owner)
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 1),
        member_id=member.pk,
        payments=[pay("points", "10"), pay("points", "5"), cash("200")],
    )
    assert sorted(PointsEntry.objects.filter(kind="redeem").values_list("reference", "points")) == [
        (f"{order.number}-points", -100),
        (f"{order.number}-points-2", -50),
    ]


def test_not_enough_points_refuses_the_sale_and_writes_nothing(cwb_cashier, owner, shop, dress, member):
    give(member, 50, owner)
    with pytest.raises(PointsInsufficient) as error:
        sale(
            cwb_cashier,
            shop["cwb"],
            (dress[0], 1),
            member_id=member.pk,
            payments=[pay("points", "10"), cash("200")],
        )
    assert error.value.extra == {"available": 50, "requested": 100}
    assert not Order.objects.exists() and not PointsEntry.objects.filter(kind="redeem").exists()


def test_points_need_a_member_and_whole_points(cwb_cashier, owner, shop, dress, member):
    with pytest.raises(ValidationFailed) as error:
        sale(cwb_cashier, shop["cwb"], (dress[0], 1), payments=[pay("points", "10"), cash("200")])
    assert isinstance(error.value, TenderUnavailable)
    give(member, 500, owner)
    with pytest.raises(ValidationFailed):
        sale(
            cwb_cashier,
            shop["cwb"],
            (dress[0], 1),
            member_id=member.pk,
            payments=[pay("points", "10.05"), cash("200")],
        )
    assert not Order.objects.exists()


def test_a_return_refunds_the_points_payment_as_points(cwb_cashier, owner, shop, dress, member):
    give(member, 100, owner)
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 1),
        member_id=member.pk,
        payments=[pay("points", "10"), cash("200")],
    )
    assert points_balance(member.pk)["available"] == 0
    order_return(
        order_id=order.pk,
        actor=cwb_cashier,
        location_id=shop["cwb"].pk,
        items=[ReturnItem(line_id=order.lines.get().pk, qty=1)],
        reason="does not fit",
    )
    assert sorted(Refund.objects.filter(order=order).values_list("tender", "amount")) == [
        ("cash", D("189.00")),
        ("points", D("10.00")),
    ]
    assert points_balance(member.pk)["available"] == 100
    back = PointsEntry.objects.get(kind="reverse", points__gt=0)
    assert back.reference == f"{order.number}-points-back"


# --- returns after the points were spent --------------------------------------------------------------------


def test_a_return_after_the_points_were_spent_leaves_the_balance_at_zero(cwb_cashier, shop, dress, member):
    first = sale(
        cwb_cashier, shop["cwb"], (dress[0], 1), (dress[1], 1), member_id=member.pk, payments=[cash("400")]
    )
    run(POINTS_EARN_TASK, first.number)  # 39 points
    points_mature(now=timezone.now() + timedelta(days=15))
    second = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[2], 1),
        member_id=member.pk,
        payments=[pay("points", "3.50"), cash("200")],
    )
    assert points_balance(member.pk)["available"] == 4

    order_return(
        order_id=first.pk,
        actor=cwb_cashier,
        location_id=shop["cwb"].pk,
        items=[ReturnItem(line_id=first.lines.get(variant=dress[0]).pk, qty=1)],
        reason="does not fit",
    )
    message = OutboxMessage.objects.get(task_name=POINTS_REVERSE_TASK)
    assert (message.kwargs["fraction"], message.kwargs["amount"]) == ("0.500000", "199.00")
    assert run(POINTS_REVERSE_TASK) == [-4]
    reversal = PointsEntry.objects.get(kind="reverse", reference=f"{first.number}-R1")
    assert (reversal.points, reversal.shortfall) == (-4, 16)  # 20 (half of 39, rounded up) - 4 left
    assert points_balance(member.pk)["available"] == 0
    assert second.number


def test_deduct_policy_takes_the_spent_points_off_the_refund(
    settings, cwb_cashier, owner, shop, dress, member
):
    settings.MEMBER_POINTS_SHORTFALL = "deduct"
    first = sale(
        cwb_cashier, shop["cwb"], (dress[0], 1), member_id=member.pk, payments=[pay("card", "199", "T-1")]
    )
    run(POINTS_EARN_TASK, first.number)  # 19 points
    points_mature(now=timezone.now() + timedelta(days=15))
    sale(
        cwb_cashier,
        shop["cwb"],
        (dress[1], 1),
        member_id=member.pk,
        payments=[pay("points", "1.50"), cash("200")],
    )

    order_return(
        order_id=first.pk,
        actor=cwb_cashier,
        location_id=shop["cwb"].pk,
        items=[ReturnItem(line_id=first.lines.get().pk, qty=1)],
        reason="changed mind",
    )
    # 19 points to take back, 4 left: 15 were spent, worth HK$1.50, kept from the refund.
    assert list(Refund.objects.filter(order=first).values_list("tender", "amount")) == [("card", D("197.50"))]
    reversal = PointsEntry.objects.get(kind="reverse", reference=f"{first.number}-R1")
    assert (reversal.points, reversal.shortfall) == (-4, 15)
    assert run(POINTS_REVERSE_TASK) == [-4]  # the task finds the reversal done
    assert points_balance(member.pk)["available"] == 0


def test_an_exchange_keeps_the_points_for_what_the_customer_keeps(cwb_cashier, shop, dress, member):
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1), member_id=member.pk, payments=[cash("200")])
    run(POINTS_EARN_TASK, order.number)
    _record, new, _refunds = order_exchange(
        order_id=order.pk,
        actor=cwb_cashier,
        location_id=shop["cwb"].pk,
        items=[ReturnItem(line_id=order.lines.get().pk, qty=1)],
        reason="size",
        lines=lines((dress[1], 1)),
    )
    run(POINTS_REVERSE_TASK)
    run(POINTS_EARN_TASK, new.number)
    assert points_balance(member.pk) == {"available": 0, "pending": 19}


# --- tiers --------------------------------------------------------------------------------------------------


@pytest.fixture
def gown(shop: dict[str, Location]) -> list[Variant]:
    variants = sized_product(("S", "M"), prefix="GOWN")
    for variant in variants:
        variant.price = D("1000.00")
        variant.save()
        receive(variant, shop["cwb"], 10)
        receive(variant, shop["kc"], 10)
    return variants


def test_mixed_channel_spend_crosses_gold_at_once(cwb_cashier, customer, shop, gown, member):
    sale(cwb_cashier, shop["cwb"], (gown[0], 3), member_id=member.pk, payments=[pay("card", "3000", "T-1")])
    run(POINTS_EARN_TASK)
    member.refresh_from_db()
    assert member.tier == "silver"
    order = web_order(customer, shop, member, (gown[1], 2))
    order_pay(order_id=order.pk, payments=[pay("fps", "2000", "FPS-1")], actor="fps")
    run(POINTS_EARN_TASK, order.number)
    member.refresh_from_db()
    assert member.tier == "gold"


def test_the_tier_discount_is_the_members_price_with_no_manager(cwb_cashier, customer, shop, dress, member):
    Member.objects.filter(pk=member.pk).update(tier="gold")
    own = LineInput(variant_id=dress[1].pk, qty=1, discount=Discount(amount=D("9"), reason="scuff"))
    order = sale(
        cwb_cashier,
        shop["cwb"],
        (dress[0], 1),
        member_id=member.pk,
        payments=[cash("400")],
        discount=Discount(percent=D("18"), reason="friends day"),
    )
    line = order.lines.get()
    assert (line.discount.amount, line.discount_reason, line.total.amount) == (
        D("9.95"),
        "Gold member 5%",
        D("189.05"),
    )
    assert order.approved_by is None  # 5% + 18% off, but only the 18% counts towards the manager threshold
    mixed = order_place(
        actor=cwb_cashier,
        channel="pos",
        location_id=shop["cwb"].pk,
        lines=[own, LineInput(variant_id=dress[2].pk, qty=1)],
        member_id=member.pk,
        payments=[cash("400")],
    )
    assert [(x.discount.amount, x.discount_reason) for x in mixed.lines.order_by("position")] == [
        (D("9.00"), "scuff"),
        (D("9.95"), "Gold member 5%"),
    ]
    web = web_order(customer, shop, member, (dress[0], 1))
    assert web.total.amount == D("189.05")
    with pytest.raises(ManagerApprovalRequired):
        sale(
            cwb_cashier,
            shop["cwb"],
            (dress[0], 1),
            member_id=member.pk,
            payments=[cash("400")],
            discount=Discount(percent=D("25"), reason="too much"),
        )


@pytest.mark.parametrize("tier", ["silver", "gold"])
def test_a_members_sale_takes_as_many_queries_as_a_guests(
    tier, cwb_cashier, shop, dress, member, django_assert_num_queries
):
    from tests.orders.test_placing import QUERIES

    Member.objects.filter(pk=member.pk).update(tier=tier)
    sale(cwb_cashier, shop["cwb"], (dress[0], 1), payments=[pay("card", "199", "warm")])
    cwb_cashier = User.objects.get(pk=cwb_cashier.pk)
    with django_assert_num_queries(QUERIES):
        sale(
            cwb_cashier,
            shop["cwb"],
            (dress[0], 1),
            (dress[1], 1),
            member_id=member.pk,
            payments=[cash("400")],
        )


# --- staff attribution and the receipt ----------------------------------------------------------------------


def test_a_web_order_credits_the_staff_the_member_is_attributed_to(
    customer, cwb_cashier, shop, dress, member
):
    Member.objects.filter(pk=member.pk).update(
        attributed_staff=cwb_cashier, attributed_at=timezone.now() - timedelta(days=30)
    )
    member.refresh_from_db()
    assert web_order(customer, shop, member, (dress[0], 1)).staff_id == cwb_cashier.pk
    Member.objects.filter(pk=member.pk).update(attributed_at=timezone.now() - timedelta(days=400))
    assert web_order(customer, shop, member, (dress[0], 1)).staff_id is None


def test_a_pos_sale_credits_the_cashier_not_the_attribution(cwb_cashier, cwb_manager, shop, dress, member):
    Member.objects.filter(pk=member.pk).update(attributed_staff=cwb_manager, attributed_at=timezone.now())
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 1), member_id=member.pk, payments=[cash("200")])
    assert order.staff_id == cwb_cashier.pk


def test_the_receipt_shows_the_points_earned_and_the_balance(cwb_cashier, owner, shop, dress, member):
    give(member, 120, owner)
    order = sale(cwb_cashier, shop["cwb"], (dress[0], 2), member_id=member.pk, payments=[cash("400")])
    order = Order.objects.select_related("member").get(pk=order.pk)
    assert receipt_extras(order) == {"points": {"earned": 39, "balance": 120}}
    run(POINTS_EARN_TASK)
    assert receipt_extras(order) == {"points": {"earned": 39, "balance": 120}}
    guest = sale(cwb_cashier, shop["cwb"], (dress[1], 1), payments=[cash("200")])
    assert receipt_extras(Order.objects.get(pk=guest.pk)) == {}
    assert Payment.objects.exists()


def test_a_cancelled_paid_order_gives_its_points_and_spend_back(
    cwb_cashier, cwb_manager, shop, dress, member
):
    from members.services import spend_12m
    from orders.loyalty import loyalty_order_cancelled
    from orders.services import order_cancel

    order = order_place(
        actor=cwb_cashier,
        channel="phone",
        location_id=shop["cwb"].pk,
        lines=lines((dress[0], 1)),
        fulfilment="pickup",
        member_id=member.pk,
        payments=[pay("fps", "199", "FPS-8")],
    )
    run(POINTS_EARN_TASK)
    cancelled = order_cancel(order_id=order.pk, actor=cwb_manager, reason="out of stock after all")
    # order_cancel stores these with its own outbox rows; here they run by hand.
    for _task, kwargs in loyalty_order_cancelled(cancelled):
        points_reverse_task(**kwargs)
    assert points_balance(member.pk) == {"available": 0, "pending": 0}
    assert spend_12m(member.pk) == D("0.00")
