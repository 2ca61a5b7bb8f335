"""The orders side of membership: points earned and taken back, points as a tender, the tier's member price
and staff attribution. The members app knows no orders; everything it needs is passed as numbers here.

- A member's paid order (any channel) stores `members.tasks.points_earn_task` in the outbox with the sale's
  own rows (one INSERT); the task records the spend, earns the points (pending) and upgrades the tier.
- A return stores `members.tasks.points_reverse_task`: negative spend and the order's points taken back in
  proportion to the eligible goods returned. With MEMBER_POINTS_SHORTFALL = "deduct", the points are taken
  back in the return's own transaction so that what was already spent comes off the refund.
- Points earn on money actually paid for goods: the goods' value after discounts, less what points and
  coupons paid. Exchange credit counts as money (it is the money paid for goods that came back, whose points
  that return took back), so an exchange keeps the customer's points for what they keep.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members.models import Member, Tier
from members.selectors_points import (
    points_balance,
    points_earned,
    points_redemptions_count,
    points_returns_count,
)
from members.services.points import (
    excluded_categories,
    point_value,
    points_calculate,
    points_for_amount,
    points_redeem,
    points_redeem_reverse,
    points_reverse,
    points_value,
    shortfall_policy,
)
from members.services.tiers import tier_benefits
from omo.errors import ValidationFailed
from orders.exceptions import TenderUnavailable
from orders.models import Channel, Order, OrderLine, Return, ReturnLine, Tender
from orders.pricing import ZERO, Discount, cents, line_price

POINTS_EARN_TASK = "members.tasks.points_earn_task"
POINTS_REVERSE_TASK = "members.tasks.points_reverse_task"
# Tenders that are not money: what they pay earns no points and is no spend.
NOT_MONEY = frozenset({Tender.POINTS, Tender.COUPON})

OutboxItem = tuple[str, dict[str, Any]]


class PointsNeedMember(TenderUnavailable, ValidationFailed):
    code = "points_need_member"
    default_message = _("Points can only be used on a member's order.")


# --- what an order is worth to the ledger -------------------------------------------------------------------


def goods_value(order: Order) -> Decimal:
    """The goods after line and order discounts (no shipping, no cash rounding)."""
    return Decimal(order.subtotal.amount - order.discount.amount)


def money_paid_for_goods(order: Order) -> Decimal:
    """The goods' value less what points and coupons paid: the order's net spend."""
    not_money = sum(
        (p.amount.amount for p in order.payments.all() if p.tender in NOT_MONEY),
        ZERO,
    )
    return max(goods_value(order) - not_money, ZERO)


def earn_lines(order: Order) -> list[tuple[int | None, Decimal]]:
    """(category id, net amount) per line: the money paid for goods spread over the lines by their totals, on
    running totals so the parts add up to it to the cent."""
    lines = sorted(order.lines.all(), key=lambda line: line.position)
    whole = sum((line.total.amount for line in lines), ZERO)
    paid = money_paid_for_goods(order)
    parts, running, given = [], ZERO, ZERO
    for line in lines:
        running += line.total.amount
        upto = cents(paid * running / whole) if whole else ZERO
        parts.append((line.category_id, upto - given))
        given = upto
    return parts


def returned_fraction(
    order: Order, lines: Iterable[OrderLine], returned: dict[int, Decimal]
) -> tuple[Decimal, Decimal]:
    """(share of the order's points-earning goods that came back, share of all its goods that came back).

    `returned` is the value (after discounts) of what came back, by order line id. Lines of excluded
    categories earned no points, so their return takes none back."""
    excluded = excluded_categories()
    lines = list(lines)
    subtotal = order.subtotal.amount
    scale = goods_value(order) / subtotal if subtotal else Decimal(0)
    earning = sum((line.total.amount for line in lines if line.category_id not in excluded), ZERO) * scale
    back_earning = sum(
        (
            value
            for line in lines
            if line.category_id not in excluded
            for value in [returned.get(line.pk, ZERO)]
        ),
        ZERO,
    )
    goods = goods_value(order)
    back = sum(returned.values(), ZERO)
    points_share = min(back_earning / earning, Decimal(1)) if earning > 0 else Decimal(0)
    goods_share = min(back / goods, Decimal(1)) if goods > 0 else Decimal(0)
    return points_share, goods_share


def _fraction_text(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.000001")))


# --- placing and paying -------------------------------------------------------------------------------------


def loyalty_order_paid(order: Order) -> list[OutboxItem]:
    """A member's order is paid: the earn task, as an outbox item for the caller to store with its own
    (`after_commit(..., extra_items=...)`), so the sale still writes one outbox INSERT. No queries when the
    order's lines and payments are prefetched (order_place hands them over)."""
    if order.member_id is None:
        return []
    at = order.paid_at or timezone.now()
    return [
        (
            POINTS_EARN_TASK,
            {
                "member_id": order.member_id,
                "reference": order.number,
                "lines": [[category, str(amount)] for category, amount in earn_lines(order)],
                "channel": order.channel,
                "at": at.isoformat(),
                "location_id": order.location_id,
            },
        )
    ]


def member_prices(priced: list[Any], member: Member | None) -> list[Any]:
    """The member's tier discount (MEMBER_TIERS `discount_percent`) as a line discount on every line that has
    neither a discount nor a price override of its own, at the POS and on the web alike. It is the member's
    price, not a concession, so it needs no manager (order_place checks approval on the lines before it).
    No queries: the member row is loaded already."""
    if member is None:
        return priced
    _multiplier, percent = tier_benefits(member.tier)
    if not percent:
        return priced
    label = Tier(member.tier).label if member.tier in Tier.values else member.tier.title()
    reason = gettext("%(tier)s member %(percent)s%%") % {
        "tier": label,
        "percent": f"{percent.normalize():f}",
    }
    discount = Discount(percent=percent, reason=reason)
    result = []
    for index, (line, variant, p, list_price) in enumerate(priced):
        own = line.unit_price is not None or line.discount.amount or line.discount.percent
        if own or not p.unit_price:
            result.append((line, variant, p, list_price))
            continue
        member_line = replace(line, discount=discount)
        p = line_price(qty=p.qty, unit_price=p.unit_price, discount=discount, field=f"lines[{index}]")
        result.append((member_line, variant, p, list_price))
    return result


def attributed_staff_id(member: Member | None, *, channel: str, at: datetime) -> int | None:
    """The staff member credited with a member's remote order (web, social, phone) placed with no staff named:
    the one the member is attributed to, for MEMBER_ATTRIBUTION_DAYS after the attribution. No queries."""
    if member is None or channel == Channel.POS or member.attributed_staff_id is None:
        return None
    if member.attributed_at is None:
        return None
    days = int(getattr(settings, "MEMBER_ATTRIBUTION_DAYS", 365))
    return member.attributed_staff_id if at - member.attributed_at <= timedelta(days=days) else None


# --- returns ------------------------------------------------------------------------------------------------


def loyalty_return_deduction(
    order: Order,
    *,
    lines: Iterable[OrderLine],
    values: dict[int, Decimal],
    return_number: str,
    actor: Any,
) -> Decimal:
    """Policy "deduct": takes the returned goods' points back now, in the return's transaction, and gives the
    value of what the customer already spent of them (HK$ MEMBER_POINT_VALUE_HKD a point), to come off the
    refund; at most the goods' value. ZERO under policy "record", for a guest, or when the points are still
    pending (they were never spendable)."""
    if order.member_id is None or shortfall_policy() != "deduct":
        return ZERO
    points_share, _goods_share = returned_fraction(order, lines, values)
    entry = points_reverse(
        member_id=order.member_id,
        order_reference=order.number,
        return_reference=return_number,
        fraction=points_share,
        actor=actor,
    )
    if entry is None or not entry.shortfall:
        return ZERO
    return min(points_value(entry.shortfall), sum(values.values(), ZERO))


def loyalty_order_returned(
    order: Order,
    record: Return,
    *,
    lines: Iterable[OrderLine] | None = None,
    values: dict[int, Decimal] | None = None,
) -> list[OutboxItem]:
    """Goods of a member's order came back (a refund or an exchange): the reverse task (negative spend, points
    taken back in proportion), as an outbox item for the caller's after_commit. `lines` (every line of the
    order) and `values` (returned value by line id) save two queries when the caller has them."""
    if order.member_id is None:
        return []
    if lines is None:
        lines = list(OrderLine.objects.filter(order=order))
    if values is None:
        values = {}
        for row in ReturnLine.objects.filter(return_record=record):
            values[row.order_line_id] = values.get(row.order_line_id, ZERO) + row.value.amount
    points_share, goods_share = returned_fraction(order, lines, values)
    spend = money_paid_for_goods(order)
    spend_back = min(cents(spend * goods_share), spend)
    return [
        (
            POINTS_REVERSE_TASK,
            {
                "member_id": order.member_id,
                "order_reference": order.number,
                "return_reference": record.number,
                "fraction": _fraction_text(points_share),
                "amount": str(spend_back),
                "channel": order.channel,
                "at": record.created_at.isoformat(),
                "location_id": record.location_id,
            },
        )
    ]


def loyalty_order_cancelled(order: Order) -> list[OutboxItem]:
    """A paid member's order was cancelled and its money given back: all its points and spend go, like a
    return of everything. For order_cancel's after_commit."""
    if order.member_id is None or order.paid_at is None:
        return []
    return [
        (
            POINTS_REVERSE_TASK,
            {
                "member_id": order.member_id,
                "order_reference": order.number,
                "return_reference": f"{order.number}-X",
                "fraction": "1",
                "amount": str(money_paid_for_goods(order)),
                "channel": order.channel,
                "at": (order.cancelled_at or timezone.now()).isoformat(),
                "location_id": order.location_id,
            },
        )
    ]


# --- points as a tender -------------------------------------------------------------------------------------


class PointsTender:
    """Points spent as a payment (HK$ MEMBER_POINT_VALUE_HKD a point) and given back when it is refunded.
    Runs inside the order's transaction, under its lock; each payment and each refund gets its own ledger
    reference (`CWB-000123-points`, `CWB-000123-points-2`, ...)."""

    def redeem(self, *, order: Any, amount: Decimal, reference: str, actor: Any) -> None:
        if order.member_id is None:
            raise PointsNeedMember(fields={"payments": _("Look the member up to pay with points.")})
        points = points_for_amount(amount, field="payments")
        count = points_redemptions_count(order.number)
        points_redeem(
            member_id=order.member_id,
            points=points,
            reference=f"{order.number}-points" + (f"-{count + 1}" if count else ""),
            actor=actor,
            order_reference=order.number,
        )

    def reverse(self, *, order: Any, amount: Decimal, reference: str, actor: Any) -> None:
        if order.member_id is None:
            return
        # A refund split over tenders can leave cents on the points payment: half a point or more is a point.
        points = int((Decimal(amount) / point_value()).to_integral_value(rounding=ROUND_HALF_UP))
        if points <= 0:
            return
        count = points_returns_count(order.number)
        points_redeem_reverse(
            member_id=order.member_id,
            reference=f"{order.number}-points" + (f"-{count + 1}" if count else ""),
            points=points,
            actor=actor,
            order_reference=order.number,
        )


# --- receipt ------------------------------------------------------------------------------------------------


def loyalty_receipt_extras(order: Order) -> dict[str, Any]:
    """The receipt's points block for a member's order: the points it earned (or will earn, worked out by the
    earn task's own function) and the member's available balance."""
    member = order.member
    if member is None:
        return {}
    earned = points_earned(order.number)
    if earned is None:
        earned = points_calculate(lines=earn_lines(order), tier=member.tier)
    return {"points": {"earned": earned, "balance": points_balance(member.pk)["available"]}}
