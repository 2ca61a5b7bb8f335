"""Thin views: input serializer -> service -> output serializer."""

from typing import Any

from django.contrib.auth import login
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from omo.api import serializers as s
from omo.api.permissions import IsOwner
from omo.api.throttling import TolerantScopedRateThrottle
from omo.idempotency import idempotent
from omo.models import ApiToken, AuditLog, Location, Role, User, WebhookDelivery, WebhookEndpoint
from omo.services.accounts import api_token_create, api_token_revoke, user_pin_verify
from omo.services.locations import location_create, location_update
from omo.services.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_deactivate,
    webhook_endpoint_update,
    webhook_redeliver,
)


class PingApi(APIView):
    """No database, no session: the floor of the HTTP stack (used by the http_floor benchmark)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses=inline_serializer("Pong", {"pong": serializers.BooleanField()}))
    def get(self, request: Request) -> Response:
        return Response({"pong": True})


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.UserOutput)
    def get(self, request: Request) -> Response:
        return Response(s.UserOutput(request.user).data)  # type: ignore[arg-type]  # IsAuthenticated


class PinSwitchApi(APIView):
    """Switches the signed-in staff member on a shared iPad by username and PIN."""

    permission_classes = [AllowAny]
    throttle_classes = [TolerantScopedRateThrottle]
    throttle_scope = "pin"

    @extend_schema(request=s.PinSwitchInput, responses=s.UserOutput)
    def post(self, request: Request) -> Response:
        data = s.PinSwitchInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_pin_verify(
            username=data.validated_data["username"],
            pin=data.validated_data["pin"],
            location=data.validated_data.get("branch"),
        )
        login(request._request, user, backend="omo.auth_backends.RoleBackend")
        return Response(s.UserOutput(user).data)


class LocationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Location]):
    """Branches and warehouses. Every staff member sees them all (to find stock); only owners change them."""

    queryset = Location.objects.all()
    serializer_class = s.LocationOutput
    lookup_value_regex = r"\d+"  # any other id is a 404 from the router, never a server error
    scope = "locations"
    write_roles = frozenset({Role.OWNER})
    filterset_fields = ["kind", "is_active"]
    search_fields = ["code", "name_en", "name_zh_hant"]
    ordering_fields = ["code", "name_en"]

    @extend_schema(request=s.LocationCreateInput, responses={201: s.LocationOutput})
    @idempotent
    def create(self, request: Request) -> Response:
        data = s.LocationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        location = location_create(actor=request.user, **data.validated_data)
        return Response(s.LocationOutput(location).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.LocationUpdateInput, responses=s.LocationOutput)
    @idempotent
    def partial_update(self, request: Request, pk: str) -> Response:
        data = s.LocationUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        location = location_update(actor=request.user, location_id=int(pk), **data.validated_data)
        return Response(s.LocationOutput(location).data)


class AuditLogViewSet(viewsets.ReadOnlyModelViewSet[AuditLog]):
    """The audit log of the branches you manage; another branch's entry is 404 even by id."""

    serializer_class = s.AuditLogOutput
    lookup_value_regex = r"\d+"
    scope = "audit"
    allowed_roles = frozenset({Role.OWNER, Role.MANAGER})
    filterset_fields = ["action", "branch__code", "object_type", "object_id"]
    search_fields = ["action", "actor_label", "reason"]
    ordering_fields = ["created_at"]

    def get_queryset(self) -> Any:
        return AuditLog.objects.for_user(self.request.user).select_related("branch")


class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[ApiToken]):
    """API tokens for integrations; owners only. The key is shown once, at creation."""

    queryset = ApiToken.objects.select_related("user")
    serializer_class = s.ApiTokenOutput
    lookup_value_regex = r"\d+"
    permission_classes = [IsOwner]

    @extend_schema(request=s.ApiTokenCreateInput, responses={201: s.ApiTokenCreatedOutput})
    def create(self, request: Request) -> Response:
        data = s.ApiTokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = get_object_or_404(User, username=data.validated_data["username"], role=Role.API_CLIENT)
        token, raw_key = api_token_create(
            name=data.validated_data["name"],
            user=user,
            scopes=data.validated_data["scopes"],
            actor=request.user,
        )
        body = s.ApiTokenOutput(token).data
        return Response({**body, "key": raw_key}, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        api_token_revoke(token_id=int(pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[WebhookEndpoint]
):
    """Where events are POSTed; owners only (or a token with webhooks scopes). The signing secret is shown
    once, at creation; deleting an endpoint switches it off and keeps its delivery log."""

    queryset = WebhookEndpoint.objects.select_related("created_by")
    serializer_class = s.WebhookEndpointOutput
    lookup_value_regex = r"\d+"
    scope = "webhooks"
    allowed_roles = frozenset({Role.OWNER})
    filterset_fields = ["is_active"]
    search_fields = ["name", "url"]
    ordering_fields = ["created_at", "name"]

    @extend_schema(request=s.WebhookEndpointCreateInput, responses={201: s.WebhookEndpointCreatedOutput})
    def create(self, request: Request) -> Response:
        data = s.WebhookEndpointCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = webhook_endpoint_create(actor=request.user, **data.validated_data)
        body = s.WebhookEndpointOutput(endpoint).data
        return Response({**body, "secret": secret}, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.WebhookEndpointUpdateInput, responses=s.WebhookEndpointOutput)
    def update(self, request: Request, pk: str) -> Response:
        return self.endpoint_update(request, int(pk), partial=False)

    @extend_schema(request=s.WebhookEndpointUpdateInput, responses=s.WebhookEndpointOutput)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.endpoint_update(request, int(pk), partial=True)

    def endpoint_update(self, request: Request, endpoint_id: int, *, partial: bool) -> Response:
        data = s.WebhookEndpointUpdateInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_update(actor=request.user, endpoint_id=endpoint_id, **data.validated_data)
        return Response(s.WebhookEndpointOutput(endpoint).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        webhook_endpoint_deactivate(actor=request.user, endpoint_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryViewSet(viewsets.ReadOnlyModelViewSet[WebhookDelivery]):
    """The delivery log: each event sent to each endpoint, its attempts and the last answer."""

    queryset = WebhookDelivery.objects.select_related("endpoint")
    serializer_class = s.WebhookDeliveryOutput
    lookup_value_regex = r"\d+"
    scope = "webhooks"
    allowed_roles = frozenset({Role.OWNER})
    filterset_fields = ["endpoint", "status", "topic", "event_id"]
    ordering_fields = ["created_at", "next_attempt_at"]

    @extend_schema(request=None, responses=s.WebhookDeliveryOutput)
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str) -> Response:
        """Sends the delivery again now, with a fresh set of attempts."""
        delivery = webhook_redeliver(delivery_id=int(pk), actor=request.user)
        return Response(s.WebhookDeliveryOutput(delivery).data)
