"""Stock API: thin views (input serializer -> service -> output serializer). Staff and API tokens with
inventory:read / inventory:write. The services decide who may act where (a cashier at their own branch; a
manager for adjustments, count posting and transfer approval); rows that belong to a branch are in the base
querysets only for its staff, so another branch's row is a 404 by id. Stock figures are for all staff."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.fields import BIGINT_MAX
from catalog.exceptions import ProductNotFound, VariantNotFound
from catalog.models import Product, Variant
from catalog.selectors import variant_by_code, variants_by_id
from inventory.api import serializers as s
from inventory.api.filters import (
    LowStockAlertFilter,
    MovementFilter,
    ReservationFilter,
    StockCountFilter,
    StockLevelFilter,
    TransferFilter,
)
from inventory.models import LowStockAlert, Reservation, StockCount, StockLevel, StockMovement, Transfer
from inventory.selectors import (
    availability_batch,
    availability_for_variant,
    low_stock_alerts_list,
    movements_list,
    replenishment_list,
    reservations_list,
    staff_holds_list,
    stock_count_variance,
    stock_counts_list,
    stock_levels_list,
    transfers_list,
    where_available,
)
from inventory.services import (
    ReceiveLine,
    TransferItem,
    reservation_consume,
    reservation_extend,
    reservation_release,
    stock_adjust,
    stock_count_cancel,
    stock_count_open,
    stock_count_post,
    stock_count_record,
    stock_receive,
    stock_reorder_set,
    stock_reserve,
    stock_write_off,
    transfer_approve,
    transfer_cancel,
    transfer_receive,
    transfer_request,
    transfer_ship,
)
from omo.api.serializers import ErrorOutput
from omo.errors import ValidationFailed
from omo.idempotency import idempotent
from omo.scoping import ALL_BRANCHES, branch_ids_for

WRITE_ERRORS: dict[int, Any] = {400: ErrorOutput, 403: ErrorOutput, 404: ErrorOutput, 409: ErrorOutput}


def stock_rows(user: Any) -> QuerySet[StockLevel]:
    """Stock rows with live figures: `live_reserved` leaves out holds past their time (not swept yet)."""
    return stock_levels_list(user).annotate(
        live_reserved=F("reserved") - F("expired"),
        live_available=F("on_hand") - F("reserved") + F("expired"),
    )


def stock_row(user: Any, *, variant_id: int, location_id: int) -> StockLevel:
    return stock_rows(user).get(variant_id=variant_id, location_id=location_id)


class InventoryViewSet(viewsets.GenericViewSet[Any]):
    lookup_value_regex = r"\d+"
    scope = "inventory"
    filter_backends = [DjangoFilterBackend, OrderingFilter]


# --- Stock --------------------------------------------------------------------------------------------------


class StockViewSet(mixins.ListModelMixin, InventoryViewSet):
    """Stock of every SKU at every location: on hand, held by live holds, available. All staff may read it."""

    queryset = StockLevel.objects.none()
    serializer_class = s.StockLevelOutput
    filterset_class = StockLevelFilter
    ordering_fields = ["on_hand", "updated_at", "location__code", "variant__sku"]
    ordering = ["location__code", "variant__sku"]

    def get_queryset(self) -> Any:
        return stock_rows(self.request.user)

    @extend_schema(
        request=s.StockReceiveInput, responses={200: s.StockLevelOutput(many=True), **WRITE_ERRORS}
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    @idempotent
    def receive(self, request: Request) -> Response:
        """Books a delivery in at a location (staff of that location), with unit costs and its reference."""
        data = s.StockReceiveInput(data=request.data)
        data.is_valid(raise_exception=True)
        location, lines = data.validated_data["location"], data.validated_data["lines"]
        stock_receive(
            location_id=location.pk,
            lines=[ReceiveLine(line["variant"], line["qty"], line.get("unit_cost")) for line in lines],
            actor=request.user,
            reference=data.validated_data["reference"],
            reason=data.validated_data["reason"],
        )
        rows = stock_rows(request.user).filter(
            location_id=location.pk, variant_id__in=[line["variant"].pk for line in lines]
        )
        return Response(s.StockLevelOutput(rows.order_by("variant__sku"), many=True).data)

    @extend_schema(request=s.StockAdjustInput, responses={200: s.StockLevelOutput, **WRITE_ERRORS})
    @action(detail=False, methods=["post"])
    @idempotent
    def adjust(self, request: Request) -> Response:
        """Corrects on-hand by `delta` or to `on_hand`, with a reason. Managers only (403 otherwise)."""
        data = s.StockAdjustInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        stock_adjust(
            variant=params["variant"],
            location_id=params["location"].pk,
            actor=request.user,
            reason=params["reason"],
            delta=params.get("delta"),
            on_hand=params.get("on_hand"),
            reference=params["reference"],
        )
        row = stock_row(request.user, variant_id=params["variant"].pk, location_id=params["location"].pk)
        return Response(s.StockLevelOutput(row).data)

    @extend_schema(request=s.StockWriteOffInput, responses={200: s.StockLevelOutput, **WRITE_ERRORS})
    @action(detail=False, methods=["post"], url_path="write-off", url_name="write-off")
    @idempotent
    def write_off(self, request: Request) -> Response:
        """Writes off damaged or lost units (staff of the location); 409 insufficient_stock if fewer are
        on hand."""
        data = s.StockWriteOffInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        stock_write_off(
            variant=params["variant"],
            location_id=params["location"].pk,
            qty=params["qty"],
            actor=request.user,
            reason=params["reason"],
            reference=params["reference"],
        )
        row = stock_row(request.user, variant_id=params["variant"].pk, location_id=params["location"].pk)
        return Response(s.StockLevelOutput(row).data)

    @extend_schema(request=s.StockReorderInput, responses={200: s.StockLevelOutput, **WRITE_ERRORS})
    @action(detail=False, methods=["post"])
    @idempotent
    def reorder(self, request: Request) -> Response:
        """Sets a SKU's reorder point and quantity at a location (null clears them). Managers only."""
        data = s.StockReorderInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        stock_reorder_set(
            variant=params["variant"],
            location_id=params["location"].pk,
            actor=request.user,
            reorder_point=params["reorder_point"],
            reorder_qty=params["reorder_qty"],
        )
        row = stock_row(request.user, variant_id=params["variant"].pk, location_id=params["location"].pk)
        return Response(s.StockLevelOutput(row).data)


class MovementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InventoryViewSet):
    """The stock ledger of your branches, newest first."""

    queryset = StockMovement.objects.none()
    serializer_class = s.MovementOutput
    filterset_class = MovementFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self) -> Any:
        return movements_list(self.request.user).select_related("variant__product")


class LowStockAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InventoryViewSet):
    """Low-stock alerts of your branches, newest first."""

    queryset = LowStockAlert.objects.none()
    serializer_class = s.LowStockAlertOutput
    filterset_class = LowStockAlertFilter
    ordering_fields = ["raised_at"]

    def get_queryset(self) -> Any:
        return low_stock_alerts_list(self.request.user)


class ReplenishmentApi(APIView):
    """What is at or below its reorder point, and where to get it: a warehouse transfer, a purchase, both."""

    scope = "inventory"

    @extend_schema(parameters=[s.ReplenishmentQuery], responses=s.ReplenishmentOutput(many=True))
    def get(self, request: Request) -> Response:
        query = s.ReplenishmentQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        location_ids: list[int] | None
        if "location" in query.validated_data:
            location_ids = [query.validated_data["location"]]
        else:
            ids = branch_ids_for(request.user)
            location_ids = None if ids is ALL_BRANCHES else sorted(ids)
        return Response(s.ReplenishmentOutput(replenishment_list(location_ids=location_ids), many=True).data)


# --- Availability -------------------------------------------------------------------------------------------


def variant_get_or_404(variant_id: int) -> Variant:
    variant = variants_by_id([variant_id]).get(variant_id) if variant_id <= BIGINT_MAX else None
    if variant is None:
        raise VariantNotFound()
    return variant


class VariantAvailabilityApi(APIView):
    """One SKU at every active location (the customer asks for size M: which branch has it)."""

    scope = "inventory"

    @extend_schema(responses={200: s.VariantAvailabilityOutput, 404: ErrorOutput})
    def get(self, request: Request, variant_id: int) -> Response:
        variant = variant_get_or_404(variant_id)
        body = {
            "variant": variant.pk,
            "sku": variant.sku,
            "name": variant.label,
            "locations": availability_for_variant(variant.pk),
        }
        return Response(s.VariantAvailabilityOutput(body).data)


class AvailabilityBatchApi(APIView):
    """Several SKUs at every active location in three queries, whatever their number (a web product page).
    Ids of SKUs that do not exist are left out."""

    scope = "inventory"

    @extend_schema(parameters=[s.AvailabilityBatchQuery], responses=s.AvailabilityBatchOutput)
    def get(self, request: Request) -> Response:
        query = s.AvailabilityBatchQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        ids = query.validated_data["variants"]
        variants = variants_by_id(ids)
        known = [pk for pk in ids if pk in variants]
        figures = availability_batch(known)
        rows = [{"variant": pk, "sku": variants[pk].sku, "locations": figures[pk]} for pk in known]
        return Response(s.AvailabilityBatchOutput({"results": rows}).data)


OPTIONS_PARAMETER = OpenApiParameter(
    name="options",
    type={"type": "object", "additionalProperties": {"type": "string", "maxLength": 50}},
    location=OpenApiParameter.QUERY,
    style="form",
    explode=True,
    required=False,
    description="Each query parameter is one of the product's option names with the value wanted, matched "
    "without regard to case: `?Size=M&Colour=Red`. Options left out match every value.",
)


class WhereAvailableApi(APIView):
    """Which locations have this product available, in the options asked for (`?Size=M`); branches first."""

    scope = "inventory"

    @extend_schema(
        parameters=[OPTIONS_PARAMETER],
        responses={200: s.WhereAvailableOutput(many=True), 400: ErrorOutput, 404: ErrorOutput},
    )
    def get(self, request: Request, product_id: int) -> Response:
        option_names = (
            Product.objects.filter(pk=product_id).values_list("option_names", flat=True).first()
            if product_id <= BIGINT_MAX
            else None
        )
        if option_names is None:
            raise ProductNotFound()
        by_folded = {name.casefold(): name for name in option_names}
        options: dict[str, str] = {}
        unknown: dict[str, str] = {}
        for key in request.query_params:
            if key == "format":  # DRF's own format switch
                continue
            value = str(request.query_params.get(key, ""))
            name = by_folded.get(key.strip().casefold())
            if name is None:
                unknown[key[:50]] = _("Unknown option: %(names)s.") % {"names": key[:50]}
            else:
                options[name] = value.strip()
        if unknown:
            raise ValidationFailed(fields=unknown)
        rows = where_available(product_id=product_id, options=options)
        return Response(s.WhereAvailableOutput(rows, many=True).data)


# --- Reservations -------------------------------------------------------------------------------------------


class ReservationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InventoryViewSet):
    """Holds on stock at your branches: web checkout, staff holds, click and collect, endless aisle."""

    queryset = Reservation.objects.none()
    serializer_class = s.ReservationOutput
    filterset_class = ReservationFilter
    ordering_fields = ["created_at", "expires_at"]

    def get_queryset(self) -> Any:
        return reservations_list(self.request.user)

    def reservation_get(self, pk: str) -> Reservation:
        reservation: Reservation = self.get_queryset().get(pk=pk)
        return reservation

    @extend_schema(
        request=s.ReservationCreateInput, responses={201: s.ReservationCreatedOutput, **WRITE_ERRORS}
    )
    @idempotent
    def create(self, request: Request) -> Response:
        """Holds units for a customer; 409 insufficient_stock names every short SKU and what is available.
        Send an Idempotency-Key: a retried request returns the first holds and holds nothing twice."""
        data = s.ReservationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        lines = params.pop("lines")
        reservations = stock_reserve(lines=lines, actor=request.user, **params)
        variants = {line.variant.pk: line.variant for line in lines}
        locations = {location.pk: location for location in data.locations}
        for reservation in reservations:
            reservation.variant = variants[reservation.variant_id]
            reservation.location = locations[reservation.location_id]
        return Response(
            s.ReservationCreatedOutput({"reservations": reservations}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=s.ReservationReleaseInput, responses={200: s.ReservationOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def release(self, request: Request, pk: str) -> Response:
        """Gives the held units back; 409 reservation_not_active if already sold, released or expired."""
        reservation = self.get_object()
        data = s.ReservationReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        reservation_release(reservation_ids=[reservation.pk], actor=request.user, **data.validated_data)
        return Response(s.ReservationOutput(self.reservation_get(pk)).data)

    @extend_schema(request=s.ReservationConsumeInput, responses={200: s.ReservationOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def consume(self, request: Request, pk: str) -> Response:
        """Turns the hold into a sale (on hand and reserved both down)."""
        reservation = self.get_object()
        data = s.ReservationConsumeInput(data=request.data)
        data.is_valid(raise_exception=True)
        reservation_consume(reservation_ids=[reservation.pk], actor=request.user, **data.validated_data)
        return Response(s.ReservationOutput(self.reservation_get(pk)).data)

    @extend_schema(request=s.ReservationExtendInput, responses={200: s.ReservationOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def extend(self, request: Request, pk: str) -> Response:
        """Moves the hold's end: by `minutes`, or to `expires_at` (within 90 days)."""
        reservation = self.get_object()
        data = s.ReservationExtendInput(data=request.data)
        data.is_valid(raise_exception=True)
        reservation_extend(reservation_id=reservation.pk, actor=request.user, **data.validated_data)
        return Response(s.ReservationOutput(self.reservation_get(pk)).data)


@extend_schema_view(list=extend_schema(parameters=[s.HoldQuery]))
class HoldViewSet(mixins.ListModelMixin, InventoryViewSet):
    """Live holds of your branches (staff holds unless `source` says otherwise), soonest to run out first,
    with the seconds left: the customer who asked on Instagram and comes to try on."""

    queryset = Reservation.objects.none()
    serializer_class = s.ReservationOutput
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        query = s.HoldQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        source = query.validated_data["source"]
        return staff_holds_list(
            self.request.user,
            location_id=query.validated_data.get("location"),
            source=None if source == "all" else source,
        )


# --- Transfers ----------------------------------------------------------------------------------------------


class TransferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InventoryViewSet):
    """Transfers from or to your branches: requested, approved, in transit, received, cancelled."""

    queryset = Transfer.objects.none()
    serializer_class = s.TransferOutput
    filterset_class = TransferFilter
    ordering_fields = ["requested_at", "id"]

    def get_queryset(self) -> Any:
        return transfers_list(self.request.user)

    def transfer_output(self, transfer_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(s.TransferOutput(self.get_queryset().get(pk=transfer_id)).data, status=status_code)

    @extend_schema(request=s.TransferCreateInput, responses={201: s.TransferOutput, **WRITE_ERRORS})
    @idempotent
    def create(self, request: Request) -> Response:
        """Asks for stock to move (staff of either end)."""
        data = s.TransferCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        transfer = transfer_request(
            source_id=params["source"].pk,
            destination_id=params["destination"].pk,
            items=[TransferItem(line["variant"], line["qty"]) for line in params["lines"]],
            actor=request.user,
            note=params["note"],
        )
        return self.transfer_output(transfer.pk, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.TransferOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def approve(self, request: Request, pk: str) -> Response:
        """A manager of the source agrees to send the goods."""
        transfer = self.get_object()
        transfer_approve(transfer_id=transfer.pk, actor=request.user)
        return self.transfer_output(transfer.pk)

    @extend_schema(request=s.TransferShipInput, responses={200: s.TransferOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def ship(self, request: Request, pk: str) -> Response:
        """The goods leave the source and are in transit; 409 insufficient_stock if the source is short."""
        transfer = self.get_object()
        data = s.TransferShipInput(data=request.data)
        data.is_valid(raise_exception=True)
        transfer_ship(
            transfer_id=transfer.pk, actor=request.user, quantities=data.validated_data.get("quantities")
        )
        return self.transfer_output(transfer.pk)

    @extend_schema(request=s.TransferReceiveInput, responses={200: s.TransferOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def receive(self, request: Request, pk: str) -> Response:
        """Books the goods in at the destination; with `close`, what did not arrive is recorded as missing."""
        transfer = self.get_object()
        data = s.TransferReceiveInput(data=request.data)
        data.is_valid(raise_exception=True)
        transfer_receive(
            transfer_id=transfer.pk,
            actor=request.user,
            quantities=data.validated_data.get("quantities"),
            notes=data.validated_data.get("notes"),
            close=data.validated_data["close"],
        )
        return self.transfer_output(transfer.pk)

    @extend_schema(request=s.TransferCancelInput, responses={200: s.TransferOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str) -> Response:
        """Calls the transfer off; goods in transit go back to the source."""
        transfer = self.get_object()
        data = s.TransferCancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        transfer_cancel(transfer_id=transfer.pk, actor=request.user, reason=data.validated_data["reason"])
        return self.transfer_output(transfer.pk)


# --- Stock counts -------------------------------------------------------------------------------------------


class StockCountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InventoryViewSet):
    """Count sheets of your branches: several staff scan at once, a manager posts the result."""

    queryset = StockCount.objects.none()
    serializer_class = s.StockCountOutput
    filterset_class = StockCountFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self) -> Any:
        counts = stock_counts_list(self.request.user)
        if self.action != "list":
            counts = counts.prefetch_related("lines__variant__product", "lines__counted_by")
        return counts

    def get_serializer_class(self) -> Any:
        return s.StockCountOutput if self.action == "list" else s.StockCountDetailOutput

    def count_output(self, count_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
        count = self.get_queryset().get(pk=count_id)
        return Response(s.StockCountDetailOutput(count).data, status=status_code)

    @extend_schema(request=s.StockCountCreateInput, responses={201: s.StockCountDetailOutput, **WRITE_ERRORS})
    @idempotent
    def create(self, request: Request) -> Response:
        """Opens a count sheet at a location (staff of that location)."""
        data = s.StockCountCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        count = stock_count_open(
            location_id=data.validated_data["location"].pk,
            actor=request.user,
            full=data.validated_data["full"],
            note=data.validated_data["note"],
        )
        return self.count_output(count.pk, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=s.StockCountRecordInput, responses={200: s.StockCountRecordOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def record(self, request: Request, pk: str) -> Response:
        """Records a scan (`add` 1), a typed figure (`set`) or a correction (`add` -1). Send an
        Idempotency-Key: a scan retried over a flaky connection is then counted once."""
        count = self.get_object()
        data = s.StockCountRecordInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        if "code" in params:
            variant = variant_by_code(params["code"])
        else:
            variant = variant_get_or_404(params["variant"])
        counted = stock_count_record(
            count_id=count.pk, variant=variant, qty=params["qty"], actor=request.user, mode=params["mode"]
        )
        body = {"variant": variant.pk, "sku": variant.sku, "name": variant.label, "counted": counted}
        return Response(s.StockCountRecordOutput(body).data)

    @extend_schema(responses=s.VarianceRowOutput(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def variance(self, request: Request, pk: str) -> Response:
        """Counted against expected for each SKU (expected: on hand now, or at posting once posted)."""
        return Response(s.VarianceRowOutput(stock_count_variance(self.get_object()), many=True).data)

    @extend_schema(request=None, responses={200: s.StockCountDetailOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"], url_path="post", url_name="post")
    @idempotent
    def count_post(self, request: Request, pk: str) -> Response:
        """Sets on hand to the counted figures. Managers only."""
        count = self.get_object()
        stock_count_post(count_id=count.pk, actor=request.user)
        return self.count_output(count.pk)

    @extend_schema(request=None, responses={200: s.StockCountDetailOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str) -> Response:
        count = self.get_object()
        stock_count_cancel(count_id=count.pk, actor=request.user)
        return self.count_output(count.pk)
