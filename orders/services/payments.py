"""Payments after placing: a web or phone order paid by FPS, PayMe or at the counter when collected."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.models import Reservation
from inventory.services import reservations_keep
from omo.errors import ValidationFailed
from orders.exceptions import CheckoutExpired, IllegalTransition
from orders.loyalty import loyalty_order_paid
from orders.models import Order, OrderStatus
from orders.pricing import ZERO
from orders.services.common import after_commit, hkd
from orders.services.fulfilment import holds_of, is_user, order_for
from orders.services.placing import hold_source, payments_save, tenders_redeem
from orders.status import walk
from orders.tenders import PaymentInput, payments_settle, tender_hooks_check


@transaction.atomic
def order_pay(*, order_id: int, payments: Sequence[PaymentInput], actor: Any) -> Order:
    """Records payments against what is still due, in one go or in parts. Locks the order row.

    When nothing is due any more the order becomes `paid` and its holds last until fulfilment. The goods must
    still be held when the money comes: if a hold ran out first (its time passed, or the expiry task swept
    it), CheckoutExpired (409) and nothing is recorded or captured. A user pays only orders of their branches
    (system work, such as a payment provider's callback, passes a label).

    Raises IllegalTransition for an order that is not waiting for payment, PaymentMismatch for overpayment,
    ValidationFailed, TenderUnavailable, CheckoutExpired, OrderNotFound.
    """
    order = order_for(order_id, actor)
    if order.status != OrderStatus.PLACED:
        raise IllegalTransition(
            _("Only an order waiting for payment can be paid."), current=order.status, requested="paid"
        )
    if not payments:
        raise ValidationFailed(fields={"payments": _("Give at least one payment.")})
    due = order.total.amount - order.paid.amount
    settled = payments_settle(payments, due=due, full=False)
    tender_hooks_check(settled.payments)
    paid_in_full = order.paid.amount + settled.paid >= order.total.amount + settled.rounding
    # Before any money is captured: the goods must still be ours to sell.
    holds = holds_of(order)
    if holds:
        if paid_in_full:
            # One UPDATE that keeps only live holds, so a sweep cannot free them between a check and the keep.
            paid_source = hold_source(
                channel=order.channel,
                fulfilment=order.fulfilment,
                location=order.location,
                fulfil_from=order.fulfil_from,
                paid=True,
            )
            kept = reservations_keep(reservation_ids=holds, reference=order.number, source=paid_source)
        else:
            kept = Reservation.objects.filter(pk__in=holds).live().count()
        if kept != len(holds):
            raise CheckoutExpired(order=order.number)
    now = timezone.now()
    payments_save(order, settled, actor=actor if is_user(actor) else None, now=now)
    tenders_redeem(order, settled, actor=actor)
    order.paid = hkd(order.paid.amount + settled.paid)
    order.rounding = hkd(order.rounding.amount + settled.rounding)
    order.total = hkd(order.total.amount + settled.rounding)
    fields = ["paid", "rounding", "total"]
    topics = []
    if paid_in_full:
        fields += walk(order, OrderStatus.PAID)
        topics.append("order.paid")
    order.save(update_fields=fields)
    after_commit(
        order, topics, receipt=paid_in_full, extra_items=loyalty_order_paid(order) if paid_in_full else None
    )
    return order


def order_balance(order: Order) -> Any:
    return max(order.total.amount - order.paid.amount, ZERO)
