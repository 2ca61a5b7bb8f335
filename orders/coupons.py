"""The coupon tender: a coupon spent as (part of) a payment, at the POS or on the web.

The payment's reference is the coupon's code (typed, or scanned from the customer's QR). In the order's own
transaction, after its lines are saved, the hook quotes the coupon against the order (its lines' categories
and totals, its channel, its member) and spends it on the order number; a refund that gives back everything
paid with a coupon (a cancel, a full refund) makes the coupon usable again.

`coupon_hook_register()` is called from OrdersConfig.ready().
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from members.models import CouponScope, CouponTemplate
from members.selectors_coupons import coupon_code_clean, coupon_get, coupon_quote
from members.services.coupons import coupon_redeem, coupon_unredeem
from omo.errors import ValidationFailed
from orders.models import Order, Payment, Tender
from orders.pricing import ZERO
from orders.tenders import tender_hook_register

# What this transaction's earlier reversals took off each coupon payment (payment id -> amount), kept on the
# order instance: a refund records the payments' new refunded amounts only after all its tenders are paid.
REVERSED_ATTR = "_coupon_reversed"


def coupon_lines(lines: Iterable[Any], template: CouponTemplate) -> list[tuple[int | None, Decimal]]:
    """(category id, total) of the order's lines for the quote. For a category coupon, a line in a
    sub-category counts as in the coupon's category (a coupon on Clothing applies to Dresses)."""
    rows = [(line.category_id, line.total.amount) for line in lines]
    if template.scope != CouponScope.CATEGORY or template.category_id is None:
        return rows
    from catalog.selectors import category_with_descendants

    inside = set(category_with_descendants(template.category_id)) | {template.category_id}
    return [(template.category_id if category in inside else category, total) for category, total in rows]


def coupon_quote_for_order(order: Order, code: str) -> Decimal:
    """What the coupon takes off this order (its goods after discounts; shipping is not discounted).
    Raises what coupon_quote raises."""
    coupon = coupon_get(code)
    return coupon_quote(
        code=coupon.code,
        member_id=order.member_id,
        channel=order.channel,
        lines=coupon_lines(order.lines.all(), coupon.template),
        subtotal=order.subtotal.amount - order.discount.amount,
    )


class CouponTenderHook:
    """Tender.COUPON: redeem on payment, restore on a refund of everything paid with it."""

    def redeem(self, *, order: Order, amount: Decimal, reference: str, actor: Any) -> None:
        """Quotes the coupon (the reference) against the order, refuses more than it gives, and spends it on
        the order number. Raises ValidationFailed (no code; more than the coupon gives) and the coupon errors
        (CouponNotFound 404, CouponNotYours 403, CouponUsed, CouponExpired, CouponNotValidHere,
        CouponMinimumSpend ... 409); the order's transaction then writes nothing."""
        code = coupon_code_clean(reference)
        if not code:
            raise ValidationFailed(
                fields={"payments": _("Enter or scan the coupon's code as the payment's reference.")}
            )
        quote = coupon_quote_for_order(order, code)
        if amount > quote:
            raise ValidationFailed(
                _("This coupon gives HK$%(quote)s on this order.") % {"quote": quote},
                code=code,
                quote=str(quote),
                amount=str(amount),
            )
        coupon_redeem(
            code=code, reference=order.number, member_id=order.member_id, amount=amount, actor=actor
        )

    def reverse(self, *, order: Order, amount: Decimal, reference: str, actor: Any) -> None:
        """`amount` paid with coupons goes back. It comes off the order's coupon payment with this reference
        first, then the others in order (as the refund plan takes them); each coupon whose payment is now
        refunded in full is made usable again (coupon_unredeem: unless expired, or the policy is off). A part
        refund of a coupon payment gives nothing back: a coupon is not split."""
        reversed_now: dict[int, Decimal] = order.__dict__.setdefault(REVERSED_ATTR, {})
        code = coupon_code_clean(reference)
        payments = sorted(
            Payment.objects.filter(order=order, tender=Tender.COUPON),
            key=lambda p: (coupon_code_clean(p.reference) != code, p.pk),
        )
        left = amount
        for payment in payments:
            room = payment.amount.amount - payment.refunded.amount - reversed_now.get(payment.pk, ZERO)
            take = min(room, left)
            if take <= 0:
                continue
            reversed_now[payment.pk] = reversed_now.get(payment.pk, ZERO) + take
            left -= take
            if take >= room:
                coupon_unredeem(code=payment.reference, reference=order.number, actor=actor)
            if left <= 0:
                break


def coupon_hook_register() -> None:
    tender_hook_register(Tender.COUPON, CouponTenderHook())
