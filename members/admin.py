from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from members.models import ConsentRecord, Member, PointsEntry, Segment, SpendEntry, StaffAttribution


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    """Ledgers and histories are written by the services only: shown, never edited here."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PointsEntryInline(ReadOnlyInline):
    model = PointsEntry
    readonly_fields = (
        "created_at",
        "kind",
        "status",
        "points",
        "reference",
        "available_at",
        "expires_at",
        "note",
    )
    fields = readonly_fields
    ordering = ["-created_at", "-id"]


class SpendEntryInline(ReadOnlyInline):
    model = SpendEntry
    readonly_fields = (
        "at",
        "reference",
        "order_reference",
        "channel",
        "amount",
        "location_id",
    )
    fields = readonly_fields
    ordering = ["-at", "-id"]


class ConsentRecordInline(ReadOnlyInline):
    model = ConsentRecord
    readonly_fields = (
        "created_at",
        "channel",
        "granted",
        "source",
        "actor_label",
    )
    fields = readonly_fields


class StaffAttributionInline(ReadOnlyInline):
    model = StaffAttribution
    readonly_fields = (
        "created_at",
        "staff",
        "reason",
        "actor_label",
    )
    fields = readonly_fields


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin[Any]):
    """Members are changed through the services (API, POS): consent needs its record, merging and erasure
    their hooks and audit. Here they are found and read."""

    list_display = [
        "phone",
        "name",
        "email",
        "tier",
        "consent_sms",
        "consent_whatsapp",
        "consent_email",
        "created_at",
    ]
    list_filter = ["tier", "consent_sms", "consent_whatsapp", "consent_email", "language"]
    search_fields = ["phone", "name", "email"]
    list_select_related = ["attributed_staff"]
    inlines = [PointsEntryInline, SpendEntryInline, ConsentRecordInline, StaffAttributionInline]
    readonly_fields = [
        "phone",
        "tier",
        "tier_since",
        "consent_sms",
        "consent_whatsapp",
        "consent_email",
        "attributed_staff",
        "attributed_at",
        "user",
        "joined_at_location",
        "merged_into",
        "erased_at",
        "created_at",
    ]
    exclude = ["qr_nonce"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # erasure keeps the row (sales figures); deleting would break the ledgers


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin[Any]):
    list_display = ["name", "tiers", "tags", "channel_behaviour", "created_by_label", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["created_by_label", "created_at"]
