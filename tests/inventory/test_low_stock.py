"""Reorder points, low-stock alerts once per crossing, and what to replenish from where."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import LowStockAlert, Reservation
from inventory.selectors import low_stock_alerts_list, replenishment_list
from inventory.services import StockLine, low_stock_check, stock_reorder_set, stock_reserve, stock_sell
from omo.errors import BranchAccessDenied, PermissionDenied, ValidationFailed
from omo.models import AuditLog, OutboxMessage
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level, receive

pytestmark = pytest.mark.django_db


def low_events() -> list[dict]:
    return [
        message.kwargs["payload"]
        for message in OutboxMessage.objects.filter(task_name="omo.tasks.event_publish_task").order_by("pk")
        if message.kwargs["topic"] == "stock.low"
    ]


def sell(variant, location, qty) -> None:
    stock_sell(lines=[StockLine(variant, location.pk, qty)], actor="test")


def test_reorder_set_by_a_manager_is_audited(variant, cwb, cwb_manager):
    row = stock_reorder_set(
        variant=variant, location_id=cwb.pk, actor=cwb_manager, reorder_point=3, reorder_qty=10
    )
    assert (row.reorder_point, row.reorder_qty, level(variant, cwb)) == (3, 10, (0, 0))
    entry = AuditLog.objects.get(action="stock.reorder_set")
    assert entry.before == {"reorder_point": None, "reorder_qty": None}
    assert entry.after == {"reorder_point": 3, "reorder_qty": 10} and entry.branch == cwb


def test_reorder_set_refusals(variant, cwb, cwb_cashier, mk_manager, cwb_manager):
    with pytest.raises(PermissionDenied):
        stock_reorder_set(
            variant=variant, location_id=cwb.pk, actor=cwb_cashier, reorder_point=3, reorder_qty=10
        )
    with pytest.raises(BranchAccessDenied):
        stock_reorder_set(
            variant=variant, location_id=cwb.pk, actor=mk_manager, reorder_point=3, reorder_qty=10
        )
    with pytest.raises(ValidationFailed) as error:
        stock_reorder_set(
            variant=variant, location_id=cwb.pk, actor=cwb_manager, reorder_point=-1, reorder_qty=0
        )
    assert set(error.value.extra["fields"]) == {"reorder_point", "reorder_qty"}
    assert level(variant, cwb) is None and not AuditLog.objects.exists()


def test_alert_once_per_crossing(variant, cwb, stocked, cwb_manager):
    stocked(10)
    stock_reorder_set(variant=variant, location_id=cwb.pk, actor=cwb_manager, reorder_point=3, reorder_qty=12)
    assert low_stock_check() == (0, 0)
    sell(variant, cwb, 7)  # 3 left: at the point
    assert low_stock_check() == (1, 0)
    assert low_events() == [
        {"sku": "DRS-001-M", "location": "CWB", "available": 3, "reorder_point": 3, "reorder_qty": 12}
    ]
    sell(variant, cwb, 1)
    for _ in range(3):  # still low: the one open alert stays, no new event
        assert low_stock_check() == (0, 0)
    assert LowStockAlert.objects.count() == 1 and len(low_events()) == 1
    alert = LowStockAlert.objects.get()
    assert (alert.available_at_raise, alert.reorder_point, alert.resolved_at) == (3, 3, None)

    receive(variant, cwb, 10)  # recovered: 12
    assert low_stock_check() == (0, 1)
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert low_stock_check() == (0, 0)

    sell(variant, cwb, 10)  # the next crossing: 2 left
    assert low_stock_check() == (1, 0)
    assert LowStockAlert.objects.count() == 2 and LowStockAlert.objects.filter(resolved_at=None).count() == 1
    assert [event["available"] for event in low_events()] == [3, 2]


def test_holds_count_and_timed_out_holds_do_not(variant, cwb, stocked, cwb_manager):
    stocked(10)
    stock_reorder_set(variant=variant, location_id=cwb.pk, actor=cwb_manager, reorder_point=3, reorder_qty=5)
    (hold,) = stock_reserve(lines=[StockLine(variant, cwb.pk, 8)], source="staff_hold", actor="test")
    assert low_stock_check() == (1, 0)  # 2 available
    # Past its time the hold's units are free again (availability says so at once), so the row has recovered
    # even before the expiry task sweeps it: no alert stays open, none is raised again on the next run.
    Reservation.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert low_stock_check() == (0, 1)
    assert low_stock_check() == (0, 0)
    assert replenishment_list() == []


def test_untracked_skus_and_rows_without_a_point_raise_nothing(variant, cwb, stocked, cwb_manager):
    untracked = VariantFactory(sku="BAG", option_values={"Size": "-"}, track_inventory=False)
    stock_reorder_set(
        variant=untracked, location_id=cwb.pk, actor=cwb_manager, reorder_point=5, reorder_qty=5
    )
    stocked(1)
    assert low_stock_check() == (0, 0)
    assert replenishment_list() == []


def test_alerts_list_scoped_to_branch(variant, cwb, mk, stocked, cwb_manager, mk_manager, owner):
    stocked(1)
    stocked(1, at=mk)
    stock_reorder_set(variant=variant, location_id=cwb.pk, actor=cwb_manager, reorder_point=2, reorder_qty=5)
    stock_reorder_set(variant=variant, location_id=mk.pk, actor=mk_manager, reorder_point=2, reorder_qty=5)
    assert low_stock_check() == (2, 0)
    assert [a.stock.location.code for a in low_stock_alerts_list(cwb_manager)] == ["CWB"]
    assert sorted(a.stock.location.code for a in low_stock_alerts_list(owner)) == ["CWB", "MK"]


# --- Replenishment ------------------------------------------------------------------------------------------


@pytest.fixture
def low_at_branches(variant, cwb, mk, warehouse, owner):
    """CWB has 1 (point 3, reorder 10); MK has 0 (point 2, no reorder quantity)."""
    receive(variant, cwb, 1)
    stock_reorder_set(variant=variant, location_id=cwb.pk, actor=owner, reorder_point=3, reorder_qty=10)
    stock_reorder_set(variant=variant, location_id=mk.pk, actor=owner, reorder_point=2, reorder_qty=None)


def suggestions():
    return [
        (
            s["location"],
            s["sku"],
            s["available"],
            s["suggested_qty"],
            s["transfer_from"],
            s["transfer_qty"],
            s["purchase_qty"],
        )
        for s in replenishment_list()
    ]


def test_replenish_by_transfer_when_the_warehouse_has_stock(low_at_branches, variant, warehouse):
    receive(variant, warehouse, 50)
    assert suggestions() == [
        ("CWB", "DRS-001-M", 1, 10, "KC", 10, 0),
        ("MK", "DRS-001-M", 0, 3, "KC", 3, 0),  # no reorder quantity: back above the point
    ]


def test_replenish_by_purchase_when_the_warehouse_has_none(low_at_branches, variant, warehouse):
    assert suggestions() == [
        ("CWB", "DRS-001-M", 1, 10, None, 0, 10),
        ("MK", "DRS-001-M", 0, 3, None, 0, 3),
    ]


def test_replenish_split_when_the_warehouse_has_some(low_at_branches, variant, warehouse, cwb):
    receive(variant, warehouse, 6)
    stock_reserve(lines=[StockLine(variant, warehouse.pk, 2)], source="web_checkout", actor="test")  # 4 free
    assert suggestions() == [
        ("CWB", "DRS-001-M", 1, 10, "KC", 4, 6),
        ("MK", "DRS-001-M", 0, 3, None, 0, 3),  # the warehouse's 4 free units are promised once
    ]
    assert replenishment_list(location_ids=[cwb.pk])[0]["location"] == "CWB"
    assert len(replenishment_list(location_ids=[cwb.pk])) == 1


def test_a_low_warehouse_is_replenished_by_purchase(variant, warehouse, owner):
    receive(variant, warehouse, 2)
    stock_reorder_set(variant=variant, location_id=warehouse.pk, actor=owner, reorder_point=5, reorder_qty=40)
    assert suggestions() == [("KC", "DRS-001-M", 2, 40, None, 0, 40)]


def test_what_is_on_its_way_is_taken_off_the_suggestion(low_at_branches, variant, warehouse, cwb, mk, owner):
    from inventory.services import TransferItem, transfer_approve, transfer_request, transfer_ship

    receive(variant, warehouse, 50)
    to_cwb = transfer_request(
        source_id=warehouse.pk, destination_id=cwb.pk, items=[TransferItem(variant, 6)], actor=owner
    )
    transfer_approve(transfer_id=to_cwb.pk, actor=owner)
    transfer_ship(transfer_id=to_cwb.pk, actor=owner)  # on the road: 6
    transfer_request(
        source_id=warehouse.pk, destination_id=mk.pk, items=[TransferItem(variant, 5)], actor=owner
    )
    rows = replenishment_list()
    assert [
        (r["location"], r["incoming"], r["suggested_qty"], r["transfer_qty"], r["purchase_qty"]) for r in rows
    ] == [
        ("CWB", 6, 4, 4, 0),
        ("MK", 5, 0, 0, 0),  # still low today, but what was asked for covers it
    ]
