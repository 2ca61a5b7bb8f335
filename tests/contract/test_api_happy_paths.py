"""The catalogue and stock API on real data, each response checked against the OpenAPI schema.

The fuzz test (test_api_schema.py) mostly meets empty tables and random ids, so it sees 4xx answers; this
walks every operation's success path (and its main errors) once, so a reply that drifts from its documented
shape fails here.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from rest_framework.utils.encoders import JSONEncoder

from catalog.models import ProductImage, Variant
from inventory.services import low_stock_check
from omo.models import Role
from omo.scopes import SCOPES
from omo.services.accounts import api_token_create
from tests.factories.omo import UserFactory

schema = schemathesis.openapi.from_dict(
    json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), cls=JSONEncoder))
)
APP = get_wsgi_application()


class SchemaCheckedClient:
    """Calls the app through schemathesis and validates every response against its operation."""

    def __init__(self, key: str) -> None:
        self.headers = {"Authorization": f"Token {key}"}

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        operation = schema.find_operation_by_path(method, path)
        assert operation is not None, f"{method} {path} is not in the schema"
        parameters = {
            name.strip("{}"): int(value)
            for name, value in zip(operation.path.split("/"), path.split("/"), strict=True)
            if name.startswith("{")
        }
        kwargs: dict[str, Any] = {"path_parameters": parameters}
        if body is not None:
            kwargs.update(body=body, media_type="application/json")
        if query:
            kwargs["query"] = query
        response = operation.Case(**kwargs).call(app=APP, headers=self.headers)
        operation.validate_response(response)
        return response

    def get(self, path: str, **query: str) -> Any:
        return self.call("GET", path, query=query or None)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, body)


@pytest.fixture
def client(db: None) -> Iterator[SchemaCheckedClient]:
    # As Django's test client does: keep the test's transaction open across in-process WSGI requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    integration = UserFactory(role=Role.API_CLIENT)
    _, key = api_token_create(name="contract", user=integration, scopes=list(SCOPES), actor="test")
    yield SchemaCheckedClient(key)
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_catalogue_and_stock_replies_match_the_schema(client, cwb, warehouse):
    category = client.post("/api/v1/categories/", {"name_en": "Clothing", "name_zh_hant": "服裝"}).json()
    brand = client.post("/api/v1/brands/", {"name": "Lune"}).json()
    product = client.post(
        "/api/v1/products/",
        {
            "name_en": "Floral dress",
            "name_zh_hant": "碎花連身裙",
            "option_names": ["Size"],
            "category": category["id"],
            "brand": brand["id"],
            "status": "active",
            "variants": [
                {
                    "sku": "DRS-M",
                    "option_values": {"Size": "M"},
                    "price": "199.00",
                    "cost": "80.00",
                    "barcodes": ["4890000000028"],
                    "channel_prices": {"web": "179.00"},
                }
            ],
        },
    ).json()
    ProductImage.objects.create(product_id=product["id"], url="https://img.example.com/dress.jpg")
    product_url = f"/api/v1/products/{product['id']}/"
    assert client.get("/api/v1/products/", search="連身").json()["count"] == 1
    assert client.get(product_url).json()["images"][0]["position"] == 0
    client.patch(product_url, {"category": None, "tags": ["summer"]})
    large = client.post(
        f"{product_url}variants/", {"sku": "DRS-L", "option_values": {"Size": "L"}, "price": "219.00"}
    ).json()
    client.patch(f"/api/v1/variants/{large['id']}/", {"compare_at_price": None, "weight_grams": 300})
    client.get("/api/v1/variants/")
    client.get(f"/api/v1/variants/{large['id']}/")
    client.get("/api/v1/variants/search/", q="DRS", channel="web")
    client.get("/api/v1/variants/lookup/", code="4890000000028")
    assert client.get("/api/v1/variants/lookup/", code="nope").status_code == 404
    client.get("/api/v1/categories/")
    client.get("/api/v1/brands/")
    medium = Variant.objects.get(sku="DRS-M").pk

    client.post(
        "/api/v1/stock/receive/",
        {
            "location": warehouse.pk,
            "reference": "PO-1",
            "lines": [{"variant": medium, "qty": 9, "unit_cost": "80"}],
        },
    )
    client.post(
        "/api/v1/stock/receive/",
        {"location": cwb.pk, "reference": "PO-2", "lines": [{"sku": "DRS-M", "qty": 3}]},
    )
    client.post(
        "/api/v1/stock/adjust/", {"variant": medium, "location": cwb.pk, "delta": 1, "reason": "found"}
    )
    client.post(
        "/api/v1/stock/write-off/", {"variant": medium, "location": cwb.pk, "qty": 1, "reason": "torn"}
    )
    short = client.post(
        "/api/v1/stock/write-off/", {"variant": medium, "location": cwb.pk, "qty": 99, "reason": "x"}
    )
    assert short.status_code == 409
    client.post(
        "/api/v1/stock/reorder/",
        {"variant": medium, "location": cwb.pk, "reorder_point": 5, "reorder_qty": 4},
    )
    low_stock_check()
    client.get("/api/v1/stock/")
    client.get("/api/v1/low-stock-alerts/")
    assert client.get("/api/v1/replenishment/").json()[0]["transfer_from"] == warehouse.code
    client.get("/api/v1/movements/")
    client.get(f"/api/v1/variants/{medium}/availability/")
    client.get("/api/v1/availability/", variants=f"{medium},{large['id']}")
    client.get(f"{product_url}where-available/", Size="M")

    held = client.post(
        "/api/v1/reservations/", {"variant": medium, "location": cwb.pk, "qty": 1, "source": "staff_hold"}
    )
    hold_id = held.json()["reservations"][0]["id"]
    client.post(
        "/api/v1/reservations/",
        {"lines": [{"sku": "DRS-M", "qty": 1}], "location": cwb.pk, "source": "click_collect"},
    )
    client.get("/api/v1/reservations/")
    client.get(f"/api/v1/reservations/{hold_id}/")
    client.get("/api/v1/holds/")
    client.post(f"/api/v1/reservations/{hold_id}/extend/", {"minutes": 30})
    client.post(f"/api/v1/reservations/{hold_id}/consume/", {"reference": "CWB-1"})
    assert client.post(f"/api/v1/reservations/{hold_id}/release/", {}).status_code == 409

    transfer = client.post(
        "/api/v1/transfers/",
        {"source": warehouse.pk, "destination": cwb.pk, "lines": [{"variant": medium, "qty": 2}]},
    ).json()
    transfer_url = f"/api/v1/transfers/{transfer['id']}/"
    client.post(f"{transfer_url}approve/")
    client.post(f"{transfer_url}ship/", {})
    client.post(f"{transfer_url}receive/", {"lines": [{"variant": medium, "qty": 1}], "close": False})
    client.post(f"{transfer_url}cancel/", {"reason": "rest lost"})
    client.get("/api/v1/transfers/")
    client.get(transfer_url)

    count = client.post("/api/v1/stock-counts/", {"location": cwb.pk, "full": True}).json()
    count_url = f"/api/v1/stock-counts/{count['id']}/"
    client.post(f"{count_url}record/", {"code": "4890000000028"})
    client.get(f"{count_url}variance/")
    client.post(f"{count_url}post/")
    client.get("/api/v1/stock-counts/")
    client.get(count_url)
    client.post(f"{product_url}archive/")
    client.post(f"/api/v1/variants/{large['id']}/archive/")
    client.get(f"/api/v1/locations/{cwb.pk}/")
