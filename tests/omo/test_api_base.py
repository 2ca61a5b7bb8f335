"""The API's error shape, translations, pagination, filtering, schema and roles."""

import os

import pytest
import yaml
from django.core.management import call_command

from omo.models import AuditLog, Location
from omo.services.locations import location_create

pytestmark = pytest.mark.django_db


def test_domain_error_has_one_shape(api_as, owner, cwb):
    response = api_as(owner).post(
        "/api/v1/locations/", {"code": "CWB", "name_en": "Again", "name_zh_hant": "重覆"}
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == "invalid"
    assert "code" in body["extra"]["fields"]


def test_serializer_validation_error_has_the_same_shape(api_as, owner):
    response = api_as(owner).post("/api/v1/locations/", {"code": "TW"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["extra"]["fields"]) == {"name_en", "name_zh_hant"}
    assert not Location.objects.filter(code="TW").exists()


def test_not_found_and_unauthenticated_have_the_same_shape(api, api_as, owner):
    assert api.get("/api/v1/locations/").json()["code"] == "not_authenticated"
    missing = api_as(owner).get("/api/v1/locations/999999/")
    assert missing.status_code == 404
    assert set(missing.json()) == {"code", "message", "extra"}
    assert missing.json()["code"] == "not_found"


def test_messages_follow_the_users_language(api_as, owner, cwb):
    client = api_as(owner)
    chinese = client.post(
        "/api/v1/locations/",
        {"code": "CWB", "name_en": "X", "name_zh_hant": "X"},
        HTTP_ACCEPT_LANGUAGE="zh-hant",
    )
    assert chinese.json()["message"] == "請更正標示的欄位。"
    assert chinese.json()["extra"]["fields"]["code"] == "已有相同代碼的地點。"
    english = client.post(
        "/api/v1/locations/", {"code": "CWB", "name_en": "X", "name_zh_hant": "X"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert english.json()["message"] == "Please correct the highlighted fields."


def test_list_is_paginated_and_filterable(api_as, owner):
    for n in range(5):
        location_create(actor=owner, code=f"BR{n}", name_en=f"Branch {n}", name_zh_hant=f"分店{n}")
    location_create(actor=owner, code="WH1", name_en="Warehouse", name_zh_hant="倉", kind="warehouse")
    client = api_as(owner)
    page = client.get("/api/v1/locations/?page_size=2").json()
    assert page["count"] == 6 and len(page["results"]) == 2 and page["next"]
    warehouses = client.get("/api/v1/locations/?kind=warehouse").json()
    assert [row["code"] for row in warehouses["results"]] == ["WH1"]
    searched = client.get("/api/v1/locations/", {"search": "分店3"}).json()
    assert [row["code"] for row in searched["results"]] == ["BR3"]


def test_only_owners_change_locations(api_as, cwb_manager, cwb_cashier, customer, owner):
    for user in (cwb_manager, cwb_cashier):
        client = api_as(user)
        assert client.get("/api/v1/locations/").status_code == 200
        assert (
            client.post(
                "/api/v1/locations/", {"code": "NEW", "name_en": "N", "name_zh_hant": "新"}
            ).status_code
            == 403
        )
    assert api_as(customer).get("/api/v1/locations/").status_code == 403
    created = api_as(owner).post(
        "/api/v1/locations/", {"code": "new", "name_en": "Sha Tin", "name_zh_hant": "沙田"}
    )
    assert created.status_code == 201 and created.json()["code"] == "NEW"
    entry = AuditLog.objects.get(action="location.create")
    assert entry.actor == owner and entry.after["name_zh_hant"] == "沙田"


def test_schema_is_openapi_3(api):
    response = api.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/locations/" in schema["paths"]
    assert "apiToken" in schema["components"]["securitySchemes"]


def test_schema_validates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)


def test_docs_page_serves_without_a_cdn(api):
    response = api.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"cdn.jsdelivr" not in response.content
