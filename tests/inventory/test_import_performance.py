"""A 5,000-row file checks (dry run) in well under a minute: bulk queries, not one per row."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.imports.services import catalog_import
from tests.inventory.import_helpers import csv_bytes

pytestmark = pytest.mark.django_db
SIZES = ("XS", "S", "M", "L", "XL")


def big_file(products: int) -> bytes:
    header = [
        "handle",
        "name_en",
        "name_zh_hant",
        "category",
        "brand",
        "tags",
        "status",
        "option1_name",
        "option1_value",
        "sku",
        "barcodes",
        "price",
        "compare_at_price",
        "image_urls",
        "stock:CWB",
        "stock:MK",
    ]
    rows = [header]
    for n in range(products):
        for i, size in enumerate(SIZES):
            rows.append(
                [
                    f"product-{n}",
                    f"Product {n}",
                    f"產品{n}",
                    f"Clothing > Group {n % 20}",
                    f"Brand {n % 50}",
                    "new, sale",
                    "active",
                    "Size",
                    size,
                    f"P{n:05d}-{size}",
                    f"489{n:06d}{i:04d}",
                    "199.90",
                    "259",
                    f"https://img.example.com/{n}.jpg",
                    str(n % 7),
                    str(i),
                ]
            )
    return csv_bytes(rows)


def test_five_thousand_rows(cwb, mk):
    data = big_file(1000)

    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        report = catalog_import(data=data, filename="big.csv")
    dry_run = time.monotonic() - started

    assert report.errors == [] and report.variants.created == 5000
    assert dry_run < 30, dry_run
    # A few per new brand and category (70 here), none per row: one per row would be 5,000 or more.
    assert len(queries) < 500, len(queries)

    catalog_import(data=data, filename="big.csv", commit=True)
    started = time.monotonic()
    report = catalog_import(data=data, filename="big.csv")
    again = time.monotonic() - started
    assert report.variants.unchanged == 5000 and not report.changed
    assert again < 30, again
    print(f"5000 rows: dry run {dry_run:.1f}s on an empty catalogue, {again:.1f}s against itself")
