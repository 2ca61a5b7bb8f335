"""Stock writes: receive, adjust, write off, return, sell; who, where, why and a reference on each change."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from djmoney.money import Money

from catalog.models import Variant
from inventory.exceptions import InsufficientStock
from inventory.models import Reservation, ReservationStatus, StockLevel, StockMovement
from inventory.selectors import stock_verify
from inventory.services import (
    ReceiveLine,
    StockLine,
    stock_adjust,
    stock_receive,
    stock_reserve,
    stock_return,
    stock_sell,
    stock_write_off,
)
from omo.errors import BranchAccessDenied, PermissionDenied, ValidationFailed
from omo.models import AuditLog
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level, movements, receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def untracked(db: None) -> Variant:
    return VariantFactory(sku="GIFT-WRAP", option_values={"Size": "-"}, track_inventory=False)


@pytest.fixture
def backorder(db: None) -> Variant:
    return VariantFactory(sku="PRE-001", option_values={"Size": "M"}, allow_backorder=True)


def written() -> tuple[int, int, int]:
    return StockLevel.objects.count(), StockMovement.objects.count(), AuditLog.objects.count()


# --- Receive ------------------------------------------------------------------------------------------------


def test_receive_writes_a_movement_with_who_why_cost_and_reference(variant, cwb, cwb_cashier):
    stock_receive(
        location_id=cwb.pk,
        lines=[ReceiveLine(variant, 12, "HK$52.50")],
        actor=cwb_cashier,
        reference=" DN-2024-001 ",
        reason="Spring delivery",
    )
    assert level(variant, cwb) == (12, 0)
    movement = StockMovement.objects.get()
    assert (movement.kind, movement.quantity, movement.on_hand_after) == ("receive", 12, 12)
    assert movement.unit_cost == Money("52.50", "HKD")
    assert movement.reference == "DN-2024-001" and movement.reason == "Spring delivery"
    assert movement.actor == cwb_cashier and movement.actor_label == "cwb-cashier"
    assert movement.location == cwb and movement.variant == variant


def test_receive_adds_up_lines_of_one_sku_and_keeps_a_running_total(variant, cwb):
    receive(variant, cwb, 5)
    stock_receive(
        location_id=cwb.pk,
        lines=[ReceiveLine(variant, 2), ReceiveLine(variant, 3)],
        actor="supplier-import",
        reference="PO-2",
    )
    assert level(variant, cwb) == (10, 0)
    assert movements(variant, cwb) == [("receive", 5, 5), ("receive", 5, 10)]
    last = StockMovement.objects.order_by("id").last()
    assert last.actor is None and last.actor_label == "supplier-import" and last.unit_cost is None


@pytest.mark.parametrize(
    ("kwargs", "error_class"),
    [
        ({"reference": "  "}, ValidationFailed),
        ({"cost": "-1"}, ValidationFailed),
        ({"cost": "1.234"}, ValidationFailed),
        ({"qty": 0}, ValidationFailed),
        ({"qty": -3}, ValidationFailed),
    ],
)
def test_receive_refusals_write_nothing(variant, cwb, kwargs, error_class):
    before = written()
    with pytest.raises(error_class):
        stock_receive(
            location_id=cwb.pk,
            lines=[ReceiveLine(variant, kwargs.get("qty", 1), kwargs.get("cost", "10"))],
            actor="test",
            reference=kwargs.get("reference", "PO-9"),
        )
    assert written() == before


def test_receive_refuses_a_sku_that_tracks_no_stock(untracked, cwb):
    with pytest.raises(ValidationFailed) as error:
        stock_receive(location_id=cwb.pk, lines=[ReceiveLine(untracked, 1)], actor="test", reference="PO-1")
    assert error.value.extra["fields"] == {"GIFT-WRAP": "This SKU does not track stock."}
    assert written() == (0, 0, 0)


def test_receive_at_another_branch_or_as_a_customer_is_refused(variant, mk, cwb_cashier, customer):
    with pytest.raises(BranchAccessDenied):
        receive(variant, mk, 1, actor=cwb_cashier)
    with pytest.raises(PermissionDenied):
        receive(variant, mk, 1, actor=customer)
    assert written() == (0, 0, 0)


# --- Adjust -------------------------------------------------------------------------------------------------


def test_adjust_by_a_manager_is_a_movement_and_audited(variant, cwb, stocked, cwb_manager):
    stocked(10)
    row = stock_adjust(
        variant=variant, location_id=cwb.pk, actor=cwb_manager, reason=" found behind the counter ", delta=2
    )
    assert (row.on_hand, level(variant, cwb)) == (12, (12, 0))
    movement = StockMovement.objects.order_by("id").last()
    assert (movement.kind, movement.quantity, movement.on_hand_after) == ("count_adjustment", 2, 12)
    assert movement.reason == "found behind the counter" and movement.actor == cwb_manager
    entry = AuditLog.objects.get(action="stock.adjust")
    assert entry.actor == cwb_manager and entry.branch == cwb and entry.reason == "found behind the counter"
    assert entry.before == {"sku": "DRS-001-M", "on_hand": 10} and entry.after == {
        "sku": "DRS-001-M",
        "on_hand": 12,
    }
    stock_adjust(variant=variant, location_id=cwb.pk, actor=cwb_manager, reason="recount", on_hand=7)
    assert level(variant, cwb) == (7, 0)
    assert movements(variant, cwb)[-1] == ("count_adjustment", -5, 7)


def test_adjust_is_for_managers_only(variant, cwb, stocked, cwb_cashier, mk_manager):
    stocked(10)
    before = written()
    with pytest.raises(PermissionDenied) as error:
        stock_adjust(variant=variant, location_id=cwb.pk, actor=cwb_cashier, reason="oops", delta=-1)
    assert type(error.value) is PermissionDenied and str(error.value) == "Only a manager may do this."
    with pytest.raises(BranchAccessDenied):
        stock_adjust(variant=variant, location_id=cwb.pk, actor=mk_manager, reason="oops", delta=-1)
    assert written() == before and level(variant, cwb) == (10, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reason": "  ", "delta": 1}, "Please correct the highlighted fields."),
        ({"reason": "x"}, "Give either a change or the new on-hand figure."),
        ({"reason": "x", "delta": 1, "on_hand": 3}, "Give either a change or the new on-hand figure."),
        ({"reason": "x", "delta": -11}, "On-hand cannot go below zero (10 on hand)."),
        ({"reason": "x", "on_hand": -1}, "On-hand cannot go below zero (10 on hand)."),
    ],
)
def test_adjust_refusals_write_nothing(variant, cwb, stocked, cwb_manager, kwargs, message):
    stocked(10)
    before = written()
    with pytest.raises(ValidationFailed) as error:
        stock_adjust(variant=variant, location_id=cwb.pk, actor=cwb_manager, **kwargs)
    assert str(error.value) == message
    assert written() == before and level(variant, cwb) == (10, 0)


def test_adjust_refuses_a_sku_that_tracks_no_stock(untracked, cwb, cwb_manager):
    with pytest.raises(ValidationFailed):
        stock_adjust(variant=untracked, location_id=cwb.pk, actor=cwb_manager, reason="x", delta=1)
    assert written() == (0, 0, 0)


# --- Write off ----------------------------------------------------------------------------------------------


def test_write_off_is_a_damage_movement_and_audited(variant, cwb, stocked, cwb_cashier):
    stocked(10)
    row = stock_write_off(
        variant=variant,
        location_id=cwb.pk,
        qty=3,
        actor=cwb_cashier,
        reason="water damage",
        reference="INC-7",
    )
    assert row.on_hand == 7 and level(variant, cwb) == (7, 0)
    movement = StockMovement.objects.order_by("id").last()
    assert (movement.kind, movement.quantity, movement.on_hand_after) == ("damage", -3, 7)
    assert (movement.reason, movement.reference, movement.actor) == ("water damage", "INC-7", cwb_cashier)
    entry = AuditLog.objects.get(action="stock.write_off")
    assert entry.before["on_hand"] == 10 and entry.after["on_hand"] == 7 and entry.reason == "water damage"


def test_write_off_may_take_held_units_but_not_more_than_on_hand(variant, cwb, stocked, cwb_cashier):
    stocked(5)
    stock_reserve(lines=[StockLine(variant, cwb.pk, 4)], source="staff_hold", actor=cwb_cashier)
    stock_write_off(variant=variant, location_id=cwb.pk, qty=5, actor=cwb_cashier, reason="broken shelf")
    assert level(variant, cwb) == (0, 4)
    with pytest.raises(InsufficientStock) as error:
        stock_write_off(variant=variant, location_id=cwb.pk, qty=1, actor=cwb_cashier, reason="again")
    assert error.value.extra["items"][0]["available"] == 0


def test_write_off_refusals(variant, cwb, mk, stocked, cwb_cashier):
    stocked(5)
    before = written()
    with pytest.raises(ValidationFailed):
        stock_write_off(variant=variant, location_id=cwb.pk, qty=1, actor=cwb_cashier, reason=" ")
    with pytest.raises(ValidationFailed):
        stock_write_off(variant=variant, location_id=cwb.pk, qty=0, actor=cwb_cashier, reason="x")
    with pytest.raises(BranchAccessDenied):
        stock_write_off(variant=variant, location_id=mk.pk, qty=1, actor=cwb_cashier, reason="x")
    assert written() == before


def test_write_off_of_a_sku_that_tracks_no_stock_is_refused_cleanly(untracked, cwb, cwb_cashier):
    with pytest.raises(ValidationFailed):
        stock_write_off(variant=untracked, location_id=cwb.pk, qty=1, actor=cwb_cashier, reason="torn")


# --- Return -------------------------------------------------------------------------------------------------


def test_return_puts_units_back_where_chosen(variant, cwb, mk, stocked, cwb_cashier, untracked):
    stocked(2)
    stock_return(
        lines=[StockLine(variant, mk.pk, 1), StockLine(variant, cwb.pk, 1), StockLine(untracked, cwb.pk, 1)],
        actor=cwb_cashier,
        reference="CWB-000123",
        reason="wrong size",
    )
    assert level(variant, cwb) == (3, 0)
    assert level(variant, mk) == (1, 0)  # a row is made where there was none
    assert level(untracked, cwb) is None
    assert movements(variant, mk) == [("return", 1, 1)]
    movement = StockMovement.objects.filter(location=mk).get()
    assert (movement.reference, movement.reason, movement.actor) == ("CWB-000123", "wrong size", cwb_cashier)


# --- Sell ---------------------------------------------------------------------------------------------------


def test_sell_takes_units_off_with_a_sale_movement(variant, cwb, stocked, cwb_cashier):
    stocked(5)
    stock_sell(
        lines=[StockLine(variant, cwb.pk, 2), StockLine(variant, cwb.pk, 1)],
        actor=cwb_cashier,
        reference="CWB-000001",
    )
    assert level(variant, cwb) == (2, 0)
    assert movements(variant, cwb)[-1] == ("sale", -3, 2)
    assert StockMovement.objects.order_by("id").last().reference == "CWB-000001"


def test_insufficient_stock_names_every_short_line_and_sells_nothing(variant, cwb, mk, stocked, owner):
    other = VariantFactory(sku="TEE-L", option_values={"Size": "L"})
    stocked(3)
    stocked(1, of=other)
    stocked(9, at=mk)
    before = written()
    with pytest.raises(InsufficientStock) as error:
        stock_sell(
            lines=[
                StockLine(variant, cwb.pk, 5),
                StockLine(other, cwb.pk, 2),
                StockLine(variant, mk.pk, 4),  # enough: not in the list, not sold either
                StockLine(other, mk.pk, 1),  # no row at MK at all
            ],
            actor=owner,
        )
    assert error.value.http_status == 409 and error.value.code == "insufficient_stock"
    items = {
        (item["sku"], item["location"]): (item["requested"], item["available"])
        for item in error.value.extra["items"]
    }
    assert items == {
        ("DRS-001-M", "CWB"): (5, 3),
        ("TEE-L", "CWB"): (2, 1),
        ("TEE-L", "MK"): (1, 0),
    }
    assert "(2 more lines are short.)" in str(error.value)
    assert written() == before
    assert (level(variant, cwb), level(other, cwb), level(variant, mk)) == ((3, 0), (1, 0), (9, 0))


def test_sell_leaves_out_skus_that_track_no_stock(variant, cwb, stocked, untracked, owner):
    stocked(1)
    stock_sell(lines=[StockLine(untracked, cwb.pk, 5), StockLine(variant, cwb.pk, 1)], actor=owner)
    assert level(untracked, cwb) is None and level(variant, cwb) == (0, 0)
    assert not StockMovement.objects.filter(variant=untracked).exists()


@pytest.mark.parametrize("qty", [0, -1, True, 1.5, "2"])
def test_sell_refuses_bad_quantities(variant, cwb, stocked, owner, qty):
    stocked(5)
    with pytest.raises(ValidationFailed):
        stock_sell(lines=[StockLine(variant, cwb.pk, qty)], actor=owner)
    assert level(variant, cwb) == (5, 0)


def test_held_units_cannot_be_sold_until_the_hold_runs_out(variant, cwb, stocked, owner):
    stocked(3)
    (hold,) = stock_reserve(lines=[StockLine(variant, cwb.pk, 2)], source="staff_hold", actor=owner)
    with pytest.raises(InsufficientStock) as error:
        stock_sell(lines=[StockLine(variant, cwb.pk, 2)], actor=owner)
    assert error.value.extra["items"][0]["available"] == 1
    Reservation.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    stock_sell(lines=[StockLine(variant, cwb.pk, 3)], actor=owner)  # sweeps the timed-out hold first
    hold.refresh_from_db()
    assert hold.status == ReservationStatus.EXPIRED and level(variant, cwb) == (0, 0)
    assert stock_verify()[1] == []


# --- Backorder ----------------------------------------------------------------------------------------------


def test_backorder_sku_may_be_promised_beyond_stock_but_never_sold_below_zero(backorder, cwb, mk, owner):
    receive(backorder, cwb, 2)
    holds = stock_reserve(
        lines=[StockLine(backorder, cwb.pk, 5), StockLine(backorder, mk.pk, 1)],
        source="web_checkout",
        actor=owner,
    )
    assert [hold.qty for hold in holds] == [5, 1]
    assert level(backorder, cwb) == (2, 5)
    assert level(backorder, mk) == (0, 1)  # a row made to hold the promise
    # The shelf's two units may still be sold (they are promised to orders that wait for stock anyway) ...
    stock_sell(lines=[StockLine(backorder, cwb.pk, 2)], actor=owner)
    assert level(backorder, cwb) == (0, 5)
    # ... but nothing below zero on hand.
    with pytest.raises(InsufficientStock):
        stock_sell(lines=[StockLine(backorder, cwb.pk, 1)], actor=owner)
    assert stock_verify()[1] == []


def test_sku_without_backorder_cannot_be_promised_beyond_available(variant, cwb, stocked, owner):
    stocked(2)
    with pytest.raises(InsufficientStock) as error:
        stock_reserve(lines=[StockLine(variant, cwb.pk, 3)], source="web_checkout", actor=owner)
    assert error.value.extra["items"] == [
        {
            "sku": "DRS-001-M",
            "variant_id": variant.pk,
            "location": "CWB",
            "location_id": cwb.pk,
            "requested": 3,
            "available": 2,
        }
    ]
    assert level(variant, cwb) == (2, 0) and not Reservation.objects.exists()


def test_adjust_refuses_a_fractional_change(variant, cwb, stocked, cwb_manager):
    stocked(10)
    with pytest.raises(ValidationFailed):
        stock_adjust(variant=variant, location_id=cwb.pk, actor=cwb_manager, reason="x", delta=1.5)
    assert level(variant, cwb) == (10, 0)


def test_one_sku_on_two_lines_of_a_delivery_is_received_at_its_average_cost(variant, cwb, owner):
    stock_receive(
        location_id=cwb.pk,
        lines=[ReceiveLine(variant, 1, "10.00"), ReceiveLine(variant, 3, "20.00")],
        actor=owner,
        reference="PO-77",
    )
    movement = StockMovement.objects.get(reference="PO-77")
    assert (movement.quantity, movement.unit_cost.amount) == (4, Decimal("17.50"))
