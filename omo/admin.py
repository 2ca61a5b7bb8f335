from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from omo.models import ApiToken, AuditLog, Location, OutboxMessage, User
from omo.scoping import branch_scope


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "is_active"]
    list_filter = ["role", "is_active", "branches"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Role and branches"), {"fields": ("role", "branches")}),
    )
    filter_horizontal = ["branches", "groups", "user_permissions"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin[Location]):
    list_display = ["code", "name_zh_hant", "name_en", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name_en", "name_zh_hant"]


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
