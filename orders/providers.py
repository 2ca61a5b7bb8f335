"""Payment providers: who actually moves the money for a tender.

For now every tender goes through `ManualProvider`: the card terminal, the FPS transfer, the e-wallet scan and
the cash drawer are outside the system, and staff record the reference they show. A gateway (an online card
acquirer, a PayMe for Business callback) implements the same two calls and is named in PAYMENT_PROVIDERS.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from orders.models import RefundStatus


@dataclass(frozen=True)
class Captured:
    provider: str
    reference: str


@dataclass(frozen=True)
class Refunded:
    status: str
    reference: str


class PaymentProvider(Protocol):
    name: str

    def capture(self, *, tender: str, amount: Decimal, reference: str, order_number: str) -> Captured: ...

    def refund(self, *, tender: str, amount: Decimal, reference: str, order_number: str) -> Refunded: ...


class ManualProvider:
    """Money moved by hand or on a standalone terminal: records what staff enter, and refunds as done."""

    name = "manual"

    def capture(self, *, tender: str, amount: Decimal, reference: str, order_number: str) -> Captured:
        return Captured(provider=self.name, reference=reference)

    def refund(self, *, tender: str, amount: Decimal, reference: str, order_number: str) -> Refunded:
        return Refunded(status=RefundStatus.DONE, reference=reference)


def provider_for(tender: str) -> PaymentProvider:
    paths: dict[str, str] = getattr(settings, "PAYMENT_PROVIDERS", {})
    path = paths.get(tender) or paths.get("*")
    return import_string(path)() if path else ManualProvider()
