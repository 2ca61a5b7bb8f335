import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Product
from inventory.models import StockMovement
from inventory.selectors import stock_verify
from tests.inventory.import_helpers import csv_bytes, sample

pytestmark = pytest.mark.django_db
APPAREL = "shopifypartners_apparel.csv"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def apparel(tmp_path):
    path = tmp_path / APPAREL
    path.write_bytes(sample(APPAREL))
    return str(path)


def test_dry_run_then_commit(apparel, warehouse):
    out, err = run("catalog_import", apparel, "--progress-every", "10")

    assert out.startswith("Dry run of shopifypartners_apparel.csv (shopify, 22 rows)")
    assert "Products: 20 created, 0 updated, 0 unchanged" in out
    assert err.splitlines() == ["10/22 rows", "20/22 rows", "22/22 rows"]
    assert not Product.objects.exists()

    out, _err = run("catalog_import", apparel, "--commit")

    assert out.startswith("Imported shopifypartners_apparel.csv")
    assert Product.objects.count() == 20
    assert StockMovement.objects.count() == 22
    assert stock_verify()[1] == []

    out, _err = run("catalog_import", apparel, "--commit", "--json")
    report = json.loads(out)
    assert (report["variants"], report["stock_changes"]) == (
        {"created": 0, "updated": 0, "unchanged": 22},
        [],
    )


def test_errors_exit_1(tmp_path, cwb):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes([["handle", "name_en", "sku", "price"], ["tee", "Tee", "TEE-1", "-5"]]))

    with pytest.raises(CommandError) as dry_run:
        run("catalog_import", str(path))
    assert dry_run.value.returncode == 1
    with pytest.raises(CommandError) as commit:
        run("catalog_import", str(path), "--commit")
    assert commit.value.returncode == 1
    assert not Product.objects.exists()

    out, _err = run("catalog_import", str(path), "--commit", "--skip-invalid")
    assert "Products left out because of errors: 1" in out


@pytest.mark.parametrize(
    "args",
    [["/no/such/file.csv"], ["{apparel}", "--location", "NOPE"]],
)
def test_bad_arguments_exit_2(apparel, warehouse, args):
    with pytest.raises(CommandError) as error:
        run("catalog_import", *[arg.format(apparel=apparel) for arg in args])
    assert error.value.returncode == 2


def test_export_and_reimport_through_the_commands(apparel, warehouse, tmp_path):
    run("catalog_import", apparel, "--commit")
    for name in ("catalog.csv", "catalog.xlsx"):
        output = tmp_path / name
        out, _err = run("catalog_export", "--output", str(output), "--location", "KC")
        assert out.startswith(f"Wrote {output}")

        out, _err = run("catalog_import", str(output), "--commit")

        assert "Products: 0 created, 0 updated, 20 unchanged" in out
        assert "Stock levels changed: 0" in out
    with pytest.raises(CommandError) as error:
        run("catalog_export", "--output", str(tmp_path / "catalog.pdf"))
    assert error.value.returncode == 2
