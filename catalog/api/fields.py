"""Serializer and filter fields the catalogue and inventory APIs share: ids, HKD amounts.

Every id a client sends is bounded to PostgreSQL's bigint, so a fuzzed 10**30 is a 400 (or a 404 by id), never
a database error; amounts are decimal strings in HKD with two decimals, as the POS shows them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from djmoney.money import Money
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.validation import MAX_PRICE

BIGINT_MAX = 2**63 - 1
# Quantities one request may move: far above any real delivery, far below an int column's limit.
MAX_QTY = 1_000_000


class IdField(serializers.IntegerField):
    """A database id: a whole number from 1 to the bigint limit."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)


class HkdField(serializers.DecimalField):
    """An amount in HKD as a decimal string ("199.00"). Money values are written out as their amount."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("max_value", MAX_PRICE)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, Money):
            value = value.amount
        return super().to_representation(value)


def price_field(**kwargs: Any) -> HkdField:
    """An input price: not negative, at most two decimals."""
    kwargs.setdefault("min_value", Decimal("0"))
    kwargs.setdefault("error_messages", {"min_value": _("A price cannot be negative.")})
    return HkdField(**kwargs)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.Filter):
    """Filters on an id; anything but a whole number in the bigint range is a 400."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)
