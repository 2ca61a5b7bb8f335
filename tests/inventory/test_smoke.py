from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.exceptions import InsufficientStock
from inventory.models import StockLevel
from inventory.selectors import availability_for_variant, stock_verify
from inventory.services import StockLine, reservations_expire, stock_reserve, stock_sell

pytestmark = pytest.mark.django_db


def test_sell_and_reserve(variant, cwb, stocked, owner):
    stocked(10)
    stock_sell(lines=[StockLine(variant, cwb.pk, 3)], actor=owner, reference="CWB-1")
    holds = stock_reserve(lines=[StockLine(variant, cwb.pk, 5)], source="staff_hold", actor=owner)
    level = StockLevel.objects.get()
    assert (level.on_hand, level.reserved) == (7, 5)
    with pytest.raises(InsufficientStock) as error:
        stock_sell(lines=[StockLine(variant, cwb.pk, 3)], actor=owner)
    assert error.value.extra["items"][0]["available"] == 2
    holds[0].expires_at = timezone.now() - timedelta(seconds=1)
    holds[0].save()
    assert [row["available"] for row in availability_for_variant(variant.pk) if row["location"] == "CWB"] == [
        7
    ]
    stock_sell(lines=[StockLine(variant, cwb.pk, 7)], actor=owner)
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (0, 0)
    assert reservations_expire() == 0
    assert stock_verify()[1] == []
