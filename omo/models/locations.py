from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class LocationKind(models.TextChoices):
    BRANCH = "branch", _("Branch")
    WAREHOUSE = "warehouse", _("Warehouse")


class Location(models.Model):
    """A branch or warehouse. Staff belong to locations; every branch-scoped row points at one.

    It lives in `omo` (the bottom layer) because accounts and branch scoping need it;
    inventory adds stock to it.
    """

    code = models.CharField(
        _("code"), max_length=8, unique=True, help_text=_("Short code used in order numbers, e.g. CWB.")
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=LocationKind.choices, default=LocationKind.BRANCH
    )
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=100)
    address_en = models.CharField(_("address (English)"), max_length=255, blank=True)
    address_zh_hant = models.CharField(_("address (Traditional Chinese)"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # {"mon": "11:00-21:00", ..., "sun": ""}: a missing or empty day is closed; "11:00-14:00,15:00-21:00".
    opening_hours = models.JSONField(_("opening hours"), default=dict, blank=True)
    is_pickup_point = models.BooleanField(
        _("pickup point"), default=False, help_text=_("Customers may collect web orders here.")
    )
    ships_orders = models.BooleanField(
        _("ships orders"), default=False, help_text=_("Web orders may be packed and sent from here.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        constraints = [
            models.CheckConstraint(condition=models.Q(code=Upper("code")), name="location_code_upper"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh_hant
