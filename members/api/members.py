"""Member API: thin views (input serializer -> service -> output serializer), scope "members".

Staff and API tokens with members:read / members:write; customers never (403): their own profile has its own
endpoints. A member is not branch data: one member across every branch. At the counter, cashiers look
members up (number, last four digits and name, QR), sign them up, record consent and rotate a lost QR;
managers and owners do the rest: changes, attribution, merging, data-access exports, erasure, segments.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from members.models import CONSENT_CHANNELS, ConsentChannel, Member, Segment, Tier
from members.qr import member_from_qr
from members.selectors import (
    consent_history,
    member_get,
    member_list,
    member_lookup_phone,
    members_lookup_last4,
    segment_get,
    segment_members,
)
from members.services.members import (
    UNSET,
    attribution_set,
    consent_set,
    member_create,
    member_merge,
    member_qr_rotate,
    member_update,
)
from members.services.privacy import member_erase, member_export, member_export_csv
from members.services.segments import (
    CHANNEL_BEHAVIOURS,
    segment_create,
    segment_delete,
    segment_export_csv,
    segment_update,
)
from omo.api.serializers import ErrorOutput
from omo.idempotency import idempotent
from omo.models import STAFF_ROLES, ApiToken, Location, Role

MANAGERS = frozenset({Role.OWNER, Role.MANAGER})
# What cashiers may do at the counter; every other write is for managers and owners.
COUNTER_WRITES = frozenset({"create", "consent", "qr_lookup", "qr_rotate"})
ERRORS: dict[int, Any] = {400: ErrorOutput, 403: ErrorOutput, 404: ErrorOutput, 409: ErrorOutput}


# --- serializers ------------------------------------------------------------------------------------------


class IdField(serializers.IntegerField):
    """A row's id: positive and within PostgreSQL's bigint, so no query fails on it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)


class BirthdayField(serializers.Serializer[Any]):
    month = serializers.IntegerField(min_value=1, max_value=12)
    day = serializers.IntegerField(min_value=1, max_value=31)
    year = serializers.IntegerField(
        min_value=1900, max_value=2100, required=False, allow_null=True, default=None
    )


class MemberOutput(serializers.ModelSerializer[Member]):
    phone = serializers.SerializerMethodField()
    birthday = serializers.SerializerMethodField()
    consent = serializers.SerializerMethodField()
    attributed_staff_name = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = [
            "id",
            "phone",
            "name",
            "email",
            "birthday",
            "language",
            "tags",
            "tier",
            "tier_since",
            "consent",
            "attributed_staff",
            "attributed_staff_name",
            "attributed_at",
            "joined_at_location",
            "created_at",
        ]

    def get_phone(self, member: Member) -> str | None:
        return str(member.phone) if member.phone else None

    @extend_schema_field(BirthdayField(allow_null=True))
    def get_birthday(self, member: Member) -> dict[str, int | None] | None:
        if not member.birth_month:
            return None
        return {"month": member.birth_month, "day": member.birth_day, "year": member.birth_year}

    def get_consent(self, member: Member) -> dict[str, bool]:
        return {channel: member.consent(channel) for channel in CONSENT_CHANNELS}

    def get_attributed_staff_name(self, member: Member) -> str | None:
        staff = member.attributed_staff
        return str(staff) if staff is not None else None


class LookupOutput(serializers.Serializer[Any]):
    results = MemberOutput(many=True)


class MemberCreateInput(serializers.Serializer[Any]):
    phone = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    birthday = BirthdayField(required=False, allow_null=True, default=None)
    language = serializers.CharField(max_length=10, required=False, default="zh-hant")
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list)
    consents = serializers.DictField(child=serializers.BooleanField(), required=False, default=dict)
    source = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    attributed_staff = IdField(required=False, allow_null=True, default=None)
    location = IdField(required=False, allow_null=True, default=None)


class MemberUpdateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    birthday = BirthdayField(required=False, allow_null=True)
    language = serializers.CharField(max_length=10, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False)


class ConsentInput(serializers.Serializer[Any]):
    channel = serializers.ChoiceField(choices=ConsentChannel.choices)
    granted = serializers.BooleanField()
    source = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    location = IdField(required=False, allow_null=True, default=None)


class ConsentRecordOutput(serializers.Serializer[Any]):
    channel = serializers.CharField()
    granted = serializers.BooleanField()
    source = serializers.CharField()  # type: ignore[assignment]
    actor_label = serializers.CharField()
    created_at = serializers.DateTimeField()


class AttributionInput(serializers.Serializer[Any]):
    staff = IdField()
    reason = serializers.CharField(max_length=200)


class MergeInput(serializers.Serializer[Any]):
    survivor = IdField()
    duplicate = IdField()
    reason = serializers.CharField(max_length=255)


class ReasonInput(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=255)


class QrInput(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=200)


class ContactOutput(serializers.ModelSerializer[Member]):
    """A member in a segment list: how to reach them on the list's channel."""

    phone = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = ["id", "name", "phone", "email", "tier", "language"]

    def get_phone(self, member: Member) -> str | None:
        return str(member.phone) if member.phone else None


class SegmentOutput(serializers.ModelSerializer[Segment]):
    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "tiers",
            "tags",
            "min_spend_12m",
            "max_spend_12m",
            "purchased_within_days",
            "not_purchased_within_days",
            "channel_behaviour",
            "created_by_label",
            "created_at",
        ]


class SegmentInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    tiers = serializers.ListField(child=serializers.ChoiceField(choices=Tier.values), required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    min_spend_12m = serializers.DecimalField(12, 2, min_value=0, required=False, allow_null=True)
    max_spend_12m = serializers.DecimalField(12, 2, min_value=0, required=False, allow_null=True)
    purchased_within_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, allow_null=True
    )
    not_purchased_within_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, allow_null=True
    )
    channel_behaviour = serializers.ChoiceField(choices=CHANNEL_BEHAVIOURS, required=False, allow_blank=True)


class SegmentUpdateInput(SegmentInput):
    name = serializers.CharField(max_length=100, required=False)


CHANNEL_PARAM = OpenApiParameter("channel", str, enum=list(CONSENT_CHANNELS), required=True)


# --- helpers ----------------------------------------------------------------------------------------------


def source_of(request: Request, given: str, location_id: int | None) -> str:
    """Where an act happened, for the consent record: as given, else the branch ("pos:CWB"), else "api" for a
    token and "back-office" for a signed-in user."""
    if given.strip():
        return given.strip()
    if location_id is not None:
        code = Location.objects.filter(pk=location_id).values_list("code", flat=True).first()
        if code:
            return f"pos:{code}"
    return "api" if isinstance(request.auth, ApiToken) else "back-office"


def birthday_of(data: dict[str, Any] | None) -> tuple[int, int, int | None] | None:
    if not data:
        return None
    return (data["month"], data["day"], data.get("year"))


# --- views ------------------------------------------------------------------------------------------------


class MemberViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Member]):
    """Members: search, sign-up, look-up at the counter, consent, attribution, merge, export, erasure."""

    scope = "members"
    lookup_value_regex = r"\d+"
    queryset = Member.objects.none()
    serializer_class = MemberOutput
    filter_backends: list[Any] = []

    @property
    def allowed_roles(self) -> frozenset[str]:
        return MANAGERS if self.action == "export" else STAFF_ROLES

    @property
    def write_roles(self) -> frozenset[str]:
        return STAFF_ROLES if self.action in COUNTER_WRITES else MANAGERS

    def get_queryset(self) -> Any:
        return member_list(q=self.request.query_params.get("q", ""))

    def member_response(self, member: Member, code: int = status.HTTP_200_OK) -> Response:
        return Response(MemberOutput(member).data, status=code)

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="Number, last four digits, name or e-mail")]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: MemberOutput, 404: ErrorOutput})
    def retrieve(self, request: Request, pk: str) -> Response:
        return self.member_response(member_get(int(pk)))

    @extend_schema(request=MemberCreateInput, responses={201: MemberOutput, **ERRORS})
    @idempotent
    def create(self, request: Request) -> Response:
        """Signs a customer up. Consent only as given; attributed to the signing cashier in store."""
        data = MemberCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        member = member_create(
            phone=p["phone"],
            name=p["name"],
            email=p["email"],
            birthday=birthday_of(p["birthday"]),
            language=p["language"],
            tags=p["tags"],
            consents=p["consents"],
            source=source_of(request, p["source"], p["location"]),
            actor=request.user,
            attributed_staff_id=p["attributed_staff"],
            location_id=p["location"],
        )
        return self.member_response(member, status.HTTP_201_CREATED)

    @extend_schema(request=MemberUpdateInput, responses={200: MemberOutput, **ERRORS})
    def partial_update(self, request: Request, pk: str) -> Response:
        data = MemberUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        member = member_update(
            member_id=int(pk),
            actor=request.user,
            name=p.get("name", UNSET),
            email=p.get("email", UNSET),
            birthday=birthday_of(p["birthday"]) if "birthday" in p else UNSET,
            language=p.get("language", UNSET),
            tags=p.get("tags", UNSET),
        )
        return self.member_response(member)

    @extend_schema(
        parameters=[
            OpenApiParameter("phone", str, description="The full number, any format"),
            OpenApiParameter("last4", str, description="The last four digits (with name)"),
            OpenApiParameter("name", str, description="Part of the name (with last4)"),
        ],
        responses={200: LookupOutput, 400: ErrorOutput, 404: ErrorOutput},
    )
    @action(detail=False, methods=["get"])
    def lookup(self, request: Request) -> Response:
        """At the counter: `?phone=` gives the one member with that number (404 if none); `?last4=&name=`
        gives up to 10 members whose number ends so and whose name contains it (both required). Either
        way the answer is {"results": [...]}."""
        params = request.query_params
        found: list[Member]
        if params.get("phone", "").strip():
            found = [member_lookup_phone(params["phone"])]
        else:
            found = members_lookup_last4(last4=params.get("last4", ""), name=params.get("name", ""))
        return Response({"results": MemberOutput(found, many=True).data})

    @extend_schema(request=QrInput, responses={200: MemberOutput, 404: ErrorOutput})
    @action(detail=False, methods=["post"], url_path="qr-lookup", url_name="qr-lookup")
    def qr_lookup(self, request: Request) -> Response:
        """The member whose QR was scanned. An expired, tampered or replaced token: 404."""
        data = QrInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self.member_response(member_from_qr(data.validated_data["token"]))

    @extend_schema(methods=["GET"], responses={200: ConsentRecordOutput(many=True), 404: ErrorOutput})
    @extend_schema(methods=["POST"], request=ConsentInput, responses={200: MemberOutput, **ERRORS})
    @action(detail=True, methods=["get", "post"])
    def consent(self, request: Request, pk: str) -> Response:
        """GET: the consent history, newest first. POST: gives or withdraws consent on a channel, at once."""
        if request.method == "GET":
            member = member_get(int(pk))
            return Response(ConsentRecordOutput(consent_history(member.pk), many=True).data)
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        member = consent_set(
            member_id=int(pk),
            channel=p["channel"],
            granted=p["granted"],
            source=source_of(request, p["source"], p["location"]),
            actor=request.user,
        )
        return self.member_response(member)

    @extend_schema(request=AttributionInput, responses={200: MemberOutput, **ERRORS})
    @action(detail=True, methods=["post"])
    def attribution(self, request: Request, pk: str) -> Response:
        data = AttributionInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        member = attribution_set(
            member_id=int(pk), staff_id=p["staff"], reason=p["reason"], actor=request.user
        )
        return self.member_response(member)

    @extend_schema(request=None, responses={200: MemberOutput, 404: ErrorOutput})
    @action(detail=True, methods=["post"], url_path="qr-rotate", url_name="qr-rotate")
    def qr_rotate(self, request: Request, pk: str) -> Response:
        """Every QR of this member shown before stops working (a lost phone)."""
        return self.member_response(member_qr_rotate(member_id=int(pk), actor=request.user))

    @extend_schema(request=MergeInput, responses={200: MemberOutput, **ERRORS})
    @action(detail=False, methods=["post"])
    @idempotent
    def merge(self, request: Request) -> Response:
        """Merges a duplicate into the survivor: orders, points, spend, coupons, consent; audited."""
        data = MergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        member = member_merge(
            survivor_id=p["survivor"], duplicate_id=p["duplicate"], actor=request.user, reason=p["reason"]
        )
        return self.member_response(member)

    @extend_schema(
        parameters=[
            OpenApiParameter("as", str, enum=["json", "csv"], description="json (default) or csv (zip)")
        ],
        responses={(200, "application/json"): dict, (200, "application/zip"): bytes, 404: ErrorOutput},
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str) -> Response | HttpResponse:
        """Everything held about the member (data-access request): JSON, or a zip of CSV files. Audited."""
        if request.query_params.get("as", "json") == "csv":
            content = member_export_csv(member_id=int(pk), actor=request.user)
            response = HttpResponse(content, content_type="application/zip")
            response["Content-Disposition"] = f'attachment; filename="member-{int(pk)}-export.zip"'
            return response
        return Response(member_export(member_id=int(pk), actor=request.user))

    @extend_schema(request=ReasonInput, responses={200: MemberOutput, **ERRORS})
    @action(detail=True, methods=["post"])
    @idempotent
    def erase(self, request: Request, pk: str) -> Response:
        """Erases the member's personal data (PDPO); sales figures stay. Audited."""
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_erase(member_id=int(pk), actor=request.user, reason=data.validated_data["reason"])
        return Response({"id": member.pk, "erased_at": member.erased_at})


class SegmentViewSet(viewsets.GenericViewSet[Segment]):
    """Saved segments for marketing; their lists and CSV exports leave out whoever did not consent."""

    scope = "members"
    allowed_roles = MANAGERS
    lookup_value_regex = r"\d+"
    queryset = Segment.objects.all()
    serializer_class = SegmentOutput
    filter_backends: list[Any] = []

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(Segment.objects.order_by("name"))
        return self.get_paginated_response(SegmentOutput(page, many=True).data)

    @extend_schema(request=SegmentInput, responses={201: SegmentOutput, **ERRORS})
    def create(self, request: Request) -> Response:
        data = SegmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        segment = segment_create(actor=request.user, **data.validated_data)
        return Response(SegmentOutput(segment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: SegmentOutput, 404: ErrorOutput})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SegmentOutput(segment_get(int(pk))).data)

    @extend_schema(request=SegmentUpdateInput, responses={200: SegmentOutput, **ERRORS})
    def partial_update(self, request: Request, pk: str) -> Response:
        data = SegmentUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        segment = segment_update(segment_id=int(pk), actor=request.user, **data.validated_data)
        return Response(SegmentOutput(segment).data)

    @extend_schema(request=None, responses={204: None, 404: ErrorOutput})
    def destroy(self, request: Request, pk: str) -> Response:
        segment_delete(segment_id=int(pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[CHANNEL_PARAM], responses={200: ContactOutput(many=True), **ERRORS})
    @action(detail=True, methods=["get"])
    def members(self, request: Request, pk: str) -> Response:
        """The segment's members who consented to `channel`, now."""
        found = segment_members(segment_get(int(pk)), channel=request.query_params.get("channel", ""))
        page = self.paginate_queryset(found)  # type: ignore[arg-type]  # a list of members, not of segments
        return self.get_paginated_response(ContactOutput(page, many=True).data)

    @extend_schema(parameters=[CHANNEL_PARAM], responses={(200, "text/csv"): bytes, **ERRORS})
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str) -> HttpResponse:
        """The segment's contactable members for `channel` as CSV. Audited."""
        segment = segment_get(int(pk))
        channel = request.query_params.get("channel", "")
        content = segment_export_csv(segment, channel=channel, actor=request.user)
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-{channel}.csv"'
        return response


class CampaignInput(serializers.Serializer[dict]):
    template = serializers.IntegerField(min_value=1, help_text="The coupon template's id.")
    campaign_key = serializers.SlugField(max_length=30, help_text="Names the campaign; a second send skips.")
    channel = serializers.ChoiceField(
        choices=ConsentChannel.choices, help_text="How the coupon is announced."
    )


class SegmentCampaignApi(APIView):
    """A coupon to every member of a segment who consented to the channel it is announced on (managers).
    Issued by a worker after this request commits; sending it again with the same key issues nothing twice."""

    scope = "members"
    allowed_roles = MANAGERS

    @extend_schema(request=CampaignInput, responses={202: dict, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        from django.db import transaction

        from omo.services.outbox import outbox_enqueue

        data = CampaignInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        members = list(segment_members(segment_get(pk), channel=p["channel"]).values_list("pk", flat=True))
        with transaction.atomic():
            outbox_enqueue(
                task="members.tasks.coupon_campaign_issue_task",
                kwargs={
                    "template_id": p["template"],
                    "member_ids": members,
                    "campaign_key": p["campaign_key"],
                    "actor": request.user.get_username(),
                },
            )
        return Response({"members": len(members)}, status=status.HTTP_202_ACCEPTED)
