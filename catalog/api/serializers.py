"""Catalogue API: input serializers check the shape of what a client sends (the services check the meaning:
option values, duplicates); output serializers write prices as HKD decimal strings ("199.00")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.fields import HkdField, IdField, price_field
from catalog.models import Brand, Category, Product, ProductImage, ProductStatus, SalesChannel, Variant
from catalog.selectors import price_for_channel
from omo.models import Role

# --- Inputs -------------------------------------------------------------------------------------------------


class ChannelPricesField(serializers.DictField):
    """{"web": "179.00"}: a price per sales channel that replaces the SKU's price there."""

    child = price_field()

    def to_internal_value(self, data: Any) -> dict[str, Decimal]:
        prices: dict[str, Decimal] = super().to_internal_value(data)
        unknown = sorted(set(prices) - set(SalesChannel.values))
        if unknown:
            raise serializers.ValidationError(
                _("Unknown channel: %(channel)s.") % {"channel": ", ".join(unknown)}
            )
        return prices


class VariantInput(serializers.Serializer[dict]):
    sku = serializers.CharField(max_length=64, help_text="Unique, any case, e.g. DRS-001-M.")
    option_values = serializers.DictField(
        child=serializers.CharField(max_length=50, allow_blank=True),
        required=False,
        help_text='One value for each of the product\'s options, e.g. {"Size": "M"}.',
    )
    price = price_field(help_text="HKD, e.g. 199.00.")
    compare_at_price = price_field(required=False, allow_null=True)
    cost = price_field(required=False, allow_null=True)
    weight_grams = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, allow_null=True)
    track_inventory = serializers.BooleanField(required=False)
    allow_backorder = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    barcodes = serializers.ListField(
        child=serializers.CharField(max_length=64),
        max_length=20,
        required=False,
        help_text="On update, the list replaces the SKU's barcodes.",
    )
    channel_prices = ChannelPricesField(
        required=False, help_text="On update, replaces the SKU's channel prices ({} removes them)."
    )


class VariantCreateInput(VariantInput):
    product = IdField(source="product_id")


class ProductUpdateInput(serializers.Serializer[dict]):
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True)
    name_zh_hant = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description_en = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    description_zh_hant = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    category = IdField(source="category_id", required=False, allow_null=True)
    brand = IdField(source="brand_id", required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), max_length=50, required=False)
    status = serializers.ChoiceField(choices=ProductStatus.choices, required=False)
    visible_web = serializers.BooleanField(required=False)
    visible_pos = serializers.BooleanField(required=False)
    option_names = serializers.ListField(
        child=serializers.CharField(max_length=30),
        max_length=3,
        required=False,
        help_text='e.g. ["Size", "Colour"]; fixed once the product has variants.',
    )


class ProductCreateInput(ProductUpdateInput):
    handle = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        help_text="Made from the name when left out, e.g. floral-dress.",
    )
    variants: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=VariantInput(), min_length=1, max_length=200
    )


class CategoryCreateInput(serializers.Serializer[dict]):
    name_en = serializers.CharField(max_length=100)
    name_zh_hant = serializers.CharField(max_length=100, required=False, allow_blank=True)
    parent = IdField(source="parent_id", required=False, allow_null=True)  # type: ignore[assignment]
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False)


class BrandCreateInput(serializers.Serializer[dict]):
    name = serializers.CharField(max_length=100)
    name_zh_hant = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class VariantSearchQuery(serializers.Serializer[dict]):
    q = serializers.CharField(max_length=100, help_text="A scan (barcode, SKU) or words of a name.")
    channel = serializers.ChoiceField(
        choices=SalesChannel.choices,
        required=False,
        help_text="Leave out products not active or hidden there; prices are the channel's.",
    )
    include_inactive = serializers.BooleanField(required=False, default=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)


class VariantLookupQuery(serializers.Serializer[dict]):
    code = serializers.CharField(max_length=64, help_text="A barcode or a SKU (any case).")
    channel = serializers.ChoiceField(choices=SalesChannel.choices, required=False)


# --- Outputs ------------------------------------------------------------------------------------------------


class CategoryBriefOutput(serializers.ModelSerializer[Category]):
    name = serializers.CharField(read_only=True)

    class Meta:
        model = Category
        fields = ["id", "parent", "name", "name_en", "name_zh_hant"]


class CategoryOutput(serializers.Serializer[Any]):
    """A node of the tree with its full path, e.g. Clothing > Dresses."""

    id = serializers.IntegerField()
    parent = serializers.IntegerField(allow_null=True)  # type: ignore[assignment]
    name = serializers.CharField()
    name_en = serializers.CharField()
    name_zh_hant = serializers.CharField(allow_blank=True)
    position = serializers.IntegerField()
    depth = serializers.IntegerField(help_text="0 for a top-level category.")
    path = serializers.CharField(help_text="Full path in the reader's language, e.g. Clothing > Dresses.")
    path_en = serializers.CharField()
    path_zh_hant = serializers.CharField()


class BrandOutput(serializers.ModelSerializer[Brand]):
    class Meta:
        model = Brand
        fields = ["id", "name", "name_zh_hant"]


class ImageOutput(serializers.ModelSerializer[ProductImage]):
    class Meta:
        model = ProductImage
        fields = ["id", "url", "alt", "position"]


COST_HIDDEN_FROM = frozenset({Role.CASHIER, Role.CUSTOMER})


class VariantOutput(serializers.ModelSerializer[Variant]):
    name = serializers.CharField(source="label", read_only=True, help_text="Product name and options.")
    options_label = serializers.CharField(read_only=True)
    option_values = serializers.DictField(child=serializers.CharField(), read_only=True)
    price = HkdField(read_only=True)
    compare_at_price = HkdField(read_only=True, allow_null=True)
    cost = HkdField(
        read_only=True, allow_null=True, help_text="For owners, managers and integrations; null for cashiers."
    )
    barcodes: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="code"
    )
    channel_prices = serializers.SerializerMethodField()

    class Meta:
        model = Variant
        fields = [
            "id",
            "product",
            "name",
            "sku",
            "option_values",
            "options_label",
            "price",
            "compare_at_price",
            "cost",
            "weight_grams",
            "track_inventory",
            "allow_backorder",
            "is_active",
            "position",
            "barcodes",
            "channel_prices",
            "created_at",
            "updated_at",
        ]

    def to_representation(self, instance: Variant) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and getattr(request.user, "role", None) in COST_HIDDEN_FROM:
            data["cost"] = None  # the margin is the owner's business, not the counter's
        return data

    @extend_schema_field(serializers.DictField(child=HkdField(), help_text='e.g. {"web": "179.00"}'))
    def get_channel_prices(self, variant: Variant) -> dict[str, Any]:
        amount = HkdField()
        return {row.channel: amount.to_representation(row.price) for row in variant.channel_prices.all()}


class VariantSearchOutput(VariantOutput):
    """A SKU as the POS shows it after a scan: with the product's names and the channel's price."""

    product_name_en = serializers.CharField(source="product.name_en", read_only=True)
    product_name_zh_hant = serializers.CharField(source="product.name_zh_hant", read_only=True)
    product_status = serializers.CharField(source="product.status", read_only=True)
    unit_price = serializers.SerializerMethodField()

    class Meta(VariantOutput.Meta):
        fields = [
            *VariantOutput.Meta.fields,
            "product_name_en",
            "product_name_zh_hant",
            "product_status",
            "unit_price",
        ]

    @extend_schema_field(HkdField(help_text="The price on the channel asked for (else the SKU's price)."))
    def get_unit_price(self, variant: Variant) -> Any:
        channel = self.context.get("channel")
        price = price_for_channel(variant, channel) if channel else variant.price
        return HkdField().to_representation(price)


class ProductOutput(serializers.ModelSerializer[Product]):
    name = serializers.CharField(read_only=True)
    category = CategoryBriefOutput(read_only=True, allow_null=True)
    brand = BrandOutput(read_only=True, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    option_names = serializers.ListField(child=serializers.CharField(), read_only=True)
    variants = VariantOutput(many=True, read_only=True)
    images = ImageOutput(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "handle",
            "name",
            "name_en",
            "name_zh_hant",
            "description_en",
            "description_zh_hant",
            "category",
            "brand",
            "tags",
            "status",
            "visible_web",
            "visible_pos",
            "option_names",
            "variants",
            "images",
            "created_at",
            "updated_at",
        ]
