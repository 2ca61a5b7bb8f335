"""Stock API: levels, receive, adjust, write off, reorder points, availability, the ledger, replenishment."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import LowStockAlert, MovementKind, StockLevel, StockMovement
from inventory.services import StockLine, low_stock_check, stock_reorder_set, stock_reserve
from omo.models import AuditLog, Role
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level, movements, receive, sized_product, staff

pytestmark = pytest.mark.django_db


# --- Stock levels -------------------------------------------------------------------------------------------


def test_stock_list_shows_live_reserved_and_available(api_as, cwb_cashier, variant, cwb, mk, stocked):
    stocked(10)
    stocked(4, at=mk)
    holds = stock_reserve(lines=[StockLine(variant, cwb.pk, 3)], source="staff_hold", actor="test")
    stock_reserve(lines=[StockLine(variant, cwb.pk, 2)], source="web_checkout", actor="test")
    holds[0].expires_at = timezone.now() - timedelta(minutes=1)  # timed out, not swept yet
    holds[0].save()
    response = api_as(cwb_cashier).get("/api/v1/stock/", {"variant": variant.pk})
    assert response.status_code == 200
    rows = {row["location_code"]: row for row in response.json()["results"]}
    assert (rows["CWB"]["on_hand"], rows["CWB"]["reserved"], rows["CWB"]["available"]) == (10, 2, 8)
    assert (rows["MK"]["on_hand"], rows["MK"]["reserved"], rows["MK"]["available"]) == (4, 0, 4)
    assert rows["CWB"]["sku"] == "DRS-001-M"
    by_location = api_as(cwb_cashier).get("/api/v1/stock/", {"location": mk.pk}).json()["results"]
    assert [row["location_code"] for row in by_location] == ["MK"]  # other branches' figures are readable


def test_below_reorder_filter(api_as, owner, variant, cwb, mk, stocked):
    stocked(3)
    stocked(10, at=mk)
    stock_reorder_set(variant=variant, location_id=cwb.pk, actor=owner, reorder_point=3, reorder_qty=12)
    stock_reorder_set(variant=variant, location_id=mk.pk, actor=owner, reorder_point=3, reorder_qty=12)
    client = api_as(owner)
    low = client.get("/api/v1/stock/", {"below_reorder": "true"}).json()["results"]
    assert [(row["location_code"], row["below_reorder"]) for row in low] == [("CWB", True)]
    fine = client.get("/api/v1/stock/", {"below_reorder": "false"}).json()["results"]
    assert [row["location_code"] for row in fine] == ["MK"]


def test_receive_by_sku_and_by_id(api_as, cwb_cashier, variant, cwb):
    other = VariantFactory(sku="TEE-S")
    response = api_as(cwb_cashier).post(
        "/api/v1/stock/receive/",
        {
            "location": cwb.pk,
            "reference": "PO-2026-001",
            "lines": [
                {"sku": "drs-001-m", "qty": 5, "unit_cost": "55.00"},
                {"variant": other.pk, "qty": 2},
            ],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert {row["sku"]: row["on_hand"] for row in response.json()} == {"DRS-001-M": 5, "TEE-S": 2}
    movement = StockMovement.objects.get(variant=variant)
    assert (movement.kind, movement.quantity, movement.reference) == (MovementKind.RECEIVE, 5, "PO-2026-001")
    assert str(movement.unit_cost.amount) == "55.00"
    assert movement.actor == cwb_cashier


def test_receive_errors(api_as, cwb_cashier, variant, cwb, mk):
    client = api_as(cwb_cashier)
    elsewhere = client.post(
        "/api/v1/stock/receive/",
        {"location": mk.pk, "reference": "PO-1", "lines": [{"variant": variant.pk, "qty": 1}]},
        format="json",
    )
    assert elsewhere.status_code == 403 and elsewhere.json()["code"] == "branch_access_denied"
    unknown = client.post(
        "/api/v1/stock/receive/",
        {"location": cwb.pk, "reference": "PO-1", "lines": [{"sku": "NOPE", "qty": 1}]},
        format="json",
    )
    assert unknown.status_code == 400
    assert unknown.json()["extra"]["fields"]["lines"] == {"0": {"sku": ["No SKU or barcode matches."]}}
    for bad_line in ({"variant": variant.pk, "qty": 0}, {"variant": variant.pk, "qty": "1.5"}, {"qty": 1}):
        response = client.post(
            "/api/v1/stock/receive/",
            {"location": cwb.pk, "reference": "PO-1", "lines": [bad_line]},
            format="json",
        )
        assert response.status_code == 400, bad_line
    no_reference = client.post(
        "/api/v1/stock/receive/",
        {"location": cwb.pk, "reference": "", "lines": [{"variant": variant.pk, "qty": 1}]},
        format="json",
    )
    assert no_reference.status_code == 400
    assert not StockMovement.objects.exists()


def test_adjust_is_for_managers(api_as, cwb_cashier, cwb_manager, variant, cwb, stocked):
    stocked(10)
    body = {"variant": variant.pk, "location": cwb.pk, "delta": -2, "reason": "found damaged in count"}
    refused = api_as(cwb_cashier).post("/api/v1/stock/adjust/", body, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert level(variant, cwb) == (10, 0)
    manager = api_as(cwb_manager)
    response = manager.post("/api/v1/stock/adjust/", body, format="json")
    assert response.status_code == 200 and response.json()["on_hand"] == 8
    to_figure = manager.post(
        "/api/v1/stock/adjust/",
        {"sku": "DRS-001-M", "location": cwb.pk, "on_hand": 12, "reason": "recount"},
        format="json",
    )
    assert to_figure.json()["on_hand"] == 12
    assert movements(variant, cwb)[-2:] == [("count_adjustment", -2, 8), ("count_adjustment", 4, 12)]
    assert AuditLog.objects.filter(action="stock.adjust").count() == 2


def test_adjust_input_errors(api_as, cwb_manager, variant, cwb, stocked):
    stocked(1)
    client = api_as(cwb_manager)
    both = {"variant": variant.pk, "location": cwb.pk, "delta": 1, "on_hand": 3, "reason": "x"}
    assert client.post("/api/v1/stock/adjust/", both, format="json").status_code == 400
    below = {"variant": variant.pk, "location": cwb.pk, "delta": -5, "reason": "x"}
    response = client.post("/api/v1/stock/adjust/", below, format="json")
    assert response.status_code == 400 and "1 on hand" in response.json()["message"]
    no_reason = {"variant": variant.pk, "location": cwb.pk, "delta": 1}
    assert client.post("/api/v1/stock/adjust/", no_reason, format="json").status_code == 400
    assert level(variant, cwb) == (1, 0)


def test_write_off_and_insufficient_stock(api_as, cwb_cashier, variant, cwb, stocked):
    stocked(3)
    client = api_as(cwb_cashier)
    body = {"variant": variant.pk, "location": cwb.pk, "qty": 5, "reason": "water damage"}
    short = client.post("/api/v1/stock/write-off/", body, format="json")
    assert short.status_code == 409
    error = short.json()
    assert error["code"] == "insufficient_stock"
    assert "DRS-001-M" in error["message"]
    assert error["extra"]["items"][0]["sku"] == "DRS-001-M"
    assert error["extra"]["items"][0]["available"] == 3
    assert error["extra"]["items"][0]["requested"] == 5
    done = client.post("/api/v1/stock/write-off/", {**body, "qty": 2}, format="json")
    assert done.status_code == 200 and done.json()["on_hand"] == 1
    assert movements(variant, cwb)[-1] == ("damage", -2, 1)


def test_reorder_point_is_for_managers(api_as, cwb_cashier, cwb_manager, variant, cwb):
    body = {"variant": variant.pk, "location": cwb.pk, "reorder_point": 2, "reorder_qty": 6}
    assert api_as(cwb_cashier).post("/api/v1/stock/reorder/", body, format="json").status_code == 403
    response = api_as(cwb_manager).post("/api/v1/stock/reorder/", body, format="json")
    assert response.status_code == 200
    assert (response.json()["reorder_point"], response.json()["reorder_qty"]) == (2, 6)
    assert response.json()["below_reorder"] is True  # nothing here yet
    cleared = api_as(cwb_manager).post(
        "/api/v1/stock/reorder/", {**body, "reorder_point": None, "reorder_qty": None}, format="json"
    )
    assert cleared.json()["reorder_point"] is None
    assert StockLevel.objects.get(variant=variant, location=cwb).reorder_point is None


# --- Availability -------------------------------------------------------------------------------------------


def test_availability_of_one_sku_everywhere(api_as, cwb_cashier, variant, cwb, mk, warehouse, stocked):
    stocked(2)
    stocked(7, at=warehouse)
    response = api_as(cwb_cashier).get(f"/api/v1/variants/{variant.pk}/availability/")
    assert response.status_code == 200
    body = response.json()
    assert body["sku"] == "DRS-001-M"
    assert {row["location"]: row["available"] for row in body["locations"]} == {"CWB": 2, "MK": 0, "KC": 7}
    missing = api_as(cwb_cashier).get("/api/v1/variants/999999/availability/")
    assert missing.status_code == 404 and missing.json()["code"] == "variant_not_found"


def test_availability_batch_costs_the_same_queries_for_1_or_50_skus(
    api_as, cwb_cashier, cwb, mk, django_assert_num_queries
):
    variants = [VariantFactory() for _ in range(50)]
    for variant in variants:
        receive(variant, cwb, 3)
    client = api_as(cwb_cashier)
    client.get("/api/v1/availability/", {"variants": str(variants[0].pk)})  # session and user loaded once
    with CaptureQueriesContext(connection) as one:
        response = client.get("/api/v1/availability/", {"variants": str(variants[0].pk)})
    assert response.json()["results"][0]["locations"]["CWB"] == {"on_hand": 3, "reserved": 0, "available": 3}
    assert len(one) == 5  # session, user; the SKUs, the locations, the stock rows
    ids = ",".join(str(variant.pk) for variant in variants)
    with django_assert_num_queries(len(one)):
        response = client.get("/api/v1/availability/", {"variants": ids})
    results = response.json()["results"]
    assert len(results) == 50
    assert all(row["locations"]["MK"]["available"] == 0 for row in results)
    assert [row["variant"] for row in results] == [variant.pk for variant in variants]


def test_availability_batch_input(api_as, cwb_cashier, variant):
    client = api_as(cwb_cashier)
    assert client.get("/api/v1/availability/").status_code == 400
    assert client.get("/api/v1/availability/", {"variants": "1,a"}).status_code == 400
    assert client.get("/api/v1/availability/", {"variants": "99999999999999999999"}).status_code == 400
    too_many = ",".join(str(n) for n in range(1, 202))
    assert client.get("/api/v1/availability/", {"variants": too_many}).status_code == 400
    unknown = client.get("/api/v1/availability/", {"variants": f"{variant.pk},999999"}).json()["results"]
    assert [row["variant"] for row in unknown] == [variant.pk]


def test_where_available_by_option(api_as, cwb_cashier, cwb, mk, warehouse):
    small, medium, _large = sized_product(("S", "M", "L"))
    receive(medium, mk, 2)
    receive(medium, warehouse, 9)
    receive(small, cwb, 1)
    client = api_as(cwb_cashier)
    url = f"/api/v1/products/{medium.product_id}/where-available/"
    rows = client.get(url, {"Size": "M"}).json()
    assert [(row["location"], row["sku"], row["available"]) for row in rows] == [
        ("MK", "TEE-M", 2),
        ("KC", "TEE-M", 9),  # branches first, then the warehouse
    ]
    assert client.get(url, {"size": "m"}).json() == rows  # option names and values in any case
    assert {row["sku"] for row in client.get(url).json()} == {"TEE-S", "TEE-M"}
    assert client.get(url, {"Size": "L"}).json() == []
    unknown = client.get(url, {"Colour": "Red"})
    assert unknown.status_code == 400 and "Colour" in unknown.json()["extra"]["fields"]
    assert client.get("/api/v1/products/999999/where-available/").json()["code"] == "product_not_found"


# --- Ledger, alerts, replenishment --------------------------------------------------------------------------


def test_movements_are_branch_scoped(api_as, cwb_manager, variant, cwb, mk, stocked):
    stocked(5)
    stocked(4, at=mk)
    mine = StockMovement.objects.get(location=cwb)
    theirs = StockMovement.objects.get(location=mk)
    client = api_as(cwb_manager)
    listed = client.get("/api/v1/movements/").json()["results"]
    assert [row["id"] for row in listed] == [mine.pk]
    assert client.get(f"/api/v1/movements/{mine.pk}/").json()["quantity"] == 5
    other = client.get(f"/api/v1/movements/{theirs.pk}/")
    assert other.status_code == 404 and other.json()["code"] == "not_found"


def test_movement_filters(api_as, owner, variant, cwb, stocked):
    stocked(5)
    receive(variant, cwb, 2, reference="PO-77")
    client = api_as(owner)

    def quantities(**params):
        response = client.get("/api/v1/movements/", params)
        assert response.status_code == 200
        return [row["quantity"] for row in response.json()["results"]]

    assert quantities(reference="PO-77") == [2]
    assert quantities(kind="receive", variant=variant.pk, location=cwb.pk) == [2, 5]
    assert quantities(kind="sale") == []
    today = timezone.localdate()
    assert quantities(date_from=today.isoformat(), date_to=today.isoformat()) == [2, 5]
    assert quantities(date_to=(today - timedelta(days=1)).isoformat()) == []
    assert quantities(date_from=(today + timedelta(days=1)).isoformat()) == []
    assert client.get("/api/v1/movements/", {"date_from": "yesterday"}).status_code == 400


def test_low_stock_alerts_are_branch_scoped(api_as, owner, cwb_manager, variant, cwb, mk, stocked):
    stocked(1)
    stocked(1, at=mk)
    for place in (cwb, mk):
        stock_reorder_set(variant=variant, location_id=place.pk, actor=owner, reorder_point=2, reorder_qty=5)
    assert low_stock_check()[0] == 2
    mk_alert = LowStockAlert.objects.get(stock__location=mk)
    client = api_as(cwb_manager)
    rows = client.get("/api/v1/low-stock-alerts/", {"is_open": "true"}).json()["results"]
    assert [(row["location_code"], row["sku"], row["available_at_raise"]) for row in rows] == [
        ("CWB", "DRS-001-M", 1)
    ]
    assert client.get(f"/api/v1/low-stock-alerts/{mk_alert.pk}/").status_code == 404


def test_replenishment_suggests_a_warehouse_transfer(
    api_as, owner, cwb_manager, variant, cwb, warehouse, stocked
):
    stocked(1)
    stocked(3, at=warehouse)
    stock_reorder_set(variant=variant, location_id=cwb.pk, actor=owner, reorder_point=2, reorder_qty=5)
    rows = api_as(cwb_manager).get("/api/v1/replenishment/").json()
    assert rows == [
        {
            "sku": "DRS-001-M",
            "variant_id": variant.pk,
            "name": rows[0]["name"],
            "location": "CWB",
            "location_id": cwb.pk,
            "available": 1,
            "reorder_point": 2,
            "reorder_qty": 5,
            "suggested_qty": 5,
            "transfer_from": "KC",
            "transfer_qty": 3,
            "purchase_qty": 2,
        }
    ]
    mk_manager = staff("mk-boss", Role.MANAGER, *[])
    assert api_as(mk_manager).get("/api/v1/replenishment/").json() == []  # no branches, nothing to see
    assert api_as(cwb_manager).get("/api/v1/replenishment/", {"location": "x"}).status_code == 400


def test_write_off_of_a_sku_that_tracks_no_stock_is_400(api_as, cwb_cashier, cwb):
    gift_card = VariantFactory(sku="GIFT-100", track_inventory=False)
    response = api_as(cwb_cashier).post(
        "/api/v1/stock/write-off/",
        {"variant": gift_card.pk, "location": cwb.pk, "qty": 1, "reason": "lost"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["non_field_errors"] == ["This SKU does not track stock."]
