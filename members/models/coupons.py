from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

MONEY = {"max_digits": 12, "decimal_places": 2, "default_currency": "HKD"}


class CouponKind(models.TextChoices):
    PERCENT = "percent", _("Percent off")
    AMOUNT = "amount", _("Amount off")


class CouponScope(models.TextChoices):
    ORDER = "order", _("The whole order")
    CATEGORY = "category", _("A category")


class CouponSource(models.TextChoices):
    WELCOME = "welcome", _("Welcome")
    BIRTHDAY = "birthday", _("Birthday")
    CAMPAIGN = "campaign", _("Campaign")
    CLAIM = "claim", _("Claimed online")
    MANUAL = "manual", _("Given by staff")


class CouponStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    REDEEMED = "redeemed", _("Redeemed")
    VOID = "void", _("Void")


class CouponTemplate(models.Model):
    """What a coupon gives and where it may be used; coupons are issued from it."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=100)
    kind = models.CharField(_("kind"), max_length=8, choices=CouponKind.choices)
    value = models.DecimalField(_("value"), max_digits=10, decimal_places=2)
    scope = models.CharField(
        _("applies to"), max_length=8, choices=CouponScope.choices, default=CouponScope.ORDER
    )
    category_id = models.BigIntegerField(_("category"), null=True, blank=True)
    min_spend = MoneyField(_("minimum spend"), **MONEY, default=0)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveIntegerField(_("valid for days after issue"), null=True, blank=True)
    channels = ArrayField(
        models.CharField(max_length=8), default=list, blank=True, verbose_name=_("channels")
    )
    limit_per_member = models.PositiveIntegerField(_("limit per member"), default=1)
    claimable = models.BooleanField(_("claimable online"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="coupon_value_positive"),
            models.CheckConstraint(
                condition=~Q(kind="percent") | Q(value__lte=100), name="coupon_percent_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Coupon(models.Model):
    """One coupon, redeemed once, anywhere: a code (and its QR) checked at the POS or on the web."""

    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="coupons")
    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="coupons"
    )
    code = models.CharField(_("code"), max_length=20, unique=True)
    source = models.CharField(_("source"), max_length=10, choices=CouponSource.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=CouponStatus.choices, default=CouponStatus.ISSUED
    )
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_reference = models.CharField(max_length=40, blank=True)
    # e.g. "birthday-2026-11": one birthday coupon per member and year, whatever runs twice.
    issue_key = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "issue_key"], condition=~Q(issue_key=""), name="coupon_issued_once_per_key"
            )
        ]

    def __str__(self) -> str:
        return self.code
