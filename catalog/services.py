"""Writes to the catalogue. Every bad input is refused with a clear error before anything is written."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Upper
from django.utils.translation import gettext as _

from catalog.exceptions import (
    DuplicateBarcode,
    DuplicateHandle,
    DuplicateSku,
    ProductNotFound,
    VariantNotFound,
)
from catalog.models import Barcode, Brand, Category, ChannelPrice, Product, ProductStatus, Variant
from catalog.validation import (
    Invalid,
    barcode_clean,
    bool_parse,
    channel_prices_clean,
    handle_clean,
    handle_make,
    money_parse,
    option_names_clean,
    option_values_clean,
    quantity_parse,
    sku_clean,
    tags_clean,
)
from omo.errors import ValidationFailed
from omo.services.audit import audit_record

PRODUCT_FIELDS = (
    "name_en",
    "name_zh_hant",
    "description_en",
    "description_zh_hant",
    "category_id",
    "brand_id",
    "tags",
    "status",
    "visible_web",
    "visible_pos",
)
VARIANT_FIELDS = (
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
)
# Which unique index a failed insert hit, and what to tell the person (two tills adding one SKU at once).
CONSTRAINT_ERRORS: dict[str, tuple[type[ValidationFailed], str]] = {
    "variant_sku_unique": (DuplicateSku, "sku"),
    "catalog_barcode_code_key": (DuplicateBarcode, "barcodes"),
    "catalog_product_handle_key": (DuplicateHandle, "handle"),
    "variant_options_unique": (ValidationFailed, "option_values"),
    "category_name_unique_per_parent": (ValidationFailed, "name_en"),
    "brand_name_unique": (ValidationFailed, "name"),
}


@contextmanager
def unique_errors() -> Iterator[None]:
    """Turns a unique-index violation from a concurrent writer into the same clear error a pre-check gives."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", "") or ""
        if constraint not in CONSTRAINT_ERRORS:
            raise
        error_class, field = CONSTRAINT_ERRORS[constraint]
        message = _("This value is already in use.")
        raise error_class(message, fields={field: message}) from error


# --- Snapshots for the audit log ----------------------------------------------------------------------------


def product_snapshot(product: Product) -> dict[str, Any]:
    return {
        "handle": product.handle,
        "option_names": list(product.option_names),
        **{field: getattr(product, field) for field in PRODUCT_FIELDS},
    }


def variant_snapshot(variant: Variant) -> dict[str, Any]:
    def amount(value: Any) -> str | None:
        return None if value is None else str(value.amount)

    return {
        "sku": variant.sku,
        "option_values": variant.option_values,
        "price": amount(variant.price),
        "compare_at_price": amount(variant.compare_at_price),
        "cost": amount(variant.cost),
        "weight_grams": variant.weight_grams,
        "track_inventory": variant.track_inventory,
        "allow_backorder": variant.allow_backorder,
        "is_active": variant.is_active,
        "barcodes": sorted(barcode.code for barcode in variant.barcodes.all()),
        "channel_prices": {cp.channel: str(cp.price.amount) for cp in variant.channel_prices.all()},
    }


# --- Checks -------------------------------------------------------------------------------------------------


def product_fields_clean(data: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The product-level fields present in data, cleaned; problems go into errors by field."""
    clean: dict[str, Any] = {}
    for field in ("name_en", "name_zh_hant", "description_en", "description_zh_hant"):
        if field in data:
            clean[field] = str(data[field] or "").strip()
    for field, limit in (("name_en", 200), ("name_zh_hant", 200)):
        if len(clean.get(field, "")) > limit:
            errors[field] = _("At most %(limit)d characters.") % {"limit": limit}
    if "status" in data:
        if data["status"] not in ProductStatus.values:
            errors["status"] = _("Choose draft, active or archived.")
        clean["status"] = data["status"]
    for field in ("visible_web", "visible_pos"):
        if field in data:
            try:
                clean[field] = bool_parse(data[field], default=True)
            except Invalid as error:
                errors[field] = str(error)
    if "tags" in data:
        clean["tags"] = tags_clean(data["tags"])
    for field, model in (("category_id", Category), ("brand_id", Brand)):
        if field in data:
            value = data[field]
            if value is not None and not (
                str(value).isdigit() and model.objects.filter(pk=int(value)).exists()
            ):
                errors[field] = _("No such %(thing)s.") % {"thing": model._meta.verbose_name}
            clean[field] = value
    return clean


def variant_fields_clean(
    data: dict[str, Any], *, option_names: list[str], errors: dict[str, str], partial: bool
) -> dict[str, Any]:
    """The variant fields present in data, cleaned; required ones must be present unless partial."""
    clean: dict[str, Any] = {}

    def attempt(field: str, parse: Any) -> None:
        if field not in data:
            return
        try:
            clean[field] = parse(data[field])
        except Invalid as error:
            errors[field] = str(error)

    if not partial:
        for field in ("sku", "price"):
            if data.get(field) in (None, ""):
                errors[field] = _("This field is required.")
    attempt("sku", sku_clean)
    attempt("price", money_parse)
    attempt("compare_at_price", lambda v: money_parse(v, allow_blank=True))
    attempt("cost", lambda v: money_parse(v, allow_blank=True))
    attempt("weight_grams", lambda v: quantity_parse(v, allow_blank=True))
    attempt("position", lambda v: quantity_parse(v, allow_blank=True) or 0)
    attempt("track_inventory", lambda v: bool_parse(v, default=True))
    attempt("allow_backorder", lambda v: bool_parse(v, default=False))
    attempt("is_active", lambda v: bool_parse(v, default=True))
    attempt("barcodes", lambda v: list(dict.fromkeys(barcode_clean(code) for code in (v or []))))
    attempt("channel_prices", channel_prices_clean)
    if "option_values" in data or not partial:
        attempt("option_values", lambda v: option_values_clean(option_names, v or {}))
        if "option_values" not in data:
            try:
                clean["option_values"] = option_values_clean(option_names, {})
            except Invalid as error:
                errors["option_values"] = str(error)
    return clean


def sku_conflicts(skus: Iterable[str], *, exclude_ids: Iterable[int] = ()) -> dict[str, str]:
    """SKU (upper case) -> the handle of the product that already uses it."""
    wanted = {sku.upper() for sku in skus}
    if not wanted:
        return {}
    rows = (
        Variant.objects.annotate(code=Upper("sku"))
        .filter(code__in=wanted)
        .exclude(pk__in=list(exclude_ids))
        .values_list("code", "product__handle")
    )
    return dict(rows)


def barcode_conflicts(codes: Iterable[str], *, exclude_ids: Iterable[int] = ()) -> dict[str, str]:
    """Barcode -> the SKU that already uses it."""
    rows = (
        Barcode.objects.filter(code__in=set(codes))
        .exclude(variant_id__in=list(exclude_ids))
        .values_list("code", "variant__sku")
    )
    return dict(rows)


def duplicates_check(clean: dict[str, Any], *, exclude_id: int | None) -> None:
    exclude = [exclude_id] if exclude_id else []
    if "sku" in clean:
        taken = sku_conflicts([clean["sku"]], exclude_ids=exclude)
        if taken:
            message = _("SKU %(sku)s is already used by product %(product)s.") % {
                "sku": clean["sku"],
                "product": next(iter(taken.values())),
            }
            raise DuplicateSku(message, fields={"sku": message})
    if clean.get("barcodes"):
        taken = barcode_conflicts(clean["barcodes"], exclude_ids=exclude)
        if taken:
            code, sku = next(iter(taken.items()))
            message = _("Barcode %(code)s is already used by SKU %(sku)s.") % {"code": code, "sku": sku}
            raise DuplicateBarcode(message, fields={"barcodes": message})


# --- Products -----------------------------------------------------------------------------------------------


def handle_unique(base: str) -> str:
    base = base or "product"
    handle, suffix = base, 2
    while Product.objects.filter(handle=handle).exists():
        handle = f"{base[:110]}-{suffix}"
        suffix += 1
    return handle


@transaction.atomic
def product_create(
    *,
    actor: Any,
    variants: list[dict[str, Any]],
    handle: str | None = None,
    option_names: list[str] | None = None,
    **fields: Any,
) -> Product:
    """Creates a product with its variants (at least one). Audited.

    Raises ValidationFailed with every field problem, DuplicateSku / DuplicateBarcode / DuplicateHandle (409).
    """
    errors: dict[str, Any] = {}
    clean = product_fields_clean(fields, errors)
    if not (clean.get("name_en") or clean.get("name_zh_hant")):
        errors["name_en"] = _("A product needs a name in English or Chinese.")
    try:
        names = option_names_clean(option_names)
    except Invalid as error:
        errors["option_names"] = str(error)
        names = []
    if handle:
        try:
            handle = handle_clean(handle)
        except Invalid as error:
            errors["handle"] = str(error)
    if not variants:
        errors["variants"] = _("A product needs at least one variant (SKU).")
    variant_errors: dict[int, dict[str, str]] = {}
    cleaned_variants = []
    for index, data in enumerate(variants):
        problems: dict[str, str] = {}
        cleaned_variants.append(
            variant_fields_clean(data, option_names=names, errors=problems, partial=False)
        )
        if problems:
            variant_errors[index] = problems
    if variant_errors:
        errors["variants"] = variant_errors
    if errors:
        raise ValidationFailed(fields=errors)
    within_file_duplicates(cleaned_variants)
    if handle and Product.objects.filter(handle=handle).exists():
        message = _("Handle %(handle)s is already in use.") % {"handle": handle}
        raise DuplicateHandle(message, fields={"handle": message})
    for variant in cleaned_variants:
        duplicates_check(variant, exclude_id=None)
    with unique_errors():
        product = Product.objects.create(
            handle=handle
            or handle_unique(handle_make(clean.get("name_en") or clean.get("name_zh_hant", ""))),
            option_names=names,
            **clean,
        )
        for position, variant in enumerate(cleaned_variants):
            variant.setdefault("position", position)
            variant_insert(product, variant)
    audit_record(actor=actor, action="product.create", obj=product, after=product_snapshot(product))
    return product


def within_file_duplicates(variants: list[dict[str, Any]]) -> None:
    """Two new variants of one request may not share a SKU, a barcode or their options."""
    skus = [variant["sku"].upper() for variant in variants]
    if len(set(skus)) != len(skus):
        message = _("Each variant needs its own SKU.")
        raise DuplicateSku(message, fields={"variants": message})
    codes = [code for variant in variants for code in variant.get("barcodes", [])]
    if len(set(codes)) != len(codes):
        message = _("Each barcode belongs to one variant.")
        raise DuplicateBarcode(message, fields={"variants": message})
    options = [tuple(variant["option_values"].items()) for variant in variants]
    if len(set(options)) != len(options):
        raise ValidationFailed(
            fields={"variants": _("Two variants have the same option values; each needs its own.")}
        )


def variant_insert(product: Product, clean: dict[str, Any]) -> Variant:
    barcodes = clean.pop("barcodes", [])
    channel_prices = clean.pop("channel_prices", {})
    variant = Variant.objects.create(product=product, **clean)
    Barcode.objects.bulk_create([Barcode(variant=variant, code=code) for code in barcodes])
    ChannelPrice.objects.bulk_create(
        [
            ChannelPrice(variant=variant, channel=channel, price=price)
            for channel, price in channel_prices.items()
        ]
    )
    return variant


def product_get_for_update(product_id: int) -> Product:
    # NO KEY UPDATE: serialises edits of the product without blocking rows that merely point at it.
    product = Product.objects.select_for_update(no_key=True).filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound()
    return product


@transaction.atomic
def product_update(*, actor: Any, product_id: int, **changes: Any) -> Product:
    """Changes a product's names, descriptions, category, brand, tags, status or visibility. Audited.

    Option names can change only while the product has no variants (an import renames them with the variants).
    Raises ValidationFailed with every field problem, ProductNotFound.
    """
    return product_change(actor=actor, product_id=product_id, action="product.update", changes=changes)


def product_change(*, actor: Any, product_id: int, action: str, changes: dict[str, Any]) -> Product:
    product = product_get_for_update(product_id)
    before = product_snapshot(product)
    errors: dict[str, Any] = {}
    clean = product_fields_clean(changes, errors)
    if "option_names" in changes:
        try:
            names = option_names_clean(changes["option_names"])
        except Invalid as error:
            errors["option_names"] = str(error)
        else:
            if names != list(product.option_names) and product.variants.exists():
                errors["option_names"] = _("Options cannot change once the product has variants.")
            clean["option_names"] = names
    for field, value in clean.items():
        setattr(product, field, value)
    if not (product.name_en or product.name_zh_hant):
        errors["name_en"] = _("A product needs a name in English or Chinese.")
    if errors:
        raise ValidationFailed(fields=errors)
    product.save()
    audit_record(actor=actor, action=action, obj=product, before=before, after=product_snapshot(product))
    return product


@transaction.atomic
def product_archive(*, actor: Any, product_id: int) -> Product:
    """Archives a product: hidden from the POS and the web shop; its history and stock stay.

    Audited as `product.archive`, so the log tells an archive from an edit. Raises ProductNotFound.
    """
    return product_change(
        actor=actor,
        product_id=product_id,
        action="product.archive",
        changes={"status": ProductStatus.ARCHIVED},
    )


# --- Variants -----------------------------------------------------------------------------------------------


@transaction.atomic
def variant_create(*, actor: Any, product_id: int, **data: Any) -> Variant:
    """Adds a SKU to a product. Raises ValidationFailed, DuplicateSku, DuplicateBarcode. Audited."""
    product = product_get_for_update(product_id)
    errors: dict[str, str] = {}
    clean = variant_fields_clean(data, option_names=list(product.option_names), errors=errors, partial=False)
    if errors:
        raise ValidationFailed(fields=errors)
    if product.variants.filter(option_values=clean["option_values"]).exists():
        raise ValidationFailed(
            fields={"option_values": _("This product already has a variant with these options.")}
        )
    duplicates_check(clean, exclude_id=None)
    clean.setdefault("position", product.variants.count())
    with unique_errors():
        variant = variant_insert(product, clean)
    audit_record(actor=actor, action="variant.create", obj=variant, after=variant_snapshot(variant))
    return variant


@transaction.atomic
def variant_update(*, actor: Any, variant_id: int, **changes: Any) -> Variant:
    """Changes a SKU's code, options, prices, flags, barcodes (the list given replaces them), channel prices.

    Raises ValidationFailed, DuplicateSku, DuplicateBarcode, VariantNotFound. Audited (price changes too).
    """
    return variant_change(actor=actor, variant_id=variant_id, action="variant.update", changes=changes)


def variant_change(*, actor: Any, variant_id: int, action: str, changes: dict[str, Any]) -> Variant:
    # NO KEY UPDATE, and of the variant only: a plain FOR UPDATE would also block every sale of this SKU
    # (writing a movement takes a key-share lock on the variant) and lock the product row.
    variant = (
        Variant.objects.select_for_update(no_key=True, of=("self",))
        .select_related("product")
        .filter(pk=variant_id)
        .first()
    )
    if variant is None:
        raise VariantNotFound()
    before = variant_snapshot(variant)
    errors: dict[str, str] = {}
    clean = variant_fields_clean(
        changes, option_names=list(variant.product.option_names), errors=errors, partial=True
    )
    if errors:
        raise ValidationFailed(fields=errors)
    if (
        "option_values" in clean
        and variant.product.variants.filter(option_values=clean["option_values"])
        .exclude(pk=variant.pk)
        .exists()
    ):
        raise ValidationFailed(
            fields={"option_values": _("This product already has a variant with these options.")}
        )
    duplicates_check(clean, exclude_id=variant.pk)
    barcodes = clean.pop("barcodes", None)
    channel_prices = clean.pop("channel_prices", None)
    with unique_errors():
        for field, value in clean.items():
            setattr(variant, field, value)
        variant.save()
        if barcodes is not None:
            variant.barcodes.exclude(code__in=barcodes).delete()
            existing = set(variant.barcodes.values_list("code", flat=True))
            Barcode.objects.bulk_create(
                [Barcode(variant=variant, code=c) for c in barcodes if c not in existing]
            )
        if channel_prices is not None:
            channel_prices_set(variant, channel_prices)
    after = variant_snapshot(variant)
    if after != before:
        audit_record(actor=actor, action=action, obj=variant, before=before, after=after)
    return variant


def channel_prices_set(variant: Variant, prices: dict[str, Decimal]) -> None:
    variant.channel_prices.exclude(channel__in=list(prices)).delete()
    for channel, price in prices.items():
        ChannelPrice.objects.update_or_create(variant=variant, channel=channel, defaults={"price": price})


@transaction.atomic
def variant_archive(*, actor: Any, variant_id: int) -> Variant:
    """Stops selling one SKU (is_active off); its stock and history stay. Audited as `variant.archive`."""
    return variant_change(
        actor=actor, variant_id=variant_id, action="variant.archive", changes={"is_active": False}
    )


# --- Categories and brands ----------------------------------------------------------------------------------


@transaction.atomic
def category_create(
    *, actor: Any, name_en: str, name_zh_hant: str = "", parent_id: int | None = None, position: int = 0
) -> Category:
    """Adds a node to the category tree. Raises ValidationFailed (blank or duplicate name, unknown parent)."""
    name_en, name_zh_hant = name_en.strip(), name_zh_hant.strip()
    errors: dict[str, str] = {}
    if not name_en:
        errors["name_en"] = _("An English name is required.")
    if parent_id is not None and not Category.objects.filter(pk=parent_id).exists():
        errors["parent_id"] = _("No such category.")
    if Category.objects.filter(parent_id=parent_id, name_en__iexact=name_en).exists():
        errors["name_en"] = _("This category already has a child with this name.")
    if errors:
        raise ValidationFailed(fields=errors)
    with unique_errors():
        category = Category.objects.create(
            name_en=name_en, name_zh_hant=name_zh_hant, parent_id=parent_id, position=position
        )
    audit_record(actor=actor, action="category.create", obj=category, after={"name_en": name_en})
    return category


def category_path_ensure(names: list[str]) -> Category | None:
    """Finds or creates the path Clothing > Dresses, node by node (imports)."""
    parent: Category | None = None
    for name in (name.strip()[:100] for name in names):
        if not name:
            continue
        parent = found_or_created(
            Category, {"parent": parent, "name_en__iexact": name}, parent=parent, name_en=name
        )
    return parent


@transaction.atomic
def brand_create(*, actor: Any, name: str, name_zh_hant: str = "") -> Brand:
    """Adds a brand; raises ValidationFailed for a blank or taken name (any case). Audited."""
    name, name_zh_hant = name.strip(), name_zh_hant.strip()
    if not name:
        raise ValidationFailed(fields={"name": _("A name is required.")})
    taken = _("A brand with this name exists.")
    if Brand.objects.filter(name__iexact=name).exists():
        raise ValidationFailed(fields={"name": taken})
    with unique_errors():
        brand = Brand.objects.create(name=name, name_zh_hant=name_zh_hant)
    audit_record(actor=actor, action="brand.create", obj=brand, after={"name": name})
    return brand


def brand_ensure(name: str) -> Brand | None:
    name = name.strip()[:100]
    if not name:
        return None
    return found_or_created(Brand, {"name__iexact": name}, name=name)


def found_or_created(model: Any, lookup: dict[str, Any], **values: Any) -> Any:
    """get_or_create on a case-insensitive key: two imports adding one brand at once both get the same row."""
    for _attempt in range(2):
        found = model.objects.filter(**lookup).first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                return model.objects.create(**values)
        except IntegrityError:
            continue  # the other import created it a moment ago: read it back
    return model.objects.get(**lookup)
