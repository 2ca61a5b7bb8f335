"""Reads of coupons: look-ups by code, a member's coupons, and what a coupon gives on a sale (`coupon_quote`).

The coupon errors live here because the quote raises most of them; `members.services.coupons` re-exports them.
Members knows no catalogue: a category-scoped coupon is matched against the category ids the caller passes
for its lines (the orders side maps sub-categories onto the template's category first).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Coupon, CouponKind, CouponScope, CouponStatus, CouponTemplate
from omo.errors import Conflict, NotFound, PermissionDenied

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# Order channels a template may name (orders.models.Channel; members may not import orders).
COUPON_CHANNELS = ("pos", "web", "social", "phone")


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    default_message = _("No coupon with this code.")


class CouponTemplateNotFound(NotFound):
    code = "coupon_template_not_found"
    default_message = _("No such coupon template.")


class CouponNotYours(PermissionDenied):
    code = "coupon_not_yours"
    default_message = _("This coupon belongs to another member.")


class CouponUsed(Conflict):
    code = "coupon_used"
    default_message = _("This coupon has already been used.")


class CouponVoid(Conflict):
    code = "coupon_void"
    default_message = _("This coupon was cancelled.")


class CouponExpired(Conflict):
    code = "coupon_expired"
    default_message = _("This coupon has expired.")


class CouponNotYetValid(Conflict):
    code = "coupon_not_yet_valid"
    default_message = _("This coupon cannot be used yet.")


class CouponNotValidHere(Conflict):
    code = "coupon_not_valid_here"
    default_message = _("This coupon cannot be used in this channel.")


class CouponMinimumSpend(Conflict):
    code = "coupon_minimum_spend"
    default_message = _("The minimum spend for this coupon is not reached.")


class CouponNothingToDiscount(Conflict):
    code = "coupon_nothing_to_discount"
    default_message = _("Nothing in this sale is in the coupon's category.")


class CouponUnavailable(Conflict):
    """No coupon of the template can be issued or claimed now (inactive, outside its dates, at the limit)."""

    code = "coupon_unavailable"
    default_message = _("This coupon is not available.")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def coupon_code_clean(raw: str) -> str:
    """A code as typed or scanned: spaces and dashes dropped, upper case (codes avoid 0/O and 1/I)."""
    return re.sub(r"[\s\-]", "", raw or "").upper()


def coupon_get(code: str) -> Coupon:
    """The coupon with this code (and its template), or CouponNotFound."""
    cleaned = coupon_code_clean(code)
    coupon = Coupon.objects.select_related("template").filter(code=cleaned).first() if cleaned else None
    if coupon is None:
        raise CouponNotFound(code=cleaned)
    return coupon


def coupon_template_get(template_id: int) -> CouponTemplate:
    template = CouponTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise CouponTemplateNotFound(template_id=template_id)
    return template


def coupon_template_list(
    *, active: bool | None = None, claimable: bool | None = None
) -> QuerySet[CouponTemplate]:
    queryset = CouponTemplate.objects.all()
    if active is not None:
        queryset = queryset.filter(is_active=active)
    if claimable is not None:
        queryset = queryset.filter(claimable=claimable)
    return queryset


def coupon_list(
    *, member_id: int | None = None, status: str | None = None, template_id: int | None = None
) -> QuerySet[Coupon]:
    """Coupons (newest first) with their templates, filtered by member, status and template."""
    queryset = Coupon.objects.select_related("template")
    if member_id is not None:
        queryset = queryset.filter(member_id=member_id)
    if status:
        queryset = queryset.filter(status=status)
    if template_id is not None:
        queryset = queryset.filter(template_id=template_id)
    return queryset


def coupons_of_member(
    member_id: int, *, usable_only: bool = False, at: datetime | None = None
) -> QuerySet[Coupon]:
    """A member's coupons, newest first; `usable_only`: issued and not expired (what they can spend)."""
    queryset = coupon_list(member_id=member_id)
    if usable_only:
        now = at or timezone.now()
        queryset = queryset.filter(status=CouponStatus.ISSUED).exclude(expires_at__lte=now)
    return queryset


def template_discount(template: CouponTemplate, applies_to: Decimal) -> Decimal:
    """What the template takes off `applies_to` (the order's or the category's goods): a percent of it, or the
    amount, never more than it."""
    if applies_to <= 0:
        return ZERO
    if template.kind == CouponKind.PERCENT:
        off = cents(applies_to * template.value / Decimal(100))
    else:
        off = cents(template.value)
    return min(off, cents(applies_to))


def coupon_usable_check(coupon: Coupon, *, member_id: int | None, at: datetime) -> None:
    """Raises why the coupon cannot be spent by this member at this time, in the order a cashier would say it:
    CouponNotYours, CouponUsed, CouponVoid, CouponExpired, CouponNotYetValid."""
    if coupon.member_id is not None and coupon.member_id != member_id:
        raise CouponNotYours(code=coupon.code)
    if coupon.status == CouponStatus.REDEEMED:
        raise CouponUsed(
            code=coupon.code,
            redeemed_at=coupon.redeemed_at.isoformat() if coupon.redeemed_at else None,
        )
    if coupon.status == CouponStatus.VOID:
        raise CouponVoid(code=coupon.code)
    if coupon.expires_at is not None and coupon.expires_at <= at:
        raise CouponExpired(code=coupon.code, expired_at=coupon.expires_at.isoformat())
    valid_from = coupon.template.valid_from
    if valid_from is not None and valid_from > at:
        raise CouponNotYetValid(
            _("This coupon can be used from %(date)s.") % {"date": timezone.localtime(valid_from).date()},
            code=coupon.code,
            valid_from=valid_from.isoformat(),
        )


def coupon_quote(
    *,
    code: str,
    member_id: int | None,
    channel: str,
    lines: Sequence[tuple[int | None, Decimal]],
    subtotal: Decimal,
    at: datetime | None = None,
) -> Decimal:
    """The discount the coupon gives on a sale: `lines` are (category id, line total) of its goods and
    `subtotal` what the goods come to (the minimum spend is checked against it).

    Percent off the order takes the percent of the subtotal; off a category, of the lines in that category.
    An amount off is capped at what it applies to. Reads only, locks nothing (coupon_redeem decides races).

    Raises CouponNotFound (404), CouponNotYours (403: issued to another member; an unassigned coupon may be
    used by anyone), CouponUsed, CouponVoid, CouponExpired, CouponNotYetValid, CouponNotValidHere (the
    channel), CouponMinimumSpend (with the minimum), CouponNothingToDiscount (no line in the category): 409.
    """
    now = at or timezone.now()
    coupon = coupon_get(code)
    coupon_usable_check(coupon, member_id=member_id, at=now)
    template = coupon.template
    if template.channels and channel not in template.channels:
        raise CouponNotValidHere(code=coupon.code, channel=channel, channels=list(template.channels))
    minimum = template.min_spend.amount
    if minimum and subtotal < minimum:
        raise CouponMinimumSpend(
            _("This coupon needs a minimum spend of HK$%(minimum)s.") % {"minimum": minimum},
            code=coupon.code,
            minimum=str(minimum),
            subtotal=str(subtotal),
        )
    if template.scope == CouponScope.CATEGORY:
        applies_to = sum((total for category, total in lines if category == template.category_id), ZERO)
        if applies_to <= 0:
            raise CouponNothingToDiscount(code=coupon.code, category_id=template.category_id)
    else:
        applies_to = subtotal
    return template_discount(template, applies_to)
