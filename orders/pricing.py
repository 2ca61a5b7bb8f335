"""Prices an order from its lines: pure arithmetic on Decimal, no queries.

Line total = qty × unit price − line discount; subtotal = Σ line totals; total = subtotal − order discount +
shipping + cash rounding. Cash settles to HK$0.10 (the smallest coin); other tenders are exact to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from omo.errors import ValidationFailed

CENT = Decimal("0.01")
TEN_CENTS = Decimal("0.1")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def cash_round(value: Decimal) -> Decimal:
    """To the 10 cents: to the nearest by default, or always down (a shop may prefer never to round up)."""
    mode = ROUND_DOWN if getattr(settings, "CASH_ROUNDING", "nearest") == "down" else ROUND_HALF_UP
    return value.quantize(TEN_CENTS, rounding=mode).quantize(CENT)


@dataclass(frozen=True)
class Discount:
    """An amount off, or a percentage off; always with a reason a manager can read later."""

    amount: Decimal | None = None
    percent: Decimal | None = None
    reason: str = ""

    def off(self, base: Decimal, *, field: str) -> Decimal:
        if self.amount is None and self.percent is None:
            return ZERO
        if self.amount is not None and self.percent is not None:
            raise ValidationFailed(
                fields={field: _("Give a discount as an amount or a percentage, not both.")}
            )
        if not self.reason.strip():
            raise ValidationFailed(fields={field: _("A discount needs a reason.")})
        if self.percent is not None:
            if not ZERO <= self.percent <= 100:
                raise ValidationFailed(fields={field: _("A percentage is between 0 and 100.")})
            value = cents(base * self.percent / 100)
        else:
            value = self.amount or ZERO
            if value < 0 or value != cents(value):
                raise ValidationFailed(fields={field: _("An amount is positive, with at most two decimals.")})
        if value > base:
            raise ValidationFailed(fields={field: _("The discount is more than the price.")})
        return value


@dataclass(frozen=True)
class PricedLine:
    qty: int
    unit_price: Decimal
    discount: Decimal
    total: Decimal


def line_price(*, qty: int, unit_price: Decimal, discount: Discount, field: str) -> PricedLine:
    if unit_price < 0 or unit_price != cents(unit_price):
        raise ValidationFailed(fields={field: _("A price is positive, with at most two decimals.")})
    gross = unit_price * qty
    off = discount.off(gross, field=field)
    return PricedLine(qty=qty, unit_price=unit_price, discount=off, total=gross - off)


def share(part: Decimal, whole: Decimal, amount: Decimal) -> Decimal:
    """`amount` × part / whole, to the cent (for spreading an order discount over lines)."""
    if not whole:
        return ZERO
    return cents(amount * part / whole)
