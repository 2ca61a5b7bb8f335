"""Back office for stock: read-only ledger, reorder points through the service, rows scoped to branches."""

import pytest

from inventory.models import StockLevel, StockMovement
from inventory.services import TransferItem, stock_count_open, stock_count_record, transfer_request
from omo.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        user.is_staff = True
        user.save()
        client.force_login(user)
        return client

    return sign_in


def test_managers_see_their_own_branches_rows(signed_in, cwb_manager, variant, cwb, mk, stocked):
    stocked(5)
    stocked(7, at=mk)
    client = signed_in(cwb_manager)
    cwb_row = StockLevel.objects.get(location=cwb)
    mk_row = StockLevel.objects.get(location=mk)
    assert client.get(f"/admin/inventory/stocklevel/{cwb_row.pk}/change/").status_code == 200
    assert client.get(f"/admin/inventory/stocklevel/{mk_row.pk}/change/").status_code == 302  # not found
    listed = client.get("/admin/inventory/stockmovement/").context["cl"].result_list
    assert [movement.location_id for movement in listed] == [cwb.pk]
    assert [
        row.location_id for row in client.get("/admin/inventory/stocklevel/").context["cl"].result_list
    ] == [cwb.pk]
    mk_movement = StockMovement.objects.get(location=mk)
    assert client.get(f"/admin/inventory/stockmovement/{mk_movement.pk}/change/").status_code == 302


def test_the_ledger_cannot_be_changed_here(signed_in, owner, variant, cwb, stocked):
    stocked(5)
    client = signed_in(owner)
    movement = StockMovement.objects.get()
    assert client.get("/admin/inventory/stockmovement/add/").status_code == 403
    assert client.get(f"/admin/inventory/stockmovement/{movement.pk}/delete/").status_code == 403
    page = client.get(f"/admin/inventory/stockmovement/{movement.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert (
        client.post(f"/admin/inventory/stockmovement/{movement.pk}/change/", {"quantity": 99}).status_code
        == 403
    )
    assert client.get("/admin/inventory/stocklevel/add/").status_code == 403


def test_reorder_point_is_set_through_the_service(signed_in, owner, variant, cwb, stocked):
    stocked(5)
    row = StockLevel.objects.get()
    client = signed_in(owner)
    url = f"/admin/inventory/stocklevel/{row.pk}/change/"
    refused = client.post(url, {"reorder_point": "2", "reorder_qty": "0"})
    assert refused.status_code == 200
    assert "A reorder quantity is above zero." in refused.content.decode()
    saved = client.post(url, {"reorder_point": "2", "reorder_qty": "6", "on_hand": "999"})
    assert saved.status_code == 302
    row.refresh_from_db()
    assert (row.reorder_point, row.reorder_qty, row.on_hand) == (2, 6, 5)  # on hand is not editable
    assert AuditLog.objects.get(action="stock.reorder_set").after == {"reorder_point": 2, "reorder_qty": 6}


def test_transfers_and_counts_are_shown_with_their_lines(
    signed_in, owner, mk_manager, variant, cwb, warehouse
):
    transfer = transfer_request(
        source_id=warehouse.pk, destination_id=cwb.pk, items=[TransferItem(variant, 2)], actor=owner
    )
    count = stock_count_open(location_id=cwb.pk, actor=owner)
    stock_count_record(count_id=count.pk, variant=variant, qty=3, actor=owner)
    client = signed_in(owner)
    page = client.get(f"/admin/inventory/transfer/{transfer.pk}/change/").content.decode()
    assert "DRS-001-M" in page and transfer.number in page
    assert "DRS-001-M" in client.get(f"/admin/inventory/stockcount/{count.pk}/change/").content.decode()
    assert client.get("/admin/inventory/importjob/").status_code == 200
    assert client.get("/admin/inventory/reservation/").status_code == 200
    assert client.get("/admin/inventory/lowstockalert/").status_code == 200
    outsider = signed_in(mk_manager)
    assert list(outsider.get("/admin/inventory/transfer/").context["cl"].result_list) == []
    assert outsider.get(f"/admin/inventory/stockcount/{count.pk}/change/").status_code == 302
