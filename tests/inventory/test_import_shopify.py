from decimal import Decimal

import pytest

from catalog.models import Product, ProductStatus, Variant
from inventory.imports.checks import sku_candidates
from inventory.imports.services import catalog_import
from inventory.models import MovementKind, StockLevel, StockMovement
from inventory.selectors import stock_verify
from omo.models import AuditLog, LocationKind
from tests.factories.omo import LocationFactory
from tests.inventory.import_helpers import csv_bytes, csv_edit, sample

pytestmark = pytest.mark.django_db

# (file, rows, products, variants, stock rows set above zero, images)
SAMPLES = [
    ("shopifypartners_apparel.csv", 22, 20, 22, 22, 20),
    ("shopifypartners_home-and-garden.csv", 21, 20, 21, 19, 21),
    ("shopifypartners_jewelery.csv", 41, 20, 23, 20, 41),
]


@pytest.mark.parametrize(("name", "rows", "products", "variants", "stocked", "images"), SAMPLES)
def test_sample_dry_run_is_clean_and_writes_nothing(
    warehouse, name, rows, products, variants, stocked, images
):
    report = catalog_import(data=sample(name), filename=name)

    assert report.file_format == "shopify"
    assert report.errors == []
    assert report.unknown_columns == []
    assert "Google Shopping / Gender" in report.ignored_columns
    assert report.skipped == []  # image-only rows are images, not skipped rows
    assert (report.rows_total, report.products.created, report.variants.created) == (rows, products, variants)
    assert len(report.stock_changes) == stocked
    assert report.location == "KC"  # the only warehouse
    assert not report.committed
    assert (Product.objects.count(), Variant.objects.count(), StockMovement.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize(("name", "rows", "products", "variants", "stocked", "images"), SAMPLES)
def test_sample_commit_then_reimport_changes_nothing(
    warehouse, name, rows, products, variants, stocked, images
):
    first = catalog_import(data=sample(name), filename=name, commit=True)

    assert first.committed and first.errors == []
    assert Product.objects.count() == products
    assert Variant.objects.count() == variants
    assert StockMovement.objects.filter(kind=MovementKind.COUNT_ADJUSTMENT).count() == stocked
    assert (
        sum(
            Product.objects.get(handle=h).images.count()
            for h in Product.objects.values_list("handle", flat=True)
        )
        == images
    )
    assert AuditLog.objects.filter(action="catalog.import").count() == 1
    movements, audits = StockMovement.objects.count(), AuditLog.objects.count()

    again = catalog_import(data=sample(name), filename=name, commit=True)

    assert (again.products.created, again.products.updated, again.products.unchanged) == (0, 0, products)
    assert (again.variants.created, again.variants.updated, again.variants.unchanged) == (0, 0, variants)
    assert again.stock_changes == []
    assert StockMovement.objects.count() == movements
    assert AuditLog.objects.count() == audits
    assert stock_verify()[1] == []


def test_apparel_fields(warehouse):
    catalog_import(data=sample("shopifypartners_apparel.csv"), filename="apparel.csv", commit=True)

    top = Product.objects.get(handle="classic-varsity-top")
    assert top.name_en == "Classic Varsity Top"
    assert top.option_names == ["Size"]
    assert top.status == ProductStatus.ACTIVE
    assert top.tags == ["women"]
    assert top.brand is not None and top.brand.name == "partners-demo"
    skus = list(top.variants.order_by("position").values_list("sku", "option_values"))
    assert skus == [
        ("CLASSIC-VARSITY-TOP-SMALL", {"Size": "Small"}),
        ("CLASSIC-VARSITY-TOP-MEDIUM", {"Size": "Medium"}),
        ("CLASSIC-VARSITY-TOP-LARGE", {"Size": "Large"}),
    ]
    assert {v.price.amount for v in top.variants.all()} == {Decimal("60.00")}
    shirt = Variant.objects.get(product__handle="ocean-blue-shirt")
    assert (shirt.sku, shirt.option_values, shirt.allow_backorder) == ("OCEAN-BLUE-SHIRT", {}, False)
    assert StockLevel.objects.get(variant=shirt, location=warehouse).on_hand == 1
    movement = StockMovement.objects.filter(variant=shirt).get()
    assert movement.reference.startswith("import:") and len(movement.reference) == len("import:") + 8
    assert "apparel.csv" in movement.reason


def test_jewelery_image_rows_and_compare_at(warehouse):
    catalog_import(data=sample("shopifypartners_jewelery.csv"), filename="jewelery.csv", commit=True)

    gemstone = Product.objects.get(handle="gemstone")
    assert gemstone.images.count() == 4
    assert gemstone.option_names == ["Colour"]
    assert gemstone.category is not None and gemstone.category.name_en == "Necklace"
    blue = gemstone.variants.get(sku="GEMSTONE-BLUE")
    assert (blue.price.amount, blue.compare_at_price.amount) == (Decimal("27.99"), Decimal("29.99"))
    assert Variant.objects.get(sku="BOHO-EARRINGS").weight_grams == 28


def test_edited_file_updates_by_handle_and_options(warehouse):
    data = sample("shopifypartners_apparel.csv")
    catalog_import(data=data, filename="apparel.csv", commit=True)
    movements = StockMovement.objects.count()
    # Row 4 is classic-varsity-top / Medium: a new price and stock; a new size XL is added.
    edited = csv_edit(
        data,
        {(4, "Variant Price"): "65", (4, "Variant Inventory Qty"): "7"},
        extra_rows=[
            {
                "Handle": "classic-varsity-top",
                "Option1 Value": "XL",
                "Variant Price": "70",
                "Variant Inventory Qty": "2",
            }
        ],
    )

    report = catalog_import(data=edited, filename="apparel-edited.csv", commit=True)

    assert report.errors == []
    assert (report.variants.created, report.variants.updated, report.variants.unchanged) == (1, 1, 21)
    assert (report.products.created, report.products.updated) == (0, 0)
    medium = Variant.objects.get(sku="CLASSIC-VARSITY-TOP-MEDIUM")
    assert medium.price.amount == Decimal("65.00")
    assert StockLevel.objects.get(variant=medium).on_hand == 7
    assert Variant.objects.get(sku="CLASSIC-VARSITY-TOP-XL").option_values == {"Size": "XL"}
    assert sorted((c.sku, c.before, c.after) for c in report.stock_changes) == [
        ("CLASSIC-VARSITY-TOP-MEDIUM", 1, 7),
        ("CLASSIC-VARSITY-TOP-XL", 0, 2),
    ]
    assert StockMovement.objects.count() == movements + 2
    assert stock_verify()[1] == []


NEWER_HEADER = [
    "\ufeffTitle",
    "Handle",
    "Option1 Name",
    "Option1 Value",
    "Option1 Linked To",
    "Variant SKU",
    "Variant Price",
    "Cost per item",
    "Status",
    "Variant Barcode",
    "Color (product.metafields.shopify.color-pattern)",
    "Frobnicate",
]


def test_newer_export_mapped_by_header_name(warehouse):
    data = csv_bytes(
        [
            NEWER_HEADER,
            [
                "Silk Scarf",
                "silk-scarf",
                "Colour",
                "Red",
                "",
                "SCARF-R",
                "120",
                "40",
                "draft",
                "4890000000017",
                "",
                "x",
            ],
            ["", "silk-scarf", "", "Blue", "", "SCARF-B", "120.50", "", "", "", "", ""],
        ]
    )

    report = catalog_import(data=data, filename="products_export.csv", commit=True)

    assert report.file_format == "shopify"
    assert report.errors == []
    assert report.unknown_columns == ["Frobnicate"]
    assert "Option1 Linked To" in report.ignored_columns
    assert report.stock_changes == []  # this vintage has no Variant Inventory Qty
    scarf = Product.objects.get(handle="silk-scarf")
    assert (scarf.status, scarf.option_names) == (ProductStatus.DRAFT, ["Colour"])
    red = Variant.objects.get(sku="SCARF-R")
    assert (red.cost.amount, [b.code for b in red.barcodes.all()]) == (Decimal("40.00"), ["4890000000017"])
    assert Variant.objects.get(sku="SCARF-B").cost is None


def test_stock_needs_a_location_when_there_is_not_exactly_one_warehouse(warehouse, cwb):
    LocationFactory(code="TW", kind=LocationKind.WAREHOUSE)
    data = sample("shopifypartners_home-and-garden.csv")

    report = catalog_import(data=data, filename="home.csv")
    assert [(e.code, e.row) for e in report.errors] == [("location_required", None)]

    report = catalog_import(data=data, filename="home.csv", location="cwb", commit=True)
    assert report.errors == [] and report.location == "CWB"
    assert StockLevel.objects.get(variant__sku="CLAY-PLANT-POT-LARGE").location == cwb

    report = catalog_import(data=data, filename="home.csv", no_stock=True)
    assert report.errors == [] and report.stock_changes == []


def test_generated_skus_are_stable_short_and_unique():
    readable, hashed = sku_candidates("classic-varsity-top", {"Size": "Small"})
    assert readable == "CLASSIC-VARSITY-TOP-SMALL"
    assert (
        hashed.startswith("CLASSIC-VARSITY-TOP-SMALL-")
        and hashed == sku_candidates("classic-varsity-top", {"Size": "Small"})[1]
    )
    chinese, _ = sku_candidates("碎花裙", {"尺碼": "中"})
    assert chinese.startswith("SKU-") and len(chinese) == 10
    long_one, _ = sku_candidates("x" * 120, {"Size": "Small"})
    assert len(long_one) <= 64


def test_generated_sku_taken_in_the_database_gets_a_hash(warehouse):
    from tests.factories.catalog import VariantFactory

    VariantFactory(sku="OCEAN-BLUE-SHIRT", product__handle="another-shirt")
    report = catalog_import(data=sample("shopifypartners_apparel.csv"), filename="apparel.csv", commit=True)

    assert report.errors == []
    shirt = Variant.objects.get(product__handle="ocean-blue-shirt")
    assert shirt.sku.startswith("OCEAN-BLUE-SHIRT-") and len(shirt.sku) == len("OCEAN-BLUE-SHIRT-") + 6


def test_oversold_stock_decimal_grams_and_quoted_barcode(warehouse):
    data = csv_edit(
        sample("shopifypartners_apparel.csv"),
        {
            (2, "Variant Inventory Qty"): "-2",  # oversold in Shopify
            (2, "Variant Grams"): "453.592",  # a pound, in grams
            (2, "Variant Barcode"): "'0012345678905",  # Excel's keep-as-text mark
            (2, "Variant Inventory Policy"): "continue",
        },
    )

    report = catalog_import(data=data, filename="apparel.csv", commit=True)

    assert report.errors == []
    assert [(w.row, w.code) for w in report.warnings] == [(2, "negative_stock")]
    shirt = Variant.objects.get(sku="OCEAN-BLUE-SHIRT")
    assert (shirt.weight_grams, shirt.allow_backorder) == (454, True)
    assert [b.code for b in shirt.barcodes.all()] == ["0012345678905"]
    assert not StockLevel.objects.filter(variant=shirt).exists()  # 0 on hand: nothing to record
