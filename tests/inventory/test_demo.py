"""The demo data: a bilingual catalogue, stock everywhere, holds and a transfer on the road; idempotent."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from catalog.models import Barcode, Category, ChannelPrice, Product, Variant
from catalog.selectors import variant_search
from inventory.demo import ean13
from inventory.models import LowStockAlert, Reservation, StockLevel, StockMovement, Transfer
from inventory.selectors import replenishment_list, staff_holds_list, stock_verify, where_available
from inventory.services import low_stock_check
from omo.models import AuditLog, Location, OutboxMessage, User

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, object]:
    return {
        "locations": Location.objects.count(),
        "users": User.objects.count(),
        "products": Product.objects.count(),
        "variants": Variant.objects.count(),
        "barcodes": Barcode.objects.count(),
        "categories": Category.objects.count(),
        "stock": list(
            StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "reserved", "reorder_point")
        ),
        "movements": StockMovement.objects.count(),
        "holds": Reservation.objects.count(),
        "transfers": Transfer.objects.count(),
        "audit": AuditLog.objects.count(),
    }


@pytest.fixture
def seeded():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_a_bilingual_catalogue_with_sizes_and_colours(seeded):
    assert "16 products (61 SKUs)" in seeded
    assert Product.objects.count() == 16 and Variant.objects.count() == 61
    assert (
        not Product.objects.filter(name_en="").exists()
        and not Product.objects.filter(name_zh_hant="").exists()
    )
    assert not Product.objects.filter(description_zh_hant="").exists()
    dress = Product.objects.get(handle="floral-wrap-dress")
    assert (dress.name_en, dress.name_zh_hant, dress.option_names) == (
        "Floral Wrap Dress",
        "碎花連身裙",
        ["Size", "Colour"],
    )
    assert dress.category.name_en == "Dresses" and dress.category.parent.name_zh_hant == "服裝"
    assert dress.brand.name == "Bloom & Co."
    assert {v.option_values["Size"] for v in dress.variants.all()} == {"S", "M", "L"}
    assert dress.variants.count() == 6
    assert set(Category.objects.filter(parent=None).values_list("name_zh_hant", flat=True)) == {
        "服裝",
        "護膚",
        "家品",
    }
    serum = Variant.objects.get(sku="SER-HYD-50")
    assert (str(serum.price.amount), str(serum.compare_at_price.amount), str(serum.price.currency)) == (
        "428.00",
        "468.00",
        "HKD",
    )
    assert ChannelPrice.objects.count() == 2
    # Barcodes are EAN-13 with a valid check digit, one per stocked SKU, none shared.
    codes = list(Barcode.objects.values_list("code", flat=True))
    assert len(codes) == 60 == len(set(codes))
    assert all(len(code) == 13 and ean13(code[:12]) == code for code in codes)
    assert ean13("400638133393") == "4006381333931"  # a published example
    # Found in both languages, Chinese substrings included.
    assert {v.sku for v in variant_search("連身")} >= {"DRS-001-M-NV"}
    assert {v.product.handle for v in variant_search("candle")} == {"scented-candle"}


def test_stock_in_every_location_and_the_ledger_adds_up(seeded):
    per_location = dict(
        StockLevel.objects.values_list("location__code").annotate(total=Sum("on_hand")).order_by()
    )
    assert set(per_location) == {"CWB", "MK", "TST", "KC"} and all(
        total > 50 for total in per_location.values()
    )
    assert per_location["KC"] > max(per_location[code] for code in ("CWB", "MK", "TST"))
    assert not StockLevel.objects.filter(variant__track_inventory=False).exists()
    receipts = StockMovement.objects.filter(kind="receive", reference="DEMO-OPENING")
    assert set(receipts.values_list("location__code", flat=True)) == {"CWB", "MK", "TST", "KC"}
    assert receipts.filter(unit_cost__isnull=True).count() == 0
    assert stock_verify()[1] == []
    out = StringIO()
    call_command("stock_verify", stdout=out)
    assert "OK" in out.getvalue()


def test_which_branch_has_size_m(seeded):
    dress = Product.objects.get(handle="floral-wrap-dress")
    found = where_available(product_id=dress.pk, options={"Size": "M"})
    assert {row["location"] for row in found} >= {"CWB", "KC"}
    assert all(row["option_values"]["Size"] == "M" and row["available"] > 0 for row in found)


def test_holds_and_the_transfer_in_transit(seeded):
    owner = User.objects.get(username="owner")
    holds = list(staff_holds_list(owner))
    assert [(h.location.code, h.customer_name) for h in sorted(holds, key=lambda h: h.reference)] == [
        ("CWB", "陳小姐"),
        ("CWB", "Ms Wong"),
        ("MK", "李先生"),
        ("MK", "何太"),
    ]
    assert all(h.customer_phone.startswith("+852 ") and h.time_left.total_seconds() > 0 for h in holds)
    assert Reservation.objects.get(reference="DEMO-HOLD-1").note == "IG DM, 星期六來試"
    web = Reservation.objects.get(reference="DEMO-WEB-1")
    assert web.location.code == "KC" and web.status == "active"
    transfer = Transfer.objects.get()
    assert (transfer.source.code, transfer.destination.code, transfer.status) == ("KC", "MK", "in_transit")
    assert list(
        transfer.lines.values_list("variant__sku", "qty_shipped", "qty_received").order_by("variant__sku")
    ) == [
        ("DRS-001-M-NV", 3, 0),
        ("KNT-002-M-CH", 2, 0),
        ("SUN-SPF50-50", 6, 0),
    ]
    assert StockMovement.objects.filter(kind="transfer_out", reference=transfer.number).count() == 3
    assert AuditLog.objects.filter(object_type="inventory.Transfer").count() == 6  # 3 steps x 2 branches


def test_one_sku_is_below_its_reorder_point(seeded):
    assert StockLevel.objects.filter(reorder_point__isnull=False).count() == 4
    assert [(row["sku"], row["location"], row["incoming"]) for row in replenishment_list()] == [
        ("SUN-SPF50-50", "MK", 6)
    ]
    assert low_stock_check() == (1, 0)
    assert LowStockAlert.objects.get().stock.variant.sku == "SUN-SPF50-50"
    assert OutboxMessage.objects.filter(kwargs__topic="stock.low").count() == 1


def test_seeding_twice_changes_nothing(seeded):
    first = snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert snapshot() == first
    assert stock_verify()[1] == []


def test_seeding_after_an_older_seed_adds_the_catalogue():
    """A database seeded before the catalogue existed (places and staff only) gets it on the next run."""
    from omo.demo import demo_locations_and_staff_seed

    demo_locations_and_staff_seed()
    people = (
        Location.objects.count(),
        User.objects.count(),
        AuditLog.objects.filter(action="user.pin_set").count(),
    )
    call_command("seed_demo", stdout=StringIO())
    assert Product.objects.count() == 16 and Transfer.objects.count() == 1
    assert (
        Location.objects.count(),
        User.objects.count(),
        AuditLog.objects.filter(action="user.pin_set").count(),
    ) == people


def test_if_empty_skips_everything_when_a_user_exists(owner):
    call_command("seed_demo", "--if-empty", stdout=StringIO())
    assert not Product.objects.exists() and not StockLevel.objects.exists() and not Location.objects.exists()


def test_holds_are_not_made_again_once_they_are_over(seeded):
    from inventory.services import reservation_release

    hold = Reservation.objects.get(reference="DEMO-HOLD-2")
    reservation_release(reservation_ids=[hold.pk], actor="test")
    call_command("seed_demo", stdout=StringIO())
    assert Reservation.objects.filter(reference="DEMO-HOLD-2").count() == 1
    # The five demo holds, and the demo orders' own (made again by nobody either).
    assert Reservation.objects.filter(reference__startswith="DEMO-").aggregate(n=Count("pk"))["n"] == 5
    assert Reservation.objects.aggregate(n=Count("pk"))["n"] == 8
