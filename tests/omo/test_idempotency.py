"""Idempotency-Key: executed once; same body replays; other body 422; still running 409; per client."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from omo.api import views
from omo.models import AuditLog, IdempotencyKey, Location

pytestmark = pytest.mark.django_db

BODY = {"code": "ST", "name_en": "Sha Tin", "name_zh_hant": "沙田"}


def post(client: APIClient, body: dict, key: str | None = "sale-0001"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/locations/", body, format="json", **headers)


def test_same_key_same_body_runs_once_and_replays_the_first_response(api_as, owner):
    client = api_as(owner)
    first = post(client, BODY)
    again = post(
        client, {"name_zh_hant": "沙田", "code": "ST", "name_en": "Sha Tin"}
    )  # same body, other order
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Location.objects.filter(code="ST").count() == 1
    assert AuditLog.objects.filter(action="location.create").count() == 1


def test_same_key_other_body_is_422_and_changes_nothing(api_as, owner):
    client = api_as(owner)
    post(client, BODY)
    response = post(client, {**BODY, "code": "TP", "name_en": "Tai Po"})
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Location.objects.filter(code="TP").exists()


def test_same_key_on_another_endpoint_is_422(api_as, owner, cwb):
    client = api_as(owner)
    post(client, BODY)
    response = client.patch(
        f"/api/v1/locations/{cwb.pk}/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="sale-0001"
    )
    assert response.status_code == 422


def test_keys_are_scoped_per_client(api_as, owner):
    other_owner = type(owner).objects.create_user(username="owner2", password="x", role="owner")
    assert post(api_as(owner), BODY).status_code == 201
    response = post(api_as(other_owner), {**BODY, "code": "TP"})
    assert response.status_code == 201  # the same key from another client is a different key
    assert IdempotencyKey.objects.filter(key="sale-0001").count() == 2


def test_errors_are_not_stored_so_a_fixed_retry_runs(api_as, owner, cwb):
    client = api_as(owner)
    refused = post(client, {**BODY, "code": "CWB"})
    assert refused.status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert post(client, BODY).status_code == 201


def test_bad_key_is_a_clear_400(api_as, owner):
    response = post(api_as(owner), BODY, key="x" * 300)
    assert response.status_code == 400
    assert not Location.objects.filter(code="ST").exists()


def test_without_a_key_each_request_runs(api_as, owner):
    client = api_as(owner)
    assert post(client, BODY, key=None).status_code == 201
    assert post(client, BODY, key=None).status_code == 400  # the code now exists


@pytest.mark.django_db(transaction=True)
def test_duplicate_while_the_first_is_running_is_409(owner, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    real_create = views.location_create

    def slow_create(**kwargs):
        entered.set()
        assert release.wait(20)
        return real_create(**kwargs)

    monkeypatch.setattr(views, "location_create", slow_create)
    results: dict[str, int] = {}

    def first_request() -> None:
        client = APIClient()
        client.force_login(owner)
        results["first"] = post(client, BODY).status_code
        connection.close()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert entered.wait(20)
        client = APIClient()
        client.force_login(owner)
        duplicate = post(client, BODY)
        assert duplicate.status_code == 409
        assert duplicate.json()["code"] == "idempotency_in_progress"
        assert post(client, {**BODY, "code": "TP"}).status_code == 409
    finally:
        release.set()
        thread.join(30)
    assert results["first"] == 201
    replay = post(client, BODY)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert Location.objects.filter(code="ST").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_retries_creates_exactly_one(owner):
    """An offline POS replaying its queue while the network flaps: many copies at once, one effect."""
    copies = 8
    barrier = threading.Barrier(copies)
    statuses: list[int] = []

    def send() -> None:
        client = APIClient()
        client.force_login(owner)
        barrier.wait()
        statuses.append(post(client, BODY).status_code)
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(statuses) == copies
    assert set(statuses) <= {201, 409} and 201 in statuses
    assert Location.objects.filter(code="ST").count() == 1
    assert AuditLog.objects.filter(action="location.create").count() == 1
