from decimal import Decimal

import pytest

from catalog.models import Product, ProductStatus, Variant
from inventory.imports.services import catalog_import
from inventory.models import StockLevel, StockMovement
from inventory.selectors import stock_verify
from omo.models import AuditLog
from tests.inventory.import_helpers import csv_edit, sample

pytestmark = pytest.mark.django_db
WOO = "woocommerce_sample_products.csv"


def test_dry_run_report(warehouse):
    report = catalog_import(data=sample(WOO), filename=WOO)

    assert report.file_format == "woocommerce"
    assert report.errors == []
    assert report.unknown_columns == []
    assert {"Meta: _wpcom_is_markdown", "Download 1 URL", "Attribute 1 default"} <= set(
        report.ignored_columns
    )
    assert report.rows_total == 24
    # 9 simple + 2 downloadable/virtual + 2 variable products; 11 simple variants + 9 variations.
    assert (report.products.created, report.variants.created) == (13, 20)
    assert [(issue.row, issue.sku) for issue in report.skipped] == [
        (17, "cc-logo-collection"),
        (18, "cp-donation"),
    ]
    assert "grouped" in report.skipped[0].message
    # The T-shirt's variations leave Size as "any": a warning on each, not an error.
    assert [(w.row, w.code) for w in report.warnings] == [
        (19, "any_attribute"),
        (20, "any_attribute"),
        (21, "any_attribute"),
    ]
    assert Product.objects.count() == 0


def test_commit_and_reimport(warehouse):
    catalog_import(data=sample(WOO), filename=WOO, commit=True)

    tee = Product.objects.get(handle="cc-tee")
    assert tee.option_names == ["Color"]
    assert sorted(tee.variants.values_list("sku", flat=True)) == [
        "cc-t-shirt-blue",
        "cc-t-shirt-green",
        "cc-t-shirt-red",
    ]
    assert tee.category is not None and (tee.category.name_en, tee.category.parent.name_en) == (
        "Tshirts",
        "Clothing",
    )
    assert tee.images.count() == 3
    hoodie = Product.objects.get(handle="cc-hoodie")
    assert hoodie.option_names == ["Color", "Logo"]
    assert hoodie.variants.count() == 6
    red_no = Variant.objects.get(sku="cc-hoodie-red")
    assert red_no.option_values == {"Color": "Red", "Logo": "No"}
    assert (red_no.price.amount, red_no.compare_at_price.amount) == (Decimal("42.00"), Decimal("45.00"))
    beanie = Variant.objects.get(sku="cc-beanie")
    assert (beanie.price.amount, beanie.compare_at_price.amount, beanie.option_values) == (
        Decimal("18.00"),
        Decimal("20.00"),
        {},
    )
    assert Variant.objects.get(sku="cc-hoodie-with-logo").compare_at_price is None
    assert Variant.objects.get(sku="cc-album").track_inventory is False
    assert Variant.objects.get(sku="cc-belt").track_inventory is True
    assert Product.objects.get(handle="cc-hoodie-with-pocket").visible_web is False
    assert Product.objects.get(handle="cc-belt").status == ProductStatus.ACTIVE
    assert not Product.objects.filter(handle__in=["cc-logo-collection", "cp-donation"]).exists()
    audits = AuditLog.objects.count()

    again = catalog_import(data=sample(WOO), filename=WOO, commit=True)

    assert (again.products.created, again.products.updated, again.products.unchanged) == (0, 0, 13)
    assert (again.variants.created, again.variants.updated, again.variants.unchanged) == (0, 0, 20)
    assert AuditLog.objects.count() == audits
    assert StockMovement.objects.count() == 0
    assert stock_verify()[1] == []


def test_variation_missing_a_value_the_others_have_is_an_error(warehouse):
    # Row 23 is cc-hoodie-red-logo: without its Logo value it cannot be told from cc-hoodie-red.
    data = csv_edit(sample(WOO), {(23, "Attribute 2 value(s)"): ""})

    report = catalog_import(data=data, filename=WOO)

    assert [(e.row, e.code) for e in report.errors] == [(23, "missing_option_value")]
    assert "Logo" in report.errors[0].message
    assert report.products_left_out == 1  # the hoodie; the other products would import
    assert report.products.created == 12


def test_stock_low_stock_backorders_and_weight(warehouse, mk):
    data = csv_edit(
        sample(WOO),
        {
            (5, "Stock"): "5",  # cc-beanie
            (5, "Low stock amount"): "2",
            (5, "Weight (kg)"): "0.25",
            (6, "Stock"): "-3",  # cc-belt, backordered in WooCommerce
            (6, "Backorders allowed?"): "notify",
        },
    )

    report = catalog_import(data=data, filename=WOO, location="MK", commit=True)

    assert report.errors == []
    assert [(w.row, w.code) for w in report.warnings if w.code == "negative_stock"] == [(6, "negative_stock")]
    beanie = StockLevel.objects.get(variant__sku="cc-beanie", location=mk)
    assert (beanie.on_hand, beanie.reorder_point) == (5, 2)
    assert Variant.objects.get(sku="cc-beanie").weight_grams == 250
    assert Variant.objects.get(sku="cc-belt").allow_backorder is True
    assert not StockLevel.objects.filter(variant__sku="cc-belt").exclude(on_hand=0).exists()
    assert report.reorder_points_changed == 1
    assert stock_verify()[1] == []

    again = catalog_import(data=data, filename=WOO, location="MK", commit=True)
    assert (again.stock_changes, again.reorder_points_changed, again.variants.updated) == ([], 0, 0)


def test_parent_given_by_id(warehouse):
    # Without a SKU, the parent is named "id:742" by its variations, and its handle comes from its name.
    edits = {(3, "SKU"): ""} | {(row, "Parent"): "id:742" for row in (12, 13, 14, 23, 24, 25)}

    report = catalog_import(data=csv_edit(sample(WOO), edits), filename=WOO, commit=True)

    assert report.errors == []
    hoodie = Product.objects.get(handle="hoodie")
    assert sorted(hoodie.variants.values_list("sku", flat=True)) == [
        "cc-hoodie-blue",
        "cc-hoodie-blue-logo",
        "cc-hoodie-green",
        "cc-hoodie-green-logo",
        "cc-hoodie-red",
        "cc-hoodie-red-logo",
    ]


def test_variation_with_an_unknown_parent_is_an_error(warehouse):
    report = catalog_import(data=csv_edit(sample(WOO), {(19, "Parent"): "no-such-tee"}), filename=WOO)

    assert [(e.row, e.code) for e in report.errors] == [(19, "parent_not_found")]
