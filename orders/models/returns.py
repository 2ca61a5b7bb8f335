from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from omo.models import Location

MONEY = {"max_digits": 12, "decimal_places": 2, "default_currency": "HKD"}


class Disposition(models.TextChoices):
    RESTOCK = "restock", _("Back to stock")
    DAMAGED = "damaged", _("Damaged, written off")


class Return(models.Model):
    """Goods brought back against an order of any channel, at any branch (refunds, exchange hang off it)."""

    BRANCH_FIELD = "location"

    number = models.CharField(_("number"), max_length=24, unique=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="returns")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=200)
    value = MoneyField(_("value of returned goods"), **MONEY)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("return")
        verbose_name_plural = _("returns")

    def __str__(self) -> str:
        return self.number


class ReturnLine(models.Model):
    return_record = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="return_lines")
    qty = models.PositiveIntegerField(_("quantity"))
    disposition = models.CharField(_("disposition"), max_length=8, choices=Disposition.choices)
    stock_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    value = MoneyField(_("value"), **MONEY)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(qty__gt=0), name="return_line_qty_positive")]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.qty}"
