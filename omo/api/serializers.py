from rest_framework import serializers

from omo.models import ApiToken, AuditLog, Location, LocationKind, User
from omo.scopes import SCOPES


class LocationOutput(serializers.ModelSerializer[Location]):
    name = serializers.CharField(read_only=True)

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


class LocationUpdateInput(serializers.Serializer[dict]):
    kind = serializers.ChoiceField(choices=LocationKind.choices, required=False)
    name_en = serializers.CharField(max_length=100, required=False)
    name_zh_hant = serializers.CharField(max_length=100, required=False)
    address_en = serializers.CharField(max_length=255, required=False, allow_blank=True)
    address_zh_hant = serializers.CharField(max_length=255, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class UserOutput(serializers.ModelSerializer[User]):
    branches: serializers.SlugRelatedField[Location] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="code"
    )
    display_name = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "role", "branches"]


class PinSwitchInput(serializers.Serializer[dict]):
    username = serializers.CharField(max_length=150)
    pin = serializers.CharField(max_length=6, min_length=4)
    branch = serializers.SlugRelatedField(slug_field="code", queryset=Location.objects.all(), required=False)


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
