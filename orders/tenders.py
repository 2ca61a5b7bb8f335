"""How payments settle an amount due, who takes them (providers), and the hooks for points and coupons.

Rules (the same at the POS and on the web):
- every tender but cash is exact: together they may not exceed what is due (only cash gives change);
- cash settles what the other tenders leave, rounded to HK$0.10; what the customer hands over above that is
  change;
- an in-store sale is paid in full before the goods leave; an order for later (ship, pickup, locker) may be
  paid later or in parts, and is `paid` once nothing is due.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from django.utils.translation import gettext_lazy as _

from omo.errors import ValidationFailed
from orders.exceptions import PaymentMismatch, TenderUnavailable
from orders.models import Tender
from orders.pricing import ZERO, cash_round, cents

ELECTRONIC = frozenset(Tender.values) - {Tender.CASH, Tender.POINTS, Tender.COUPON, Tender.EXCHANGE}
# Tenders a client may name; exchange credit is only ever made by the exchange service.
CLIENT_TENDERS = frozenset(Tender.values) - {Tender.EXCHANGE}
NEEDS_REFERENCE = frozenset({Tender.CARD})
PAN_LIKE = re.compile(r"\d[\d \-]{11,22}\d")


@dataclass(frozen=True)
class PaymentInput:
    tender: str
    amount: Decimal | None = None  # cash: may be left out (it settles the rest)
    tendered: Decimal | None = None  # cash handed over
    reference: str = ""


@dataclass
class Settled:
    """What each payment counts for, with cash rounding and change worked out."""

    payments: list[dict[str, Any]] = field(default_factory=list)
    rounding: Decimal = ZERO
    paid: Decimal = ZERO
    change: Decimal = ZERO


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_number_refuse(text: str, *, field: str) -> None:
    """Refuses free text holding what looks like a card number (13-19 digits passing the Luhn check), so
    none is ever stored: not in a payment reference, not in an order's note."""
    for match in PAN_LIKE.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            raise ValidationFailed(
                fields={field: _("Never enter a card number; use the terminal's reference.")}
            )


def reference_clean(tender: str, reference: str, *, index: int) -> str:
    """A terminal or wallet reference. Anything that looks like a card number is refused, never stored."""
    reference = (reference or "").strip()
    card_number_refuse(reference, field=f"payments[{index}].reference")
    if len(reference) > 64:
        raise ValidationFailed(
            fields={f"payments[{index}].reference": _("A reference is at most 64 characters.")}
        )
    if tender in NEEDS_REFERENCE and not reference:
        raise ValidationFailed(
            fields={f"payments[{index}].reference": _("A card payment needs the terminal's reference.")}
        )
    return reference


def money_check(value: Decimal | None, name: str) -> None:
    if value is not None and (value <= 0 or value != cents(value)):
        raise ValidationFailed(fields={name: _("An amount is above zero, with at most two decimals.")})


def payments_settle(
    payments: Sequence[PaymentInput], *, due: Decimal, full: bool, allowed: frozenset[str] = CLIENT_TENDERS
) -> Settled:
    """Works out what each payment counts for against `due` (exact, to the cent).

    `full`: the payments must settle everything (an in-store sale). Raises ValidationFailed for a bad
    payment, TenderUnavailable for a tender that cannot be taken, PaymentMismatch for over- or under-payment.
    """
    settled = Settled()
    exact = ZERO
    cash: list[tuple[int, PaymentInput]] = []
    for index, payment in enumerate(payments):
        if payment.tender not in allowed:
            raise TenderUnavailable(fields={f"payments[{index}].tender": _("Unknown tender.")})
        money_check(payment.amount, f"payments[{index}].amount")
        money_check(payment.tendered, f"payments[{index}].tendered")
        reference = reference_clean(payment.tender, payment.reference, index=index)
        if payment.tender == Tender.CASH:
            cash.append((index, payment))
            continue
        if payment.tendered is not None:
            raise ValidationFailed(fields={f"payments[{index}].tendered": _("Only cash is tendered.")})
        if payment.amount is None:
            raise ValidationFailed(fields={f"payments[{index}].amount": _("Give the amount.")})
        exact += payment.amount
        settled.payments.append(
            {
                "tender": payment.tender,
                "amount": payment.amount,
                "tendered": ZERO,
                "change": ZERO,
                "reference": reference,
            }
        )
    if exact > due:
        raise PaymentMismatch(
            _("Card, FPS and other non-cash payments are more than the amount due; only cash gives change."),
            due=str(due),
            paid=str(exact),
            over=str(exact - due),
        )
    remaining = due - exact
    if cash:
        settled.rounding, cash_rows = cash_settle(cash, remaining=remaining, full=full)
        settled.payments += cash_rows
    settled.paid = sum((row["amount"] for row in settled.payments), ZERO)
    settled.change = sum((row["change"] for row in settled.payments), ZERO)
    if full and settled.paid < due + settled.rounding:
        raise PaymentMismatch(
            _("The payments do not cover the total."),
            due=str(due + settled.rounding),
            paid=str(settled.paid),
            remaining=str(due + settled.rounding - settled.paid),
        )
    return settled


def cash_settle(
    cash: list[tuple[int, PaymentInput]], *, remaining: Decimal, full: bool
) -> tuple[Decimal, list[dict[str, Any]]]:
    """Cash takes what the exact tenders left, rounded to 10 cents; several cash lines are one handover."""
    if len(cash) > 1:
        raise ValidationFailed(fields={"payments": _("Enter cash once, with everything handed over.")})
    index, payment = cash[0]
    handed = payment.tendered if payment.tendered is not None else payment.amount
    if handed is None:
        raise ValidationFailed(fields={f"payments[{index}].tendered": _("Enter the cash handed over.")})
    target = cash_round(remaining)
    if remaining <= 0:
        raise PaymentMismatch(_("Nothing is left to pay in cash."), due=str(remaining))
    if target <= 0:
        # A few cents left after card or FPS: no coin is that small, so they are rounded away, not paid.
        return -remaining, []
    if handed >= target:
        amount, change, rounding = target, handed - target, target - remaining
    elif full:
        raise PaymentMismatch(
            _("Not enough cash: more is due."),
            due=str(target),
            tendered=str(handed),
            remaining=str(target - handed),
        )
    else:
        # A part payment in cash: no rounding until the last part.
        amount, change, rounding = handed, ZERO, ZERO
    row = {"tender": Tender.CASH, "amount": amount, "tendered": handed, "change": change, "reference": ""}
    return rounding, [row]


class TenderHook(Protocol):
    """Accounting for tenders that spend something the shop keeps (points, coupons). The members issue
    registers one per tender; until then these tenders are refused with a clear error."""

    def redeem(self, *, order: Any, amount: Decimal, reference: str, actor: Any) -> None: ...

    def reverse(self, *, order: Any, amount: Decimal, reference: str, actor: Any) -> None: ...


TENDER_HOOKS: dict[str, TenderHook] = {}


def tender_hook_register(tender: str, hook: TenderHook) -> None:
    TENDER_HOOKS[tender] = hook


def tender_hooks_check(payments: Sequence[dict[str, Any]]) -> None:
    for row in payments:
        if row["tender"] in (Tender.POINTS, Tender.COUPON) and row["tender"] not in TENDER_HOOKS:
            raise TenderUnavailable(
                _("Points and coupons can be used once membership is set up."), tender=row["tender"]
            )
