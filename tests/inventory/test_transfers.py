"""Transfers: request, approve, ship (in transit), receive (partly), cancel; audited at both ends."""

import pytest

from inventory.exceptions import InsufficientStock, TransferStateInvalid
from inventory.models import StockMovement, Transfer, TransferStatus
from inventory.selectors import availability_for_variant, stock_verify, transfers_list
from inventory.services import (
    TransferItem,
    transfer_approve,
    transfer_cancel,
    transfer_receive,
    transfer_request,
    transfer_ship,
)
from omo.errors import BranchAccessDenied, NotFound, PermissionDenied, ValidationFailed
from omo.models import AuditLog
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level, movements, receive, staff, tst_branch

pytestmark = pytest.mark.django_db


@pytest.fixture
def kc_manager(warehouse):
    return staff("kc-manager", "manager", warehouse)


@pytest.fixture
def kc_staff(warehouse):
    return staff("kc-staff", "cashier", warehouse)


@pytest.fixture
def mk_cashier(mk):
    return staff("mk-cashier", "cashier", mk)


@pytest.fixture
def other(db):
    return VariantFactory(sku="TEE-L", option_values={"Size": "L"})


@pytest.fixture
def requested(variant, other, warehouse, mk, mk_cashier):
    receive(variant, warehouse, 10)
    receive(other, warehouse, 4)
    return transfer_request(
        source_id=warehouse.pk,
        destination_id=mk.pk,
        items=[TransferItem(variant, 3), TransferItem(other, 2), TransferItem(variant, 2)],
        actor=mk_cashier,
        note="weekend restock",
    )


@pytest.fixture
def approved(requested, kc_manager):
    return transfer_approve(transfer_id=requested.pk, actor=kc_manager)


@pytest.fixture
def in_transit(approved, kc_staff):
    return transfer_ship(transfer_id=approved.pk, actor=kc_staff)


def lines(transfer):
    return {
        line.variant.sku: (line.qty_requested, line.qty_shipped, line.qty_received, line.discrepancy_note)
        for line in transfer.lines.select_related("variant")
    }


def available(variant, location):
    return next(
        r["available"] for r in availability_for_variant(variant.pk) if r["location_id"] == location.pk
    )


def test_full_cycle(requested, variant, other, warehouse, mk, mk_cashier, kc_manager, kc_staff):
    assert requested.status == TransferStatus.REQUESTED and requested.requested_by == mk_cashier
    assert requested.note == "weekend restock"
    assert lines(requested) == {"DRS-001-M": (5, 0, 0, ""), "TEE-L": (2, 0, 0, "")}

    transfer_approve(transfer_id=requested.pk, actor=kc_manager)
    requested.refresh_from_db()
    assert requested.status == TransferStatus.APPROVED and requested.approved_by == kc_manager
    assert level(variant, warehouse) == (10, 0)  # nothing moves on approval

    transfer_ship(transfer_id=requested.pk, actor=kc_staff)
    requested.refresh_from_db()
    assert requested.status == TransferStatus.IN_TRANSIT and requested.shipped_by == kc_staff
    assert lines(requested) == {"DRS-001-M": (5, 5, 0, ""), "TEE-L": (2, 2, 0, "")}
    # In transit: off the source, not yet at the destination.
    assert level(variant, warehouse) == (5, 0) and level(variant, mk) is None
    assert (available(variant, warehouse), available(variant, mk)) == (5, 0)
    out = StockMovement.objects.get(variant=variant, location=warehouse, kind="transfer_out")
    assert (out.quantity, out.on_hand_after, out.actor) == (-5, 5, kc_staff)
    assert (out.reference, out.reason) == (requested.number, "Transfer to MK")
    assert requested.number == f"TR-{requested.pk:06d}"

    transfer_receive(transfer_id=requested.pk, actor=mk_cashier)
    requested.refresh_from_db()
    assert requested.status == TransferStatus.RECEIVED and requested.received_by == mk_cashier
    assert lines(requested) == {"DRS-001-M": (5, 5, 5, ""), "TEE-L": (2, 2, 2, "")}
    assert level(variant, mk) == (5, 0) and level(other, mk) == (2, 0)
    assert movements(variant, mk) == [("transfer_in", 5, 5)]
    arrived = StockMovement.objects.get(variant=variant, location=mk)
    assert (arrived.reference, arrived.reason, arrived.actor) == (
        requested.number,
        "Transfer from KC",
        mk_cashier,
    )
    assert stock_verify()[1] == []


def test_every_step_is_audited_at_both_branches(in_transit, mk_cashier, warehouse, mk):
    transfer_receive(transfer_id=in_transit.pk, actor=mk_cashier)
    rows = AuditLog.objects.filter(object_type="inventory.Transfer", object_id=str(in_transit.pk))
    assert sorted(rows.values_list("action", "branch__code")) == sorted(
        (f"transfer.{step}", code)
        for step in ("request", "approve", "ship", "receive")
        for code in ("KC", "MK")
    )
    ship = rows.get(action="transfer.ship", branch=mk)
    assert ship.before["status"] == "approved" and ship.after["status"] == "in_transit"
    assert ship.after["lines"][0]["shipped"] == 5


def test_partial_receipt_then_close_records_the_discrepancy(in_transit, variant, other, mk, mk_cashier):
    transfer_receive(transfer_id=in_transit.pk, actor=mk_cashier, quantities={variant.pk: 3}, close=False)
    in_transit.refresh_from_db()
    assert in_transit.status == TransferStatus.IN_TRANSIT
    assert lines(in_transit) == {"DRS-001-M": (5, 5, 3, ""), "TEE-L": (2, 2, 0, "")}
    assert level(variant, mk) == (3, 0) and level(other, mk) in (None, (0, 0))
    transfer_receive(
        transfer_id=in_transit.pk,
        actor=mk_cashier,
        quantities={variant.pk: 1, other.pk: 2},
        notes={variant.pk: "box crushed, 1 missing"},
    )
    in_transit.refresh_from_db()
    assert in_transit.status == TransferStatus.RECEIVED
    assert lines(in_transit) == {"DRS-001-M": (5, 5, 4, "box crushed, 1 missing"), "TEE-L": (2, 2, 2, "")}
    assert level(variant, mk) == (4, 0) and level(other, mk) == (2, 0)
    assert movements(variant, mk) == [("transfer_in", 3, 3), ("transfer_in", 1, 4)]
    actions = AuditLog.objects.filter(branch=mk, action__startswith="transfer.receive")
    assert sorted(actions.values_list("action", flat=True)) == ["transfer.receive", "transfer.receive_part"]
    assert stock_verify()[1] == []


def test_close_without_a_note_says_how_many_did_not_arrive(in_transit, variant, other, mk_cashier):
    transfer_receive(transfer_id=in_transit.pk, actor=mk_cashier, quantities={variant.pk: 2})
    assert lines(in_transit) == {
        "DRS-001-M": (5, 5, 2, "3 not received"),
        "TEE-L": (2, 2, 0, "2 not received"),
    }


def test_ship_less_than_requested(approved, variant, other, warehouse, kc_staff, mk_cashier, mk):
    transfer_ship(transfer_id=approved.pk, actor=kc_staff, quantities={variant.pk: 4})
    assert lines(approved) == {"DRS-001-M": (5, 4, 0, ""), "TEE-L": (2, 0, 0, "")}
    assert level(variant, warehouse) == (6, 0) and level(other, warehouse) == (4, 0)
    transfer_receive(transfer_id=approved.pk, actor=mk_cashier)
    assert level(variant, mk) == (4, 0) and level(other, mk) is None
    assert lines(approved)["TEE-L"] == (2, 0, 0, "")


@pytest.mark.parametrize(
    "quantities",
    [
        lambda variant, other: {variant.pk: 6},  # more than requested
        lambda variant, other: {variant.pk: -1},
        lambda variant, other: {variant.pk: 0, other.pk: 0},
        lambda variant, other: {999999: 1},
    ],
)
def test_ship_refuses_bad_quantities(approved, variant, other, warehouse, kc_staff, quantities):
    with pytest.raises(ValidationFailed):
        transfer_ship(transfer_id=approved.pk, actor=kc_staff, quantities=quantities(variant, other))
    approved.refresh_from_db()
    assert approved.status == TransferStatus.APPROVED and level(variant, warehouse) == (10, 0)


def test_ship_short_of_stock_names_every_line_and_ships_nothing(
    approved, variant, other, warehouse, kc_staff
):
    from inventory.services import StockLine, stock_sell

    stock_sell(lines=[StockLine(variant, warehouse.pk, 8), StockLine(other, warehouse.pk, 3)], actor="test")
    with pytest.raises(InsufficientStock) as error:
        transfer_ship(transfer_id=approved.pk, actor=kc_staff)
    assert [(i["sku"], i["requested"], i["available"]) for i in error.value.extra["items"]] == [
        ("DRS-001-M", 5, 2),
        ("TEE-L", 2, 1),
    ]
    approved.refresh_from_db()
    assert approved.status == TransferStatus.APPROVED and level(variant, warehouse) == (2, 0)


def test_receive_refuses_more_than_in_transit(in_transit, variant, mk, mk_cashier):
    for quantities in ({variant.pk: 6}, {variant.pk: -1}, {424242: 1}):
        with pytest.raises(ValidationFailed):
            transfer_receive(transfer_id=in_transit.pk, actor=mk_cashier, quantities=quantities)
    transfer_receive(transfer_id=in_transit.pk, actor=mk_cashier, quantities={variant.pk: 5}, close=False)
    with pytest.raises(ValidationFailed):
        transfer_receive(transfer_id=in_transit.pk, actor=mk_cashier, quantities={variant.pk: 1}, close=False)
    assert level(variant, mk) == (5, 0)


# --- Cancel -------------------------------------------------------------------------------------------------


def test_cancel_before_shipping_by_the_requester(requested, variant, warehouse, mk_cashier):
    transfer_cancel(transfer_id=requested.pk, actor=mk_cashier, reason=" not needed ")
    requested.refresh_from_db()
    assert requested.status == TransferStatus.CANCELLED and requested.cancelled_by == mk_cashier
    assert requested.cancel_reason == "not needed" and requested.cancelled_at is not None
    assert level(variant, warehouse) == (10, 0)
    assert not StockMovement.objects.filter(kind__startswith="transfer").exists()
    assert AuditLog.objects.filter(action="transfer.cancel", reason="not needed").count() == 2


def test_cancel_approved_by_a_manager_of_either_end(approved, mk_manager, kc_manager, requested, mk_cashier):
    transfer_cancel(transfer_id=approved.pk, actor=mk_manager, reason="found stock at TST")
    approved.refresh_from_db()
    assert approved.status == TransferStatus.CANCELLED


def test_cancel_before_shipping_permissions(requested, warehouse, mk, kc_staff, cwb_manager, cwb_cashier):
    """Not the requester: a manager of one of the two ends. A cashier at the source is not enough, and staff
    of an unrelated branch are refused before they learn anything about the transfer."""
    with pytest.raises(PermissionDenied) as error:
        transfer_cancel(transfer_id=requested.pk, actor=kc_staff, reason="x")
    assert str(error.value) == "Only a manager may do this."
    with pytest.raises(BranchAccessDenied):
        transfer_cancel(transfer_id=requested.pk, actor=cwb_manager, reason="x")
    with pytest.raises(PermissionDenied):
        transfer_cancel(transfer_id=requested.pk, actor=cwb_cashier, reason="x")
    requested.refresh_from_db()
    assert requested.status == TransferStatus.REQUESTED


def test_cancel_in_transit_brings_the_goods_back_to_the_source(
    in_transit, variant, other, warehouse, mk, kc_manager, mk_manager, mk_cashier
):
    for refused in (mk_manager, mk_cashier):  # the destination cannot call back goods on the road
        with pytest.raises(PermissionDenied):
            transfer_cancel(transfer_id=in_transit.pk, actor=refused, reason="x")
    transfer_receive(transfer_id=in_transit.pk, actor=mk_cashier, quantities={variant.pk: 2}, close=False)
    transfer_cancel(transfer_id=in_transit.pk, actor=kc_manager, reason="van broke down")
    in_transit.refresh_from_db()
    assert in_transit.status == TransferStatus.CANCELLED
    # 2 arrived at MK and stay; 3 + 2 come back to KC.
    assert level(variant, mk) == (2, 0)
    assert level(variant, warehouse) == (8, 0) and level(other, warehouse) == (4, 0)
    back = StockMovement.objects.filter(location=warehouse, kind="transfer_in").order_by("variant__sku")
    assert [(m.variant.sku, m.quantity, m.reference) for m in back] == [
        ("DRS-001-M", 3, in_transit.number),
        ("TEE-L", 2, in_transit.number),
    ]
    assert back[0].reason == "Transfer cancelled, goods back from transit"
    assert stock_verify()[1] == []


def test_cancel_needs_a_reason(requested, mk_cashier):
    with pytest.raises(ValidationFailed):
        transfer_cancel(transfer_id=requested.pk, actor=mk_cashier, reason="  ")


# --- State and permission errors ----------------------------------------------------------------------------


def test_steps_out_of_order_are_refused(requested, variant, warehouse, kc_manager, kc_staff, mk_cashier):
    with pytest.raises(TransferStateInvalid) as error:
        transfer_ship(transfer_id=requested.pk, actor=kc_staff)
    assert error.value.extra == {"status": "requested"} and error.value.http_status == 409
    with pytest.raises(TransferStateInvalid):
        transfer_receive(transfer_id=requested.pk, actor=mk_cashier)
    transfer_approve(transfer_id=requested.pk, actor=kc_manager)
    with pytest.raises(TransferStateInvalid):
        transfer_approve(transfer_id=requested.pk, actor=kc_manager)
    transfer_ship(transfer_id=requested.pk, actor=kc_staff)
    with pytest.raises(TransferStateInvalid):
        transfer_ship(transfer_id=requested.pk, actor=kc_staff)
    assert level(variant, warehouse) == (5, 0)  # shipped once
    transfer_receive(transfer_id=requested.pk, actor=mk_cashier)
    for step in (
        lambda: transfer_receive(transfer_id=requested.pk, actor=mk_cashier),
        lambda: transfer_cancel(transfer_id=requested.pk, actor=kc_manager, reason="x"),
        lambda: transfer_approve(transfer_id=requested.pk, actor=kc_manager),
    ):
        with pytest.raises(TransferStateInvalid):
            step()
    assert stock_verify()[1] == []


def test_ship_of_a_cancelled_transfer_is_a_state_error_even_without_stock(
    approved, variant, other, warehouse, kc_manager, kc_staff
):
    transfer_cancel(transfer_id=approved.pk, actor=kc_manager, reason="x")
    from inventory.services import StockLine, stock_sell

    stock_sell(lines=[StockLine(variant, warehouse.pk, 10)], actor="test")
    with pytest.raises(TransferStateInvalid):
        transfer_ship(transfer_id=approved.pk, actor=kc_staff)


def test_each_end_does_its_own_steps(requested, warehouse, mk, kc_manager, kc_staff, mk_manager, mk_cashier):
    with pytest.raises(BranchAccessDenied):
        transfer_approve(transfer_id=requested.pk, actor=mk_manager)  # the source approves
    with pytest.raises(PermissionDenied):
        transfer_approve(transfer_id=requested.pk, actor=kc_staff)  # a manager of the source
    transfer_approve(transfer_id=requested.pk, actor=kc_manager)
    with pytest.raises(BranchAccessDenied):
        transfer_ship(transfer_id=requested.pk, actor=mk_cashier)  # the source ships
    transfer_ship(transfer_id=requested.pk, actor=kc_staff)
    with pytest.raises(BranchAccessDenied):
        transfer_receive(transfer_id=requested.pk, actor=kc_staff)  # the destination receives
    transfer_receive(transfer_id=requested.pk, actor=mk_cashier)


def test_unknown_transfer(kc_manager):
    for step in (
        lambda: transfer_approve(transfer_id=424242, actor=kc_manager),
        lambda: transfer_ship(transfer_id=424242, actor=kc_manager),
        lambda: transfer_receive(transfer_id=424242, actor=kc_manager),
        lambda: transfer_cancel(transfer_id=424242, actor=kc_manager, reason="x"),
    ):
        with pytest.raises(NotFound):
            step()


def test_request_refusals(variant, warehouse, mk, cwb, mk_cashier, cwb_cashier):
    untracked = VariantFactory(sku="BAG", option_values={"Size": "-"}, track_inventory=False)
    cases = [
        {"source_id": mk.pk, "destination_id": mk.pk, "items": [TransferItem(variant, 1)]},
        {"source_id": warehouse.pk, "destination_id": mk.pk, "items": []},
        {"source_id": warehouse.pk, "destination_id": mk.pk, "items": [TransferItem(variant, 0)]},
        {"source_id": warehouse.pk, "destination_id": mk.pk, "items": [TransferItem(variant, True)]},
        {"source_id": warehouse.pk, "destination_id": mk.pk, "items": [TransferItem(untracked, 1)]},
        {"source_id": 999999, "destination_id": mk.pk, "items": [TransferItem(variant, 1)]},
    ]
    for case in cases:
        with pytest.raises(ValidationFailed):
            transfer_request(actor=mk_cashier, **case)
    with pytest.raises(BranchAccessDenied):  # staff of neither end
        transfer_request(
            source_id=warehouse.pk, destination_id=mk.pk, items=[TransferItem(variant, 1)], actor=cwb_cashier
        )
    assert not Transfer.objects.exists() and not AuditLog.objects.exists()


def test_transfers_list_scoped_to_either_end(
    requested, variant, cwb, warehouse, mk, owner, mk_cashier, kc_staff, cwb_cashier
):
    receive(variant, cwb, 2)
    cwb_to_kc = transfer_request(
        source_id=cwb.pk, destination_id=warehouse.pk, items=[TransferItem(variant, 1)], actor=cwb_cashier
    )
    tst = tst_branch()
    tst_cashier = staff("tst-cashier", "cashier", tst)
    assert [t.pk for t in transfers_list(mk_cashier)] == [requested.pk]
    assert [t.pk for t in transfers_list(cwb_cashier)] == [cwb_to_kc.pk]
    assert [t.pk for t in transfers_list(kc_staff)] == [cwb_to_kc.pk, requested.pk]
    assert [t.pk for t in transfers_list(owner)] == [cwb_to_kc.pk, requested.pk]
    assert list(transfers_list(tst_cashier)) == []


def test_cancel_by_an_unrelated_branch_learns_nothing(in_transit, mk_cashier, cwb_manager):
    transfer_receive(transfer_id=in_transit.pk, actor=mk_cashier)
    with pytest.raises(BranchAccessDenied):  # not TransferStateInvalid: that would tell them it was received
        transfer_cancel(transfer_id=in_transit.pk, actor=cwb_manager, reason="x")


# --- A booking-in that commits while another step waits for its locks ---------------------------------------


def receive_meanwhile(monkeypatch, transfer_id, variant_id, actor) -> None:
    """Makes the step under test wait, just before taking its stock locks, for a partial receipt of 2 units
    in another connection: the window in which lines read too early go stale."""
    import threading

    from django.db import connection

    from inventory.services import transfers

    real_lock, done = transfers.stock_lock, []

    def book_in() -> None:
        try:
            transfer_receive(transfer_id=transfer_id, actor=actor, quantities={variant_id: 2}, close=False)
        finally:
            connection.close()

    def lock_after_a_receipt(*args, **kwargs):
        if not done:
            done.append(True)
            thread = threading.Thread(target=book_in)
            thread.start()
            thread.join(10)
        return real_lock(*args, **kwargs)

    monkeypatch.setattr(transfers, "stock_lock", lock_after_a_receipt)


@pytest.mark.django_db(transaction=True)
def test_cancel_counts_what_arrived_while_it_waited(
    in_transit, variant, other, warehouse, mk, kc_manager, mk_cashier, monkeypatch
):
    receive_meanwhile(monkeypatch, in_transit.pk, variant.pk, mk_cashier)
    transfer_cancel(transfer_id=in_transit.pk, actor=kc_manager, reason="van broke down")
    assert level(variant, mk) == (2, 0)
    assert level(variant, warehouse) == (8, 0)  # 3 back, not 5: the 2 at MK are not made twice
    assert level(other, warehouse) == (4, 0)
    assert stock_verify()[1] == []


@pytest.mark.django_db(transaction=True)
def test_receive_counts_what_arrived_while_it_waited(in_transit, variant, other, mk, mk_cashier, monkeypatch):
    receive_meanwhile(monkeypatch, in_transit.pk, variant.pk, mk_cashier)
    with pytest.raises(ValidationFailed):  # 5 more of a line with 3 left on the road
        transfer_receive(transfer_id=in_transit.pk, actor=mk_cashier, quantities={variant.pk: 5})
    transfer_receive(transfer_id=in_transit.pk, actor=mk_cashier)  # the rest: 3 and 2
    assert level(variant, mk) == (5, 0) and level(other, mk) == (2, 0)
    assert lines(in_transit) == {"DRS-001-M": (5, 5, 5, ""), "TEE-L": (2, 2, 2, "")}
    assert stock_verify()[1] == []
