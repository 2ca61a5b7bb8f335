import pytest

from catalog.models import Brand, Category, Product, Variant
from inventory.exceptions import ImportRefused
from inventory.imports.services import catalog_import
from inventory.models import StockLevel, StockMovement
from omo.models import AuditLog
from tests.factories.catalog import VariantFactory
from tests.inventory.import_helpers import csv_bytes

pytestmark = pytest.mark.django_db

HEADER = [
    "handle",
    "name_en",
    "category",
    "brand",
    "option1_name",
    "option1_value",
    "sku",
    "barcodes",
    "price",
    "stock:CWB",
    "Frobnicate",
]
BAD_FILE = [
    HEADER,
    ["tee", "Tee", "Tops", "Acme", "Size", "S", "TEE-S", "111", "100", "3", ""],  # row 2
    ["tee", "", "", "", "Size", "M", "TEE-M", "111", "100", "3", ""],  # 3: barcode of row 2
    ["dress", "Dress", "Dresses", "Acme", "", "", "DRS-1", "", "12,3x", "1", ""],  # 4: unparseable price
    ["skirt", "Skirt", "", "", "", "", "SKT-1", "", "-5", "1", ""],  # 5: negative price
    ["hat", "Hat", "", "", "", "", "HAT-1", "", "50", "1.5", ""],  # 6: half a hat
    ["bag", "Bag", "", "", "", "", "tee-s", "", "80", "1", ""],  # 7: SKU of row 2 (any case)
    ["coat", "Coat", "", "", "Size", "", "COAT-1", "", "900", "1", ""],  # 8: no size
    ["belt", "Belt", "", "", "", "", "BELT-1", "", "60", "2", "x"],  # 9: fine
]


def errors_of(report) -> list[tuple[int | None, str, str]]:
    return sorted((e.row, e.code, e.column) for e in report.errors)


def test_every_error_with_its_row_and_reason(cwb):
    report = catalog_import(data=csv_bytes(BAD_FILE), filename="bad.csv")

    assert errors_of(report) == [
        (2, "duplicate_barcode", "barcodes"),
        (2, "duplicate_sku", "sku"),
        (3, "duplicate_barcode", "barcodes"),
        (4, "invalid_price", "price"),
        (5, "invalid_price", "price"),
        (6, "invalid_quantity", "stock:CWB"),
        (7, "duplicate_sku", "sku"),
        (8, "missing_option_value", "option1_value"),
    ]
    messages = {(e.row, e.code): e for e in report.errors}
    assert messages[(2, "duplicate_sku")].message == "SKU TEE-S is also on row 7."
    assert messages[(7, "duplicate_sku")].message == "SKU TEE-S is also on row 2."
    assert messages[(3, "duplicate_barcode")].message == "Barcode 111 is also on row 2."
    assert messages[(4, "invalid_price")].value == "12,3x"
    assert "not a price" in messages[(4, "invalid_price")].message
    assert messages[(5, "invalid_price")].message == "A price cannot be negative."
    assert messages[(6, "invalid_quantity")].message == "“1.5” is not a whole number."
    assert messages[(8, "missing_option_value")].message == "Missing value for option Size."
    assert sorted((d.kind, d.value, tuple(d.rows)) for d in report.duplicates) == [
        ("barcode", "111", (2, 3)),
        ("sku", "TEE-S", (2, 7)),
    ]
    assert report.unknown_columns == ["Frobnicate"]
    # Only the belt is free of errors: it is what skip_invalid would import.
    assert (report.products_left_out, report.products.created, report.variants.created) == (6, 1, 1)


def test_commit_is_refused_and_nothing_is_written(cwb):
    with pytest.raises(ImportRefused) as refused:
        catalog_import(data=csv_bytes(BAD_FILE), filename="bad.csv", commit=True)

    assert refused.value.extra == {"errors": 8}
    assert len(refused.value.report.errors) == 8  # type: ignore[attr-defined]
    assert not refused.value.report.committed  # type: ignore[attr-defined]
    for model in (Product, Variant, Category, Brand, StockLevel, StockMovement):
        assert not model.objects.exists(), model
    assert not AuditLog.objects.filter(action="catalog.import").exists()


def test_duplicates_against_other_products_in_the_database(cwb):
    VariantFactory(sku="OLD-1", product__handle="old-product")
    other = VariantFactory(sku="OLD-2", product__handle="older-product")
    other.barcodes.create(code="4890000000028")
    data = csv_bytes(
        [
            ["handle", "name_en", "sku", "barcodes", "price"],
            ["new-one", "New", "old-1", "", "10"],
            ["new-two", "New two", "NEW-2", "4890000000028", "10"],
        ]
    )

    report = catalog_import(data=data, filename="dupes.csv")

    assert [(e.row, e.code, e.message) for e in report.errors] == [
        (2, "duplicate_sku", "SKU old-1 is already used by product old-product."),
        (3, "duplicate_barcode", "Barcode 4890000000028 is already used by SKU OLD-2."),
    ]
    assert sorted((d.kind, d.value, d.used_by) for d in report.duplicates) == [
        ("barcode", "4890000000028", "OLD-2"),
        ("sku", "old-1", "old-product"),
    ]


def test_options_cannot_change_while_skus_of_the_product_are_left_out(cwb):
    VariantFactory(sku="TEE-S", option_values={"Size": "S"}, product__handle="tee")
    VariantFactory(sku="TEE-M", option_values={"Size": "M"}, product=Product.objects.get(handle="tee"))
    data = csv_bytes(
        [
            [
                "handle",
                "name_en",
                "option1_name",
                "option1_value",
                "option2_name",
                "option2_value",
                "sku",
                "price",
            ],
            ["tee", "Tee", "Size", "S", "Colour", "Red", "TEE-S", "100"],
        ]
    )

    report = catalog_import(data=data, filename="tee.csv")

    assert [(e.row, e.code) for e in report.errors] == [(2, "options_changed")]
    assert "TEE-M" in report.errors[0].message


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "empty.csv", "The file is empty."),
        (b"foo,bar\n1,2\n", "other.csv", "The columns match no known format"),
        (b"PK\x03\x04not really a workbook", "broken.xlsx", "not a valid Excel workbook"),
    ],
)
def test_unreadable_files_are_refused(data, filename, message):
    with pytest.raises(ImportRefused) as refused:
        catalog_import(data=data, filename=filename)
    assert message in str(refused.value.message)


def test_unknown_location_column_is_an_error(cwb):
    data = csv_bytes([["handle", "name_en", "sku", "price", "stock:XX"], ["tee", "Tee", "TEE-1", "10", "3"]])

    report = catalog_import(data=data, filename="x.csv")

    assert [(e.row, e.code, e.column) for e in report.errors] == [(1, "unknown_location", "stock:XX")]
