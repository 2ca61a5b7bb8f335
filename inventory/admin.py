"""Back office for stock: the ledger and its rows are read-only here (stock moves only through the services,
which keep the ledger and on-hand in step); reorder points are the one thing edited, through the service.
Rows that belong to a branch are scoped to the user's branches, as the audit log is."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inventory.models import (
    ImportJob,
    LowStockAlert,
    Reservation,
    StockCount,
    StockCountLine,
    StockLevel,
    StockMovement,
    Transfer,
    TransferLine,
)
from inventory.services import stock_reorder_set
from omo.admin import ReadOnlyAdmin
from omo.errors import DomainError
from omo.scoping import branch_scope


class BranchScopedAdmin(admin.ModelAdmin[Any]):
    def get_queryset(self, request: HttpRequest) -> Any:
        return branch_scope(super().get_queryset(request), request.user)


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StockLevelForm(forms.ModelForm[StockLevel]):
    class Meta:
        model = StockLevel
        fields = ["reorder_point", "reorder_qty"]

    def clean_reorder_qty(self) -> int | None:
        value: int | None = self.cleaned_data.get("reorder_qty")
        if value is not None and value <= 0:
            raise forms.ValidationError(_("A reorder quantity is above zero."))
        return value


@admin.register(StockLevel)
class StockLevelAdmin(BranchScopedAdmin):
    form = StockLevelForm
    list_display = [
        "variant",
        "location",
        "on_hand",
        "reserved",
        "available",
        "reorder_point",
        "reorder_qty",
        "updated_at",
    ]
    list_filter = ["location"]
    list_select_related = ["variant__product", "location"]
    search_fields = ["variant__sku", "variant__product__name_en", "variant__product__name_zh_hant"]
    readonly_fields = ["variant", "location", "on_hand", "reserved", "available", "updated_at"]
    fields = ["variant", "location", "on_hand", "reserved", "available", "reorder_point", "reorder_qty"]

    @admin.display(description=gettext_lazy("available"))
    def available(self, level: StockLevel) -> int:
        return level.available

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # stock rows appear when goods are received

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: StockLevel, form: Any, change: bool) -> None:
        """Only the reorder point and quantity change here, through the service (audited)."""
        try:
            stock_reorder_set(
                variant=obj.variant,
                location_id=obj.location_id,
                actor=request.user,
                reorder_point=obj.reorder_point,
                reorder_qty=obj.reorder_qty,
            )
        except DomainError as error:
            self.message_user(request, str(error.message), level=messages.ERROR)


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin, BranchScopedAdmin):
    list_display = [
        "created_at",
        "variant",
        "location",
        "kind",
        "quantity",
        "on_hand_after",
        "reference",
        "reason",
        "actor_label",
    ]
    list_filter = ["kind", "location"]
    list_select_related = ["variant__product", "location"]
    search_fields = ["reference", "variant__sku", "reason", "actor_label"]
    date_hierarchy = "created_at"


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin, BranchScopedAdmin):
    list_display = [
        "id",
        "variant",
        "location",
        "qty",
        "source",
        "status",
        "expires_at",
        "customer_name",
        "reference",
    ]
    list_filter = ["status", "source", "location"]
    list_select_related = ["variant__product", "location"]
    search_fields = ["variant__sku", "customer_name", "customer_phone", "reference"]


class TransferLineInline(ReadOnlyInline):
    model = TransferLine
    fields = ["variant", "qty_requested", "qty_shipped", "qty_received", "discrepancy_note"]
    readonly_fields = ["variant", "qty_requested", "qty_shipped", "qty_received", "discrepancy_note"]


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["number", "source", "destination", "status", "requested_at", "shipped_at", "received_at"]
    list_filter = ["status", "source", "destination"]
    list_select_related = ["source", "destination"]
    inlines = [TransferLineInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        # A transfer belongs to both of its ends.
        return Transfer.objects.for_user(request.user).select_related("source", "destination")


class StockCountLineInline(ReadOnlyInline):
    model = StockCountLine
    fields = ["variant", "counted", "expected", "counted_by", "updated_at"]
    readonly_fields = ["variant", "counted", "expected", "counted_by", "updated_at"]


@admin.register(StockCount)
class StockCountAdmin(ReadOnlyAdmin, BranchScopedAdmin):
    list_display = ["__str__", "location", "status", "full", "created_at", "posted_at"]
    list_filter = ["status", "location"]
    list_select_related = ["location"]
    inlines = [StockCountLineInline]


@admin.register(LowStockAlert)
class LowStockAlertAdmin(ReadOnlyAdmin, BranchScopedAdmin):
    list_display = ["stock", "raised_at", "available_at_raise", "reorder_point", "resolved_at"]
    list_filter = ["stock__location"]
    list_select_related = ["stock"]


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "filename",
        "file_format",
        "commit",
        "status",
        "rows_done",
        "rows_total",
        "created_at",
    ]
    list_filter = ["status", "file_format", "commit"]
    exclude = ["data"]  # the uploaded file itself: bytes, not for the screen
