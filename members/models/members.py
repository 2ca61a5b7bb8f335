from typing import Any, Self

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField


class Tier(models.TextChoices):
    SILVER = "silver", _("Silver")
    GOLD = "gold", _("Gold")
    PLATINUM = "platinum", _("Platinum")


class ConsentChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    EMAIL = "email", _("E-mail")


CONSENT_CHANNELS = tuple(ConsentChannel.values)


class MemberQuerySet(models.QuerySet["Member"]):
    def active(self) -> Self:
        """Members that can be served: not erased, not merged into another."""
        return self.filter(erased_at__isnull=True, merged_into__isnull=True)


class Member(models.Model):
    """One customer across every channel, known by their mobile number (E.164, +852 by default).

    Marketing consent is off until given, per channel, with when and where (PDPO); the history is in
    ConsentRecord. An erased member keeps its row (sales figures still add up) without personal data.
    """

    phone = PhoneNumberField(_("mobile number"), unique=True, null=True, blank=True, region="HK")
    name = models.CharField(_("name"), max_length=100, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    birth_month = models.PositiveSmallIntegerField(_("birth month"), null=True, blank=True)
    birth_day = models.PositiveSmallIntegerField(_("birth day"), null=True, blank=True)
    birth_year = models.PositiveSmallIntegerField(_("birth year"), null=True, blank=True)
    language = models.CharField(_("preferred language"), max_length=10, default="zh-hant")
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True, verbose_name=_("tags"))
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices, default=Tier.SILVER)
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    consent_sms = models.BooleanField(_("SMS marketing"), default=False)
    consent_whatsapp = models.BooleanField(_("WhatsApp marketing"), default=False)
    consent_email = models.BooleanField(_("e-mail marketing"), default=False)
    # The staff member credited with the orders of this customer for MEMBER_ATTRIBUTION_DAYS.
    attributed_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attributed_at = models.DateTimeField(null=True, blank=True)
    # The customer's web-shop sign-in (role customer), made at their first one-time-code login.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="member"
    )
    # Changed to make every member QR shown before invalid (a lost phone).
    qr_nonce = models.CharField(max_length=16, blank=True)
    joined_at_location = models.ForeignKey(
        "omo.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MemberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.CheckConstraint(
                condition=Q(birth_month__isnull=True) | Q(birth_month__gte=1, birth_month__lte=12),
                name="member_birth_month_valid",
            ),
            models.CheckConstraint(
                condition=Q(birth_day__isnull=True) | Q(birth_day__gte=1, birth_day__lte=31),
                name="member_birth_day_valid",
            ),
        ]
        indexes = [models.Index(fields=["birth_month", "birth_day"], name="member_birthday")]

    def __str__(self) -> str:
        return f"{self.name or '—'} {self.phone or ''}".strip()

    def consent(self, channel: str) -> bool:
        value: Any = getattr(self, f"consent_{channel}")
        return bool(value)


class ConsentRecord(models.Model):
    """Every consent given or withdrawn: for which channel, when, where (shop, web) and by whom."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consent_records")
    channel = models.CharField(_("channel"), max_length=10, choices=ConsentChannel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("where"), max_length=40)  # "pos:CWB", "web", "import", "api"
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["member", "-created_at"]

    def __str__(self) -> str:
        return f"{self.member_id} {self.channel} {self.granted}"


class StaffAttribution(models.Model):
    """Each time a member is attributed to a staff member: at sign-up in store, or by a staff action."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="attributions")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=200)
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["member", "-created_at"]

    def __str__(self) -> str:
        return f"{self.member_id} -> {self.staff_id}"
