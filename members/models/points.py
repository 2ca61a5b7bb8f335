from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField


class PointsKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    EXPIRE = "expire", _("Expired")
    REVERSE = "reverse", _("Reversed")
    ADJUST = "adjust", _("Adjusted")


class PointsStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    AVAILABLE = "available", _("Available")


class PointsEntry(models.Model):
    """One change of a member's points. The balance is the sum of available entries; it never goes below zero.

    `reference` is the order (or return, or adjustment) number: members knows no orders, only their numbers.
    One entry per (reference, kind): a task or a retry that runs twice finds its entry and changes nothing.
    """

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="points_entries")
    kind = models.CharField(_("kind"), max_length=8, choices=PointsKind.choices)
    status = models.CharField(_("status"), max_length=10, choices=PointsStatus.choices)
    points = models.IntegerField(_("points"))
    reference = models.CharField(_("reference"), max_length=40)
    order_reference = models.CharField(max_length=40, blank=True, db_index=True)
    # For an earn entry: when it becomes spendable (the return window) and when what is left of it expires.
    available_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Points a reversal could not take back because they were already spent (policy "record").
    shortfall = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=200, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["member", "created_at", "id"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        constraints = [
            models.UniqueConstraint(fields=["reference", "kind"], name="points_one_entry_per_reference_kind"),
            models.CheckConstraint(
                condition=Q(kind="earn", points__gte=0) | ~Q(kind="earn"), name="points_earn_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "available_at"], name="points_to_mature"),
            models.Index(fields=["member", "status"], name="points_by_member"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind} {self.points}"


class SpendEntry(models.Model):
    """Net spend of a member on one order (or taken back by one return), any channel. Tiers, segments and
    the member's channel behaviour are read from these, so members needs no orders."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="spend_entries")
    reference = models.CharField(max_length=40, unique=True)
    order_reference = models.CharField(max_length=40, db_index=True)
    channel = models.CharField(max_length=8)
    amount = MoneyField(max_digits=12, decimal_places=2, default_currency="HKD")
    location_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["member", "at"]
        indexes = [models.Index(fields=["member", "at"], name="spend_by_member")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.reference} {self.amount}"
