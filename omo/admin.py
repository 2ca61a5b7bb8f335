from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omo.errors import ValidationFailed
from omo.models import ApiToken, AuditLog, Location, OutboxMessage, User
from omo.scoping import branch_scope
from omo.services.locations import DAYS, opening_hours_clean


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "is_active"]
    list_filter = ["role", "is_active", "branches"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Role and branches"), {"fields": ("role", "branches")}),
    )
    filter_horizontal = ["branches", "groups", "user_permissions"]


class LocationForm(forms.ModelForm[Location]):
    class Meta:
        model = Location
        fields = [
            "code",
            "kind",
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
        help_texts = {
            "opening_hours": _(
                'Per day, e.g. {"mon": "11:00-21:00", "sun": "12:00-14:00,15:00-20:00"}; '
                'a day left out or "" is closed.'
            )
        }

    def clean_opening_hours(self) -> dict[str, str]:
        try:
            return opening_hours_clean(self.cleaned_data.get("opening_hours"))
        except ValidationFailed as error:
            problems = error.extra["fields"]["opening_hours"]
            if isinstance(problems, dict):
                problems = [f"{day}: {message}" for day, message in problems.items()]
            raise forms.ValidationError(problems) from None


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin[Location]):
    form = LocationForm
    list_display = [
        "code",
        "name_zh_hant",
        "name_en",
        "kind",
        "hours_today",
        "is_pickup_point",
        "ships_orders",
        "is_active",
    ]
    list_filter = ["kind", "is_pickup_point", "ships_orders", "is_active"]
    search_fields = ["code", "name_en", "name_zh_hant"]

    @admin.display(description=_("hours today"))
    def hours_today(self, location: Location) -> str:
        hours = location.opening_hours if isinstance(location.opening_hours, dict) else {}
        return str(hours.get(DAYS[timezone.localdate().weekday()]) or _("closed"))


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_label", "action", "branch", "object_type", "object_id"]
    list_filter = ["action", "branch"]
    search_fields = ["actor_label", "action", "object_id", "reason"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return branch_scope(super().get_queryset(request), request.user)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "key_prefix", "scopes", "created_at", "last_used_at", "revoked_at"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "task_name", "created_at", "sent_at", "processed_at", "attempts", "last_error"]
    list_filter = ["task_name"]
