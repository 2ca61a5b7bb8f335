"""The catalogue: products, their variants (the SKU), categories, brands, barcodes and channel prices."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField


def bilingual(en: str, zh: str) -> str:
    """The name in the reader's language, falling back to the other one (imports often bring English only)."""
    prefer_en = (get_language() or "").startswith("en")
    first, second = (en, zh) if prefer_en else (zh, en)
    return first or second


class SalesChannel(models.TextChoices):
    """The channels an order comes from. Prices may be overridden per channel."""

    POS = "pos", _("POS")
    WEB = "web", _("Web shop")
    SOCIAL = "social", _("Social")
    PHONE = "phone", _("Phone")


class ProductStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")


class Category(models.Model):
    """A node in the category tree (Clothing > Dresses)."""

    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name_en"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(
                "parent", Upper("name_en"), name="category_name_unique_per_parent", nulls_distinct=False
            ),
            models.CheckConstraint(condition=~Q(name_en=""), name="category_name_en_required"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return bilingual(self.name_en, self.name_zh_hant)


class Brand(models.Model):
    name = models.CharField(_("name"), max_length=100)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        constraints = [models.UniqueConstraint(Upper("name"), name="brand_name_unique")]

    def __str__(self) -> str:
        return bilingual(self.name, self.name_zh_hant)


class Product(models.Model):
    """What a customer sees as one item; what is sold and stocked is its Variant (the SKU)."""

    handle = models.SlugField(
        _("handle"),
        max_length=120,
        unique=True,
        allow_unicode=True,
        help_text=_("A stable key for URLs and imports, e.g. floral-dress."),
    )
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=200, blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_zh_hant = models.TextField(_("description (Traditional Chinese)"), blank=True)
    category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="products",
        verbose_name=_("category"),
    )
    brand = models.ForeignKey(
        Brand,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="products",
        verbose_name=_("brand"),
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True, verbose_name=_("tags"))
    status = models.CharField(
        _("status"), max_length=10, choices=ProductStatus.choices, default=ProductStatus.DRAFT
    )
    visible_web = models.BooleanField(_("on the web shop"), default=True)
    visible_pos = models.BooleanField(_("on the POS"), default=True)
    # The options every variant must have a value for, in order, e.g. ["Size", "Colour"].
    option_names = ArrayField(
        models.CharField(max_length=30), default=list, blank=True, size=3, verbose_name=_("options")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["handle"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.CheckConstraint(condition=~Q(name_en="") | ~Q(name_zh_hant=""), name="product_has_a_name"),
        ]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["updated_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return bilingual(self.name_en, self.name_zh_hant)


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    url = models.URLField(_("image URL"), max_length=500)
    alt = models.CharField(_("alternative text"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("image")
        verbose_name_plural = _("images")
        constraints = [models.UniqueConstraint(fields=["product", "url"], name="image_unique_per_product")]

    def __str__(self) -> str:
        return self.url


class Variant(models.Model):
    """The SKU: what is priced, scanned, stocked and sold."""

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="variants", verbose_name=_("product")
    )
    sku = models.CharField(_("SKU"), max_length=64)
    # {"Size": "M", "Colour": "Red"}: one value for each of the product's option names.
    option_values = models.JSONField(_("option values"), default=dict, blank=True)
    price = MoneyField(_("price"), max_digits=12, decimal_places=2, default_currency="HKD")
    compare_at_price = MoneyField(
        _("compare-at price"), max_digits=12, decimal_places=2, default_currency="HKD", null=True, blank=True
    )
    cost = MoneyField(
        _("cost"), max_digits=12, decimal_places=2, default_currency="HKD", null=True, blank=True
    )
    weight_grams = models.PositiveIntegerField(_("weight (g)"), null=True, blank=True)
    track_inventory = models.BooleanField(_("track inventory"), default=True)
    allow_backorder = models.BooleanField(
        _("allow backorder"), default=False, help_text=_("Web orders may reserve more than is in stock.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = models.Manager["Variant"]()

    class Meta:
        ordering = ["product_id", "position", "id"]
        verbose_name = _("variant (SKU)")
        verbose_name_plural = _("variants (SKUs)")
        constraints = [
            # SKUs are typed and scanned by people: "drs-001" and "DRS-001" are the same SKU.
            models.UniqueConstraint(Upper("sku"), name="variant_sku_unique"),
            models.UniqueConstraint(fields=["product", "option_values"], name="variant_options_unique"),
            models.CheckConstraint(condition=~Q(sku=""), name="variant_sku_required"),
            models.CheckConstraint(condition=Q(price__gte=0), name="variant_price_not_negative"),
            models.CheckConstraint(
                condition=Q(compare_at_price__isnull=True) | Q(compare_at_price__gte=0),
                name="variant_compare_at_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0), name="variant_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.label}"

    @property
    def options_label(self) -> str:
        return " / ".join(str(value) for value in self.option_values.values())

    @property
    def label(self) -> str:
        options = self.options_label
        return f"{self.product.name} ({options})" if options else self.product.name


class Barcode(models.Model):
    """A scannable code (EAN-13, UPC, the shop's own); a SKU may have several, each code names one SKU."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="barcodes")
    code = models.CharField(_("barcode"), max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("barcode")
        verbose_name_plural = _("barcodes")
        constraints = [models.CheckConstraint(condition=~Q(code=""), name="barcode_required")]

    def __str__(self) -> str:
        return self.code


class ChannelPrice(models.Model):
    """A price for one channel that replaces the SKU's price there (e.g. a web-only price)."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="channel_prices")
    channel = models.CharField(_("channel"), max_length=10, choices=SalesChannel.choices)
    price = MoneyField(_("price"), max_digits=12, decimal_places=2, default_currency="HKD")

    objects = models.Manager["ChannelPrice"]()

    class Meta:
        verbose_name = _("channel price")
        verbose_name_plural = _("channel prices")
        constraints = [
            models.UniqueConstraint(fields=["variant", "channel"], name="channel_price_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="channel_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.variant_id} {self.channel} {self.price}"
