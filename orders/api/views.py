"""Order API: thin views (input serializer -> service -> output serializer).

Staff and API tokens with orders:read / orders:write. Orders are in the base queryset only for staff of the
branch that sold, sends or hands over the order; a return may be taken at any branch for any order (the
return endpoints find the order by number). Sales, payments, returns, exchanges and checkouts honour
Idempotency-Key, so a POS replaying its queue never sells or refunds twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from members.selectors import signed_in_member
from omo.api.permissions import IsOwner
from omo.api.serializers import ErrorOutput
from omo.errors import ValidationFailed
from omo.idempotency import idempotent
from omo.models import Location, User
from omo.services.accounts import user_pin_verify
from orders.api import serializers as s
from orders.api.filters import OrderFilter
from orders.fps import fps_merchant_from_settings, fps_payload, fps_qr_png, fps_qr_svg
from orders.models import Order
from orders.pricing import Discount
from orders.selectors import order_for_return, order_get, order_list, return_get, returns_list
from orders.services import (
    LineInput,
    RefundInput,
    ReturnItem,
    ShipTo,
    order_cancel,
    order_collected,
    order_complete,
    order_exchange,
    order_handover,
    order_pay,
    order_place,
    order_ready,
    order_return,
    order_ship,
)
from orders.tenders import PaymentInput

WRITE_ERRORS: dict[int, Any] = {400: ErrorOutput, 403: ErrorOutput, 404: ErrorOutput, 409: ErrorOutput}


def discount_of(data: dict[str, Any] | None) -> Discount:
    if not data:
        return Discount()
    return Discount(amount=data.get("amount"), percent=data.get("percent"), reason=data.get("reason", ""))


def lines_of(rows: list[dict[str, Any]]) -> list[LineInput]:
    return [
        LineInput(
            qty=row["qty"],
            variant_id=row.get("variant"),
            code=row.get("sku", ""),
            unit_price=row.get("unit_price"),
            discount=discount_of(row.get("discount")),
        )
        for row in rows
    ]


def payments_of(rows: list[dict[str, Any]]) -> list[PaymentInput]:
    return [
        PaymentInput(
            tender=row["tender"],
            amount=row.get("amount"),
            tendered=row.get("tendered"),
            reference=row.get("reference", ""),
        )
        for row in rows
    ]


def ship_to_of(data: dict[str, Any] | None) -> ShipTo | None:
    return ShipTo(**data) if data else None


def approver_of(data: dict[str, Any] | None, location_id: int) -> User | None:
    if not data:
        return None
    return user_pin_verify(username=data["username"], pin=data["pin"], location=Location(pk=location_id))


class OrderViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Order]):
    """The order book of your branches: every channel, searchable; sales and what follows them."""

    scope = "orders"
    lookup_value_regex = r"\d+"
    queryset = Order.objects.none()
    serializer_class = s.OrderListOutput
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = OrderFilter
    ordering_fields = ["placed_at", "number", "total"]
    ordering = ["-placed_at", "-id"]

    def get_queryset(self) -> Any:
        return order_list(self.request.user)

    def detail_response(self, order_id: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(s.OrderDetailOutput(order_get(self.request.user, order_id)).data, status=code)

    @extend_schema(responses={200: s.OrderDetailOutput, 404: ErrorOutput})
    def retrieve(self, request: Request, pk: str) -> Response:
        return self.detail_response(int(pk))

    @extend_schema(request=s.OrderCreateInput, responses={201: s.OrderOutput, **WRITE_ERRORS})
    @idempotent
    def create(self, request: Request) -> Response:
        """Places an order of any channel: an in-store POS sale (paid in full, stock taken now), or an order
        to ship, collect at a branch or at a locker (stock held, from another location for endless aisle)."""
        data = s.OrderCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        order = order_place(
            actor=request.user,
            channel=p["channel"],
            location_id=p["location"],
            fulfilment=p["fulfilment"],
            lines=lines_of(p["lines"]),
            payments=payments_of(p["payments"]),
            member_id=p.get("member"),
            customer_name=p["customer_name"],
            customer_phone=p["customer_phone"],
            customer_email=p["customer_email"],
            staff_id=p.get("staff"),
            discount=discount_of(p.get("discount")),
            shipping_fee=p.get("shipping_fee"),
            ship_to=ship_to_of(p.get("ship_to")),
            fulfil_from_id=p.get("fulfil_from"),
            pickup_location_id=p.get("pickup_location"),
            pickup_point_code=p["pickup_point"],
            approver=approver_of(p.get("approval"), p["location"]),
            note=p["note"],
            language=p["language"],
        )
        return Response(s.order_data(order), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PayInput, responses={200: s.OrderDetailOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def pay(self, request: Request, pk: str) -> Response:
        """Takes payment for an order waiting for it (a web order paid by FPS, a pickup paid on pickup)."""
        data = s.PayInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = order_pay(
            order_id=int(pk), payments=payments_of(data.validated_data["payments"]), actor=request.user
        )
        return self.detail_response(order.pk)

    @extend_schema(request=None, responses={200: s.OrderDetailOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def ready(self, request: Request, pk: str) -> Response:
        """A pickup order is ready at its branch (the customer is told by the `order.ready` event)."""
        return self.detail_response(order_ready(order_id=int(pk), actor=request.user).pk)

    @extend_schema(request=s.ShipInput, responses={200: s.OrderDetailOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str) -> Response:
        """The parcel leaves (home delivery or to the locker): the held stock becomes the sale."""
        data = s.ShipInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = order_ship(order_id=int(pk), actor=request.user, **data.validated_data)
        return self.detail_response(order.pk)

    @extend_schema(request=None, responses={200: s.OrderDetailOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def collected(self, request: Request, pk: str) -> Response:
        """A locker parcel was collected."""
        return self.detail_response(order_collected(order_id=int(pk), actor=request.user).pk)

    @extend_schema(request=None, responses={200: s.OrderDetailOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        return self.detail_response(order_complete(order_id=int(pk), actor=request.user).pk)

    @extend_schema(request=s.CancelInput, responses={200: s.OrderDetailOutput, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancels an order whose goods have not left; a paid one (refunded to its tenders) needs a manager"""
        data = s.CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = order_get(request.user, int(pk))
        order = order_cancel(
            order_id=order.pk,
            actor=request.user,
            reason=data.validated_data["reason"],
            approver=approver_of(data.validated_data.get("approval"), order.location_id),
        )
        return self.detail_response(order.pk)

    @extend_schema(request=s.HandoverInput, responses={200: s.OrderDetailOutput, **WRITE_ERRORS})
    @action(detail=False, methods=["post"])
    def handover(self, request: Request) -> Response:
        """Hands a pickup order over at the branch, found by the customer's pickup code (or its QR)."""
        data = s.HandoverInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = order_handover(
            actor=request.user,
            location_id=data.validated_data["location"],
            pickup_code=data.validated_data["pickup_code"],
        )
        return self.detail_response(order.pk)

    @extend_schema(
        parameters=[OpenApiParameter("image", str, enum=["svg", "png"], required=False)],
        responses={(200, "image/svg+xml"): bytes, (200, "image/png"): bytes, 404: ErrorOutput},
    )
    @action(detail=True, methods=["get"], url_path="fps-qr", url_name="fps-qr")
    def fps_qr(self, request: Request, pk: str) -> HttpResponse:
        """A dynamic FPS QR code for what is still due on the order, for the POS screen to show."""
        order = order_get(request.user, int(pk))
        due = order.total.amount - order.paid.amount
        if due <= 0:
            raise ValidationFailed(_("Nothing is due on this order."))
        return qr_response(
            fps_payload(merchant=fps_merchant_from_settings(), amount=due, reference=order.number),
            request.query_params.get("image", "svg"),
        )

    @extend_schema(
        responses={200: s.OrderDetailOutput, 404: ErrorOutput},
        parameters=[OpenApiParameter("number", str, required=True)],
    )
    @action(detail=False, methods=["get"], url_path="for-return", url_name="for-return")
    def for_return(self, request: Request) -> Response:
        """Any branch's order by its number, to take a return of it here (staff)."""
        query = s.ForReturnQuery(data=request.query_params)
        if not query.is_valid():
            raise ValidationFailed(fields={"number": _("Give the order number from the receipt.")})
        return Response(s.OrderDetailOutput(order_for_return(number=query.validated_data["number"])).data)

    @extend_schema(responses={200: dict, 404: ErrorOutput})
    @action(detail=True, methods=["get"])
    def documents(self, request: Request, pk: str) -> Response:
        """Signed links to the receipt and the invoice PDFs, in both languages (printable, shareable)."""
        from orders.documents import document_link, document_pdf_link

        order = order_get(request.user, int(pk))
        links = {}
        for kind in ("receipt", "invoice"):
            for language in ("zh-hant", "en"):
                links[f"{kind}_{language}"] = {
                    "page": document_link(order_id=order.pk, kind=kind, language=language),
                    "pdf": document_pdf_link(order_id=order.pk, kind=kind, language=language),
                }
        return Response(links)

    @extend_schema(request=s.EmailInput, responses={202: None, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def email(self, request: Request, pk: str) -> Response:
        """E-mails the receipt or invoice PDF to the customer (sent by a worker)."""
        from omo.services.outbox import outbox_enqueue

        data = s.EmailInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = order_get(request.user, int(pk))
        from django.db import transaction

        with transaction.atomic():
            outbox_enqueue(
                task="orders.tasks.order_document_email_task",
                kwargs={
                    "order_id": order.pk,
                    "to": data.validated_data["to"],
                    "kind": data.validated_data["kind"],
                },
            )
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)


def qr_response(payload: str, fmt: str) -> HttpResponse:
    if fmt == "png":
        return HttpResponse(fps_qr_png(payload), content_type="image/png")
    if fmt != "svg":
        raise ValidationFailed(fields={"image": _("svg or png")})
    response = HttpResponse(fps_qr_svg(payload), content_type="image/svg+xml")
    response["X-FPS-Payload"] = payload
    return response


class ReturnViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]):
    """Returns taken at your branches. A return may be of any branch's order, of any channel."""

    scope = "orders"
    lookup_value_regex = r"\d+"
    serializer_class = s.ReturnOutput

    def get_queryset(self) -> Any:
        return returns_list(self.request.user)

    @extend_schema(request=s.ReturnCreateInput, responses={201: s.ReturnOutput, **WRITE_ERRORS})
    @idempotent
    def create(self, request: Request) -> Response:
        """Takes goods back, all or part, restocked or written off, and refunds them (to the tenders paid
        with, unless `refunds` says otherwise). Never more than was paid; large refunds need a manager."""
        data = s.ReturnCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        order = order_for_return(order_id=p.get("order"), number=p.get("order_number", ""))
        refunds = p.get("refunds")
        record = order_return(
            order_id=order.pk,
            actor=request.user,
            location_id=p["location"],
            items=items_of(p["items"]),
            reason=p["reason"],
            refunds=None if refunds is None else [RefundInput(**row) for row in refunds],
            approver=approver_of(p.get("approval"), p["location"]),
        )
        return Response(s.ReturnOutput(return_get(record.pk)).data, status=status.HTTP_201_CREATED)


def items_of(rows: list[dict[str, Any]]) -> list[ReturnItem]:
    return [
        ReturnItem(
            line_id=row["line"],
            qty=row["qty"],
            disposition=row["disposition"],
            stock_location_id=row.get("stock_location"),
        )
        for row in rows
    ]


class ExchangeCreateApi(APIView):
    scope = "orders"

    @extend_schema(request=s.ExchangeCreateInput, responses={201: s.ExchangeOutput, **WRITE_ERRORS})
    @idempotent
    def post(self, request: Request) -> Response:
        """An exchange: the goods come back and a new sale is paid first with their value; the customer
        pays only the difference, or gets it back to the tenders they paid with."""
        data = s.ExchangeCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        order = order_for_return(order_id=p.get("order"), number=p.get("order_number", ""))
        record, new, _refunds = order_exchange(
            order_id=order.pk,
            actor=request.user,
            location_id=p["location"],
            items=items_of(p["items"]),
            reason=p["reason"],
            lines=lines_of(p["lines"]),
            payments=payments_of(p["payments"]),
            approver=approver_of(p.get("approval"), p["location"]),
        )
        body = {
            "return": s.ReturnOutput(return_get(record.pk)).data,
            "order": s.OrderDetailOutput(order_get(request.user, new.pk)).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class CheckoutApi(APIView):
    """The web shop's checkout: a customer (signed in or a guest) orders for delivery, branch pickup or a
    locker; the goods are held for a short time while they pay (FPS QR in the response)."""

    permission_classes = [AllowAny]

    @extend_schema(request=s.CheckoutInput, responses={201: s.OrderOutput, **WRITE_ERRORS})
    @idempotent
    def post(self, request: Request) -> Response:
        from orders.selectors import web_location

        data = s.CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        actor = request.user if request.user.is_authenticated else "web"
        # A signed-in customer's order is theirs: it earns points and shows in their account.
        member = signed_in_member(request.user)
        order = order_place(
            actor=actor,
            member_id=member.pk if member is not None else None,
            channel="web",
            location_id=web_location().pk,
            fulfilment=p["fulfilment"],
            lines=lines_of(p["lines"]),
            customer_name=p["customer_name"],
            customer_phone=p["customer_phone"],
            customer_email=p["customer_email"],
            ship_to=ship_to_of(p.get("ship_to")),
            pickup_location_id=p.get("pickup_location"),
            pickup_point_code=p["pickup_point"],
            language=p["language"],
        )
        body = s.OrderOutput(order).data
        body["fps"] = fps_block(order)
        return Response(body, status=status.HTTP_201_CREATED)


def fps_block(order: Order) -> dict[str, str] | None:
    """What the checkout page shows to pay by FPS: the payload and its QR as SVG (None if FPS is not set)."""
    try:
        merchant = fps_merchant_from_settings()
    except ValidationFailed:
        return None
    payload = fps_payload(merchant=merchant, amount=Decimal(order.total.amount), reference=order.number)
    return {"payload": payload, "qr_svg": fps_qr_svg(payload)}


class FpsQrApi(APIView):
    """A dynamic FPS QR for any amount (a POS taking a payment not tied to one order yet)."""

    scope = "orders"

    @extend_schema(
        parameters=[
            OpenApiParameter("amount", str, required=True),
            OpenApiParameter("reference", str),
            OpenApiParameter("image", str, enum=["svg", "png"]),
        ],
        responses={(200, "image/svg+xml"): bytes, (200, "image/png"): bytes, 400: ErrorOutput},
    )
    def get(self, request: Request) -> HttpResponse:
        try:
            amount = Decimal(request.query_params.get("amount", ""))
        except ArithmeticError:
            raise ValidationFailed(fields={"amount": _("Give an amount such as 199.50.")}) from None
        payload = fps_payload(
            merchant=fps_merchant_from_settings(),
            amount=amount,
            reference=request.query_params.get("reference", ""),
        )
        return qr_response(payload, request.query_params.get("image", "svg"))


class PickupPointViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Any]):
    """SF lockers, SF stores and partner shops a web order can be sent to (public, for the checkout)."""

    permission_classes = [AllowAny]
    serializer_class = s.PickupPointOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("district", str),
            OpenApiParameter("kind", str),
            OpenApiParameter("q", str),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        from orders.models import District, PickupPointKind
        from orders.selectors_pickup import pickup_points_list

        params = self.request.query_params
        district, kind = params.get("district") or None, params.get("kind") or None
        if district is not None and district not in District.values:
            raise ValidationFailed(fields={"district": _("Choose one of Hong Kong's 18 districts.")})
        if kind is not None and kind not in PickupPointKind.values:
            raise ValidationFailed(fields={"kind": _("Unknown kind of pickup point.")})
        # A NUL byte cannot reach PostgreSQL; nothing else in a search needs refusing.
        return pickup_points_list(
            district=district, kind=kind, q=params.get("q", "")[:60].replace("\x00", "")
        )

    @extend_schema(
        request={"multipart/form-data": s.PickupImportInput}, responses={200: dict, **WRITE_ERRORS}
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        permission_classes=[IsOwner],
        parser_classes=[MultiPartParser],
    )
    def import_file(self, request: Request) -> Response:
        """Loads the carrier's CSV list of lockers and stores (owners). `dry_run` reports without writing."""
        from orders.services.pickup_points import pickup_points_import

        data = s.PickupImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        report = pickup_points_import(
            file=data.validated_data["file"],
            actor=request.user,
            dry_run=data.validated_data["dry_run"],
            deactivate_missing=data.validated_data["deactivate_missing"],
        )
        return Response(report.as_dict())
