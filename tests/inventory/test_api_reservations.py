"""Reservations API: holds for customers, the branch's holds list, release, consume, extend."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Reservation, ReservationStatus
from inventory.services import StockLine, stock_reserve
from omo.models import IdempotencyKey
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level, movements

pytestmark = pytest.mark.django_db

HOLD = {"source": "staff_hold", "customer_name": "Chan Tai Man", "customer_phone": "+85291234567"}


@pytest.fixture
def cashier(api_as, cwb_cashier):
    return api_as(cwb_cashier)


def test_hold_one_sku_with_the_default_lifetime(cashier, variant, cwb, stocked):
    stocked(5)
    before = timezone.now()
    response = cashier.post(
        "/api/v1/reservations/",
        {**HOLD, "sku": "DRS-001-M", "location": cwb.pk, "qty": 2, "note": "Instagram DM"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    (hold,) = response.json()["reservations"]
    assert (hold["sku"], hold["location_code"], hold["qty"], hold["status"]) == (
        "DRS-001-M",
        "CWB",
        2,
        "active",
    )
    assert hold["customer_name"] == "Chan Tai Man" and hold["created_by"] == "cwb-cashier"
    assert hold["is_live"] is True and hold["expired"] is False
    assert 24 * 3600 - 60 <= hold["time_left_seconds"] <= 24 * 3600
    stored = Reservation.objects.get()
    assert before + timedelta(hours=24) <= stored.expires_at <= timezone.now() + timedelta(hours=24)
    assert level(variant, cwb) == (5, 2)


def test_hold_several_lines(cashier, variant, cwb, mk, stocked):
    other = VariantFactory(sku="TEE-S")
    stocked(5)
    stocked(3, at=mk, of=other)
    expires_at = (timezone.now() + timedelta(hours=2)).isoformat()
    response = cashier.post(
        "/api/v1/reservations/",
        {
            "source": "endless_aisle",
            "location": cwb.pk,
            "expires_at": expires_at,
            "reference": "WEB-1001",
            "lines": [{"variant": variant.pk, "qty": 1}, {"sku": "TEE-S", "qty": 2, "location": mk.pk}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    held = {(row["sku"], row["location_code"], row["qty"]) for row in response.json()["reservations"]}
    assert held == {("DRS-001-M", "CWB", 1), ("TEE-S", "MK", 2)}
    assert level(other, mk) == (3, 2)


def test_not_enough_stock_is_409_naming_the_sku_and_what_is_available(cashier, variant, cwb, stocked):
    stocked(2)
    response = cashier.post(
        "/api/v1/reservations/", {**HOLD, "variant": variant.pk, "location": cwb.pk, "qty": 3}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "insufficient_stock"
    assert "DRS-001-M" in body["message"] and "2 available" in body["message"]
    assert body["extra"]["items"] == [
        {
            "sku": "DRS-001-M",
            "variant_id": variant.pk,
            "location": "CWB",
            "location_id": cwb.pk,
            "requested": 3,
            "available": 2,
        }
    ]
    assert not Reservation.objects.exists()


def test_create_input_errors(cashier, variant, cwb, stocked):
    stocked(2)
    cases = [
        {**HOLD, "variant": variant.pk, "qty": 1},  # where?
        {**HOLD, "variant": variant.pk, "location": cwb.pk},  # how many?
        {**HOLD, "variant": variant.pk, "sku": "DRS-001-M", "location": cwb.pk, "qty": 1},
        {"source": "gift", "variant": variant.pk, "location": cwb.pk, "qty": 1},
        {**HOLD, "variant": variant.pk, "location": cwb.pk, "qty": 1, "expires_at": "2000-01-01T00:00:00Z"},
        {**HOLD, "sku": "NOPE", "location": cwb.pk, "qty": 1},
        {**HOLD, "lines": [{"variant": variant.pk, "qty": 1}], "variant": variant.pk, "location": cwb.pk},
    ]
    for body in cases:
        response = cashier.post("/api/v1/reservations/", body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert response.json()["code"] == "invalid"
    assert not Reservation.objects.exists()


def test_a_retried_hold_is_made_once(cashier, variant, cwb, stocked):
    stocked(5)
    body = {**HOLD, "variant": variant.pk, "location": cwb.pk, "qty": 2}
    first = cashier.post("/api/v1/reservations/", body, format="json", HTTP_IDEMPOTENCY_KEY="ipad-7-0042")
    again = cashier.post("/api/v1/reservations/", body, format="json", HTTP_IDEMPOTENCY_KEY="ipad-7-0042")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Reservation.objects.count() == 1
    assert level(variant, cwb) == (5, 2)
    other = cashier.post(
        "/api/v1/reservations/", {**body, "qty": 3}, format="json", HTTP_IDEMPOTENCY_KEY="ipad-7-0042"
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert IdempotencyKey.objects.filter(key="ipad-7-0042").count() == 1


def test_list_is_branch_scoped_and_another_branch_is_404(api_as, cwb_manager, variant, cwb, mk, stocked):
    stocked(5)
    stocked(5, at=mk)
    (mine,) = stock_reserve(lines=[StockLine(variant, cwb.pk, 1)], source="staff_hold", actor="test")
    (theirs,) = stock_reserve(lines=[StockLine(variant, mk.pk, 1)], source="click_collect", actor="test")
    client = api_as(cwb_manager)
    assert [row["id"] for row in client.get("/api/v1/reservations/").json()["results"]] == [mine.pk]
    assert client.get(f"/api/v1/reservations/{mine.pk}/").status_code == 200
    other = client.get(f"/api/v1/reservations/{theirs.pk}/")
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    assert client.post(f"/api/v1/reservations/{theirs.pk}/release/", {}, format="json").status_code == 404
    assert Reservation.objects.get(pk=theirs.pk).status == ReservationStatus.ACTIVE


def test_list_filters(api_as, owner, variant, cwb, mk, stocked):
    stocked(5)
    stocked(5, at=mk)
    stock_reserve(lines=[StockLine(variant, cwb.pk, 1)], source="staff_hold", actor="test")
    stock_reserve(lines=[StockLine(variant, mk.pk, 2)], source="click_collect", actor="test", reference="W-9")
    client = api_as(owner)

    def quantities(**params):
        response = client.get("/api/v1/reservations/", params)
        assert response.status_code == 200
        return sorted(row["qty"] for row in response.json()["results"])

    assert quantities() == [1, 2]
    assert quantities(location=mk.pk) == [2]
    assert quantities(source="staff_hold") == [1]
    assert quantities(status="active", reference="W-9") == [2]
    assert quantities(status="consumed") == []
    assert client.get("/api/v1/reservations/", {"status": "lost"}).status_code == 400


def test_holds_of_a_branch_with_time_left(api_as, cwb_cashier, variant, cwb, mk, stocked):
    stocked(9)
    stocked(9, at=mk)
    soon, later = (
        stock_reserve(
            lines=[StockLine(variant, cwb.pk, 1)],
            source="staff_hold",
            actor="test",
            customer_name=name,
            expires_at=timezone.now() + timedelta(minutes=minutes),
        )[0]
        for name, minutes in (("Soon", 30), ("Later", 120))
    )
    timed_out = stock_reserve(lines=[StockLine(variant, cwb.pk, 1)], source="staff_hold", actor="test")[0]
    Reservation.objects.filter(pk=timed_out.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    stock_reserve(lines=[StockLine(variant, cwb.pk, 1)], source="web_checkout", actor="test")
    stock_reserve(lines=[StockLine(variant, mk.pk, 1)], source="staff_hold", actor="test")
    client = api_as(cwb_cashier)
    rows = client.get("/api/v1/holds/", {"location": cwb.pk}).json()["results"]
    assert [row["customer_name"] for row in rows] == ["Soon", "Later"]  # soonest first; staff holds only
    assert 29 * 60 <= rows[0]["time_left_seconds"] <= 30 * 60
    assert [row["expired"] for row in rows] == [False, False]
    every_source = client.get("/api/v1/holds/", {"source": "all"}).json()["results"]
    assert len(every_source) == 3  # the timed-out hold is free already; MK is another branch
    assert client.get("/api/v1/holds/", {"source": "nope"}).status_code == 400
    listed = client.get(f"/api/v1/reservations/{timed_out.pk}/").json()
    assert (listed["status"], listed["expired"], listed["time_left_seconds"]) == ("active", True, 0)
    assert {soon.pk, later.pk} == {row["id"] for row in rows}


def test_release_once(cashier, variant, cwb, stocked):
    stocked(3)
    (hold,) = stock_reserve(lines=[StockLine(variant, cwb.pk, 2)], source="staff_hold", actor="test")
    response = cashier.post(
        f"/api/v1/reservations/{hold.pk}/release/", {"reason": "changed mind"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "released" and "changed mind" in response.json()["note"]
    assert level(variant, cwb) == (3, 0)
    again = cashier.post(f"/api/v1/reservations/{hold.pk}/release/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "reservation_not_active"


def test_consume_is_a_sale_and_replays(cashier, variant, cwb, stocked):
    stocked(3)
    (hold,) = stock_reserve(lines=[StockLine(variant, cwb.pk, 2)], source="click_collect", actor="test")
    url = f"/api/v1/reservations/{hold.pk}/consume/"
    first = cashier.post(url, {"reference": "CWB-0009"}, format="json", HTTP_IDEMPOTENCY_KEY="pickup-9")
    again = cashier.post(url, {"reference": "CWB-0009"}, format="json", HTTP_IDEMPOTENCY_KEY="pickup-9")
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "consumed" and again.json() == first.json()
    assert level(variant, cwb) == (1, 0)
    assert movements(variant, cwb)[-1] == ("sale", -2, 1)
    without_key = cashier.post(url, {"reference": "CWB-0009"}, format="json")
    assert without_key.status_code == 409 and without_key.json()["code"] == "reservation_not_active"


def test_extend(cashier, variant, cwb, stocked):
    stocked(3)
    (hold,) = stock_reserve(lines=[StockLine(variant, cwb.pk, 1)], source="staff_hold", actor="test")
    url = f"/api/v1/reservations/{hold.pk}/extend/"
    response = cashier.post(url, {"minutes": 60}, format="json")
    assert response.status_code == 200
    hold_end = hold.expires_at
    assert Reservation.objects.get(pk=hold.pk).expires_at == hold_end + timedelta(minutes=60)
    assert cashier.post(url, {}, format="json").status_code == 400
    assert cashier.post(url, {"minutes": 0}, format="json").status_code == 400
    far = (timezone.now() + timedelta(days=200)).isoformat()
    assert cashier.post(url, {"expires_at": far}, format="json").status_code == 400
    set_to = timezone.now() + timedelta(hours=3)
    moved = cashier.post(url, {"expires_at": set_to.isoformat()}, format="json")
    assert moved.status_code == 200
    assert abs(Reservation.objects.get(pk=hold.pk).expires_at - set_to) < timedelta(seconds=1)
