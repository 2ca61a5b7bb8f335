"""Catalogue API: thin views (input serializer -> service -> output serializer). Staff read; owners and
managers write; API tokens need catalog:read / catalog:write."""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.api import serializers as s
from catalog.api.filters import BrandFilter, ProductFilter, VariantFilter
from catalog.models import Brand, Category, Product, Variant
from catalog.selectors import category_tree, product_list, variant_base, variant_by_code, variant_search
from catalog.services import (
    brand_create,
    category_create,
    product_archive,
    product_create,
    product_update,
    variant_archive,
    variant_create,
    variant_update,
)
from omo.api.serializers import ErrorOutput
from omo.idempotency import idempotent
from omo.models import Role

CATALOG_WRITERS = frozenset({Role.OWNER, Role.MANAGER})
WRITE_ERRORS: dict[int, Any] = {400: ErrorOutput, 404: ErrorOutput, 409: ErrorOutput}


def product_get(product_id: int) -> Product:
    return product_list(filters={"pk": product_id}).get()


def variant_get(variant_id: int) -> Variant:
    return variant_base().get(pk=variant_id)


class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Product]):
    """Products with their variants (SKUs), barcodes, channel prices, images, category and brand."""

    queryset = Product.objects.none()
    serializer_class = s.ProductOutput
    lookup_value_regex = r"\d+"
    scope = "catalog"
    write_roles = CATALOG_WRITERS
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = ProductFilter
    ordering_fields = ["handle", "name_en", "name_zh_hant", "created_at", "updated_at"]
    ordering = ["handle"]

    def get_queryset(self) -> Any:
        return product_list()

    @extend_schema(request=s.ProductCreateInput, responses={201: s.ProductOutput, **WRITE_ERRORS})
    @idempotent
    def create(self, request: Request) -> Response:
        """Creates a product with its variants. A bad price or option, a duplicate SKU or barcode: nothing
        is written (400 invalid, 409 duplicate_sku / duplicate_barcode / duplicate_handle)."""
        data = s.ProductCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        product = product_create(actor=request.user, **data.validated_data)
        return Response(s.ProductOutput(product_get(product.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ProductUpdateInput, responses={200: s.ProductOutput, **WRITE_ERRORS})
    @idempotent
    def partial_update(self, request: Request, pk: str) -> Response:
        data = s.ProductUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        product = product_update(actor=request.user, product_id=int(pk), **data.validated_data)
        return Response(s.ProductOutput(product_get(product.pk)).data)

    @extend_schema(request=None, responses={200: s.ProductOutput, 404: ErrorOutput})
    @action(detail=True, methods=["post"])
    @idempotent
    def archive(self, request: Request, pk: str) -> Response:
        """Hides the product from the POS and the web shop; its SKUs, stock and history stay."""
        product = product_archive(actor=request.user, product_id=int(pk))
        return Response(s.ProductOutput(product_get(product.pk)).data)

    @extend_schema(
        operation_id="v1_products_variants_create",
        request=s.VariantInput,
        responses={201: s.VariantOutput, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="variants", url_name="variants")
    @idempotent
    def variant_add(self, request: Request, pk: str) -> Response:
        """Adds a SKU to the product (one value for each of its options)."""
        data = s.VariantInput(data=request.data)
        data.is_valid(raise_exception=True)
        variant = variant_create(actor=request.user, product_id=int(pk), **data.validated_data)
        return Response(s.VariantOutput(variant_get(variant.pk)).data, status=status.HTTP_201_CREATED)


class VariantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Variant]):
    """SKUs: what is priced, scanned, stocked and sold."""

    queryset = Variant.objects.none()
    serializer_class = s.VariantOutput
    lookup_value_regex = r"\d+"
    scope = "catalog"
    write_roles = CATALOG_WRITERS
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = VariantFilter
    ordering_fields = ["sku", "position", "created_at", "updated_at"]

    def get_queryset(self) -> Any:
        return variant_base()

    @extend_schema(request=s.VariantCreateInput, responses={201: s.VariantOutput, **WRITE_ERRORS})
    @idempotent
    def create(self, request: Request) -> Response:
        data = s.VariantCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        variant = variant_create(actor=request.user, **data.validated_data)
        return Response(s.VariantOutput(variant_get(variant.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.VariantInput, responses={200: s.VariantOutput, **WRITE_ERRORS})
    @idempotent
    def partial_update(self, request: Request, pk: str) -> Response:
        """Changes a SKU. `barcodes` and `channel_prices`, when given, replace the SKU's."""
        data = s.VariantInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        variant = variant_update(actor=request.user, variant_id=int(pk), **data.validated_data)
        return Response(s.VariantOutput(variant_get(variant.pk)).data)

    @extend_schema(request=None, responses={200: s.VariantOutput, 404: ErrorOutput})
    @action(detail=True, methods=["post"])
    @idempotent
    def archive(self, request: Request, pk: str) -> Response:
        """Stops selling the SKU; its stock and history stay."""
        variant = variant_archive(actor=request.user, variant_id=int(pk))
        return Response(s.VariantOutput(variant_get(variant.pk)).data)

    @extend_schema(parameters=[s.VariantSearchQuery], responses=s.VariantSearchOutput(many=True))
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def search(self, request: Request) -> Response:
        """POS scan or typed search: exact SKU and barcode matches first, then words of the names."""
        query = s.VariantSearchQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        variants = variant_search(
            params["q"],
            channel=params.get("channel"),
            include_inactive=params["include_inactive"],
            limit=params["limit"],
        )
        context = {"channel": params.get("channel")}
        return Response(s.VariantSearchOutput(variants, many=True, context=context).data)

    @extend_schema(
        parameters=[s.VariantLookupQuery], responses={200: s.VariantSearchOutput, 404: ErrorOutput}
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def lookup(self, request: Request) -> Response:
        """The SKU of an exact barcode or SKU; 404 variant_not_found otherwise."""
        query = s.VariantLookupQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        variant = variant_by_code(query.validated_data["code"])
        context = {"channel": query.validated_data.get("channel")}
        return Response(s.VariantSearchOutput(variant, context=context).data)


class CategoryViewSet(viewsets.GenericViewSet[Category]):
    """The category tree, depth-first, with parent ids and full paths (Clothing > Dresses)."""

    queryset = Category.objects.none()
    serializer_class = s.CategoryOutput
    lookup_value_regex = r"\d+"
    scope = "catalog"
    write_roles = CATALOG_WRITERS
    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(responses=s.CategoryOutput(many=True))
    def list(self, request: Request) -> Response:
        return Response(s.CategoryOutput(category_tree(), many=True).data)

    @extend_schema(request=s.CategoryCreateInput, responses={201: s.CategoryOutput, 400: ErrorOutput})
    @idempotent
    def create(self, request: Request) -> Response:
        data = s.CategoryCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        category = category_create(actor=request.user, **data.validated_data)
        node = next(row for row in category_tree() if row["id"] == category.pk)
        return Response(s.CategoryOutput(node).data, status=status.HTTP_201_CREATED)


class BrandViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Brand]):
    queryset = Brand.objects.all()
    serializer_class = s.BrandOutput
    lookup_value_regex = r"\d+"
    scope = "catalog"
    write_roles = CATALOG_WRITERS
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = BrandFilter
    ordering_fields = ["name"]

    @extend_schema(request=s.BrandCreateInput, responses={201: s.BrandOutput, 400: ErrorOutput})
    @idempotent
    def create(self, request: Request) -> Response:
        data = s.BrandCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        brand = brand_create(actor=request.user, **data.validated_data)
        return Response(s.BrandOutput(brand).data, status=status.HTTP_201_CREATED)
