from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField


class Member(models.Model):
    """One customer across every channel, known by their mobile number (E.164, +852 by default).

    The orders issue needs only who the customer is; points, tiers, coupons and consent arrive with the
    members issue and hang off this row.
    """

    phone = PhoneNumberField(_("mobile number"), unique=True, region="HK")
    name = models.CharField(_("name"), max_length=100, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("member")
        verbose_name_plural = _("members")

    def __str__(self) -> str:
        return f"{self.name or '—'} {self.phone}"
