"""The web shop customer's own API: sign-in by mobile number and one-time code, then their profile, consent,
points, tier, coupons and member QR.

Sign-in (`auth/otp/request/`, `auth/otp/verify/`) is open to anyone and takes JSON only: with no session
authentication on these two views there is no CSRF check to trip an anonymous client, and a cross-site page
cannot post JSON without a CORS preflight, so it cannot sign a visitor in to someone else's account. A
successful verify starts a Django session (new session key and CSRF token, sent as cookies). Everything under
`me/` is session-only and for a signed-in customer with a member: DRF checks the CSRF token on every write;
staff and anonymous callers get 403.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from members.models import ConsentChannel, Coupon, Member, PointsEntry
from members.qr import member_qr_token, qr_max_age
from members.selectors import signed_in_member
from members.selectors_coupons import coupons_of_member
from members.selectors_points import points_balance, points_history
from members.services.members import consent_set, member_update
from members.services.otp import OtpRateLimited, otp_request, otp_ttl_seconds, otp_verify
from members.services.tiers import spend_12m, tier_benefits, tier_rank, tier_rules
from omo.api.serializers import ErrorOutput
from omo.qr import qr_svg

AUTH_BACKEND = "omo.auth_backends.RoleBackend"
POINTS_HISTORY = 100  # ledger entries shown, newest first
ERRORS: dict[int, Any] = {400: ErrorOutput, 403: ErrorOutput, 429: ErrorOutput, 503: ErrorOutput}


def client_ip(request: Request) -> str:
    """The caller's address for the rate limits. X-Forwarded-For is believed only as far as the REST_FRAMEWORK
    setting NUM_PROXIES says proxies are in front of the app (as DRF's throttles do); left unset, only
    REMOTE_ADDR counts, so a client cannot dodge the limits by sending a new X-Forwarded-For each time."""
    if api_settings.NUM_PROXIES is None:
        return str(request.META.get("REMOTE_ADDR") or "unknown")
    return BaseThrottle().get_ident(request) or "unknown"


def tier_progress(member: Member) -> dict[str, Any]:
    """The member's tier, their net spend over the tier window, and the next tier with the spend it still
    needs (None at the top tier)."""
    spend = spend_12m(member.pk)
    spend = Decimal(getattr(spend, "amount", spend))
    rank = tier_rank(member.tier)
    following = next((rule for rule in tier_rules() if tier_rank(rule.tier) > rank), None)
    multiplier, discount = tier_benefits(member.tier)
    return {
        "tier": member.tier,
        "points_multiplier": multiplier,
        "member_discount_percent": discount,
        "spend_12m": spend,
        "next_tier": following.tier if following else None,
        "to_next_tier": max(Decimal("0.00"), following.min_spend - spend) if following else None,
    }


class IsSignedInCustomer(BasePermission):
    message = _("Sign in with your mobile number first.")

    def has_permission(self, request: Request, view: Any) -> bool:
        member = signed_in_member(request.user)
        view.member = member
        return member is not None


class RetryAfterMixin:
    """Adds the Retry-After header to a 429 from the sign-in rate limits."""

    def handle_exception(self, exc: Exception) -> Response:
        response: Response = super().handle_exception(exc)  # type: ignore[misc]
        if isinstance(exc, OtpRateLimited) and "retry_after" in exc.extra:
            response["Retry-After"] = str(exc.extra["retry_after"])
        return response


class SignInApi(RetryAfterMixin, APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]


class MeBaseApi(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsSignedInCustomer]
    member: Member  # set by IsSignedInCustomer


# --- Serializers --------------------------------------------------------------------------------------------


class OtpRequestInput(serializers.Serializer[dict]):
    phone = serializers.CharField(max_length=32)


class OtpRequestOutput(serializers.Serializer[dict]):
    sent = serializers.BooleanField()
    expires_in = serializers.IntegerField(help_text="Seconds the code stays valid.")


class OtpVerifyInput(serializers.Serializer[dict]):
    phone = serializers.CharField(max_length=32)
    code = serializers.CharField(max_length=12)


class MeConsentOutput(serializers.Serializer[Member]):
    sms = serializers.BooleanField(source="consent_sms")
    whatsapp = serializers.BooleanField(source="consent_whatsapp")
    email = serializers.BooleanField(source="consent_email")


class MeProfileOutput(serializers.ModelSerializer[Member]):
    phone = serializers.SerializerMethodField()
    consent = MeConsentOutput(source="*")
    member_since = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Member
        fields = [
            "id",
            "phone",
            "name",
            "email",
            "birth_month",
            "birth_day",
            "birth_year",
            "language",
            "tier",
            "consent",
            "member_since",
        ]

    def get_phone(self, member: Member) -> str:
        return str(member.phone or "")


class MeProfileInput(serializers.Serializer[dict]):
    """Only the fields given change. The service checks the values (a birthday must be a real date; the year
    is optional, so 29 February is allowed without one)."""

    name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    email = serializers.CharField(max_length=254, allow_blank=True, required=False)
    birth_month = serializers.IntegerField(min_value=1, max_value=12, allow_null=True, required=False)
    birth_day = serializers.IntegerField(min_value=1, max_value=31, allow_null=True, required=False)
    birth_year = serializers.IntegerField(min_value=1900, allow_null=True, required=False)
    language = serializers.CharField(max_length=10, required=False)


BIRTHDAY_FIELDS = ("birth_month", "birth_day", "birth_year")


def profile_changes(member: Member, data: dict[str, Any]) -> dict[str, Any]:
    """member_update's arguments for a profile PATCH: the birthday is changed as a whole, from the parts
    given and the member's other parts (month and day both empty clear it)."""
    changes: dict[str, Any] = {name: data[name] for name in ("name", "email", "language") if name in data}
    if any(name in data for name in BIRTHDAY_FIELDS):
        month, day, year = (data.get(name, getattr(member, name)) for name in BIRTHDAY_FIELDS)
        changes["birthday"] = None if month is None and day is None else (month, day, year)
    return changes


class MeConsentInput(serializers.Serializer[dict]):
    channel = serializers.ChoiceField(choices=ConsentChannel.choices)
    granted = serializers.BooleanField()


class MePointsEntryOutput(serializers.ModelSerializer[PointsEntry]):
    class Meta:
        model = PointsEntry
        fields = [
            "id",
            "kind",
            "status",
            "points",
            "order_reference",
            "available_at",
            "expires_at",
            "created_at",
        ]


class MePointsOutput(serializers.Serializer[dict]):
    available = serializers.IntegerField()
    pending = serializers.IntegerField()
    history = MePointsEntryOutput(many=True)


class MeTierOutput(serializers.Serializer[dict]):
    tier = serializers.CharField()
    points_multiplier = serializers.DecimalField(max_digits=6, decimal_places=2)
    member_discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    spend_12m = serializers.DecimalField(max_digits=12, decimal_places=2)
    next_tier = serializers.CharField(allow_null=True)
    to_next_tier = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)


class MeCouponOutput(serializers.ModelSerializer[Coupon]):
    name_en = serializers.CharField(source="template.name_en")
    name_zh_hant = serializers.CharField(source="template.name_zh_hant")
    kind = serializers.CharField(source="template.kind")
    value = serializers.DecimalField(source="template.value", max_digits=10, decimal_places=2)
    min_spend = serializers.SerializerMethodField()
    channels = serializers.ListField(source="template.channels", child=serializers.CharField())

    class Meta:
        model = Coupon
        fields = [
            "code",
            "name_en",
            "name_zh_hant",
            "kind",
            "value",
            "min_spend",
            "channels",
            "status",
            "source",
            "issued_at",
            "expires_at",
            "redeemed_at",
        ]

    def get_min_spend(self, coupon: Coupon) -> str:
        return str(coupon.template.min_spend.amount)


class MeQrOutput(serializers.Serializer[dict]):
    token = serializers.CharField()
    svg = serializers.CharField()
    expires_in = serializers.IntegerField()


# --- Sign-in ------------------------------------------------------------------------------------------------


class OtpRequestApi(SignInApi):
    """Sends a sign-in code by SMS. Answers the same whether or not the number belongs to a member."""

    @extend_schema(request=OtpRequestInput, responses={202: OtpRequestOutput, **ERRORS}, auth=[])
    def post(self, request: Request) -> Response:
        data = OtpRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        otp_request(phone=data.validated_data["phone"], client_ip=client_ip(request))
        return Response({"sent": True, "expires_in": otp_ttl_seconds()}, status=status.HTTP_202_ACCEPTED)


class OtpVerifyApi(SignInApi):
    """Checks the code, signs the customer in (a session; a member is made at the first sign-in, preferring
    the language of the request) and returns their profile."""

    @extend_schema(request=OtpVerifyInput, responses={200: MeProfileOutput, **ERRORS}, auth=[])
    def post(self, request: Request) -> Response:
        data = OtpVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        language = translation.get_language()
        member = otp_verify(
            phone=data.validated_data["phone"],
            code=data.validated_data["code"],
            client_ip=client_ip(request),
            language=language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE,
        )
        login(request._request, member.user, backend=AUTH_BACKEND)
        return Response(MeProfileOutput(member).data)


class LogoutApi(APIView):
    """Ends the session (a no-op without one)."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- The signed-in customer ---------------------------------------------------------------------------------


class MeProfileApi(MeBaseApi):
    @extend_schema(responses={200: MeProfileOutput, 403: ErrorOutput})
    def get(self, request: Request) -> Response:
        return Response(MeProfileOutput(self.member).data)

    @extend_schema(request=MeProfileInput, responses={200: MeProfileOutput, **ERRORS})
    def patch(self, request: Request) -> Response:
        data = MeProfileInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_update(
            member_id=self.member.pk, actor=request.user, **profile_changes(self.member, data.validated_data)
        )
        return Response(MeProfileOutput(member).data)


class MeConsentApi(MeBaseApi):
    @extend_schema(request=MeConsentInput, responses={200: MeProfileOutput, **ERRORS})
    def post(self, request: Request) -> Response:
        data = MeConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = consent_set(
            member_id=self.member.pk,
            source="web",
            actor=request.user,
            channel=data.validated_data["channel"],
            granted=data.validated_data["granted"],
        )
        return Response(MeProfileOutput(member).data)


class MePointsApi(MeBaseApi):
    """Points that can be spent, points waiting for the return window, and the newest ledger entries."""

    @extend_schema(responses={200: MePointsOutput, 403: ErrorOutput})
    def get(self, request: Request) -> Response:
        history = list(points_history(self.member.pk)[:POINTS_HISTORY])
        return Response(MePointsOutput({**points_balance(self.member.pk), "history": history}).data)


class MeTierApi(MeBaseApi):
    @extend_schema(responses={200: MeTierOutput, 403: ErrorOutput})
    def get(self, request: Request) -> Response:
        return Response(MeTierOutput(tier_progress(self.member)).data)


class MeCouponsApi(MeBaseApi):
    """The customer's coupons, newest first; `?usable=true` for those they can still spend."""

    @extend_schema(
        parameters=[OpenApiParameter("usable", bool, required=False)],
        responses={200: MeCouponOutput(many=True), 403: ErrorOutput},
    )
    def get(self, request: Request) -> Response:
        usable = request.query_params.get("usable", "").lower() in {"1", "true", "yes"}
        coupons = coupons_of_member(self.member.pk, usable_only=usable)
        return Response(MeCouponOutput(coupons, many=True).data)


class MeQrApi(MeBaseApi):
    """A fresh member QR for the POS to scan; it stops working after `expires_in` seconds."""

    @extend_schema(responses={200: MeQrOutput, 403: ErrorOutput})
    def get(self, request: Request) -> Response:
        token = member_qr_token(self.member)
        response = Response({"token": token, "svg": qr_svg(token), "expires_in": qr_max_age()})
        response["Cache-Control"] = "no-store"
        return response
