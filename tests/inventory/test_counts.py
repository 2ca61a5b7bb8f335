"""Stock counts: scan, type, undo; several staff at once; the variance report; posting in one go."""

import threading

import pytest
from django.db import connection

from inventory.exceptions import StockCountClosed
from inventory.models import CountStatus, StockCountLine, StockMovement
from inventory.selectors import stock_count_variance, stock_verify
from inventory.services import (
    StockLine,
    stock_count_cancel,
    stock_count_open,
    stock_count_post,
    stock_count_record,
    stock_reserve,
)
from omo.errors import BranchAccessDenied, NotFound, PermissionDenied, ValidationFailed
from omo.models import AuditLog
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level, movements, receive, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def tee(db):
    return VariantFactory(sku="TEE-S", option_values={"Size": "S"})


@pytest.fixture
def sheet(cwb, cwb_cashier):
    return stock_count_open(location_id=cwb.pk, actor=cwb_cashier, note="monthly")


def scan(count, variant, actor, qty=1, mode="add"):
    return stock_count_record(count_id=count.pk, variant=variant, qty=qty, actor=actor, mode=mode)


def test_open_is_audited(sheet, cwb, cwb_cashier):
    assert (sheet.status, sheet.full, sheet.note, sheet.created_by) == ("open", False, "monthly", cwb_cashier)
    assert str(sheet) == f"SC-{sheet.pk:06d}"
    entry = AuditLog.objects.get(action="stock_count.open")
    assert entry.branch == cwb and entry.after == {"full": False}


def test_scan_set_and_undo(sheet, variant, cwb_cashier):
    assert [scan(sheet, variant, cwb_cashier) for _ in range(3)] == [1, 2, 3]
    assert scan(sheet, variant, cwb_cashier, 7, mode="set") == 7
    assert scan(sheet, variant, cwb_cashier, -1) == 6
    line = StockCountLine.objects.get()
    assert (line.counted, line.counted_by, line.expected) == (6, cwb_cashier, None)


def test_undo_below_zero_is_refused(sheet, variant, tee, cwb_cashier):
    scan(sheet, variant, cwb_cashier)
    with pytest.raises(ValidationFailed):
        scan(sheet, variant, cwb_cashier, -2)
    assert StockCountLine.objects.get().counted == 1
    # A correction of a SKU nobody has counted yet is refused too, and leaves no line behind.
    with pytest.raises(ValidationFailed):
        scan(sheet, tee, cwb_cashier, -1)
    assert list(StockCountLine.objects.values_list("variant__sku", "counted")) == [("DRS-001-M", 1)]


@pytest.mark.parametrize(("qty", "mode"), [(-1, "set"), (1.5, "add"), ("3", "set"), (1, "replace")])
def test_bad_records_are_refused(sheet, variant, cwb_cashier, qty, mode):
    with pytest.raises(ValidationFailed):
        scan(sheet, variant, cwb_cashier, qty, mode=mode)
    assert not StockCountLine.objects.exists()


def test_record_refusals(sheet, variant, mk, cwb_cashier, cwb_manager):
    untracked = VariantFactory(sku="BAG", option_values={"Size": "-"}, track_inventory=False)
    with pytest.raises(ValidationFailed):
        scan(sheet, untracked, cwb_cashier)
    mk_cashier = staff("mk-cashier", "cashier", mk)
    with pytest.raises(BranchAccessDenied):
        scan(sheet, variant, mk_cashier)
    with pytest.raises(NotFound):
        stock_count_record(count_id=424242, variant=variant, qty=1, actor=cwb_cashier)
    stock_count_cancel(count_id=sheet.pk, actor=cwb_manager)
    with pytest.raises(StockCountClosed):
        scan(sheet, variant, cwb_cashier)
    assert not StockCountLine.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_several_staff_counting_at_once_lose_no_scan(sheet, variant, tee, cwb, cwb_cashier):
    counters = [cwb_cashier] + [staff(f"counter-{n}", "cashier", cwb) for n in range(3)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(counters))

    def count(actor) -> None:
        try:
            start.wait(10)
            for _ in range(25):
                scan(sheet, variant, actor)
                scan(sheet, tee, actor)
            scan(sheet, tee, actor, -1)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=count, args=(actor,)) for actor in counters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert dict(StockCountLine.objects.values_list("variant__sku", "counted")) == {
        "DRS-001-M": 100,
        "TEE-S": 96,
    }


def test_variance_report_and_posting(sheet, variant, tee, cwb, stocked, cwb_cashier, cwb_manager):
    stocked(10)
    stocked(4, of=tee)
    third = VariantFactory(sku="TEE-M", option_values={"Size": "M"})
    stocked(5, of=third)
    stock_reserve(lines=[StockLine(variant, cwb.pk, 2)], source="staff_hold", actor="test")
    scan(sheet, variant, cwb_cashier, 8, mode="set")
    scan(sheet, tee, cwb_cashier, 4, mode="set")
    report = stock_count_variance(sheet)
    assert [(r["sku"], r["counted"], r["expected"], r["variance"]) for r in report] == [
        ("DRS-001-M", 8, 10, -2),
        ("TEE-S", 4, 4, 0),
    ]  # a partial count: TEE-M was not counted and is left alone

    posted = stock_count_post(count_id=sheet.pk, actor=cwb_manager)
    assert posted.status == CountStatus.POSTED and posted.posted_by == cwb_manager and posted.posted_at
    assert level(variant, cwb) == (8, 2) and level(tee, cwb) == (4, 0) and level(third, cwb) == (5, 0)
    assert movements(variant, cwb)[-1] == ("count_adjustment", -2, 8)
    assert movements(tee, cwb) == [("receive", 4, 4)]  # no variance, no movement
    adjustment = StockMovement.objects.get(kind="count_adjustment")
    assert adjustment.reference == str(sheet) and adjustment.reason == f"Stock count {sheet}"
    assert adjustment.actor == cwb_manager
    assert dict(StockCountLine.objects.values_list("variant__sku", "expected")) == {
        "DRS-001-M": 10,
        "TEE-S": 4,
    }
    entry = AuditLog.objects.get(action="stock_count.post")
    assert entry.after == {"lines": 2, "variances": {str(variant.pk): -2}}

    # The report keeps the figures of the posting, whatever happens to the stock afterwards.
    receive(variant, cwb, 5)
    assert [(r["sku"], r["expected"], r["variance"]) for r in stock_count_variance(sheet)] == [
        ("DRS-001-M", 10, -2),
        ("TEE-S", 4, 0),
    ]
    assert stock_verify()[1] == []


def test_full_count_zeroes_what_nobody_counted(cwb, variant, tee, stocked, cwb_cashier, cwb_manager, mk):
    stocked(10)
    stocked(3, of=tee)
    stocked(6, at=mk)  # another location: not this count's business
    never_stocked = VariantFactory(sku="TEE-XL", option_values={"Size": "XL"})
    count = stock_count_open(location_id=cwb.pk, actor=cwb_cashier, full=True)
    scan(count, variant, cwb_cashier, 9, mode="set")
    scan(count, never_stocked, cwb_cashier, 1)  # found one that the books did not know about
    assert [(r["sku"], r["counted"], r["expected"]) for r in stock_count_variance(count)] == [
        ("DRS-001-M", 9, 10),
        ("TEE-S", 0, 3),
        ("TEE-XL", 1, 0),
    ]
    stock_count_post(count_id=count.pk, actor=cwb_manager)
    assert (level(variant, cwb), level(tee, cwb), level(never_stocked, cwb)) == ((9, 0), (0, 0), (1, 0))
    assert level(variant, mk) == (6, 0)
    assert movements(tee, cwb)[-1] == ("count_adjustment", -3, 0)
    assert movements(never_stocked, cwb) == [("count_adjustment", 1, 1)]
    assert dict(StockCountLine.objects.values_list("variant__sku", "counted")) == {
        "DRS-001-M": 9,
        "TEE-S": 0,
        "TEE-XL": 1,
    }
    assert stock_verify()[1] == []


def test_posting_twice_is_refused(sheet, variant, cwb, stocked, cwb_cashier, cwb_manager):
    stocked(10)
    scan(sheet, variant, cwb_cashier, 9, mode="set")
    stock_count_post(count_id=sheet.pk, actor=cwb_manager)
    with pytest.raises(StockCountClosed):
        stock_count_post(count_id=sheet.pk, actor=cwb_manager)
    with pytest.raises(StockCountClosed):
        stock_count_cancel(count_id=sheet.pk, actor=cwb_manager)
    assert (
        level(variant, cwb) == (9, 0) and StockMovement.objects.filter(kind="count_adjustment").count() == 1
    )


def test_only_a_manager_of_the_branch_posts(sheet, variant, cwb, stocked, cwb_cashier, mk_manager):
    stocked(10)
    scan(sheet, variant, cwb_cashier, 1, mode="set")
    with pytest.raises(PermissionDenied) as error:
        stock_count_post(count_id=sheet.pk, actor=cwb_cashier)
    assert str(error.value) == "Only a manager may do this."
    with pytest.raises(BranchAccessDenied):
        stock_count_post(count_id=sheet.pk, actor=mk_manager)
    with pytest.raises(PermissionDenied):
        stock_count_cancel(count_id=sheet.pk, actor=cwb_cashier)
    sheet.refresh_from_db()
    assert sheet.status == CountStatus.OPEN and level(variant, cwb) == (10, 0)
    with pytest.raises(NotFound):
        stock_count_post(count_id=424242, actor=mk_manager)


def test_cancel(sheet, variant, cwb, stocked, cwb_cashier, cwb_manager):
    stocked(10)
    scan(sheet, variant, cwb_cashier, 1, mode="set")
    stock_count_cancel(count_id=sheet.pk, actor=cwb_manager)
    sheet.refresh_from_db()
    assert sheet.status == CountStatus.CANCELLED and level(variant, cwb) == (10, 0)
    assert AuditLog.objects.filter(action="stock_count.cancel").count() == 1
    with pytest.raises(StockCountClosed):
        stock_count_post(count_id=sheet.pk, actor=cwb_manager)


@pytest.mark.django_db(transaction=True)
def test_counters_do_not_wait_for_each_other_but_the_posting_waits_for_them(
    sheet, variant, tee, cwb, cwb_cashier, cwb_manager
):
    from django.db import OperationalError, transaction

    receive(variant, cwb, 3)
    scanning, finish = threading.Event(), threading.Event()

    def slow_counter() -> None:
        try:
            with transaction.atomic():  # a counter whose transaction is still open
                scan(sheet, variant, cwb_cashier)
                scanning.set()
                finish.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_counter)
    thread.start()
    try:
        assert scanning.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
        assert scan(sheet, tee, cwb_cashier) == 1  # a second counter goes straight on
        with pytest.raises(OperationalError, match="lock timeout"):
            stock_count_post(count_id=sheet.pk, actor=cwb_manager)  # the posting waits for the first
    finally:
        finish.set()
        thread.join(10)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    stock_count_post(count_id=sheet.pk, actor=cwb_manager)
    assert dict(StockCountLine.objects.values_list("variant__sku", "expected")) == {
        "DRS-001-M": 3,
        "TEE-S": 0,
    }
    assert level(variant, cwb) == (1, 0) and level(tee, cwb) == (1, 0)
