"""Returns, refunds and exchanges: against any order of any channel, at any branch.

Money rules: a returned unit is worth its line's price after line and order discounts (the order discount is
spread over the lines so that the parts add up to it exactly; a line returned in parts adds up to the line;
the return that brings the last goods back also takes the order's cash rounding, so a full return gives back
exactly what was paid for the goods; shipping is not goods and is not refunded by a return). A refund goes to
the tenders the order was paid with (electronic first, then cash; exchange credit back the way the money came
into the exchanged order, never as cash) unless staff choose another, which needs a manager; the order's
refunds never exceed what was paid (checked under the order's lock, and by a database constraint); refunds
above REFUND_MANAGER_AMOUNT need a manager; every refund is in the audit log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.services import StockLine, stock_return, stock_write_off
from omo.errors import ValidationFailed
from omo.models import Location, User
from omo.services.audit import audit_record
from orders.exceptions import ManagerApprovalRequired, RefundExceedsPaid, ReturnNotAllowed
from orders.locks import order_lock
from orders.loyalty import loyalty_order_returned, loyalty_return_deduction
from orders.models import (
    Disposition,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Refund,
    RefundStatus,
    Return,
    ReturnLine,
    Tender,
)
from orders.pricing import ZERO, cents, share
from orders.providers import provider_for
from orders.services.common import after_commit, hkd, is_manager, stock_changed
from orders.services.fulfilment import branch_check, is_user
from orders.status import move, returnable
from orders.tenders import (
    CLIENT_TENDERS,
    ELECTRONIC,
    TENDER_HOOKS,
    money_check,
    reference_clean,
    tender_hooks_check,
)

# (tender, amount, the payment it comes off or None, reference)
PlanRow = tuple[str, Decimal, Payment | None, str]


@dataclass(frozen=True)
class ReturnItem:
    line_id: int
    qty: int
    disposition: str = Disposition.RESTOCK
    stock_location_id: int | None = None  # default: the branch taking the return


@dataclass(frozen=True)
class RefundInput:
    tender: str
    amount: Decimal
    reference: str = ""


def window_days() -> int:
    return int(getattr(settings, "RETURN_WINDOW_DAYS", 14))


def manager_amount() -> Decimal:
    return Decimal(str(getattr(settings, "REFUND_MANAGER_AMOUNT", "1000")))


def approver_of(actor: Any, approver: User | None) -> User | None:
    if is_manager(actor):
        return actor if isinstance(actor, User) else None
    if approver is not None and is_manager(approver):
        return approver
    return None


def window_check(order: Order, *, manager: User | None) -> None:
    since = order.fulfilled_at or order.ready_at or order.paid_at or order.placed_at
    if timezone.now() - since > timedelta(days=window_days()) and manager is None:
        raise ManagerApprovalRequired(
            _("The %(days)d-day return window has passed; a manager must approve this return.")
            % {"days": window_days()},
            order=order.number,
        )


def items_check(order: Order, items: Sequence[ReturnItem]) -> dict[int, OrderLine]:
    """Every line of the order (by id), once the items are checked against them."""
    if not items:
        raise ValidationFailed(fields={"items": _("Choose what is being returned.")})
    lines = {line.pk: line for line in OrderLine.objects.select_related("variant").filter(order=order)}
    wanted: dict[int, int] = defaultdict(int)
    for index, item in enumerate(items):
        name = f"items[{index}]"
        line = lines.get(item.line_id)
        if line is None:
            raise ValidationFailed(fields={f"{name}.line": _("This line is not on the order.")})
        if isinstance(item.qty, bool) or not isinstance(item.qty, int) or item.qty <= 0:
            raise ValidationFailed(fields={f"{name}.qty": _("Quantities are whole numbers above zero.")})
        if item.disposition not in Disposition.values:
            raise ValidationFailed(fields={f"{name}.disposition": _("Restock or write off as damaged.")})
        wanted[item.line_id] += item.qty
        if wanted[item.line_id] > line.qty - line.returned_qty:
            raise ReturnNotAllowed(
                _("More than was bought (and not yet returned) of %(sku)s.") % {"sku": line.sku},
                sku=line.sku,
                returnable=line.qty - line.returned_qty,
            )
    return lines


def discount_shares(order: Order, lines: dict[int, OrderLine]) -> dict[int, Decimal]:
    """Each line's part of the order discount, by the lines' totals. Worked out on running totals in line
    order, so the parts add up to the discount to the cent."""
    shares: dict[int, Decimal] = {}
    running = given = ZERO
    for line in sorted(lines.values(), key=lambda line: line.position):
        running += line.total.amount
        upto = share(running, order.subtotal.amount, order.discount.amount)
        shares[line.pk] = upto - given
        given = upto
    return shares


def line_values(order: Order, lines: dict[int, OrderLine], wanted: dict[int, int]) -> dict[int, Decimal]:
    """What the returned units of each line are worth: the line's total less its part of the order discount,
    by units on running totals (so a line returned in parts adds up to the line). The return that brings
    the order's last goods back also takes its cash rounding."""
    shares = discount_shares(order, lines)
    values = {}
    for line_id, qty in wanted.items():
        line = lines[line_id]
        net = line.total.amount - shares[line_id]
        before = cents(net * line.returned_qty / line.qty)
        values[line_id] = cents(net * (line.returned_qty + qty) / line.qty) - before
    everything_back = all(line.returned_qty + wanted.get(pk, 0) >= line.qty for pk, line in lines.items())
    if everything_back and order.rounding.amount:
        biggest = max(wanted, key=lambda line_id: (values[line_id], line_id))
        values[biggest] += order.rounding.amount
    return values


def tenders_of(
    order: Order, payment: Payment, amount: Decimal, *, taken: Decimal = ZERO
) -> list[tuple[str, Decimal]]:
    """The tenders `amount` off this payment goes back to: its own, except exchange credit, which is never
    given out as cash but goes back the way the exchanged goods were paid (the credit's refund rows on the
    old order name those tenders), in order, after what was refunded off this credit already (and `taken`
    more in the plan being made)."""
    if payment.tender != Tender.EXCHANGE:
        return [(payment.tender, amount)]
    rows = Refund.objects.filter(return_record_id=order.exchange_of_id, tender=Tender.EXCHANGE).order_by("pk")
    skip = payment.refunded.amount + taken
    parts, left = [], amount
    for row in rows:
        if row.reference not in CLIENT_TENDERS:
            continue
        room = row.amount.amount
        used = min(skip, room)
        skip -= used
        part = min(room - used, left)
        if part > 0:
            parts.append((row.reference, part))
            left -= part
    if left > 0:
        raise ValidationFailed(fields={"refunds": _("Choose the tender to refund this exchange credit to.")})
    return parts


def refunds_plan(
    order: Order,
    payments: list[Payment],
    amount: Decimal,
    refunds: Sequence[RefundInput] | None,
    *,
    manager: User | None,
) -> list[PlanRow]:
    """(tender, amount, payment it comes off, reference) for each refund; no writes."""
    plan: list[PlanRow] = []
    if refunds is None:
        ordered = sorted(payments, key=lambda p: (p.tender not in ELECTRONIC, p.tender == Tender.CASH, p.pk))
        left = amount
        for payment in ordered:
            take = min(payment.amount.amount - payment.refunded.amount, left)
            if take <= 0:
                continue
            plan += [(tender, part, payment, "") for tender, part in tenders_of(order, payment, take)]
            left -= take
        if left > 0:
            raise RefundExceedsPaid(order=order.number, requested=str(amount), refundable=str(amount - left))
        return plan
    rooms = {p.pk: p.amount.amount - p.refunded.amount for p in payments}
    for index, refund in enumerate(refunds):
        if refund.tender not in CLIENT_TENDERS:
            raise ValidationFailed(fields={f"refunds[{index}].tender": _("Unknown tender.")})
        money_check(refund.amount, f"refunds[{index}].amount")
        # A refund needs no terminal reference, but a card number is refused all the same.
        reference = reference_clean("", refund.reference, index=index)
        rows: list[PlanRow] = []
        left = refund.amount
        for payment in payments:
            if payment.tender == refund.tender and rooms[payment.pk] > 0 and left > 0:
                part = min(rooms[payment.pk], left)
                rooms[payment.pk] -= part
                left -= part
                rows.append((refund.tender, part, payment, reference))
        if left > 0:
            # To a tender the customer did not pay with (cash back for a card sale, say): a manager's call.
            if manager is None:
                raise ManagerApprovalRequired(
                    _("Refunding to another tender than the one paid with needs a manager."),
                    tender=refund.tender,
                )
            rows.append((refund.tender, left, None, reference))
        plan += rows
    tender_hooks_check([{"tender": tender} for tender, _a, _p, _r in plan])
    return plan


@transaction.atomic
def order_return(
    *,
    order_id: int,
    actor: Any,
    location_id: int,
    items: Sequence[ReturnItem],
    reason: str,
    refunds: Sequence[RefundInput] | None = None,
    approver: User | None = None,
    as_credit: bool = False,
) -> Return:
    """Takes goods back (all or part, by line and quantity) and refunds their value.

    `refunds`: the tenders and amounts to pay back, at most the goods' value; by default the value goes
    back to the tenders the order was paid with. `as_credit` (an exchange): no money goes back; the value is
    recorded as exchange credit for the new order. Restocks each item at its chosen location, or writes it
    off as damaged at this branch. Locks the order row, then its payments, then stock rows.

    Raises ValidationFailed, ReturnNotAllowed, RefundExceedsPaid (409), ManagerApprovalRequired (403: past
    the return window, above REFUND_MANAGER_AMOUNT, or to another tender), BranchAccessDenied,
    TenderUnavailable, OrderNotFound; then nothing is written.
    """
    branch_check(actor, location_id)
    if not reason.strip():
        raise ValidationFailed(fields={"reason": _("Say why the goods come back.")})
    if as_credit and refunds is not None:
        raise ValidationFailed(fields={"refunds": _("An exchange pays back only after the new sale.")})
    order = order_lock(order_id)
    if not returnable(order):
        raise ReturnNotAllowed(
            _("Only goods that were handed over or sent can be returned; cancel the order instead."),
            order=order.number,
            status=order.status,
        )
    manager = approver_of(actor, approver)
    window_check(order, manager=manager)
    lines = items_check(order, items)
    wanted: dict[int, int] = defaultdict(int)
    for item in items:
        wanted[item.line_id] += item.qty
    values = line_values(order, lines, wanted)
    value = sum(values.values(), ZERO)
    payments = list(order.payments.select_for_update().order_by("pk"))
    refundable = order.paid.amount - order.refunded.amount
    requested = value if refunds is None or as_credit else sum((r.amount for r in refunds), ZERO)
    number = f"{order.number}-R{order.returns.count() + 1}"
    if refunds is None and not as_credit:
        # Policy "deduct": points of these goods the customer already spent come off the refund.
        requested -= loyalty_return_deduction(
            order, lines=lines.values(), values=values, return_number=number, actor=actor
        )
    if requested > refundable:
        raise RefundExceedsPaid(order=order.number, requested=str(requested), refundable=str(refundable))
    if requested > value:
        raise RefundExceedsPaid(
            _("The refund is more than the returned goods are worth."),
            requested=str(requested),
            value=str(value),
        )
    if requested > manager_amount() and manager is None:
        raise ManagerApprovalRequired(
            _("Refunds above HK$%(amount)s need a manager.") % {"amount": manager_amount()},
            amount=str(requested),
        )
    plan = [] if as_credit else refunds_plan(order, payments, requested, refunds, manager=manager)
    record = Return.objects.create(
        number=number,
        order=order,
        location_id=location_id,
        reason=reason.strip()[:200],
        value=value,
        created_by=actor if is_user(actor) else None,
        approved_by=manager,
    )
    stock_event = goods_back(
        order, record, lines, items, values, dict(wanted), actor=actor, location_id=location_id
    )
    refunds_record(order, record, plan, actor=actor, manager=manager)
    order_refunded(order, lines, amount=ZERO if as_credit else requested)
    audit_record(
        actor=actor,
        action="order.refund",
        branch=location_id,
        obj=order,
        reason=reason.strip(),
        after={
            "return": number,
            "value": str(value),
            "refunded": str(requested if not as_credit else ZERO),
            "refunds": [{"tender": t, "amount": str(a)} for t, a, _p, _r in plan],
            "approved_by": manager.get_username() if manager else None,
        },
    )
    after_commit(
        order,
        ["order.refunded"],
        extra=[stock_event],
        receipt=True,
        extra_items=loyalty_order_returned(order, record, lines=lines.values(), values=values),
    )
    return record


def goods_back(
    order: Order,
    record: Return,
    lines: dict[int, OrderLine],
    items: Sequence[ReturnItem],
    values: dict[int, Decimal],
    wanted: dict[int, int],
    *,
    actor: Any,
    location_id: int,
) -> tuple[str, dict[str, Any]]:
    """Return lines, back on the shelf (restock) or on the shelf and written off (damaged), so the ledger
    shows both what came back and what was lost. A line split over several items (some restocked, some
    damaged) shares its value by units, to the cent."""
    active = set(Location.objects.filter(is_active=True).values_list("pk", flat=True))
    rows, restock, damaged = [], [], []
    spread = dict(values)
    for item in items:
        line = lines[item.line_id]
        where = (
            location_id
            if item.disposition == Disposition.DAMAGED
            else (item.stock_location_id or location_id)
        )
        if where not in active:
            raise ValidationFailed(fields={"stock_location": _("No such active location.")})
        left = wanted[item.line_id]
        part = spread[item.line_id] if item.qty == left else cents(spread[item.line_id] * item.qty / left)
        spread[item.line_id] -= part
        wanted[item.line_id] -= item.qty
        rows.append(
            ReturnLine(
                return_record=record,
                order_line=line,
                qty=item.qty,
                disposition=item.disposition,
                stock_location_id=where,
                value=part,
            )
        )
        restock.append(StockLine(line.variant, where, item.qty))
        if item.disposition == Disposition.DAMAGED and line.variant.track_inventory:
            damaged.append((line.variant, item.qty))
    ReturnLine.objects.bulk_create(rows)
    stock_return(lines=restock, actor=actor, reference=record.number, reason="return")
    for variant, qty in damaged:
        stock_write_off(
            variant=variant,
            location_id=location_id,
            qty=qty,
            actor=actor,
            reason=f"returned damaged ({record.number})",
            reference=record.number,
        )
    changes = [(s.variant.sku, s.location_id, s.qty) for s in restock if s.variant.track_inventory]
    changes += [(v.sku, location_id, -q) for v, q in damaged]
    for row in rows:
        lines[row.order_line_id].returned_qty += row.qty
    OrderLine.objects.bulk_update([lines[i] for i in {r.order_line_id for r in rows}], ["returned_qty"])
    return stock_changed(changes, kind="return", reference=record.number)


def refunds_record(
    order: Order,
    record: Return | None,
    plan: list[PlanRow],
    *,
    actor: Any,
    manager: User | None,
) -> list[Refund]:
    """Pays the plan out (through each tender's provider; points and coupons through their hook) and
    records it, keeping each payment's refunded amount in step."""
    rows = []
    for tender, amount, payment, reference in plan:
        if tender == Tender.EXCHANGE:
            # Credit spent on the exchange's new sale: no money moves.
            status, ref = str(RefundStatus.DONE), reference
        else:
            result = provider_for(tender).refund(
                tender=tender, amount=amount, reference=reference, order_number=order.number
            )
            status, ref = result.status, result.reference
            hook = TENDER_HOOKS.get(tender)
            if hook is not None:
                hook.reverse(order=order, amount=amount, reference=reference, actor=actor)
        if payment is not None:
            payment.refunded = hkd(payment.refunded.amount + amount)
        rows.append(
            Refund(
                order=order,
                return_record=record,
                payment=payment,
                tender=tender,
                amount=amount,
                status=status,
                reference=ref,
                location_id=record.location_id if record else order.location_id,
                created_by=actor if is_user(actor) else None,
                approved_by=manager,
            )
        )
    touched = {p.pk: p for _t, _a, p, _r in plan if p is not None}
    if touched:
        Payment.objects.bulk_update(list(touched.values()), ["refunded"])
    return Refund.objects.bulk_create(rows) if rows else []


def order_refunded(order: Order, lines: dict[int, OrderLine], *, amount: Decimal) -> None:
    order.refunded = hkd(order.refunded.amount + amount)
    everything_back = all(line.returned_qty >= line.qty for line in lines.values())
    target = OrderStatus.REFUNDED if everything_back else OrderStatus.PARTLY_REFUNDED
    fields = move(order, target)
    order.save(update_fields=[*fields, "refunded"])


@transaction.atomic
def order_exchange(
    *,
    order_id: int,
    actor: Any,
    location_id: int,
    items: Sequence[ReturnItem],
    reason: str,
    lines: Sequence[Any],
    payments: Sequence[Any] = (),
    approver: User | None = None,
    member_id: int | None = None,
) -> tuple[Return, Order, list[Refund]]:
    """A return plus a new in-store sale paid first with the returned goods' value: the customer pays only
    the difference, or gets the difference back to the original tenders (electronic first). One
    transaction; locks the old order, then the new sale's counter and stock rows.

    The credit spent on the new order is booked on the old one as refunds to `exchange` (naming the tender
    they came off), so the old order's refunds add up to what went back. Raises what order_return and
    order_place raise; then nothing is written."""
    from orders.services.placing import order_place

    record = order_return(
        order_id=order_id,
        actor=actor,
        location_id=location_id,
        items=items,
        reason=reason,
        approver=approver,
        as_credit=True,
    )
    old = order_lock(order_id)
    value = record.value.amount
    new = order_place(
        actor=actor,
        channel="pos",
        location_id=location_id,
        lines=lines,
        payments=payments,
        member_id=member_id if member_id is not None else old.member_id,
        credit=value,
        exchange_of=record,
        approver=approver,
        language=old.language,
    )
    used = sum((p.amount.amount for p in new.payments.all() if p.tender == Tender.EXCHANGE), ZERO)
    manager = approver_of(actor, approver)
    old_payments = list(old.payments.select_for_update().order_by("pk"))
    # The money going back takes the refund order (electronic first); the credit takes what is left.
    back = value - used
    plan = refunds_plan(old, old_payments, back, None, manager=manager) if back > 0 else []
    plan += exchange_plan(old, old_payments, plan, used)
    refunds = refunds_record(old, record, plan, actor=actor, manager=manager)
    old.refunded = hkd(old.refunded.amount + value)
    old.save(update_fields=["refunded"])
    audit_record(
        actor=actor,
        action="order.exchange",
        branch=location_id,
        obj=old,
        reason=reason.strip(),
        after={
            "return": record.number,
            "new_order": new.number,
            "credit": str(used),
            "refunded": str(back),
            "refunds": [{"tender": t, "amount": str(a)} for t, a, _p, _r in plan],
        },
    )
    after_commit(old, ["order.refunded"])
    return record, new, refunds


def exchange_plan(
    order: Order, payments: list[Payment], planned: list[PlanRow], amount: Decimal
) -> list[PlanRow]:
    """The credit spent comes off the old order's payments like a refund would (after what `planned` takes
    off them already), but to `exchange`, naming as reference the tender it came off."""
    taken: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for _t, part, payment, _r in planned:
        if payment is not None:
            taken[payment.pk] += part
    plan: list[PlanRow] = []
    left = amount
    for payment in sorted(payments, key=lambda p: (p.tender == Tender.CASH, p.pk)):
        take = min(payment.amount.amount - payment.refunded.amount - taken[payment.pk], left)
        if take > 0:
            for tender, part in tenders_of(order, payment, take, taken=taken[payment.pk]):
                plan.append((Tender.EXCHANGE, part, payment, tender))
            left -= take
    if left > 0:
        raise RefundExceedsPaid(order=order.number, requested=str(amount), refundable=str(amount - left))
    return plan
