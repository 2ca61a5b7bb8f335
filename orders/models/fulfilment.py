from django.db import models
from django.utils.translation import gettext_lazy as _


class District(models.TextChoices):
    """Hong Kong's 18 districts: couriers price and route by them."""

    CENTRAL_WESTERN = "central_western", _("Central and Western")
    WAN_CHAI = "wan_chai", _("Wan Chai")
    EASTERN = "eastern", _("Eastern")
    SOUTHERN = "southern", _("Southern")
    YAU_TSIM_MONG = "yau_tsim_mong", _("Yau Tsim Mong")
    SHAM_SHUI_PO = "sham_shui_po", _("Sham Shui Po")
    KOWLOON_CITY = "kowloon_city", _("Kowloon City")
    WONG_TAI_SIN = "wong_tai_sin", _("Wong Tai Sin")
    KWUN_TONG = "kwun_tong", _("Kwun Tong")
    KWAI_TSING = "kwai_tsing", _("Kwai Tsing")
    TSUEN_WAN = "tsuen_wan", _("Tsuen Wan")
    TUEN_MUN = "tuen_mun", _("Tuen Mun")
    YUEN_LONG = "yuen_long", _("Yuen Long")
    NORTH = "north", _("North")
    TAI_PO = "tai_po", _("Tai Po")
    SHA_TIN = "sha_tin", _("Sha Tin")
    SAI_KUNG = "sai_kung", _("Sai Kung")
    ISLANDS = "islands", _("Islands")


HK_DISTRICTS = frozenset(District.values)


class PickupPointKind(models.TextChoices):
    SF_LOCKER = "sf_locker", _("SF Locker")
    SF_STORE = "sf_store", _("SF Store")
    PARTNER = "partner", _("Partner shop")


class PickupPoint(models.Model):
    """A locker or collection shop (SF Express and others), imported from the carrier's CSV list."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=PickupPointKind.choices)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=200)
    address_en = models.CharField(_("address (English)"), max_length=300, blank=True)
    address_zh_hant = models.CharField(_("address (Traditional Chinese)"), max_length=300, blank=True)
    district = models.CharField(_("district"), max_length=24, choices=District.choices)
    opening_hours = models.CharField(_("opening hours"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["district", "code"]
        verbose_name = _("pickup point")
        verbose_name_plural = _("pickup points")

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh_hant}"
