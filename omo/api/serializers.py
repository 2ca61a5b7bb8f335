from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from omo.errors import ValidationFailed
from omo.models import ApiToken, AuditLog, Location, LocationKind, User, WebhookDelivery, WebhookEndpoint
from omo.scopes import SCOPES
from omo.services.locations import DAYS, opening_hours_clean
from omo.services.webhooks import ALL_TOPICS, WEBHOOK_TOPICS

HOURS_PATTERN = r"^$|^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}(,[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2})*$"


class ErrorOutput(serializers.Serializer[dict]):
    """Every error the API answers: a stable code, a message in the caller's language, details."""

    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()


@extend_schema_field(
    {
        "type": "object",
        "description": 'Per day, "HH:MM-HH:MM", several ranges separated by commas, or "" when closed; '
        'a day left out is closed. E.g. {"mon": "11:00-21:00", "sun": "12:00-14:00,15:00-20:00"}.',
        "properties": {day: {"type": "string", "pattern": HOURS_PATTERN} for day in DAYS},
        "additionalProperties": False,
    }
)
class OpeningHoursField(serializers.Field):
    """Opening hours by day; written out with all seven days ("" for closed)."""

    def to_representation(self, value: Any) -> dict[str, str]:
        value = value if isinstance(value, dict) else {}
        return {day: str(value.get(day) or "") for day in DAYS}

    def to_internal_value(self, data: Any) -> dict[str, str]:
        try:
            return opening_hours_clean(data)
        except ValidationFailed as error:
            raise serializers.ValidationError(error.extra["fields"]["opening_hours"]) from None


class LocationOutput(serializers.ModelSerializer[Location]):
    name = serializers.CharField(read_only=True)
    opening_hours = OpeningHoursField(read_only=True)

    class Meta:
        model = Location
        fields = [
            "id",
            "code",
            "kind",
            "name",
            "name_en",
            "name_zh_hant",
            "address_en",
            "address_zh_hant",
            "phone",
            "opening_hours",
            "is_pickup_point",
            "ships_orders",
            "is_active",
        ]


class LocationCreateInput(serializers.Serializer[dict]):
    code = serializers.CharField(max_length=8)
    kind = serializers.ChoiceField(choices=LocationKind.choices, default=LocationKind.BRANCH)
    name_en = serializers.CharField(max_length=100)
    name_zh_hant = serializers.CharField(max_length=100)
    address_en = serializers.CharField(max_length=255, required=False, default="")
    address_zh_hant = serializers.CharField(max_length=255, required=False, default="")
    phone = serializers.CharField(max_length=32, required=False, default="")
    opening_hours = OpeningHoursField(required=False)
    is_pickup_point = serializers.BooleanField(
        default=False, help_text="Customers may collect web orders here."
    )
    ships_orders = serializers.BooleanField(default=False, help_text="Web orders may be sent from here.")


class LocationUpdateInput(serializers.Serializer[dict]):
    kind = serializers.ChoiceField(choices=LocationKind.choices, required=False)
    name_en = serializers.CharField(max_length=100, required=False)
    name_zh_hant = serializers.CharField(max_length=100, required=False)
    address_en = serializers.CharField(max_length=255, required=False, allow_blank=True)
    address_zh_hant = serializers.CharField(max_length=255, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    opening_hours = OpeningHoursField(required=False)
    is_pickup_point = serializers.BooleanField(required=False)
    ships_orders = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)


class UserOutput(serializers.ModelSerializer[User]):
    branches: serializers.SlugRelatedField[Location] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="code"
    )
    display_name = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "role", "branches"]


class LocationCodeField(serializers.SlugRelatedField):
    """A location by its code. A NUL byte or an overlong code is refused before the query (PostgreSQL text
    cannot hold NUL: the lookup itself would fail with a server error)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "code")
        kwargs.setdefault("queryset", Location.objects.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Location:
        if not isinstance(data, str) or "\x00" in data or len(data) > 8:
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data)[:20])
        location: Location = super().to_internal_value(data)
        return location


class PinSwitchInput(serializers.Serializer[dict]):
    username = serializers.CharField(max_length=150)
    pin = serializers.CharField(max_length=6, min_length=4)
    branch = LocationCodeField(required=False)


class AuditLogOutput(serializers.ModelSerializer[AuditLog]):
    branch: serializers.SlugRelatedField[Location] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_label",
            "action",
            "branch",
            "object_type",
            "object_id",
            "before",
            "after",
            "reason",
        ]


class ApiTokenOutput(serializers.ModelSerializer[ApiToken]):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "username",
            "key_prefix",
            "scopes",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]


class ApiTokenCreateInput(serializers.Serializer[dict]):
    name = serializers.CharField(max_length=100)
    username = serializers.CharField(max_length=150, help_text="The integration user the token acts as.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=sorted(SCOPES)), allow_empty=False)


class ApiTokenCreatedOutput(ApiTokenOutput):
    key = serializers.CharField(read_only=True, help_text="Shown once; only its hash is stored.")

    class Meta(ApiTokenOutput.Meta):
        fields = [*ApiTokenOutput.Meta.fields, "key"]


TOPIC_CHOICES = [ALL_TOPICS, *WEBHOOK_TOPICS]


class WebhookEndpointOutput(serializers.ModelSerializer[WebhookEndpoint]):
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "name",
            "url",
            "topics",
            "is_active",
            "created_by",
            "created_at",
            "updated_at",
            "consecutive_failures",
            "failure_count",
            "last_success_at",
            "last_failure_at",
        ]


class WebhookEndpointCreatedOutput(WebhookEndpointOutput):
    secret = serializers.CharField(
        read_only=True, help_text="Signs every request (X-OMO-Signature). Shown once; keep it safe."
    )

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret"]


class WebhookEndpointCreateInput(serializers.Serializer[dict]):
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(max_length=500, help_text="https:// (plain http only in development).")
    topics = serializers.ListField(
        child=serializers.ChoiceField(choices=TOPIC_CHOICES),
        allow_empty=False,
        max_length=len(TOPIC_CHOICES),
        help_text='Topics to receive; "*" for every topic.',
    )


class WebhookEndpointUpdateInput(WebhookEndpointCreateInput):
    is_active = serializers.BooleanField(
        required=False, help_text="Switched off, it gets no new deliveries; pending ones wait."
    )


class WebhookDeliveryOutput(serializers.ModelSerializer[WebhookDelivery]):
    endpoint_name = serializers.CharField(source="endpoint.name", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "endpoint_name",
            "event_id",
            "topic",
            "payload",
            "occurred_at",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "last_response_excerpt",
            "created_at",
            "delivered_at",
        ]
