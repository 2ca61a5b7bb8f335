"""Query filters of the catalogue lists. Bad values are a 400 (django-filter validates each one)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from catalog.api.fields import IdFilter
from catalog.models import Brand, Product, ProductStatus, Variant
from catalog.selectors import category_with_descendants, product_list


class ProductFilter(filters.FilterSet):
    search = filters.CharFilter(
        method="filter_search",
        max_length=100,
        help_text="Words matching a SKU, a barcode, the handle, the English or Chinese name or a tag "
        "(「連身」 finds 「碎花連身裙」).",
    )
    status = filters.ChoiceFilter(choices=ProductStatus.choices)
    category = IdFilter(method="filter_category", help_text="This category and the ones below it.")
    brand = IdFilter(field_name="brand_id")
    tag = filters.CharFilter(method="filter_tag", max_length=50)
    visible_web = filters.BooleanFilter()
    visible_pos = filters.BooleanFilter()

    class Meta:
        model = Product
        fields = ["search", "status", "category", "brand", "tag", "visible_web", "visible_pos"]

    def filter_search(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        if not value.strip():
            return queryset
        return queryset.filter(pk__in=product_list(q=value).values("pk"))

    def filter_category(self, queryset: QuerySet[Product], name: str, value: int) -> QuerySet[Product]:
        return queryset.filter(category_id__in=category_with_descendants(value))

    def filter_tag(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        return queryset.filter(tags__contains=[value.strip()])


class VariantFilter(filters.FilterSet):
    product = IdFilter(field_name="product_id")
    sku = filters.CharFilter(field_name="sku", lookup_expr="iexact", max_length=64)
    barcode = filters.CharFilter(field_name="barcodes__code", max_length=64)
    is_active = filters.BooleanFilter()

    class Meta:
        model = Variant
        fields = ["product", "sku", "barcode", "is_active"]


class BrandFilter(filters.FilterSet):
    search = filters.CharFilter(method="filter_search", max_length=100, help_text="Part of either name.")

    class Meta:
        model = Brand
        fields = ["search"]

    def filter_search(self, queryset: QuerySet[Brand], name: str, value: str) -> QuerySet[Brand]:
        return queryset.filter(Q(name__icontains=value) | Q(name_zh_hant__icontains=value))
