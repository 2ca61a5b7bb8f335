import hashlib

import pytest

from omo.models import ApiToken, AuditLog, Role
from tests.factories.omo import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(db):
    return UserFactory(username="erp", role=Role.API_CLIENT)


def test_owner_creates_a_token_shown_once_and_stored_hashed(api_as, owner, integration):
    response = api_as(owner).post(
        "/api/v1/api-tokens/",
        {"name": "ERP sync", "username": "erp", "scopes": ["locations:read"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    key = response.json()["key"]
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(ApiToken.objects.values().get())
    assert "key" not in api_as(owner).get("/api/v1/api-tokens/").json()["results"][0]
    assert AuditLog.objects.filter(action="api_token.create").exists()


def token_create(client, name: str, scopes: list[str]) -> dict:
    response = client.post(
        "/api/v1/api-tokens/", {"name": name, "username": "erp", "scopes": scopes}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_token_scopes_decide_what_it_may_do(api, api_as, owner, integration, cwb):
    key = token_create(api_as(owner), "Reader", ["locations:read"])["key"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/locations/").status_code == 200
    denied = api.post("/api/v1/locations/", {"code": "X1", "name_en": "x", "name_zh_hant": "x"})
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    assert api.get("/api/v1/audit-log/").status_code == 403
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/locations/").status_code == 200


def test_revoked_or_wrong_token_is_401(api, api_as, owner, integration):
    created = token_create(api_as(owner), "Tmp", ["locations:read"])
    assert api_as(owner).delete(f"/api/v1/api-tokens/{created['id']}/").status_code == 204
    api.credentials(HTTP_AUTHORIZATION=f"Token {created['key']}")
    response = api.get("/api/v1/locations/")
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"
    api.credentials(HTTP_AUTHORIZATION="Token omo_nope_nope")
    assert api.get("/api/v1/locations/").status_code == 401


def test_only_owners_manage_tokens_and_scopes_are_checked(api_as, owner, cwb_manager, integration):
    assert api_as(cwb_manager).get("/api/v1/api-tokens/").status_code == 403
    bad = api_as(owner).post(
        "/api/v1/api-tokens/", {"name": "Bad", "username": "erp", "scopes": ["root:all"]}, format="json"
    )
    assert bad.status_code == 400 and "scopes" in bad.json()["extra"]["fields"]
    staff = api_as(owner).post(
        "/api/v1/api-tokens/",
        {"name": "Bad", "username": "cwb-manager", "scopes": ["locations:read"]},
        format="json",
    )
    assert staff.status_code == 404
    assert not ApiToken.objects.exists()


def test_a_malformed_id_is_404_not_a_server_error(api_as, owner):
    for path in ("/api/v1/api-tokens/abc/", "/api/v1/locations/null,null/", "/api/v1/audit-log/1.5/"):
        method = "delete" if "api-tokens" in path else "patch"
        assert getattr(api_as(owner), method)(path, {}, format="json").status_code == 404
