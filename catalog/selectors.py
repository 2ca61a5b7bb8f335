"""Reads of the catalogue used by views, the POS and other apps."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Value
from django.db.models.expressions import Case, When
from django.db.models.functions import Upper
from django.utils.translation import get_language
from djmoney.money import Money

from catalog.exceptions import VariantNotFound
from catalog.models import Barcode, Category, ChannelPrice, Product, ProductStatus, SalesChannel, Variant


def text_query(q: str) -> Q:
    """Every word must match a SKU, a barcode or a name or description in either language.

    ILIKE substring matching, so 「連身」 finds 「碎花連身裙」 without a Chinese word splitter.
    """
    condition = Q()
    for word in q.split():
        condition &= (
            Q(sku__icontains=word)
            | Q(barcodes__code=word)
            | Q(product__handle__icontains=word)
            | Q(product__name_en__icontains=word)
            | Q(product__name_zh_hant__icontains=word)
            | Q(product__tags__contains=[word])
        )
    return condition


def variant_search(
    q: str,
    *,
    channel: str | None = None,
    include_inactive: bool = False,
    limit: int = 50,
) -> list[Variant]:
    """SKUs matching a scan or a typed search, exact SKU and barcode matches first.

    `channel` (pos, web) leaves out products hidden there or not active; one query (plus prefetches).
    """
    q = q.strip()
    if not q:
        return []
    exact = Q(sku__iexact=q) | Exists(Barcode.objects.filter(variant=OuterRef("pk"), code=q))
    queryset = variant_base().filter(Q(sku__iexact=q) | Q(pk__in=Variant.objects.filter(text_query(q))))
    if not include_inactive:
        queryset = queryset.filter(is_active=True).exclude(product__status=ProductStatus.ARCHIVED)
    if channel is not None:
        queryset = queryset.filter(product__status=ProductStatus.ACTIVE)
        if channel == SalesChannel.WEB:
            queryset = queryset.filter(product__visible_web=True)
        elif channel == SalesChannel.POS:
            queryset = queryset.filter(product__visible_pos=True)
    ranked = queryset.annotate(
        rank=Case(When(exact, then=Value(0)), default=Value(1), output_field=IntegerField())
    ).order_by("rank", "product__handle", "position", "pk")
    return list(ranked[:limit])


def variant_base() -> QuerySet[Variant]:
    return Variant.objects.select_related("product").prefetch_related(
        Prefetch("barcodes", queryset=Barcode.objects.order_by("id")), "channel_prices"
    )


def variant_by_code(code: str) -> Variant:
    """The SKU a scanner read or a person typed: a barcode, else a SKU (any case). Raises VariantNotFound."""
    code = code.strip()
    variant = (
        Variant.objects.select_related("product")
        .filter(Q(barcodes__code=code) | Q(sku__iexact=code))
        .order_by("pk")
        .first()
    )
    if variant is None:
        raise VariantNotFound(code=code)
    return variant


def variants_by_code(codes: list[str]) -> dict[str, Variant]:
    """The SKU of each code (a barcode, else a SKU in any case), for many codes in one query (and one for
    the barcodes); unknown codes are left out. A code that is one SKU's barcode and another's SKU is the
    barcode's, as a scanner means it."""
    wanted = {code.strip() for code in codes if code.strip()}
    if not wanted:
        return {}
    variants = list(
        Variant.objects.select_related("product")
        .prefetch_related("barcodes")
        .annotate(sku_upper=Upper("sku"))
        .filter(Q(barcodes__code__in=wanted) | Q(sku_upper__in={code.upper() for code in wanted}))
        .distinct()
        .order_by("pk")
    )
    found: dict[str, Variant] = {}
    for variant in variants:
        for code in wanted:
            if code.upper() == variant.sku.upper():
                found.setdefault(code, variant)
    for variant in variants:
        for barcode in variant.barcodes.all():
            if barcode.code in wanted:
                found[barcode.code] = variant
    return {code.strip(): found[code.strip()] for code in codes if code.strip() in found}


def variants_by_id(ids: list[int]) -> dict[int, Variant]:
    return {variant.pk: variant for variant in Variant.objects.select_related("product").filter(pk__in=ids)}


def price_for_channel(variant: Variant, channel: str) -> Money:
    """The channel's override when there is one, else the SKU's price (prefetch channel_prices for lists)."""
    for override in variant.channel_prices.all():
        if override.channel == channel:
            return override.price
    return variant.price


def product_list(*, q: str = "", filters: dict[str, Any] | None = None) -> QuerySet[Product]:
    queryset = Product.objects.select_related("category", "brand").prefetch_related(
        Prefetch("variants", queryset=variant_base().order_by("position", "pk")), "images"
    )
    if q:
        queryset = queryset.filter(pk__in=Variant.objects.filter(text_query(q)).values("product_id"))
    return queryset.filter(**(filters or {}))


def channel_prices_for(variant_ids: list[int]) -> dict[tuple[int, str], Money]:
    return {
        (row.variant_id, row.channel): row.price
        for row in ChannelPrice.objects.filter(variant_id__in=variant_ids)
    }


# --- The category tree ------------------------------------------------------------------------------------

SEPARATOR = " > "


def category_tree() -> list[dict[str, Any]]:
    """Every category depth-first (by position, then English name) with its depth and full path; one query.

    A cycle (A under B under A, which only a direct database edit can make) ends a path instead of looping.
    """
    rows: list[dict[str, Any]] = [
        dict(row) for row in Category.objects.values("id", "parent_id", "name_en", "name_zh_hant", "position")
    ]
    by_id = {row["id"]: row for row in rows}
    children: dict[int | None, list[dict[str, Any]]] = {}
    for row in rows:
        parent = row["parent_id"] if row["parent_id"] in by_id else None
        children.setdefault(parent, []).append(row)
    prefer_en = (get_language() or "").startswith("en")
    ordered: list[dict[str, Any]] = []
    seen: set[int] = set()

    def walk(parent: int | None, trail: list[dict[str, Any]]) -> None:
        for row in sorted(children.get(parent, []), key=lambda r: (r["position"], r["name_en"].casefold())):
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            path = [*trail, row]
            path_en = SEPARATOR.join(node["name_en"] for node in path)
            path_zh = SEPARATOR.join(node["name_zh_hant"] or node["name_en"] for node in path)
            ordered.append(
                {
                    "id": row["id"],
                    "parent": row["parent_id"],
                    "name": (row["name_en"] if prefer_en else row["name_zh_hant"]) or row["name_en"],
                    "name_en": row["name_en"],
                    "name_zh_hant": row["name_zh_hant"],
                    "position": row["position"],
                    "depth": len(trail),
                    "path": path_en if prefer_en else path_zh,
                    "path_en": path_en,
                    "names_en": [node["name_en"] for node in path],
                    "path_zh_hant": path_zh,
                }
            )
            walk(row["id"], path)

    walk(None, [])
    return ordered


def category_with_descendants(category_id: int) -> list[int]:
    """The category and every category below it (Clothing finds Dresses too); one query."""
    pairs = list(Category.objects.values_list("id", "parent_id"))
    if category_id not in {pk for pk, _ in pairs}:
        return []
    found, frontier = {category_id}, [category_id]
    while frontier:
        frontier = [pk for pk, parent in pairs if parent in frontier and pk not in found]
        found.update(frontier)
    return sorted(found)
