"""Transfers API: request, approve, ship and receive (partly, with notes), cancel; seen from both ends."""

import pytest

from inventory.models import Transfer, TransferStatus
from omo.models import Role
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level, movements, receive, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def kc_manager(warehouse):
    return staff("kc-manager", Role.MANAGER, warehouse)


@pytest.fixture
def tee(db):
    return VariantFactory(sku="TEE-M")


def request_transfer(client, source, destination, lines, note=""):
    return client.post(
        "/api/v1/transfers/",
        {"source": source.pk, "destination": destination.pk, "lines": lines, "note": note},
        format="json",
    )


def test_request_approve_ship_receive(api_as, cwb_cashier, kc_manager, variant, tee, cwb, warehouse):
    receive(variant, warehouse, 10)
    receive(tee, warehouse, 4)
    cashier, manager = api_as(cwb_cashier), api_as(kc_manager)
    created = request_transfer(
        cashier, warehouse, cwb, [{"sku": "DRS-001-M", "qty": 3}, {"variant": tee.pk, "qty": 2}], "size M"
    )
    assert created.status_code == 201, created.json()
    transfer = created.json()
    assert (transfer["status"], transfer["source_code"], transfer["destination_code"]) == (
        "requested",
        "KC",
        "CWB",
    )
    assert transfer["number"] == f"TR-{transfer['id']:06d}"
    assert transfer["requested_by"] == "cwb-cashier"
    url = f"/api/v1/transfers/{transfer['id']}"

    refused = cashier.post(f"{url}/approve/")
    assert refused.status_code == 403  # a manager of the source approves
    assert manager.post(f"{url}/approve/").json()["status"] == "approved"

    shipped = manager.post(f"{url}/ship/", {"lines": [{"sku": "DRS-001-M", "qty": 3}]}, format="json")
    assert shipped.status_code == 200, shipped.json()
    assert shipped.json()["status"] == "in_transit"
    assert level(variant, warehouse) == (7, 0) and level(tee, warehouse) == (4, 0)

    received = cashier.post(
        f"{url}/receive/",
        {"lines": [{"variant": variant.pk, "qty": 2, "note": "one box crushed"}], "close": True},
        format="json",
    )
    assert received.status_code == 200, received.json()
    body = received.json()
    assert body["status"] == "received"
    lines = {line["sku"]: line for line in body["lines"]}
    assert {key: lines["DRS-001-M"][key] for key in ("requested", "shipped", "received", "missing")} == {
        "requested": 3,
        "shipped": 3,
        "received": 2,
        "missing": 1,
    }
    assert lines["DRS-001-M"]["discrepancy"] == "one box crushed"
    assert (lines["TEE-M"]["requested"], lines["TEE-M"]["shipped"]) == (2, 0)
    assert level(variant, cwb) == (2, 0)
    assert movements(variant, cwb) == [("transfer_in", 2, 2)]
    assert movements(variant, warehouse)[-1] == ("transfer_out", -3, 7)


def test_ship_more_than_the_source_has_is_409(api_as, owner, variant, cwb, warehouse):
    receive(variant, warehouse, 1)
    client = api_as(owner)
    transfer_id = request_transfer(client, warehouse, cwb, [{"variant": variant.pk, "qty": 3}]).json()["id"]
    client.post(f"/api/v1/transfers/{transfer_id}/approve/")
    response = client.post(f"/api/v1/transfers/{transfer_id}/ship/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert response.json()["extra"]["items"][0]["sku"] == "DRS-001-M"
    assert response.json()["extra"]["items"][0]["available"] == 1
    assert Transfer.objects.get(pk=transfer_id).status == TransferStatus.APPROVED
    assert level(variant, warehouse) == (1, 0)


def test_state_errors(api_as, owner, variant, cwb, warehouse):
    receive(variant, warehouse, 5)
    client = api_as(owner)
    transfer_id = request_transfer(client, warehouse, cwb, [{"variant": variant.pk, "qty": 1}]).json()["id"]
    not_approved = client.post(f"/api/v1/transfers/{transfer_id}/ship/", {}, format="json")
    assert not_approved.status_code == 409 and not_approved.json()["code"] == "transfer_state_invalid"
    not_shipped = client.post(f"/api/v1/transfers/{transfer_id}/receive/", {}, format="json")
    assert not_shipped.status_code == 409


def test_request_input_errors(api_as, cwb_cashier, variant, cwb, warehouse):
    client = api_as(cwb_cashier)
    assert request_transfer(client, cwb, cwb, [{"variant": variant.pk, "qty": 1}]).status_code == 400
    assert request_transfer(client, warehouse, cwb, []).status_code == 400
    assert request_transfer(client, warehouse, cwb, [{"variant": variant.pk, "qty": 0}]).status_code == 400
    unknown = request_transfer(client, warehouse, cwb, [{"sku": "NOPE", "qty": 1}])
    assert unknown.status_code == 400 and "lines" in unknown.json()["extra"]["fields"]
    assert not Transfer.objects.exists()


def test_cancel_in_transit_returns_the_goods(api_as, owner, variant, cwb, warehouse):
    receive(variant, warehouse, 5)
    client = api_as(owner)
    transfer_id = request_transfer(client, warehouse, cwb, [{"variant": variant.pk, "qty": 2}]).json()["id"]
    client.post(f"/api/v1/transfers/{transfer_id}/approve/")
    client.post(f"/api/v1/transfers/{transfer_id}/ship/", {}, format="json")
    assert level(variant, warehouse) == (3, 0)
    assert client.post(f"/api/v1/transfers/{transfer_id}/cancel/", {}, format="json").status_code == 400
    response = client.post(
        f"/api/v1/transfers/{transfer_id}/cancel/", {"reason": "van broke down"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancel_reason"]) == ("cancelled", "van broke down")
    assert level(variant, warehouse) == (5, 0)


def test_transfers_are_seen_from_either_end_only(
    api_as, cwb_cashier, mk_manager, kc_manager, variant, cwb, mk, warehouse
):
    receive(variant, warehouse, 5)
    transfer_id = request_transfer(
        api_as(cwb_cashier), warehouse, cwb, [{"variant": variant.pk, "qty": 1}]
    ).json()["id"]
    for user in (cwb_cashier, kc_manager):
        client = api_as(user)
        assert [row["id"] for row in client.get("/api/v1/transfers/").json()["results"]] == [transfer_id]
        assert client.get(f"/api/v1/transfers/{transfer_id}/").status_code == 200
    outsider = api_as(mk_manager)
    assert outsider.get("/api/v1/transfers/").json()["results"] == []
    assert outsider.get(f"/api/v1/transfers/{transfer_id}/").status_code == 404
    assert (
        outsider.post(f"/api/v1/transfers/{transfer_id}/cancel/", {"reason": "x"}, format="json").status_code
        == 404
    )
    filtered = api_as(kc_manager).get("/api/v1/transfers/", {"status": "requested", "destination": cwb.pk})
    assert [row["id"] for row in filtered.json()["results"]] == [transfer_id]
    assert api_as(kc_manager).get("/api/v1/transfers/", {"source": mk.pk}).json()["results"] == []
