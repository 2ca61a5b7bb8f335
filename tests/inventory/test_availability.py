"""Availability: one SKU everywhere, which branches have a size, and a batch at a constant query count."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Reservation
from inventory.selectors import availability_batch, availability_for_variant, where_available
from inventory.services import StockLine, stock_reserve
from tests.factories.catalog import ProductFactory, VariantFactory
from tests.factories.inventory import receive, sized_product, tst_branch
from tests.factories.omo import LocationFactory

pytestmark = pytest.mark.django_db


def test_one_sku_at_every_location_including_ones_without_a_row(variant, cwb, mk, warehouse, stocked):
    tst = tst_branch()
    LocationFactory(code="OLD", is_active=False)
    stocked(10)
    stocked(40, at=warehouse)
    stock_reserve(lines=[StockLine(variant, cwb.pk, 3)], source="staff_hold", actor="test")
    (timed_out,) = stock_reserve(lines=[StockLine(variant, cwb.pk, 2)], source="web_checkout", actor="test")
    Reservation.objects.filter(pk=timed_out.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    rows = availability_for_variant(variant.pk)
    assert [(r["location"], r["kind"], r["on_hand"], r["reserved"], r["available"]) for r in rows] == [
        ("CWB", "branch", 10, 3, 7),  # the timed-out hold is free already
        ("MK", "branch", 0, 0, 0),
        ("TST", "branch", 0, 0, 0),
        ("KC", "warehouse", 40, 0, 40),
    ]
    assert rows[0]["location_id"] == cwb.pk and rows[2]["location_id"] == tst.pk
    assert rows[0]["location_name"] == "Causeway Bay"  # tests run in English


def test_which_branches_have_it_in_size_m(cwb, mk, warehouse):
    tst = tst_branch()
    small, medium, _large = sized_product(("S", "M", "L"), prefix="DRS")
    receive(medium, mk, 2)
    receive(medium, warehouse, 30)
    receive(medium, tst, 1)
    receive(small, cwb, 5)
    receive(medium, cwb, 1)
    stock_reserve(lines=[StockLine(medium, cwb.pk, 1)], source="staff_hold", actor="test")  # none free at CWB
    found = where_available(product_id=medium.product_id, options={"Size": "m"})
    assert [(f["location"], f["kind"], f["sku"], f["available"]) for f in found] == [
        ("MK", "branch", "DRS-M", 2),
        ("TST", "branch", "DRS-M", 1),
        ("KC", "warehouse", "DRS-M", 30),
    ]
    assert found[0]["option_values"] == {"Size": "M"} and found[0]["variant_id"] == medium.pk
    every_size = where_available(product_id=medium.product_id)
    assert [(f["location"], f["sku"]) for f in every_size] == [
        ("CWB", "DRS-S"),
        ("MK", "DRS-M"),
        ("TST", "DRS-M"),
        ("KC", "DRS-M"),
    ]
    assert where_available(product_id=medium.product_id, options={"Size": "XXL"}) == []
    assert where_available(product_id=medium.product_id, options={"Colour": "M"}) == []


def test_where_available_leaves_out_inactive_skus(cwb):
    (only,) = sized_product(("M",), prefix="OLD")
    receive(only, cwb, 3)
    only.is_active = False
    only.save()
    assert where_available(product_id=only.product_id, options={"Size": "M"}) == []


def test_batch_lists_every_active_location(variant, cwb, mk, warehouse, stocked):
    stocked(4)
    other = VariantFactory(sku="TEE-L", option_values={"Size": "L"})
    assert availability_batch([variant.pk, other.pk, variant.pk]) == {
        variant.pk: {
            "CWB": {"on_hand": 4, "reserved": 0, "available": 4},
            "KC": {"on_hand": 0, "reserved": 0, "available": 0},
            "MK": {"on_hand": 0, "reserved": 0, "available": 0},
        },
        other.pk: {
            "CWB": {"on_hand": 0, "reserved": 0, "available": 0},
            "KC": {"on_hand": 0, "reserved": 0, "available": 0},
            "MK": {"on_hand": 0, "reserved": 0, "available": 0},
        },
    }


@pytest.mark.parametrize("how_many", [1, 50])
def test_batch_takes_the_same_number_of_queries_for_1_or_50_skus(
    cwb, mk, warehouse, django_assert_num_queries, how_many
):
    product = ProductFactory()
    variants = [VariantFactory(product=product, option_values={"Size": f"{n}"}) for n in range(how_many)]
    for index, variant in enumerate(variants):
        receive(variant, [cwb, mk, warehouse][index % 3], index + 1)
        if index % 2:
            stock_reserve(
                lines=[StockLine(variant, [cwb, mk, warehouse][index % 3].pk, 1)],
                source="staff_hold",
                actor="t",
            )
    ids = [variant.pk for variant in variants]
    with django_assert_num_queries(2):  # the locations, and every SKU's rows with their timed-out holds
        result = availability_batch(ids)
    assert len(result) == how_many
    last = variants[-1]
    where = [cwb, mk, warehouse][(how_many - 1) % 3].code
    held = 1 if (how_many - 1) % 2 else 0
    assert result[last.pk][where] == {"on_hand": how_many, "reserved": held, "available": how_many - held}
