"""The orders side of a member's merge, data-access export and erasure (registered into members.hooks), and
the staff commission statement.

members imports no orders, so orders plugs in here: call `members_hooks_register()` from
OrdersConfig.ready(). The hooks run inside the members service's transaction.

- merge: the duplicate's orders (and the stock holds made for it) move to the survivor;
- export: the member's orders with lines, payments, refunds and returns, and its holds;
- erase: the customer and delivery fields of the member's orders (customer_name/phone/email,
  ship_name/phone/address) and of its holds are blanked, stored receipt PDFs are dropped (they are rendered
  again, without the person, when asked for); totals, lines, payments and refunds stay, so the sales figures
  still add up.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.models import Reservation
from members.hooks import erase_hook_register, export_hook_register, merge_hook_register
from omo.errors import ValidationFailed
from omo.models import User
from orders.models import Order, OrderDocument, OrderStatus, Refund, Return

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


# --- members.hooks ----------------------------------------------------------------------------------------


def orders_member_merge(*, survivor_id: int, duplicate_id: int, actor: Any) -> None:
    """The duplicate's orders and stock holds now belong to the survivor."""
    Order.objects.filter(member_id=duplicate_id).update(member_id=survivor_id)
    Reservation.objects.filter(member_id=duplicate_id).update(member_id=survivor_id)


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def amount(money: Any) -> str:
    return str(getattr(money, "amount", money))


def order_export(order: Order) -> dict[str, Any]:
    return {
        "number": order.number,
        "channel": order.channel,
        "fulfilment": order.fulfilment,
        "status": order.status,
        "location": order.location.code,
        "placed_at": iso(order.placed_at),
        "paid_at": iso(order.paid_at),
        "customer_name": order.customer_name,
        "customer_phone": order.customer_phone,
        "customer_email": order.customer_email,
        "ship_name": order.ship_name,
        "ship_phone": order.ship_phone,
        "ship_address": order.ship_address,
        "ship_district": order.ship_district,
        "staff": order.staff.get_username() if order.staff else None,
        "subtotal": amount(order.subtotal),
        "discount": amount(order.discount),
        "shipping_fee": amount(order.shipping_fee),
        "total": amount(order.total),
        "paid": amount(order.paid),
        "refunded": amount(order.refunded),
        "currency": str(order.total.currency),
        "lines": [
            {
                "sku": line.sku,
                "name_en": line.name_en,
                "name_zh_hant": line.name_zh_hant,
                "options": line.options,
                "qty": line.qty,
                "unit_price": amount(line.unit_price),
                "discount": amount(line.discount),
                "total": amount(line.total),
                "returned_qty": line.returned_qty,
            }
            for line in order.lines.all()
        ],
        "payments": [
            {
                "tender": p.tender,
                "amount": amount(p.amount),
                "refunded": amount(p.refunded),
                "at": iso(p.created_at),
            }
            for p in order.payments.all()
        ],
        "refunds": [
            {"tender": r.tender, "amount": amount(r.amount), "status": r.status, "at": iso(r.created_at)}
            for r in order.refunds.all()
        ],
        "returns": [
            {"number": r.number, "reason": r.reason, "value": amount(r.value), "at": iso(r.created_at)}
            for r in order.returns.all()
        ],
    }


def orders_member_export(*, member_id: int) -> dict[str, list[dict[str, Any]]]:
    """The member's orders (every channel) with lines, payments, refunds and returns, and its stock holds."""
    orders = (
        Order.objects.filter(member_id=member_id)
        .select_related("location", "staff")
        .prefetch_related(
            "lines",
            "payments",
            Prefetch("refunds", queryset=Refund.objects.order_by("pk")),
            Prefetch("returns", queryset=Return.objects.order_by("pk")),
        )
        .order_by("placed_at", "pk")
    )
    holds = (
        Reservation.objects.filter(member_id=member_id)
        .select_related("variant", "location")
        .order_by("created_at", "pk")
    )
    return {
        "orders": [order_export(order) for order in orders],
        "reservations": [
            {
                "sku": hold.variant.sku,
                "location": hold.location.code,
                "qty": hold.qty,
                "status": hold.status,
                "customer_name": hold.customer_name,
                "customer_phone": hold.customer_phone,
                "reference": hold.reference,
                "at": iso(hold.created_at),
            }
            for hold in holds
        ],
    }


def orders_member_erase(*, member_id: int, actor: Any) -> None:
    """Blanks the personal fields of the member's orders and holds; totals and lines stay."""
    orders = Order.objects.filter(member_id=member_id)
    orders.update(
        customer_name="", customer_phone="", customer_email="", ship_name="", ship_phone="", ship_address=""
    )
    OrderDocument.objects.filter(order__in=orders).delete()
    Reservation.objects.filter(member_id=member_id).update(customer_name="", customer_phone="")


def members_hooks_register() -> None:
    """Plugs the orders side into members.hooks; call from OrdersConfig.ready() (again: harmless)."""
    merge_hook_register(orders_member_merge)
    export_hook_register(orders_member_export)
    erase_hook_register(orders_member_erase)


# --- commission ---------------------------------------------------------------------------------------------


def commission_percent(staff: User) -> Decimal:
    """COMMISSION_PERCENT_BY_USERNAME[username], else COMMISSION_PERCENT (default "3")."""
    by_username = getattr(settings, "COMMISSION_PERCENT_BY_USERNAME", {}) or {}
    value = by_username.get(staff.get_username(), getattr(settings, "COMMISSION_PERCENT", "3"))
    return Decimal(str(value))


def period_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The period's start and end (exclusive) in the shop's time zone: whole days, both ends included."""
    if date_from > date_to:
        raise ValidationFailed(fields={"date_to": _("The period ends before it starts.")})
    if date_from.year < 2000 or date_to.year > 2999:
        raise ValidationFailed(fields={"date_from": _("Choose dates from the year 2000 on.")})
    if (date_to - date_from).days > 366:
        raise ValidationFailed(fields={"date_to": _("A statement covers at most a year.")})
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(date_from, time.min), zone)
    end = timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min), zone)
    return start, end


def commission_statement(*, staff_id: int, date_from: date, date_to: date) -> dict[str, Any]:
    """What a member of staff earned in a period (both dates included, Hong Kong days).

    Rule: the staff member is credited with the orders whose `staff` is them (set when the order is placed:
    the cashier of a POS sale, or the member's attributed staff within the attribution window). Sales: the
    amount paid (`paid`, shipping included) of each such order that became paid in the period (`paid_at`)
    and is not cancelled. Returns: every refund made in the period on such an order, whenever it was sold,
    deducted in the period of the refund, so a closed period's statement does not change when goods come
    back later. An exchange nets out: the old order's refund (money and exchange credit) is deducted and
    the new order's payment (credit included) is a sale. Commission = net × percent / 100, to the cent
    (half up); a period with more returns than sales gives a negative commission (claw-back).

    Returns {"staff", "date_from", "date_to", "percent", "currency", "orders": [per order: number, channel,
    paid_at, sales, returns, net], "totals": {"orders", "sales", "returns", "net", "commission"}};
    amounts are Decimals. Raises ValidationFailed (unknown staff, a period ending before it starts).
    """
    staff = User.objects.filter(pk=staff_id).first()
    if staff is None:
        raise ValidationFailed(fields={"staff": _("No such member of staff.")})
    start, end = period_bounds(date_from, date_to)
    credited = Order.objects.filter(staff_id=staff_id, paid_at__isnull=False).exclude(
        status=OrderStatus.CANCELLED
    )
    sold = {
        row["pk"]: row
        for row in credited.filter(paid_at__gte=start, paid_at__lt=end).values(
            "pk", "number", "channel", "paid_at", "paid"
        )
    }
    returned: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for order_id, refund in Refund.objects.filter(
        order__in=credited, created_at__gte=start, created_at__lt=end
    ).values_list("order_id", "amount"):
        returned[order_id] += Decimal(refund)
    earlier = {
        row["pk"]: row
        for row in Order.objects.filter(pk__in=set(returned) - set(sold)).values(
            "pk", "number", "channel", "paid_at"
        )
    }
    lines = []
    for order_id, row in sorted({**earlier, **sold}.items(), key=lambda item: (item[1]["paid_at"], item[0])):
        sales = Decimal(row["paid"]) if order_id in sold else ZERO
        back = returned.get(order_id, ZERO)
        lines.append(
            {
                "order": row["number"],
                "channel": row["channel"],
                "paid_at": row["paid_at"],
                "sales": sales,
                "returns": back,
                "net": sales - back,
            }
        )
    sales_total = sum((line["sales"] for line in lines), ZERO)
    returns_total = sum((line["returns"] for line in lines), ZERO)
    net = sales_total - returns_total
    percent = commission_percent(staff)
    return {
        "staff": {"id": staff.pk, "username": staff.get_username(), "name": str(staff)},
        "date_from": date_from,
        "date_to": date_to,
        "percent": percent,
        "currency": "HKD",
        "orders": lines,
        "totals": {
            "orders": len(sold),
            "sales": sales_total,
            "returns": returns_total,
            "net": net,
            "commission": (net * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP),
        },
    }
