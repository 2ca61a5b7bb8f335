from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omo.errors import DomainError, ValidationFailed
from omo.models import ApiToken, AuditLog, Location, OutboxMessage, User, WebhookDelivery, WebhookEndpoint
from omo.scoping import branch_scope
from omo.services.locations import DAYS, opening_hours_clean
from omo.services.webhooks import (
    ALL_TOPICS,
    EDITABLE,
    WEBHOOK_TOPICS,
    webhook_endpoint_create,
    webhook_endpoint_deactivate,
    webhook_endpoint_update,
    webhook_redeliver,
    webhook_topics_clean,
    webhook_url_clean,
)


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


def is_owner(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_owner", False))


class WebhookEndpointForm(forms.ModelForm[WebhookEndpoint]):
    url = forms.CharField(label=_("URL"), max_length=500)

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "topics", "is_active"]
        help_texts = {
            "topics": _("Separated by commas, or %(all)s for every topic. Topics: %(topics)s.")
            % {"all": ALL_TOPICS, "topics": ", ".join(WEBHOOK_TOPICS)}
        }

    def clean_url(self) -> str:
        return self.service_clean("url", webhook_url_clean)

    def clean_topics(self) -> list[str]:
        return self.service_clean("topics", webhook_topics_clean)

    def service_clean(self, field: str, clean: Any) -> Any:
        try:
            return clean(self.cleaned_data.get(field))
        except ValidationFailed as error:
            raise forms.ValidationError(error.extra["fields"][field]) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin[WebhookEndpoint]):
    """Owners only. Saving goes through the services, so it is validated and audited like the API; the
    signing secret is shown once, after creation."""

    form = WebhookEndpointForm
    list_display = [
        "name",
        "url",
        "topics",
        "is_active",
        "consecutive_failures",
        "last_success_at",
        "last_failure_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    readonly_fields = [
        "created_by",
        "created_at",
        "consecutive_failures",
        "failure_count",
        "last_success_at",
        "last_failure_at",
    ]
    actions = ["deactivate"]

    def get_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        if obj is None:
            return ["name", "url", "topics"]
        return ["name", "url", "topics", "is_active", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_owner(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_owner(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_owner(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # switch it off instead: its delivery log stays

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if change:
            changed = {field: form.cleaned_data[field] for field in form.changed_data if field in EDITABLE}
            webhook_endpoint_update(actor=request.user, endpoint_id=obj.pk, **changed)
            return
        endpoint, secret = webhook_endpoint_create(
            actor=request.user, name=obj.name, url=obj.url, topics=obj.topics
        )
        obj.pk = endpoint.pk
        self.message_user(
            request,
            _("Signing secret of %(name)s, shown only this once: %(secret)s")
            % {"name": endpoint.name, "secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Switch off the selected endpoints"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.order_by("pk"):
            webhook_endpoint_deactivate(actor=request.user, endpoint_id=endpoint.pk)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log, read-only; owners may send deliveries again."""

    list_display = [
        "created_at",
        "endpoint",
        "topic",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "topic", "endpoint"]
    search_fields = ["topic", "endpoint__name"]
    list_select_related = ["endpoint"]
    actions = ["redeliver"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_owner(request)

    @admin.action(description=_("Send the selected deliveries again"))
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued = 0
        for delivery in queryset.order_by("pk"):
            try:
                webhook_redeliver(delivery_id=delivery.pk, actor=request.user)
                queued += 1
            except DomainError as error:
                self.message_user(request, f"#{delivery.pk}: {error.message}", messages.ERROR)
        if queued:
            self.message_user(request, _("%(count)d deliveries will be sent again.") % {"count": queued})
