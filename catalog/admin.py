"""Back office for the catalogue. The forms check with the same rules as the services (catalog.validation,
sku_conflicts, barcode_conflicts), so a negative price or a taken SKU or barcode is a message on the field,
not a database error. Products and SKUs are archived, not deleted (their sales and stock history stay)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.models import Barcode, Brand, Category, ChannelPrice, Product, ProductImage, Variant
from catalog.services import (
    barcode_conflicts,
    product_archive,
    product_snapshot,
    sku_conflicts,
    variant_snapshot,
)
from catalog.validation import (
    Invalid,
    barcode_clean,
    handle_clean,
    money_parse,
    option_names_clean,
    option_values_clean,
    sku_clean,
)
from omo.services.audit import audit_record


def money_check(value: Any, *, required: bool) -> Any:
    """The Money of a price field, refused when negative, not HKD or with more than two decimals."""
    if value is None:
        if required:
            raise forms.ValidationError(_("A price is required."))
        return value
    try:
        money_parse(value)
    except Invalid as error:
        raise forms.ValidationError(str(error)) from None
    return value


# --- Products -----------------------------------------------------------------------------------------------


class ProductForm(forms.ModelForm[Product]):
    class Meta:
        model = Product
        fields = [
            "handle",
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
        ]

    def clean_handle(self) -> str:
        try:
            return handle_clean(self.cleaned_data.get("handle"))
        except Invalid as error:
            raise forms.ValidationError(str(error)) from None

    def clean_option_names(self) -> list[str]:
        try:
            return option_names_clean(self.cleaned_data.get("option_names"))
        except Invalid as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not (cleaned.get("name_en", "").strip() or cleaned.get("name_zh_hant", "").strip()):
            raise forms.ValidationError(_("A product needs a name in English or Chinese."))
        return cleaned


class VariantForm(forms.ModelForm[Variant]):
    """One SKU, checked as catalog.services checks it: SKU (format, unique in any case), prices, options."""

    class Meta:
        model = Variant
        fields = [
            "product",
            "sku",
            "option_values",
            "price",
            "compare_at_price",
            "cost",
            "weight_grams",
            "track_inventory",
            "allow_backorder",
            "is_active",
            "position",
        ]

    def product_option_names(self) -> list[str]:
        product = self.cleaned_data.get("product") or getattr(self.instance, "product", None)
        return list(product.option_names) if product is not None else []

    def clean_sku(self) -> str:
        try:
            sku = sku_clean(self.cleaned_data.get("sku"))
        except Invalid as error:
            raise forms.ValidationError(str(error)) from None
        taken = sku_conflicts([sku], exclude_ids=[self.instance.pk] if self.instance.pk else [])
        if taken:
            raise forms.ValidationError(
                _("SKU %(sku)s is already used by product %(product)s.")
                % {"sku": sku, "product": next(iter(taken.values()))}
            )
        return sku

    def clean_price(self) -> Any:
        return money_check(self.cleaned_data.get("price"), required=True)

    def clean_compare_at_price(self) -> Any:
        return money_check(self.cleaned_data.get("compare_at_price"), required=False)

    def clean_cost(self) -> Any:
        return money_check(self.cleaned_data.get("cost"), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "option_values" in cleaned:
            try:
                cleaned["option_values"] = option_values_clean(
                    self.product_option_names(), cleaned["option_values"] or {}
                )
            except Invalid as error:
                self.add_error("option_values", str(error))
        return cleaned


class VariantInlineFormSet(forms.BaseInlineFormSet):
    """Two rows of one save may not share a SKU (any case) or their option values."""

    def clean(self) -> None:
        super().clean()
        skus: set[str] = set()
        options: set[str] = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("sku"):
                continue
            sku = data["sku"].upper()
            if sku in skus:
                form.add_error("sku", _("Each variant needs its own SKU."))
            skus.add(sku)
            key = repr(sorted((data.get("option_values") or {}).items()))
            if key in options:
                message = _("Two variants have the same option values; each needs its own.")
                form.add_error("option_values", message)
            options.add(key)


class VariantInline(admin.TabularInline[Variant, Product]):
    model = Variant
    form = VariantForm
    formset = VariantInlineFormSet
    fields = [
        "sku",
        "option_values",
        "price",
        "compare_at_price",
        "cost",
        "track_inventory",
        "allow_backorder",
        "is_active",
        "position",
    ]
    extra = 0
    show_change_link = True  # barcodes and channel prices are on the SKU's own page
    can_delete = False


class ProductImageInline(admin.TabularInline[ProductImage, Product]):
    model = ProductImage
    fields = ["url", "alt", "position"]
    extra = 0
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


def audited_save(
    request: HttpRequest, obj: Any, *, change: bool, snapshot: Any, save: Any, label: str
) -> None:
    """Saves through the admin with the same audit row the service would write."""
    before = snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else None
    save()
    audit_record(
        actor=request.user,
        action=f"{label}.{'update' if before else 'create'}",
        obj=obj,
        before=before,
        after=snapshot(obj),
        reason="admin",
    )


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    form = ProductForm
    list_display = [
        "handle",
        "name_zh_hant",
        "name_en",
        "status",
        "category",
        "brand",
        "visible_web",
        "visible_pos",
    ]
    list_filter = ["status", "category", "brand", "visible_web", "visible_pos"]
    list_select_related = ["category", "brand"]
    search_fields = ["handle", "name_en", "name_zh_hant", "variants__sku", "variants__barcodes__code"]
    inlines = [VariantInline, ProductImageInline]
    actions = ["archive"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        audited_save(
            request,
            obj,
            change=change,
            snapshot=product_snapshot,
            save=lambda: super(ProductAdmin, self).save_model(request, obj, form, change),
            label="product",
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Variant:
            super().save_formset(request, form, formset, change)
            return
        changed = [f for f in formset.forms if f.has_changed() and not f.cleaned_data.get("DELETE")]
        before = {
            v.pk: variant_snapshot(v)
            for v in Variant.objects.filter(pk__in=[f.instance.pk for f in changed if f.instance.pk])
        }
        super().save_formset(request, form, formset, change)
        for variant_form in changed:
            variant = variant_form.instance
            previous = before.get(variant.pk)
            audit_record(
                actor=request.user,
                action="variant.update" if previous else "variant.create",
                obj=variant,
                before=previous,
                after=variant_snapshot(variant),
                reason="admin",
            )

    @admin.action(description=gettext_lazy("Archive the selected products"))
    def archive(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        for product in queryset:
            product_archive(actor=request.user, product_id=product.pk)


class BarcodeForm(forms.ModelForm[Barcode]):
    class Meta:
        model = Barcode
        fields = ["code"]

    def clean_code(self) -> str:
        try:
            code = barcode_clean(self.cleaned_data.get("code"))
        except Invalid as error:
            raise forms.ValidationError(str(error)) from None
        variant_id = self.instance.variant_id
        taken = barcode_conflicts([code], exclude_ids=[variant_id] if variant_id else [])
        if taken:
            raise forms.ValidationError(
                _("Barcode %(code)s is already used by SKU %(sku)s.") % {"code": code, "sku": taken[code]}
            )
        return code


class BarcodeInline(admin.TabularInline[Barcode, Variant]):
    model = Barcode
    form = BarcodeForm
    extra = 0


class ChannelPriceForm(forms.ModelForm[ChannelPrice]):
    class Meta:
        model = ChannelPrice
        fields = ["channel", "price"]

    def clean_price(self) -> Any:
        return money_check(self.cleaned_data.get("price"), required=True)


class ChannelPriceInline(admin.TabularInline[ChannelPrice, Variant]):
    model = ChannelPrice
    form = ChannelPriceForm
    extra = 0


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin[Variant]):
    form = VariantForm
    list_display = ["sku", "product", "options_label", "price", "is_active"]
    list_filter = ["is_active", "product__status", "track_inventory"]
    list_select_related = ["product"]
    search_fields = ["sku", "barcodes__code", "product__handle", "product__name_en", "product__name_zh_hant"]
    raw_id_fields = ["product"]
    inlines = [BarcodeInline, ChannelPriceInline]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Variant, form: Any, change: bool) -> None:
        # Kept on the form (one per request), not on this admin (one for every request at once).
        form.audit_before = variant_snapshot(Variant.objects.get(pk=obj.pk)) if change and obj.pk else None
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before = getattr(form, "audit_before", None)
        after = variant_snapshot(form.instance)
        if after != before:
            audit_record(
                actor=request.user,
                action="variant.update" if before else "variant.create",
                obj=form.instance,
                before=before,
                after=after,
                reason="admin",
            )


class CategoryForm(forms.ModelForm[Category]):
    class Meta:
        model = Category
        fields = ["parent", "name_en", "name_zh_hant", "position"]

    def clean_parent(self) -> Category | None:
        parent: Category | None = self.cleaned_data.get("parent")
        if parent is not None and self.instance.pk:
            node: Category | None = parent
            seen: set[int] = set()
            while node is not None and node.pk not in seen:
                if node.pk == self.instance.pk:
                    raise forms.ValidationError(_("A category cannot be placed under itself."))
                seen.add(node.pk)
                node = node.parent
        return parent

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        name = (cleaned.get("name_en") or "").strip()
        if name:
            siblings = Category.objects.filter(parent=cleaned.get("parent"), name_en__iexact=name)
            if siblings.exclude(pk=self.instance.pk).exists():
                self.add_error("name_en", _("This category already has a child with this name."))
        return cleaned


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin[Category]):
    form = CategoryForm
    list_display = ["name_en", "name_zh_hant", "parent", "position"]
    list_select_related = ["parent"]
    search_fields = ["name_en", "name_zh_hant"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin[Brand]):
    list_display = ["name", "name_zh_hant"]
    search_fields = ["name", "name_zh_hant"]
