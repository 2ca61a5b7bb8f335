"""Back office for the order book: orders, returns and refunds are read-only here (money and stock move only
through the services, over the API and the POS); the pickup-point directory is edited here or imported."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from omo.admin import ReadOnlyAdmin
from omo.scoping import branch_scope
from orders.models import Order, OrderLine, Payment, PickupPoint, Refund, Return, ReturnLine


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = [
        "position",
        "sku",
        "name_zh_hant",
        "qty",
        "unit_price",
        "discount",
        "discount_reason",
        "total",
        "returned_qty",
    ]


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["tender", "amount", "tendered", "change", "refunded", "reference", "created_by", "created_at"]


class RefundInline(ReadOnlyInline):
    model = Refund
    fk_name = "order"
    fields = [
        "tender",
        "amount",
        "status",
        "reference",
        "location",
        "created_by",
        "approved_by",
        "created_at",
    ]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "placed_at",
        "channel",
        "fulfilment",
        "status",
        "location",
        "customer_phone",
        "total",
        "receipt",
    ]
    list_filter = ["status", "channel", "fulfilment", "location", ("placed_at", admin.DateFieldListFilter)]
    search_fields = ["number", "customer_phone", "ship_phone", "customer_name", "member__phone"]
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline, PaymentInline, RefundInline]
    list_select_related = ["location"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return Order.objects.for_user(request.user)

    @admin.display(description=_("receipt"))
    def receipt(self, order: Order) -> str:
        from orders.documents import document_pdf_link

        url = document_pdf_link(order_id=order.pk, kind="receipt", language=order.language, absolute=False)
        return format_html('<a href="{}" target="_blank">PDF</a>', url)


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = ["order_line", "qty", "disposition", "stock_location", "value"]


@admin.register(Return)
class ReturnAdmin(ReadOnlyAdmin):
    list_display = ["number", "created_at", "order", "location", "value", "created_by", "approved_by"]
    list_filter = ["location"]
    search_fields = ["number", "order__number"]
    inlines = [ReturnLineInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return branch_scope(super().get_queryset(request), request.user).select_related("order", "location")


@admin.register(PickupPoint)
class PickupPointAdmin(admin.ModelAdmin[PickupPoint]):
    list_display = ["code", "kind", "name_zh_hant", "name_en", "district", "is_active"]
    list_filter = ["kind", "district", "is_active"]
    search_fields = ["code", "name_en", "name_zh_hant", "address_en", "address_zh_hant"]
