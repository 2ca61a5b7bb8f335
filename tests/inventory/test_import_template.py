from decimal import Decimal

import pytest

from catalog.models import Barcode, Product, ProductStatus, Variant
from inventory.imports.export import catalog_export
from inventory.imports.formats.omo import COLUMNS
from inventory.imports.reading import table_read
from inventory.imports.services import catalog_import
from inventory.models import MovementKind, StockLevel, StockMovement
from inventory.selectors import stock_verify
from omo.models import AuditLog
from tests.inventory.import_helpers import csv_bytes, sample, xlsx_bytes

pytestmark = pytest.mark.django_db

HEADER = [*COLUMNS, "stock:CWB", "stock:MK", "reorder_point:CWB"]


def template_row(**values: object) -> list[object]:
    return [values.get(column.replace(":", "_"), "") for column in HEADER]


DRESS = {
    "handle": "floral-dress",
    "name_en": "Floral Dress",
    "name_zh_hant": "碎花連身裙",
    "description_en": "Cotton.\nMachine wash.",
    "category": "Clothing > Dresses",
    "brand": "Blossom",
    "tags": "summer, floral",
    "status": "active",
    "visible_web": "true",
    "visible_pos": "true",
    "option1_name": "Size",
    "option2_name": "Colour",
    "track_inventory": "true",
    "allow_backorder": "false",
    "image_urls": "https://img.example.com/dress-1.jpg|https://img.example.com/dress-2.jpg",
}
ROWS = [
    template_row(
        **DRESS,
        option1_value="S",
        option2_value="紅",
        sku="DRS-001-S",
        barcodes="4890000000011|DRS1S",
        price="HK$1,299.50",
        compare_at_price="1500",
        cost="400",
        weight_grams="300",
        price_web="1199",
        stock_CWB="5",
        stock_MK="2",
        reorder_point_CWB="1",
    ),
    # Later rows of a handle may leave the product columns blank.
    template_row(
        handle="floral-dress",
        option1_value="M",
        option2_value="紅",
        sku="DRS-001-M",
        price="1299.50",
        stock_CWB="0",
        stock_MK="",
    ),
]


def assert_dress_imported(cwb, mk) -> None:
    dress = Product.objects.get(handle="floral-dress")
    assert (dress.name_en, dress.name_zh_hant) == ("Floral Dress", "碎花連身裙")
    assert dress.description_en == "Cotton.\nMachine wash."
    assert dress.category is not None and (dress.category.parent.name_en, dress.category.name_en) == (
        "Clothing",
        "Dresses",
    )
    assert dress.brand is not None and dress.brand.name == "Blossom"
    assert (dress.tags, dress.status, dress.option_names) == (
        ["summer", "floral"],
        ProductStatus.ACTIVE,
        ["Size", "Colour"],
    )
    assert list(dress.images.values_list("url", flat=True)) == [
        "https://img.example.com/dress-1.jpg",
        "https://img.example.com/dress-2.jpg",
    ]
    small = Variant.objects.get(sku="DRS-001-S")
    assert small.option_values == {"Size": "S", "Colour": "紅"}
    assert (small.price.amount, small.compare_at_price.amount, small.cost.amount) == (
        Decimal("1299.50"),
        Decimal("1500.00"),
        Decimal("400.00"),
    )
    assert small.weight_grams == 300
    assert sorted(small.barcodes.values_list("code", flat=True)) == ["4890000000011", "DRS1S"]
    assert {cp.channel: cp.price.amount for cp in small.channel_prices.all()} == {"web": Decimal("1199.00")}
    cwb_level = StockLevel.objects.get(variant=small, location=cwb)
    assert (cwb_level.on_hand, cwb_level.reorder_point) == (5, 1)
    assert StockLevel.objects.get(variant=small, location=mk).on_hand == 2
    assert not StockLevel.objects.filter(variant__sku="DRS-001-M").exists()  # 0 where nothing was stocked
    assert stock_verify()[1] == []


def test_csv_template(cwb, mk):
    report = catalog_import(data=csv_bytes([HEADER, *ROWS]), filename="catalogue.csv", commit=True)

    assert report.file_format == "omo"
    assert report.errors == [] and report.unknown_columns == []
    assert (report.products.created, report.variants.created, len(report.stock_changes)) == (1, 2, 2)
    assert_dress_imported(cwb, mk)


def test_xlsx_template(cwb, mk):
    # Excel keeps numbers as numbers: 1500 comes back as 1500.0, the EAN as a number too.
    rows = [list(row) for row in ROWS]
    rows[0][HEADER.index("compare_at_price")] = 1500
    rows[0][HEADER.index("weight_grams")] = 300.0
    rows[0][HEADER.index("stock:CWB")] = 5
    report = catalog_import(data=xlsx_bytes([HEADER, *rows]), filename="catalogue.xlsx", commit=True)

    assert report.errors == []
    assert_dress_imported(cwb, mk)


def test_semicolon_csv_with_bom_and_big5_text(cwb, mk):
    # Excel in some locales separates with ";"; Excel in Hong Kong may save Big5 instead of UTF-8.
    big5 = csv_bytes([HEADER, *ROWS], delimiter=";", encoding="big5hkscs")
    report = catalog_import(data=big5, filename="catalogue.csv", commit=True)
    assert report.errors == []
    assert [w.code for w in report.warnings] == ["encoding"]
    assert Product.objects.get().name_zh_hant == "碎花連身裙"

    with_bom = b"\xef\xbb\xbf" + csv_bytes([HEADER, *ROWS], delimiter=";")
    assert table_read(with_bom, "x.csv").headers[0] == "handle"


def export_then_import(file_type: str) -> tuple:
    data = catalog_export(file_type=file_type)
    movements, audits = StockMovement.objects.count(), AuditLog.objects.count()
    report = catalog_import(data=data, filename=f"catalog.{file_type}", commit=True)
    return report, StockMovement.objects.count() - movements, AuditLog.objects.count() - audits


@pytest.mark.parametrize("file_type", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(cwb, mk, warehouse, file_type):
    catalog_import(data=csv_bytes([HEADER, *ROWS]), filename="catalogue.csv", commit=True)
    catalog_import(data=sample("shopifypartners_jewelery.csv"), filename="jewelery.csv", commit=True)
    catalog_import(data=sample("woocommerce_sample_products.csv"), filename="woo.csv", commit=True)
    # Text a spreadsheet would take for a formula must survive the trip as text.
    Product.objects.filter(handle="gemstone").update(name_en="=1+1", description_en="- bullet\n- list")

    report, movements, audits = export_then_import(file_type)

    assert report.errors == []
    assert (report.products.created, report.products.updated, report.products.unchanged) == (0, 0, 34)
    assert (report.variants.created, report.variants.updated, report.variants.unchanged) == (0, 0, 45)
    assert (report.stock_changes, movements, audits) == ([], 0, 0)
    assert Product.objects.get(handle="gemstone").name_en == "=1+1"


def test_export_lists_stock_per_location(cwb, mk):
    catalog_import(data=csv_bytes([HEADER, *ROWS]), filename="catalogue.csv", commit=True)

    table = table_read(catalog_export(file_type="csv", location_codes=["MK"]), "catalog.csv")

    assert table.headers == [*COLUMNS, "stock:MK", "reorder_point:MK"]
    by_sku = {row.values[HEADER.index("sku")]: row.values for row in table.rows}
    assert by_sku["DRS-001-S"][-2:] == ["2", ""]
    assert by_sku["DRS-001-M"][-2:] == ["0", ""]


def test_edited_file_updates_by_sku(cwb, mk):
    catalog_import(data=csv_bytes([HEADER, *ROWS]), filename="catalogue.csv", commit=True)
    edited = [list(row) for row in ROWS]
    edited[1][HEADER.index("price")] = "1099"
    edited[1][HEADER.index("stock:CWB")] = "4"
    edited.append(
        template_row(
            handle="floral-dress", option1_value="L", option2_value="紅", sku="DRS-001-L", price="1299.50"
        )
    )
    # A barcode dropped from the list is removed: the template lists them all.
    edited[0][HEADER.index("barcodes")] = "4890000000011"

    report = catalog_import(data=csv_bytes([HEADER, *edited]), filename="catalogue-v2.csv", commit=True)

    assert report.errors == []
    assert (
        report.products.unchanged,
        report.variants.created,
        report.variants.updated,
        report.variants.unchanged,
    ) == (
        1,
        1,
        2,
        0,
    )
    assert Variant.objects.get(sku="DRS-001-M").price.amount == Decimal("1099.00")
    assert Variant.objects.get(sku="DRS-001-L").option_values == {"Size": "L", "Colour": "紅"}
    assert list(Barcode.objects.values_list("code", flat=True)) == ["4890000000011"]
    movement = StockMovement.objects.get(variant__sku="DRS-001-M")
    assert (movement.kind, movement.quantity, movement.on_hand_after) == (MovementKind.COUNT_ADJUSTMENT, 4, 4)
    assert AuditLog.objects.filter(action="catalog.import").count() == 2
    audit = AuditLog.objects.filter(action="catalog.import").latest("pk")
    assert audit.after["variants"] == {"created": 1, "updated": 2, "unchanged": 0}
    assert audit.reason == "catalogue-v2.csv"


def test_skip_invalid_commits_the_products_without_errors(cwb, mk):
    bad = template_row(handle="broken", name_en="Broken", sku="BRK-1", price="abc")
    report = catalog_import(
        data=csv_bytes([HEADER, *ROWS, bad]), filename="catalogue.csv", commit=True, skip_invalid=True
    )

    assert report.committed
    assert [(e.row, e.code) for e in report.errors] == [(4, "invalid_price")]
    assert report.products_left_out == 1
    assert list(Product.objects.values_list("handle", flat=True)) == ["floral-dress"]
