"""Coupon API: thin views (input serializer -> service -> output serializer).

Staff (and API tokens with members:read / members:write): templates (managers and owners write), coupons
given to a member, a member's coupons, and the POS check of a scanned coupon. A signed-in customer (role
customer, with a member): the offers to claim, claiming one, their coupons and a coupon's QR for the till.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from members.models import Coupon, CouponKind, CouponScope, CouponSource, CouponStatus, CouponTemplate, Member
from members.selectors import member_get
from members.selectors_coupons import (
    COUPON_CHANNELS,
    CouponNotFound,
    CouponUsed,
    CouponVoid,
    coupon_get,
    coupon_list,
    coupon_quote,
    coupon_template_list,
    coupons_of_member,
)
from members.services.coupons import (
    TEMPLATE_FIELDS,
    coupon_claim,
    coupon_issue,
    coupon_template_create,
    coupon_template_update,
)
from omo.api.serializers import ErrorOutput
from omo.idempotency import idempotent
from omo.models import ApiToken, Role
from omo.qr import qr_svg

MANAGERS = frozenset({Role.OWNER, Role.MANAGER})
ERRORS: dict[int, Any] = {400: ErrorOutput, 403: ErrorOutput, 404: ErrorOutput, 409: ErrorOutput}


# --- serializers --------------------------------------------------------------------------------------------


class CouponTemplateOutput(serializers.ModelSerializer[CouponTemplate]):
    min_spend = serializers.DecimalField(source="min_spend.amount", max_digits=12, decimal_places=2)

    class Meta:
        model = CouponTemplate
        fields = ["id", *TEMPLATE_FIELDS, "created_at"]


class CouponTemplateInput(serializers.Serializer[dict]):
    code = serializers.SlugField(max_length=40)
    name_en = serializers.CharField(max_length=100)
    name_zh_hant = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=CouponKind.choices)
    value = serializers.DecimalField(max_digits=10, decimal_places=2)
    scope = serializers.ChoiceField(choices=CouponScope.choices, required=False)
    category_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    min_spend = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    valid_from = serializers.DateTimeField(required=False, allow_null=True)
    valid_until = serializers.DateTimeField(required=False, allow_null=True)
    valid_days = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=COUPON_CHANNELS),
        required=False,
        help_text="Empty: every channel.",
    )
    limit_per_member = serializers.IntegerField(min_value=0, required=False, help_text="0: no limit.")
    claimable = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)


class CouponTemplateBrief(serializers.ModelSerializer[CouponTemplate]):
    min_spend = serializers.DecimalField(source="min_spend.amount", max_digits=12, decimal_places=2)

    class Meta:
        model = CouponTemplate
        fields = [
            "code",
            "name_en",
            "name_zh_hant",
            "kind",
            "value",
            "scope",
            "category_id",
            "min_spend",
            "valid_from",
            "channels",
        ]


class CouponOutput(serializers.ModelSerializer[Coupon]):
    template = CouponTemplateBrief()

    class Meta:
        model = Coupon
        fields = [
            "code",
            "template",
            "member",
            "source",
            "status",
            "issued_at",
            "expires_at",
            "redeemed_at",
            "redeemed_reference",
        ]


class CouponIssueInput(serializers.Serializer[dict]):
    template = serializers.IntegerField(min_value=1)
    member = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Leave out for a coupon anyone may use."
    )


class CouponCheckInput(serializers.Serializer[dict]):
    code = serializers.CharField(max_length=40)
    member = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    channel = serializers.ChoiceField(choices=COUPON_CHANNELS, default="pos")
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0))
    category_subtotal = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        required=False,
        help_text="For a category coupon: what the sale's goods in its category come to.",
    )


class CouponCheckOutput(serializers.Serializer[dict]):
    code = serializers.CharField()
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    coupon = CouponOutput()


class CouponClaimInput(serializers.Serializer[dict]):
    template = serializers.CharField(max_length=40, help_text="The offer's code.")


class CouponListFilter(serializers.Serializer[dict]):
    member = serializers.IntegerField(min_value=1, required=False)
    status = serializers.ChoiceField(choices=CouponStatus.choices, required=False)
    template = serializers.IntegerField(min_value=1, required=False)


# --- staff --------------------------------------------------------------------------------------------------


class CouponTemplateViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[CouponTemplate]
):
    """Coupon templates: what coupons give, where and until when. Managers and owners write them."""

    scope = "members"
    lookup_value_regex = r"\d+"
    write_roles = MANAGERS
    serializer_class = CouponTemplateOutput
    queryset = CouponTemplate.objects.none()
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[CouponTemplate]:
        return coupon_template_list()

    @extend_schema(request=CouponTemplateInput, responses={201: CouponTemplateOutput, **ERRORS})
    def create(self, request: Request) -> Response:
        data = CouponTemplateInput(data=request.data)
        data.is_valid(raise_exception=True)
        template = coupon_template_create(actor=request.user, **data.validated_data)
        return Response(CouponTemplateOutput(template).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CouponTemplateInput(partial=True), responses={200: CouponTemplateOutput, **ERRORS})
    def partial_update(self, request: Request, pk: str) -> Response:
        data = CouponTemplateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        template = coupon_template_update(template_id=int(pk), actor=request.user, **data.validated_data)
        return Response(CouponTemplateOutput(template).data)


class CouponListApi(generics.ListAPIView[Coupon]):
    """Coupons, newest first: a member's (`member`), by status or template."""

    scope = "members"
    serializer_class = CouponOutput
    filter_backends: list[Any] = []

    @extend_schema(parameters=[CouponListFilter])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Coupon]:
        params = CouponListFilter(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        member_id = p.get("member")
        if member_id is not None:
            member_id = member_get(member_id).pk
        return coupon_list(member_id=member_id, status=p.get("status"), template_id=p.get("template"))


class CouponIssueApi(APIView):
    """Gives a coupon of a template to a member (or one anyone may use). Managers and owners."""

    scope = "members"
    write_roles = MANAGERS

    @extend_schema(request=CouponIssueInput, responses={201: CouponOutput, **ERRORS})
    @idempotent
    def post(self, request: Request) -> Response:
        data = CouponIssueInput(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = coupon_issue(
            template_id=data.validated_data["template"],
            member_id=data.validated_data.get("member"),
            source=CouponSource.MANUAL,
            actor=request.user,
        )
        return Response(CouponOutput(coupon).data, status=status.HTTP_201_CREATED)


class CouponCheckApi(APIView):
    """What a scanned or typed coupon gives on the sale at the till, or why it cannot be used (404 unknown,
    403 another member's, 409 used / expired / not in this channel / below the minimum spend)."""

    scope = "members"

    @extend_schema(parameters=[CouponCheckInput], responses={200: CouponCheckOutput, **ERRORS})
    def get(self, request: Request) -> Response:
        params = CouponCheckInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        coupon = coupon_get(p["code"])
        member_id = member_get(p["member"]).pk if p.get("member") else None
        subtotal: Decimal = p["subtotal"]
        in_category: Decimal = min(p.get("category_subtotal", subtotal), subtotal)
        lines: list[tuple[int | None, Decimal]] = [(None, subtotal)]
        if coupon.template.scope == CouponScope.CATEGORY:
            lines = [(coupon.template.category_id, in_category), (None, subtotal - in_category)]
        discount = coupon_quote(
            code=coupon.code, member_id=member_id, channel=p["channel"], lines=lines, subtotal=subtotal
        )
        return Response(CouponCheckOutput({"code": coupon.code, "discount": discount, "coupon": coupon}).data)


# --- customers ----------------------------------------------------------------------------------------------


class IsCustomerMember(BasePermission):
    """A signed-in customer (session, not an API token) who has a member record."""

    message = _("Sign in as a customer.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(request.auth, ApiToken) or not (user and user.is_authenticated):
            return False
        return user.role == Role.CUSTOMER and getattr(user, "member", None) is not None


def member_of(request: Request) -> Member:
    """The signed-in customer's member (the survivor, if it was merged). Raises MemberNotFound if erased."""
    member: Member = request.user.member  # type: ignore[union-attr]  # checked by IsCustomerMember
    return member_get(member.pk)


class CouponOffersApi(generics.ListAPIView[CouponTemplate]):
    """Offers a customer can claim now."""

    permission_classes = [IsCustomerMember]
    serializer_class = CouponTemplateBrief
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[CouponTemplate]:
        now = timezone.now()
        return (
            coupon_template_list(active=True, claimable=True)
            .exclude(valid_from__gt=now)
            .exclude(valid_until__lte=now)
        )


class CouponClaimApi(APIView):
    """The signed-in customer claims an offer (by its code): a coupon to use online or in store."""

    permission_classes = [IsCustomerMember]

    @extend_schema(request=CouponClaimInput, responses={201: CouponOutput, **ERRORS})
    @idempotent
    def post(self, request: Request) -> Response:
        data = CouponClaimInput(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = coupon_claim(template_code=data.validated_data["template"], member_id=member_of(request).pk)
        return Response(CouponOutput(coupon).data, status=status.HTTP_201_CREATED)


class MyCouponsApi(generics.ListAPIView[Coupon]):
    """The signed-in customer's coupons, newest first; `?usable=1`: only those they can still spend."""

    permission_classes = [IsCustomerMember]
    serializer_class = CouponOutput
    filter_backends: list[Any] = []

    @extend_schema(parameters=[OpenApiParameter("usable", bool, required=False)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Coupon]:
        usable = self.request.query_params.get("usable", "").lower() in ("1", "true", "yes")
        return coupons_of_member(member_of(self.request).pk, usable_only=usable)


class CouponQrApi(APIView):
    """The QR of one of the signed-in customer's coupons, to show at the till (SVG)."""

    permission_classes = [IsCustomerMember]

    @extend_schema(responses={(200, "image/svg+xml"): bytes, 404: ErrorOutput})
    def get(self, request: Request, code: str) -> HttpResponse:
        coupon = coupon_get(code)
        if coupon.member_id != member_of(request).pk:
            raise CouponNotFound(code=coupon.code)  # another's coupon is not shown, nor said to exist
        if coupon.status == CouponStatus.REDEEMED:
            raise CouponUsed(code=coupon.code)
        if coupon.status == CouponStatus.VOID:
            raise CouponVoid(code=coupon.code)
        response = HttpResponse(qr_svg(coupon.code), content_type="image/svg+xml")
        response["Cache-Control"] = "private, no-store"
        return response
