"""Catalogue writes: every bad input is refused with the right error and nothing is written."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections
from djmoney.money import Money

from catalog import services
from catalog.exceptions import (
    DuplicateBarcode,
    DuplicateHandle,
    DuplicateSku,
    ProductNotFound,
    VariantNotFound,
)
from catalog.models import Barcode, Category, ChannelPrice, Product, ProductStatus, Variant
from catalog.services import (
    category_create,
    product_archive,
    product_create,
    product_update,
    variant_archive,
    variant_create,
    variant_update,
)
from omo.errors import ValidationFailed
from omo.models import AuditLog

pytestmark = pytest.mark.django_db


def dress_variants(prefix: str = "DRS-001", *, barcode_base: int = 4890000000000) -> list[dict]:
    return [
        {
            "sku": f"{prefix}-S-RED",
            "option_values": {"Size": "S", "Colour": "Red"},
            "price": "399.00",
            "compare_at_price": "499",
            "cost": "120.50",
            "barcodes": [str(barcode_base + 1)],
            "channel_prices": {"web": "379"},
        },
        {
            "sku": f"{prefix}-M-RED",
            "option_values": {"Size": "M", "Colour": "Red"},
            "price": Decimal("399"),
            "barcodes": [str(barcode_base + 2), f"SHOP-{prefix}-M"],
        },
    ]


def create_dress(actor, **overrides):
    fields = {
        "name_en": "Floral Wrap Dress",
        "name_zh_hant": "碎花連身裙",
        "option_names": ["Size", "Colour"],
        "variants": dress_variants(),
        "status": ProductStatus.ACTIVE,
        **overrides,
    }
    return product_create(actor=actor, **fields)


def counts() -> tuple[int, ...]:
    return (
        Product.objects.count(),
        Variant.objects.count(),
        Barcode.objects.count(),
        ChannelPrice.objects.count(),
        AuditLog.objects.count(),
    )


@pytest.fixture
def dress(owner):
    return create_dress(owner)


# --- Create -------------------------------------------------------------------------------------------------


def test_product_create_writes_product_variants_barcodes_prices_and_audit(owner):
    category = Category.objects.create(name_en="Dresses", name_zh_hant="連身裙")
    product = create_dress(owner, category_id=category.pk, tags=["summer", "Summer", " new "])
    product.refresh_from_db()
    assert product.handle == "floral-wrap-dress"
    assert (product.name_en, product.name_zh_hant) == ("Floral Wrap Dress", "碎花連身裙")
    assert product.option_names == ["Size", "Colour"]
    assert product.tags == ["summer", "new"]
    assert product.category == category
    small, medium = product.variants.order_by("position")
    assert (small.sku, small.position, medium.position) == ("DRS-001-S-RED", 0, 1)
    assert small.option_values == {"Size": "S", "Colour": "Red"}
    assert small.price == Money("399.00", "HKD")
    assert small.compare_at_price == Money("499.00", "HKD")
    assert small.cost == Money("120.50", "HKD")
    assert medium.compare_at_price is None and medium.cost is None
    assert list(small.barcodes.values_list("code", flat=True)) == ["4890000000001"]
    assert sorted(medium.barcodes.values_list("code", flat=True)) == ["4890000000002", "SHOP-DRS-001-M"]
    assert {(cp.channel, cp.price) for cp in small.channel_prices.all()} == {("web", Money("379.00", "HKD"))}
    assert not medium.channel_prices.exists()
    entry = AuditLog.objects.get(action="product.create")
    assert entry.actor == owner
    assert (entry.object_type, entry.object_id) == ("catalog.Product", str(product.pk))
    assert entry.after["handle"] == "floral-wrap-dress" and entry.after["status"] == "active"


def test_product_create_makes_a_unique_handle(owner, dress):
    second = create_dress(owner, variants=dress_variants("DRS-002", barcode_base=4890000000100))
    assert second.handle == "floral-wrap-dress-2"
    chinese = product_create(
        actor=owner, name_zh_hant="亞麻恤衫", variants=[{"sku": "SHT-1", "price": "299"}]
    )
    assert chinese.handle == "亞麻恤衫"
    assert chinese.status == ProductStatus.DRAFT and chinese.option_names == []
    assert chinese.variants.get().option_values == {}


@pytest.mark.parametrize("sku", ["DRS-001-S-RED", "drs-001-s-red", "Drs-001-S-Red"])
def test_duplicate_sku_any_case_is_refused_and_nothing_written(owner, dress, sku):
    before = counts()
    variants = [{"sku": sku, "option_values": {"Size": "L", "Colour": "Red"}, "price": "10"}]
    with pytest.raises(DuplicateSku) as error:
        create_dress(owner, handle="another-dress", variants=variants)
    assert error.value.http_status == 409 and error.value.code == "duplicate_sku"
    assert "floral-wrap-dress" in str(error.value.extra["fields"]["sku"])
    assert counts() == before


def test_duplicate_sku_within_one_request_is_refused(owner):
    variants = dress_variants()
    variants[1]["sku"] = variants[0]["sku"].lower()
    with pytest.raises(DuplicateSku):
        create_dress(owner, variants=variants)
    assert counts() == (0, 0, 0, 0, 0)


def test_duplicate_barcode_is_refused_and_nothing_written(owner, dress):
    before = counts()
    variants = dress_variants("DRS-009", barcode_base=4890000000500)
    variants[1]["barcodes"] = ["4890000000002"]  # the dress's M
    with pytest.raises(DuplicateBarcode) as error:
        create_dress(owner, variants=variants)
    assert error.value.http_status == 409 and error.value.code == "duplicate_barcode"
    assert "DRS-001-M-RED" in str(error.value.extra["fields"]["barcodes"])
    assert counts() == before


def test_duplicate_barcode_within_one_request_is_refused(owner):
    variants = dress_variants()
    variants[1]["barcodes"] = variants[0]["barcodes"]
    with pytest.raises(DuplicateBarcode):
        create_dress(owner, variants=variants)
    assert counts() == (0, 0, 0, 0, 0)


def test_duplicate_handle_is_refused(owner, dress):
    before = counts()
    with pytest.raises(DuplicateHandle):
        create_dress(owner, handle="floral-wrap-dress", variants=dress_variants("X", barcode_base=1))
    assert counts() == before


def test_same_options_twice_are_refused(owner):
    variants = dress_variants()
    variants[1]["option_values"] = {"Colour": "Red", "Size": "S"}
    with pytest.raises(ValidationFailed) as error:
        create_dress(owner, variants=variants)
    assert type(error.value) is ValidationFailed and "variants" in error.value.extra["fields"]
    assert counts() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"price": "-1"}, "price", "A price cannot be negative."),
        ({"price": "-0.01"}, "price", "A price cannot be negative."),
        ({"price": "399.999"}, "price", "A price has at most two decimals (cents)."),
        ({"price": "1e30"}, "price", "This price is too large."),
        ({"price": None}, "price", "A price is required."),
        ({"price": "abc"}, "price", "“abc” is not a price."),
        ({"compare_at_price": "-5"}, "compare_at_price", "A price cannot be negative."),
        ({"cost": "1.005"}, "cost", "A price has at most two decimals (cents)."),
        ({"option_values": {"Size": "S"}}, "option_values", "Missing value for option Colour."),
        (
            {"option_values": {"Size": "S", "Colour": " "}},
            "option_values",
            "Missing value for option Colour.",
        ),
        (
            {"option_values": {"Size": "S", "Colour": "Red", "Fabric": "Silk"}},
            "option_values",
            "Unknown option: Fabric.",
        ),
        ({"option_values": None}, "option_values", "Missing value for option Size, Colour."),
        ({"sku": "DRS 001"}, "sku", "A SKU uses letters, digits and . _ - / only, e.g. DRS-001-M."),
        ({"sku": ""}, "sku", "A SKU is required."),
        ({"barcodes": ["48 90"]}, "barcodes", "“48 90” is not a barcode (letters, digits and - only)."),
        ({"weight_grams": "-3"}, "weight_grams", "A quantity cannot be negative."),
        ({"channel_prices": {"fax": "10"}}, "channel_prices", "Unknown channel: fax."),
        ({"channel_prices": {"web": "-10"}}, "channel_prices", "A price cannot be negative."),
    ],
)
def test_bad_variant_fields_are_refused_and_nothing_written(owner, dress, change, field, message):
    before = counts()
    variant = {
        "sku": "DRS-001-L-RED",
        "option_values": {"Size": "L", "Colour": "Red"},
        "price": "399",
        **change,
    }
    with pytest.raises(ValidationFailed) as error:
        create_dress(owner, handle="second", variants=[variant])
    assert type(error.value) is ValidationFailed and error.value.http_status == 400
    assert error.value.extra["fields"] == {"variants": {0: {field: message}}}
    assert counts() == before
    # The same checks guard adding a SKU to an existing product.
    with pytest.raises(ValidationFailed) as error:
        variant_create(actor=owner, product_id=dress.pk, **variant)
    assert error.value.extra["fields"] == {field: message}
    assert counts() == before


def test_product_level_problems_are_all_reported(owner):
    with pytest.raises(ValidationFailed) as error:
        product_create(
            actor=owner,
            name_en=" ",
            status="sold-out",
            option_names=["Size", "size"],
            handle="Not A Handle",
            category_id=999999,
            variants=[],
        )
    fields = error.value.extra["fields"]
    assert set(fields) == {"name_en", "status", "option_names", "handle", "category_id", "variants"}
    assert fields["option_names"] == "Each option name appears once."
    assert counts() == (0, 0, 0, 0, 0)


# --- Update and archive -------------------------------------------------------------------------------------


def test_product_update_is_audited_with_before_and_after(owner, dress):
    product_update(actor=owner, product_id=dress.pk, name_en="Floral Midi Dress", visible_web="no")
    dress.refresh_from_db()
    assert dress.name_en == "Floral Midi Dress" and dress.visible_web is False
    entry = AuditLog.objects.get(action="product.update")
    assert entry.before["name_en"] == "Floral Wrap Dress" and entry.after["name_en"] == "Floral Midi Dress"
    assert entry.before["visible_web"] is True and entry.after["visible_web"] is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "gone"}, "status"),
        ({"name_en": "", "name_zh_hant": ""}, "name_en"),
        ({"option_names": ["Size"]}, "option_names"),
        ({"brand_id": 424242}, "brand_id"),
        ({"category_id": "abc"}, "category_id"),
        ({"visible_pos": "maybe"}, "visible_pos"),
    ],
)
def test_product_update_refusals_change_nothing(owner, dress, changes, field):
    before = counts()
    with pytest.raises(ValidationFailed) as error:
        product_update(actor=owner, product_id=dress.pk, **changes)
    assert field in error.value.extra["fields"]
    dress.refresh_from_db()
    assert dress.status == ProductStatus.ACTIVE and dress.name_en == "Floral Wrap Dress"
    assert counts() == before


def test_product_update_unknown_product(owner):
    with pytest.raises(ProductNotFound):
        product_update(actor=owner, product_id=987654, name_en="x")


def test_product_archive(owner, dress):
    product_archive(actor=owner, product_id=dress.pk)
    dress.refresh_from_db()
    assert dress.status == ProductStatus.ARCHIVED
    assert dress.variants.count() == 2  # history and stock stay
    entry = AuditLog.objects.get(action="product.archive")
    assert entry.before["status"] == "active" and entry.after["status"] == "archived"


def test_variant_update_prices_barcodes_and_channel_prices(owner, dress):
    small = dress.variants.get(sku="DRS-001-S-RED")
    variant_update(
        actor=owner,
        variant_id=small.pk,
        price="359.5",
        barcodes=["4890000000001", "4890000000999"],
        channel_prices={"pos": "349"},
        sku="drs-001-s-red",  # its own SKU in another case is not a duplicate
    )
    small.refresh_from_db()
    assert small.sku == "drs-001-s-red" and small.price == Money("359.50", "HKD")
    assert sorted(small.barcodes.values_list("code", flat=True)) == ["4890000000001", "4890000000999"]
    assert dict(small.channel_prices.values_list("channel", "price")) == {"pos": Decimal("349.00")}
    entry = AuditLog.objects.get(action="variant.update")
    assert entry.before["price"] == "399.00" and entry.after["price"] == "359.50"
    assert entry.before["channel_prices"] == {"web": "379.00"} and entry.after["channel_prices"] == {
        "pos": "349.00"
    }


def test_variant_update_without_a_change_writes_no_audit_row(owner, dress):
    small = dress.variants.get(sku="DRS-001-S-RED")
    variant_update(actor=owner, variant_id=small.pk, price="399.00")
    assert not AuditLog.objects.filter(action="variant.update").exists()


@pytest.mark.parametrize(
    ("changes", "error_class"),
    [
        ({"sku": "DRS-001-M-RED"}, DuplicateSku),
        ({"sku": "drs-001-m-red"}, DuplicateSku),
        ({"barcodes": ["4890000000002"]}, DuplicateBarcode),
        ({"price": "-10"}, ValidationFailed),
        ({"price": "10.001"}, ValidationFailed),
        ({"option_values": {"Size": "M", "Colour": "Red"}}, ValidationFailed),
        ({"option_values": {"Size": "M"}}, ValidationFailed),
    ],
)
def test_variant_update_refusals_change_nothing(owner, dress, changes, error_class):
    small = dress.variants.get(sku="DRS-001-S-RED")
    before = counts()
    with pytest.raises(error_class):
        variant_update(actor=owner, variant_id=small.pk, **changes)
    small.refresh_from_db()
    assert small.sku == "DRS-001-S-RED" and small.price == Money("399.00", "HKD")
    assert small.option_values == {"Size": "S", "Colour": "Red"}
    assert list(small.barcodes.values_list("code", flat=True)) == ["4890000000001"]
    assert counts() == before


def test_variant_update_unknown_variant(owner):
    with pytest.raises(VariantNotFound):
        variant_update(actor=owner, variant_id=987654, price="1")


def test_variant_create_and_archive(owner, dress):
    large = variant_create(
        actor=owner,
        product_id=dress.pk,
        sku="DRS-001-L-RED",
        option_values={"Size": "L", "Colour": "Red"},
        price="399",
        barcodes=["4890000000003"],
    )
    assert large.position == 2 and large.barcodes.get().code == "4890000000003"
    assert AuditLog.objects.filter(action="variant.create", object_id=str(large.pk)).count() == 1
    variant_archive(actor=owner, variant_id=large.pk)
    large.refresh_from_db()
    assert large.is_active is False
    entry = AuditLog.objects.get(action="variant.archive", object_id=str(large.pk))
    assert (entry.before["is_active"], entry.after["is_active"]) == (True, False)


def test_variant_create_refuses_options_the_product_already_has(owner, dress):
    before = counts()
    with pytest.raises(ValidationFailed) as error:
        variant_create(
            actor=owner,
            product_id=dress.pk,
            sku="NEW-1",
            option_values={"Colour": "Red", "Size": "M"},
            price="1",
        )
    assert "option_values" in error.value.extra["fields"]
    assert counts() == before


def test_category_create(owner):
    clothing = category_create(actor=owner, name_en="Clothing", name_zh_hant="服裝")
    dresses = category_create(actor=owner, name_en="Dresses", name_zh_hant="連身裙", parent_id=clothing.pk)
    assert dresses.parent == clothing
    with pytest.raises(ValidationFailed):
        category_create(actor=owner, name_en="dresses", parent_id=clothing.pk)
    with pytest.raises(ValidationFailed):
        category_create(actor=owner, name_en="Skincare", parent_id=999999)
    assert Category.objects.count() == 2
    assert AuditLog.objects.filter(action="category.create").count() == 2


# --- A concurrent writer: the unique index has the last word ----------------------------------------------


def test_duplicate_that_slips_past_the_check_is_mapped_by_the_unique_index(owner, dress, monkeypatch):
    """Two tills adding one SKU at once: both pre-checks pass; the index refuses the second insert."""
    monkeypatch.setattr(services, "sku_conflicts", lambda *args, **kwargs: {})
    before = counts()
    with pytest.raises(DuplicateSku) as error:
        variant_create(
            actor=owner,
            product_id=dress.pk,
            sku="drs-001-m-red",
            option_values={"Size": "XL", "Colour": "Red"},
            price="1",
        )
    assert error.value.extra["fields"] == {"sku": "This value is already in use."}
    assert counts() == before


def test_barcode_that_slips_past_the_check_is_mapped_by_the_unique_index(owner, dress, monkeypatch):
    monkeypatch.setattr(services, "barcode_conflicts", lambda *args, **kwargs: {})
    before = counts()
    with pytest.raises(DuplicateBarcode):
        create_dress(owner, handle="other", variants=dress_variants("DRS-777", barcode_base=4890000000000))
    assert counts() == before


def wait_for_a_lock_wait(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the second insert never waited on the first")


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_insert_is_duplicate_sku(owner):
    """A real race: the first till's insert is not committed when the second checks; the second waits on the
    unique index, and gets DuplicateSku (not a 500) once the first commits."""
    from django.db import transaction

    inserted, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                product_create(
                    actor=owner, name_en="Linen Shirt", variants=[{"sku": "SHT-100", "price": "299"}]
                )
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    def second() -> None:
        try:
            product_create(actor=owner, name_en="Linen Shirt B", variants=[{"sku": "sht-100", "price": "1"}])
        except Exception as error:
            outcome["error"] = error
        finally:
            connection.close()

    one = threading.Thread(target=first)
    one.start()
    assert inserted.wait(10)
    two = threading.Thread(target=second)
    two.start()
    wait_for_a_lock_wait()
    release.set()
    one.join(10)
    two.join(10)
    assert isinstance(outcome.get("error"), DuplicateSku), outcome
    assert list(Variant.objects.values_list("sku", flat=True)) == ["SHT-100"]
    assert list(Product.objects.values_list("name_en", flat=True)) == ["Linen Shirt"]
    assert AuditLog.objects.filter(action="product.create").count() == 1
