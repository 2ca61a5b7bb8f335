"""The order book through the API: the issue's story end to end, retries, and each error's status."""

from decimal import Decimal
from typing import Any

import pytest

from inventory.selectors import stock_verify
from orders.models import Order, OrderStatus, Refund
from tests.factories.inventory import level
from tests.factories.omo import outbox_events

pytestmark = pytest.mark.django_db


def sale_body(shop: dict, dress: list, **extra: Any) -> dict[str, Any]:
    body = {
        "channel": "pos",
        "location": shop["cwb"].pk,
        "lines": [{"variant": dress[0].pk, "qty": 1}, {"sku": "dress-m", "qty": 2}],
        "payments": [
            {"tender": "fps", "amount": "300.00", "reference": "FPS-8812"},
            {"tender": "cash", "tendered": "300"},
        ],
    }
    body.update(extra)
    return body


def test_pos_sale_with_split_tender_and_retry(api_as, cwb_cashier, shop, dress, member):
    client = api_as(cwb_cashier)
    body = sale_body(shop, dress, member=member.pk)
    first = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="sale-1")
    assert first.status_code == 201, first.json()
    data = first.json()
    assert data["number"] == "CWB-000001"
    assert data["total"] == "597.00"
    assert data["change"] == "3.00"
    assert data["status"] == "completed"
    assert data["receipt_url"].startswith("http")
    again = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="sale-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["number"] == "CWB-000001"
    assert Order.objects.count() == 1
    assert level(dress[1], shop["cwb"]) == (3, 0)
    changed = client.post(
        "/api/v1/orders/", {**body, "note": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="sale-1"
    )
    assert changed.status_code == 422


def test_errors_map_to_statuses(api_as, cwb_cashier, shop, dress):
    client = api_as(cwb_cashier)
    short = client.post(
        "/api/v1/orders/",
        sale_body(
            shop,
            dress,
            lines=[{"variant": dress[0].pk, "qty": 9}],
            payments=[{"tender": "cash", "tendered": "5000"}],
        ),
        format="json",
    )
    assert short.status_code == 409
    assert short.json()["code"] == "insufficient_stock"
    under = client.post(
        "/api/v1/orders/",
        sale_body(shop, dress, payments=[{"tender": "cash", "tendered": "10"}]),
        format="json",
    )
    assert under.status_code == 400
    assert under.json()["code"] == "payment_mismatch"
    other = client.post("/api/v1/orders/", sale_body(shop, dress, location=shop["mk"].pk), format="json")
    assert other.status_code == 403
    bad = client.post("/api/v1/orders/", {"location": shop["cwb"].pk, "lines": []}, format="json")
    assert bad.status_code == 400
    card = client.post(
        "/api/v1/orders/",
        sale_body(
            shop, dress, payments=[{"tender": "card", "amount": "597", "reference": "4111111111111111"}]
        ),
        format="json",
    )
    assert card.status_code == 400
    assert not Order.objects.exists()


def test_endless_aisle_pickup_handover_and_return_elsewhere(api_as, cwb_cashier, mk_cashier, shop, dress):
    cwb = api_as(cwb_cashier)
    placed = cwb.post(
        "/api/v1/orders/",
        {
            "channel": "pos",
            "location": shop["cwb"].pk,
            "fulfilment": "pickup",
            "fulfil_from": shop["mk"].pk,
            "pickup_location": shop["cwb"].pk,
            "customer_phone": "91234567",
            "customer_name": "Ms Chan",
            "lines": [{"variant": dress[2].pk, "qty": 1}],
            "payments": [{"tender": "card", "amount": "199.00", "reference": "T-1"}],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="ea-1",
    )
    assert placed.status_code == 201, placed.json()
    order = placed.json()
    assert order["status"] == "paid"
    assert level(dress[2], shop["mk"]) == (5, 1)
    assert cwb.post(f"/api/v1/orders/{order['id']}/ready/").status_code == 200
    wrong = cwb.post(
        "/api/v1/orders/handover/", {"location": shop["cwb"].pk, "pickup_code": "000000x"}, format="json"
    )
    assert wrong.status_code in (400, 404)
    done = cwb.post(
        "/api/v1/orders/handover/",
        {"location": shop["cwb"].pk, "pickup_code": order["pickup_code"]},
        format="json",
    )
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "picked_up"
    assert level(dress[2], shop["mk"]) == (4, 0)

    mk = api_as(mk_cashier)
    found = mk.get("/api/v1/orders/for-return/", {"number": order["number"]})
    assert found.status_code == 200
    line = found.json()["lines"][0]["id"]
    refund = mk.post(
        "/api/v1/returns/",
        {
            "order_number": order["number"],
            "location": shop["mk"].pk,
            "reason": "too small",
            "items": [{"line": line, "qty": 1}],
            "refunds": [{"tender": "card", "amount": "500.00"}],
        },
        format="json",
    )
    assert refund.status_code == 409
    assert refund.json()["code"] == "refund_exceeds_paid"
    ok = mk.post(
        "/api/v1/returns/",
        {
            "order_number": order["number"],
            "location": shop["mk"].pk,
            "reason": "too small",
            "items": [{"line": line, "qty": 1}],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="ret-1",
    )
    assert ok.status_code == 201, ok.json()
    assert ok.json()["refunds"][0]["tender"] == "card"
    assert ok.json()["value"] == "199.00"
    again = mk.post(
        "/api/v1/returns/",
        {
            "order_number": order["number"],
            "location": shop["mk"].pk,
            "reason": "too small",
            "items": [{"line": line, "qty": 1}],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="ret-1",
    )
    assert again.status_code == 201
    assert Refund.objects.count() == 1
    assert Order.objects.get(pk=order["id"]).status == OrderStatus.REFUNDED
    assert level(dress[2], shop["mk"]) == (5, 0)
    assert stock_verify()[1] == []


def test_web_checkout_then_fps_payment_by_staff(api, api_as, settings, shop, dress, warehouse):
    settings.FPS_ID = "1234567"
    placed = api.post(
        "/api/v1/checkout/",
        {
            "fulfilment": "ship",
            "customer_name": "Amy",
            "customer_phone": "61234567",
            "ship_to": {
                "name": "Amy",
                "phone": "61234567",
                "address": "Flat A, 12/F, 1 Nathan Road",
                "district": "yau_tsim_mong",
            },
            "lines": [{"sku": "DRESS-S", "qty": 1}],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="web-1",
    )
    assert placed.status_code == 201, placed.json()
    body = placed.json()
    assert body["number"].startswith("KC-")
    assert body["fps"]["payload"].startswith("000201")
    assert "<svg" in body["fps"]["qr_svg"]
    from tests.factories.omo import UserFactory

    kc_staff = UserFactory(username="kc", role="manager", branches=[warehouse])
    staff = api_as(kc_staff)
    paid = staff.post(
        f"/api/v1/orders/{body['id']}/pay/",
        {"payments": [{"tender": "fps", "amount": "199.00", "reference": "FPS-REF-1"}]},
        format="json",
    )
    assert paid.status_code == 200, paid.json()
    assert paid.json()["status"] == "paid"
    shipped = staff.post(f"/api/v1/orders/{body['id']}/ship/", {"tracking_number": "SF123"}, format="json")
    assert shipped.json()["status"] == "fulfilled"
    assert level(dress[0], shop["kc"]) == (19, 0)


def test_order_search(api_as, cwb_cashier, owner, shop, dress, member):
    client = api_as(cwb_cashier)
    client.post("/api/v1/orders/", sale_body(shop, dress, member=member.pk), format="json")
    client.post("/api/v1/orders/", sale_body(shop, dress), format="json")
    everyone = api_as(owner)
    assert everyone.get("/api/v1/orders/", {"member": member.pk}).json()["count"] == 1
    assert everyone.get("/api/v1/orders/", {"phone": "9123 4567"}).json()["count"] == 1
    assert everyone.get("/api/v1/orders/", {"q": "CWB-000002"}).json()["count"] == 1
    assert everyone.get("/api/v1/orders/", {"channel": "pos", "status": "completed"}).json()["count"] == 2
    assert everyone.get("/api/v1/orders/", {"location": shop["mk"].pk}).json()["count"] == 0
    assert everyone.get("/api/v1/orders/", {"date_from": "2020-01-01"}).json()["count"] == 2
    assert everyone.get("/api/v1/orders/", {"status": "nonsense"}).status_code == 400


def test_cashier_sees_only_their_branch(api_as, cwb_cashier, mk_cashier, shop, dress):
    order = api_as(cwb_cashier).post("/api/v1/orders/", sale_body(shop, dress), format="json").json()
    other = api_as(mk_cashier)
    assert other.get(f"/api/v1/orders/{order['id']}/").status_code == 404
    assert other.get("/api/v1/orders/").json()["count"] == 0


def test_fps_qr_for_what_is_due(api_as, settings, cwb_cashier, shop, dress):
    settings.FPS_ID = "1234567"
    client = api_as(cwb_cashier)
    svg = client.get("/api/v1/fps-qr/", {"amount": "199.50", "reference": "CWB-1"})
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"
    assert "5406199.50" in svg["X-FPS-Payload"]
    png = client.get("/api/v1/fps-qr/", {"amount": "199.50", "image": "png"})
    assert png.content.startswith(b"\x89PNG")
    assert client.get("/api/v1/fps-qr/", {"amount": "-1"}).status_code == 400


def test_pickup_points_are_public(api, db):
    from orders.models import PickupPoint

    PickupPoint.objects.create(
        code="H852FL01", kind="sf_locker", name_en="Locker", name_zh_hant="智能櫃", district="sha_tin"
    )
    rows = api.get("/api/v1/pickup-points/", {"district": "sha_tin"}).json()
    assert rows["results"][0]["code"] == "H852FL01" if "results" in rows else rows[0]["code"] == "H852FL01"


def test_outbox_has_events_after_api_sale(api_as, cwb_cashier, shop, dress):
    api_as(cwb_cashier).post("/api/v1/orders/", sale_body(shop, dress), format="json")
    topics = {topic for topic, _payload in outbox_events()}
    assert {"order.placed", "order.paid", "stock.changed"} <= topics


def test_money_is_decimal_strings(api_as, cwb_cashier, shop, dress):
    data = api_as(cwb_cashier).post("/api/v1/orders/", sale_body(shop, dress), format="json").json()
    assert Decimal(data["total"]) == Decimal("597.00")
    assert isinstance(data["payments"][0]["amount"], str)


def test_the_fast_sale_answer_is_the_order_serializer(api_as, cwb_cashier, shop, dress, member):
    from orders.api.serializers import OrderOutput, order_data
    from orders.selectors import order_get

    client = api_as(cwb_cashier)
    client.post("/api/v1/orders/", sale_body(shop, dress, member=member.pk), format="json")
    client.post(
        "/api/v1/orders/",
        {
            "channel": "phone",
            "location": shop["cwb"].pk,
            "fulfilment": "ship",
            "fulfil_from": shop["kc"].pk,
            "ship_to": {
                "name": "A",
                "phone": "91234567",
                "address": "1 Queen's Road",
                "district": "central_western",
            },
            "shipping_fee": "30",
            "lines": [{"variant": dress[1].pk, "qty": 1}],
        },
        format="json",
    )
    for order in Order.objects.all():
        order = order_get(cwb_cashier, order.pk)
        assert order_data(order) == OrderOutput(order).data


def test_a_signed_in_customers_checkout_is_booked_to_their_member(api, api_as, shop, dress, customer):
    from members.models import Member

    member = Member.objects.create(phone="+85261234567", name="Amy", user=customer)
    placed = api_as(customer).post(
        "/api/v1/checkout/",
        {
            "fulfilment": "pickup",
            "pickup_location": shop["mk"].pk,
            "customer_name": "Amy",
            "customer_phone": "61234567",
            "lines": [{"sku": "DRESS-S", "qty": 1}],
        },
        format="json",
    )
    assert placed.status_code == 201, placed.json()
    assert Order.objects.get(pk=placed.json()["id"]).member_id == member.pk
    guest = api.post(
        "/api/v1/checkout/",
        {
            "fulfilment": "pickup",
            "pickup_location": shop["mk"].pk,
            "customer_name": "B",
            "customer_phone": "61234568",
            "lines": [{"sku": "DRESS-S", "qty": 1}],
        },
        format="json",
    )
    assert Order.objects.get(pk=guest.json()["id"]).member_id is None
