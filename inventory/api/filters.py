"""Query filters of the stock lists. Bad values are a 400 (django-filter validates each one)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import F, QuerySet
from django.utils import timezone
from django_filters import rest_framework as filters

from catalog.api.fields import IdFilter
from inventory.models import (
    CountStatus,
    LowStockAlert,
    MovementKind,
    Reservation,
    ReservationSource,
    ReservationStatus,
    StockCount,
    StockLevel,
    StockMovement,
    Transfer,
    TransferStatus,
)


def day_start(day: date) -> datetime:
    """Midnight of that day in the shop's time zone (Hong Kong)."""
    return timezone.make_aware(datetime.combine(day, time.min))


class StockLevelFilter(filters.FilterSet):
    variant = IdFilter(field_name="variant_id")
    sku = filters.CharFilter(field_name="variant__sku", lookup_expr="iexact", max_length=64)
    product = IdFilter(field_name="variant__product_id")
    location = IdFilter(field_name="location_id")
    below_reorder = filters.BooleanFilter(
        method="filter_below_reorder", help_text="Rows at or below their reorder point (or, false, above)."
    )

    class Meta:
        model = StockLevel
        fields = ["variant", "sku", "product", "location", "below_reorder"]

    def filter_below_reorder(
        self, queryset: QuerySet[StockLevel], name: str, value: bool
    ) -> QuerySet[StockLevel]:
        low = {"reorder_point__isnull": False, "live_available__lte": F("reorder_point")}
        return queryset.filter(**low) if value else queryset.exclude(**low)


class MovementFilter(filters.FilterSet):
    variant = IdFilter(field_name="variant_id")
    sku = filters.CharFilter(field_name="variant__sku", lookup_expr="iexact", max_length=64)
    location = IdFilter(field_name="location_id")
    kind = filters.ChoiceFilter(choices=MovementKind.choices)
    reference = filters.CharFilter(max_length=64)
    date_from = filters.DateFilter(method="filter_date_from", help_text="From this day on (Hong Kong time).")
    date_to = filters.DateFilter(method="filter_date_to", help_text="Up to and including this day.")

    class Meta:
        model = StockMovement
        fields = ["variant", "sku", "location", "kind", "reference", "date_from", "date_to"]

    def filter_date_from(
        self, queryset: QuerySet[StockMovement], name: str, value: date
    ) -> QuerySet[StockMovement]:
        return queryset.filter(created_at__gte=day_start(value))

    def filter_date_to(
        self, queryset: QuerySet[StockMovement], name: str, value: date
    ) -> QuerySet[StockMovement]:
        if value >= date.max:
            return queryset
        return queryset.filter(created_at__lt=day_start(value + timedelta(days=1)))


class LowStockAlertFilter(filters.FilterSet):
    location = IdFilter(field_name="stock__location_id")
    variant = IdFilter(field_name="stock__variant_id")
    is_open = filters.BooleanFilter(
        field_name="resolved_at", lookup_expr="isnull", help_text="Not resolved yet."
    )

    class Meta:
        model = LowStockAlert
        fields = ["location", "variant", "is_open"]


class ReservationFilter(filters.FilterSet):
    location = IdFilter(field_name="location_id")
    variant = IdFilter(field_name="variant_id")
    sku = filters.CharFilter(field_name="variant__sku", lookup_expr="iexact", max_length=64)
    source = filters.ChoiceFilter(choices=ReservationSource.choices)
    status = filters.ChoiceFilter(choices=ReservationStatus.choices)
    reference = filters.CharFilter(max_length=64)
    member_id = IdFilter()

    class Meta:
        model = Reservation
        fields = ["location", "variant", "sku", "source", "status", "reference", "member_id"]


class TransferFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=TransferStatus.choices)
    source = IdFilter(field_name="source_id")
    destination = IdFilter(field_name="destination_id")

    class Meta:
        model = Transfer
        fields = ["status", "source", "destination"]


class StockCountFilter(filters.FilterSet):
    location = IdFilter(field_name="location_id")
    status = filters.ChoiceFilter(choices=CountStatus.choices)

    class Meta:
        model = StockCount
        fields = ["location", "status"]
