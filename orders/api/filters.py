"""Order search: by number, phone, member, date, branch, channel, status. Bad values are a 400."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django_filters import rest_framework as filters

from catalog.api.fields import IdFilter
from members.selectors import phone_normalise
from orders.models import Channel, Fulfilment, Order, OrderStatus


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class OrderFilter(filters.FilterSet):
    q = filters.CharFilter(
        method="filter_q", max_length=40, help_text="An order number (or part) or a phone."
    )
    number = filters.CharFilter(field_name="number", lookup_expr="iexact", max_length=20)
    phone = filters.CharFilter(method="filter_phone", max_length=32, help_text="Customer or recipient phone.")
    member = IdFilter(field_name="member_id")
    location = IdFilter(method="filter_location", help_text="Sold at, sent from or collected at this branch.")
    channel = filters.ChoiceFilter(choices=Channel.choices)
    status = filters.ChoiceFilter(choices=OrderStatus.choices)
    fulfilment = filters.ChoiceFilter(choices=Fulfilment.choices)
    date_from = filters.DateFilter(
        method="filter_date_from", help_text="Placed on or after (Hong Kong date)."
    )
    date_to = filters.DateFilter(method="filter_date_to", help_text="Placed on or before (Hong Kong date).")

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        value = value.strip()
        phone = phone_normalise(value)
        condition = Q(number__icontains=value)
        if phone:
            condition |= Q(customer_phone=phone) | Q(ship_phone=phone)
        return queryset.filter(condition)

    def filter_phone(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        phone = phone_normalise(value)
        if phone is None:
            return queryset.none()
        return queryset.filter(Q(customer_phone=phone) | Q(ship_phone=phone) | Q(member__phone=phone))

    def filter_location(self, queryset: QuerySet[Order], name: str, value: int) -> QuerySet[Order]:
        return queryset.filter(Q(location_id=value) | Q(fulfil_from_id=value) | Q(pickup_location_id=value))

    def filter_date_from(self, queryset: QuerySet[Order], name: str, value: date) -> QuerySet[Order]:
        return queryset.filter(placed_at__gte=day_start(value))

    def filter_date_to(self, queryset: QuerySet[Order], name: str, value: date) -> QuerySet[Order]:
        return queryset.filter(placed_at__lt=day_start(value + timedelta(days=1)))
