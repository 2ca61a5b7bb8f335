"""The ledger: movements immutable in PostgreSQL itself, CHECK constraints on rows, stock_verify proves it."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from inventory.models import StockLevel, StockMovement
from inventory.selectors import stock_verify
from inventory.services import (
    StockLine,
    TransferItem,
    reservation_consume,
    stock_count_open,
    stock_count_post,
    stock_count_record,
    stock_reserve,
    stock_sell,
    stock_write_off,
    transfer_approve,
    transfer_receive,
    transfer_request,
    transfer_ship,
)
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import receive

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def busy_day(variant, cwb, mk, warehouse, owner) -> None:
    """One of everything that moves stock, so stock_verify has a real ledger to check."""
    receive(variant, warehouse, 20)
    receive(variant, cwb, 10, reference="PO-2")
    stock_sell(lines=[StockLine(variant, cwb.pk, 2)], actor=owner, reference="CWB-1")
    (hold,) = stock_reserve(lines=[StockLine(variant, cwb.pk, 3)], source="staff_hold", actor=owner)
    reservation_consume(reservation_ids=[hold.pk], actor=owner, reference="CWB-2")
    stock_reserve(lines=[StockLine(variant, cwb.pk, 1)], source="web_checkout", actor=owner)
    stock_write_off(variant=variant, location_id=cwb.pk, qty=1, actor=owner, reason="torn")
    transfer = transfer_request(
        source_id=warehouse.pk, destination_id=mk.pk, items=[TransferItem(variant, 6)], actor=owner
    )
    transfer_approve(transfer_id=transfer.pk, actor=owner)
    transfer_ship(transfer_id=transfer.pk, actor=owner)
    transfer_receive(transfer_id=transfer.pk, actor=owner, quantities={variant.pk: 5})
    count = stock_count_open(location_id=mk.pk, actor=owner)
    stock_count_record(count_id=count.pk, variant=variant, qty=4, actor=owner, mode="set")
    stock_count_post(count_id=count.pk, actor=owner)


def test_updating_a_movement_is_refused_by_postgresql(variant, cwb, stocked):
    stocked(5)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        StockMovement.objects.update(quantity=50)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        movement = StockMovement.objects.get()
        movement.reason = "edited"
        movement.save()
    with (
        pytest.raises(IntegrityError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE inventory_stockmovement SET reference = 'x'")
    assert StockMovement.objects.get().quantity == 5


def test_deleting_a_movement_is_refused_by_postgresql(variant, cwb, stocked):
    stocked(5)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        StockMovement.objects.all().delete()
    with (
        pytest.raises(IntegrityError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM inventory_stockmovement")
    assert StockMovement.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "constraint"),
    [("on_hand", "stock_on_hand_not_negative"), ("reserved", "stock_reserved_not_negative")],
)
def test_stock_rows_cannot_go_negative(variant, cwb, stocked, field, constraint):
    stocked(2)
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        StockLevel.objects.update(**{field: F(field) - 3})
    assert StockLevel.objects.values_list("on_hand", "reserved").get() == (2, 0)


def test_one_stock_row_per_sku_and_location(variant, cwb, stocked):
    stocked(2)
    with pytest.raises(IntegrityError, match="stock_unique_per_location"), transaction.atomic():
        StockLevel.objects.create(variant=variant, location=cwb)


def test_a_movement_of_nothing_or_below_zero_is_refused(variant, cwb):
    for quantity, on_hand_after in ((0, 0), (-1, -1)):
        with pytest.raises(IntegrityError), transaction.atomic():
            StockMovement.objects.create(
                variant=variant, location=cwb, kind="damage", quantity=quantity, on_hand_after=on_hand_after
            )


def test_stock_verify_passes_after_a_busy_day(variant, cwb, mk, warehouse, owner):
    busy_day(variant, cwb, mk, warehouse, owner)
    checked, problems = stock_verify()
    assert (checked, problems) == (3, [])
    out = StringIO()
    call_command("stock_verify", stdout=out)
    assert out.getvalue().strip() == "stock_verify: OK, 3 stock rows agree with the ledger"


def test_stock_verify_fails_when_a_row_is_tampered_with(variant, cwb, mk, warehouse, owner):
    busy_day(variant, cwb, mk, warehouse, owner)
    StockLevel.objects.filter(variant=variant, location=cwb).update(on_hand=F("on_hand") + 1)
    StockLevel.objects.filter(variant=variant, location=mk).update(reserved=2)
    _checked, problems = stock_verify()
    assert [(p.problem, p.location_id, p.recorded, p.computed) for p in problems] == [
        ("on_hand", cwb.pk, 5, 4),
        ("reserved", mk.pk, 2, 0),
    ]
    err = StringIO()
    with pytest.raises(CommandError, match=r"stock_verify: 2 problem\(s\) in 3 stock rows"):
        call_command("stock_verify", stderr=err)
    assert f"on_hand: variant {variant.pk} at location {cwb.pk}: recorded 5, computed 4" in err.getvalue()


def test_stock_verify_finds_movements_without_a_row(variant, cwb, stocked):
    stocked(3)
    other = VariantFactory(sku="X-1", option_values={"Size": "X"})
    with connection.cursor() as cursor:  # a movement written behind the ledger's back
        cursor.execute(
            "INSERT INTO inventory_stockmovement (variant_id, location_id, kind, quantity, on_hand_after,"
            " reason, reference, actor_label, created_at)"
            " VALUES (%s, %s, 'receive', 2, 2, '', '', '', now())",
            [other.pk, cwb.pk],
        )
    assert [(p.problem, p.variant_id, p.computed) for p in stock_verify()[1]] == [
        ("no_stock_row", other.pk, 2)
    ]


def run_stock_verify() -> subprocess.CompletedProcess:
    # The suite's database under the URL the suite was given (its host may be a Unix-socket folder, as with
    # the embedded PostgreSQL of `make test`), with the test database's name in place of the configured one.
    url = urlsplit(os.environ.get("DATABASE_URL", "postgresql:///omo"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "stock_verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_stock_verify_exit_code(variant, cwb, mk, warehouse, owner):
    """What a cron job or CI sees: 0 when the ledger adds up, non-zero (and why on stderr) when not."""
    busy_day(variant, cwb, mk, warehouse, owner)
    result = run_stock_verify()
    assert result.returncode == 0, result.stderr
    assert "OK, 3 stock rows" in result.stdout
    StockLevel.objects.filter(variant=variant, location=warehouse).update(on_hand=F("on_hand") - 1)
    result = run_stock_verify()
    assert result.returncode == 1
    assert "on-hand differs from the sum of its movements" in result.stderr
    assert "1 problem(s) in 3 stock rows" in result.stderr
