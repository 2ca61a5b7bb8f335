from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

MONEY = {"max_digits": 12, "decimal_places": 2, "default_currency": "HKD"}


class Tender(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Card (terminal)")
    FPS = "fps", _("FPS")
    PAYME = "payme", _("PayMe")
    ALIPAYHK = "alipayhk", _("AlipayHK")
    WECHATPAY = "wechatpay", _("WeChat Pay")
    OCTOPUS = "octopus", _("Octopus")
    POINTS = "points", _("Points")
    COUPON = "coupon", _("Coupon")
    # The value of goods returned in an exchange, spent on the new order (never given out in cash).
    EXCHANGE = "exchange", _("Exchange credit")


class Payment(models.Model):
    """Money taken for an order. `amount` counts towards the order; cash may be `tendered` above it and the
    difference is `change`. No card number is ever stored: a card payment keeps the terminal's reference."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="payments")
    tender = models.CharField(_("tender"), max_length=12, choices=Tender.choices)
    amount = MoneyField(_("amount"), **MONEY)
    tendered = MoneyField(_("tendered"), **MONEY)
    change = MoneyField(_("change"), **MONEY)
    refunded = MoneyField(_("refunded"), **MONEY)
    provider = models.CharField(_("provider"), max_length=32, default="manual")
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(refunded__lte=F("amount")),
                name="payment_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_tender_display()} {self.amount}"


class RefundStatus(models.TextChoices):
    DONE = "done", _("Refunded")
    PENDING = "pending", _("To be paid out")


class Refund(models.Model):
    """Money given back, to one tender. Always part of a Return (or of a cancellation)."""

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds")
    return_record = models.ForeignKey(
        "orders.Return", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    tender = models.CharField(_("tender"), max_length=12, choices=Tender.choices)
    amount = MoneyField(_("amount"), **MONEY)
    status = models.CharField(
        _("status"), max_length=8, choices=RefundStatus.choices, default=RefundStatus.DONE
    )
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    location = models.ForeignKey("omo.Location", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"{self.get_tender_display()} {self.amount}"
