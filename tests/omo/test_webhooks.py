"""Outbound webhooks against a real HTTP receiver: signed, retried with back-off, sent once, logged."""

import hashlib
import hmac
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection, transaction
from django.utils import timezone

from omo.celery import app as celery_app
from omo.errors import ValidationFailed
from omo.models import (
    ApiToken,
    AuditLog,
    OutboxMessage,
    Role,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from omo.services.accounts import api_token_create
from omo.services.events import event_emit, event_id_derive
from omo.services.webhooks import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    AttemptResult,
    WebhookDeliveryInProgress,
    webhook_deliver,
    webhook_deliveries_due,
    webhook_delivery_claim,
    webhook_delivery_record,
    webhook_endpoint_create,
    webhook_endpoint_deactivate,
    webhook_endpoint_update,
    webhook_redeliver,
    webhooks_fan_out,
)
from omo.tasks import event_publish_task, webhook_deliveries_retry_task
from tests.factories.omo import UserFactory
from tests.redis_server import PrivateRedis

PENDING, SUCCEEDED, FAILED = (
    WebhookDeliveryStatus.PENDING,
    WebhookDeliveryStatus.SUCCEEDED,
    WebhookDeliveryStatus.FAILED,
)


# --- A real receiver ----------------------------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and can be told to fail the next N."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.failures_left = 0
        self.failure_status = 500
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": {name.lower(): value for name, value in self.headers.items()},
                            "body": body,
                        }
                    )
                    failing = receiver.failures_left > 0
                    receiver.failures_left -= int(failing)
                time.sleep(receiver.delay)
                status, reply = (receiver.failure_status, b"boom") if failing else (200, b'{"ok": true}')
                self.send_response(status)
                if status in (301, 302, 307):
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/omo"

    def fail(self, times: int, status: int = 500) -> None:
        self.failures_left, self.failure_status = times, status

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOKS_ALLOW_HTTP = True  # the receiver speaks plain HTTP on 127.0.0.1
    server = Receiver()
    yield server
    server.stop()


def endpoint_make(
    url: str, topics: list[str] | None = None, name: str = "ERP"
) -> tuple[WebhookEndpoint, str]:
    with transaction.atomic():
        return webhook_endpoint_create(actor="test", name=name, url=url, topics=topics or ["order.paid"])


def delivery_make(endpoint: WebhookEndpoint, topic: str = "order.paid", **payload: object) -> WebhookDelivery:
    event_id = uuid.uuid4()
    webhooks_fan_out(
        event_id=event_id,
        topic=topic,
        payload=payload or {"order": "CWB-0001", "total": "388.00", "note": "銅鑼灣"},
        occurred_at=timezone.now().isoformat(),
    )
    return WebhookDelivery.objects.get(endpoint=endpoint, event_id=event_id)


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def signature_ok(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """The recipe from the omo.services.webhooks docstring, as a receiver would write it."""
    timestamp = headers["x-omo-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-omo-signature"], f"sha256={digest}")


# --- Sending ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_delivery_is_signed_and_shaped_as_documented(receiver):
    endpoint, secret = endpoint_make(receiver.url)
    delivery = delivery_make(endpoint)

    delivery = webhook_deliver(delivery_id=delivery.pk)

    assert delivery.status == SUCCEEDED and delivery.attempts == 1 and delivery.last_status_code == 200
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert delivery.last_response_excerpt == '{"ok": true}' and delivery.last_error == ""
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks/omo"
    assert headers["content-type"] == "application/json"
    assert headers["x-omo-event"] == "order.paid"
    assert headers["x-omo-delivery"] == str(delivery.pk)
    assert abs(int(headers["x-omo-timestamp"]) - time.time()) < 60
    assert signature_ok(secret, headers, body)
    assert not signature_ok("whsec_wrong", headers, body)
    assert not signature_ok(secret, headers, body + b" ")
    assert json.loads(body) == {
        "id": str(delivery.event_id),
        "topic": "order.paid",
        "occurred_at": delivery.occurred_at.isoformat(),
        "data": {"order": "CWB-0001", "total": "388.00", "note": "銅鑼灣"},
    }
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None and endpoint.consecutive_failures == 0


@pytest.mark.django_db
def test_failures_back_off_further_each_time_and_finally_give_up(receiver):
    receiver.fail(100)
    endpoint, _ = endpoint_make(receiver.url)
    delivery = delivery_make(endpoint)
    delays = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        make_due(delivery)
        before = timezone.now()
        delivery = webhook_deliver(delivery_id=delivery.pk)
        assert delivery.attempts == attempt and delivery.last_status_code == 500
        assert delivery.last_error.startswith("HTTP 500") and delivery.last_response_excerpt == "boom"
        if attempt < MAX_ATTEMPTS:
            assert delivery.status == PENDING
            delays.append((delivery.next_attempt_at - before).total_seconds())
            # Not due yet: a second worker (or a duplicate task) sends nothing before the back-off ends.
            assert webhook_deliver(delivery_id=delivery.pk).attempts == attempt
            assert len(receiver.requests) == attempt
    assert delivery.status == FAILED and delivery.next_attempt_at is None
    assert len(receiver.requests) == MAX_ATTEMPTS
    assert delays == sorted(delays) and len(set(delays)) == len(delays)
    for delay, planned in zip(delays, RETRY_DELAYS, strict=True):
        assert planned.total_seconds() * 0.89 <= delay <= planned.total_seconds() * 1.11
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == endpoint.failure_count == MAX_ATTEMPTS
    assert endpoint.last_failure_at is not None

    make_due(delivery)  # given up: nothing more is sent, whoever asks
    assert webhook_deliver(delivery_id=delivery.pk).status == FAILED
    assert len(receiver.requests) == MAX_ATTEMPTS
    assert delivery.pk not in webhook_deliveries_due()


@pytest.mark.django_db
def test_success_after_failures_resets_the_endpoints_failure_streak(receiver):
    receiver.fail(2)
    endpoint, _ = endpoint_make(receiver.url)
    delivery = delivery_make(endpoint)
    for _attempt in range(3):
        make_due(delivery)
        delivery = webhook_deliver(delivery_id=delivery.pk)
    assert delivery.status == SUCCEEDED and delivery.attempts == 3 and delivery.last_status_code == 200
    assert len(receiver.requests) == 3
    bodies = {request["body"] for request in receiver.requests}
    assert len(bodies) == 1, "every attempt sends the same bytes"
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.failure_count == 2


@pytest.mark.django_db
def test_delivering_twice_sends_once(receiver):
    endpoint, _ = endpoint_make(receiver.url)
    delivery = delivery_make(endpoint)
    webhook_deliver(delivery_id=delivery.pk)
    again = webhook_deliver(delivery_id=delivery.pk)
    assert again.status == SUCCEEDED and again.attempts == 1
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_once_and_hold_no_lock_while_sending(receiver):
    receiver.delay = 0.5
    endpoint, _ = endpoint_make(receiver.url)
    delivery = delivery_make(endpoint)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(webhook_deliver(delivery_id=delivery.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    # While the receiver holds the request, the row is not locked: the log can be read and locked.
    time.sleep(0.25)
    with transaction.atomic():
        assert WebhookDelivery.objects.select_for_update(nowait=True).get(pk=delivery.pk).attempts == 1
    for thread in threads:
        thread.join()
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == SUCCEEDED and delivery.attempts == 1


@pytest.mark.django_db
def test_a_stale_answer_never_overwrites_a_newer_attempt(receiver):
    endpoint, _ = endpoint_make(receiver.url)
    delivery = delivery_make(endpoint)
    slow, claimed = webhook_delivery_claim(delivery_id=delivery.pk)
    assert claimed
    # That worker vanished; its lease ran out and another worker sent the delivery.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert webhook_deliver(delivery_id=delivery.pk).status == SUCCEEDED
    # The lost worker comes back with a failure: dropped, the success stands.
    stale = webhook_delivery_record(
        delivery_id=delivery.pk, lease=slow.locked_until, result=AttemptResult(500, "HTTP 500")
    )
    assert stale is not None and stale.status == SUCCEEDED and stale.attempts == 2


@pytest.mark.django_db
def test_network_failures_are_failed_attempts_not_errors(receiver, settings):
    settings.WEBHOOKS_TIMEOUT = 0.3
    receiver.delay = 1.0
    endpoint, _ = endpoint_make(receiver.url)
    slow = webhook_deliver(delivery_id=delivery_make(endpoint).pk)
    assert slow.status == PENDING and slow.last_status_code is None and "timed out" in slow.last_error

    receiver.delay = 0
    receiver.fail(1, status=302)
    redirected = webhook_deliver(delivery_id=delivery_make(endpoint).pk)
    assert redirected.status == PENDING and redirected.last_status_code == 302, "redirects are not followed"

    refused, _ = endpoint_make("http://127.0.0.1:1/nothing-listens", name="Gone")
    delivery = webhook_deliver(delivery_id=delivery_make(refused).pk)
    assert delivery.status == PENDING and delivery.last_status_code is None and delivery.last_error


# --- Fan-out ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_fan_out_follows_topics_skips_inactive_endpoints_and_is_idempotent():
    paid, _ = endpoint_make("https://erp.example.com/a", ["order.paid", "order.refunded"], name="ERP")
    everything, _ = endpoint_make("https://crm.example.com/b", ["*"], name="CRM")
    stock, _ = endpoint_make("https://wms.example.com/c", ["stock.low"], name="WMS")
    off, _ = endpoint_make("https://old.example.com/d", ["*"], name="Old")
    with transaction.atomic():
        webhook_endpoint_deactivate(actor="test", endpoint_id=off.pk)
    event = {"event_id": str(uuid.uuid4()), "topic": "order.paid", "payload": {"order": "CWB-0001"}}
    occurred_at = timezone.now().isoformat()

    assert webhooks_fan_out(**event, occurred_at=occurred_at) == 2
    assert webhooks_fan_out(**event, occurred_at=occurred_at) == 0
    rows = WebhookDelivery.objects.filter(event_id=event["event_id"])
    assert sorted(rows.values_list("endpoint__name", flat=True)) == ["CRM", "ERP"]
    assert set(rows.values_list("status", flat=True)) == {PENDING}
    assert not WebhookDelivery.objects.filter(endpoint__in=[stock, off]).exists()
    assert paid.subscribes_to("order.paid") and everything.subscribes_to("stock.low")


@pytest.mark.django_db
def test_the_event_task_fans_out_once_per_event_id_and_queues_the_sends(django_capture_on_commit_callbacks):
    endpoint, _ = endpoint_make("https://erp.example.com/hooks")
    args = {
        "topic": "order.paid",
        "payload": {"order": "CWB-0002"},
        "occurred_at": timezone.now().isoformat(),
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert event_publish_task(**args) == 1  # a message stored before events carried an id
    assert len(callbacks) == 1  # the send is queued after commit, never from inside the transaction
    assert event_publish_task(**args) == 0  # relayed again: the derived id is the same
    assert WebhookDelivery.objects.get().event_id == uuid.UUID(event_id_derive(**args))
    event_id = str(uuid.uuid4())
    assert event_publish_task(**args, event_id=event_id) == 1
    assert event_publish_task(**args, event_id=event_id) == 0
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2


@pytest.mark.django_db
def test_only_due_unleased_deliveries_of_active_endpoints_are_retried(django_capture_on_commit_callbacks):
    endpoint, _ = endpoint_make("https://erp.example.com/hooks")
    due = delivery_make(endpoint)
    later = delivery_make(endpoint)
    leased = delivery_make(endpoint)
    done = delivery_make(endpoint)
    WebhookDelivery.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=2))
    WebhookDelivery.objects.filter(pk=leased.pk).update(locked_until=timezone.now() + timedelta(minutes=1))
    WebhookDelivery.objects.filter(pk=done.pk).update(status=SUCCEEDED, next_attempt_at=None)
    assert webhook_deliveries_due() == [due.pk]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert webhook_deliveries_retry_task() == 1
    assert len(callbacks) == 1
    with transaction.atomic():
        webhook_endpoint_update(actor="test", endpoint_id=endpoint.pk, is_active=False)
    assert webhook_deliveries_due() == []  # paused with the endpoint, resumed when it is switched on


# --- Through the outbox -------------------------------------------------------------------------------------


def broker_switch(url: str) -> None:
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.conf.broker_url = url


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with tempfile.TemporaryDirectory(prefix="omo-w") as directory:
        server = PrivateRedis(Path(directory))
        server.start()
        previous = celery_app.conf.broker_url
        broker_switch(server.broker_url)
        try:
            yield server
        finally:
            broker_switch(previous)
            server.stop()


def wait_until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_committed_event_reaches_the_receiver_through_the_outbox_and_a_worker(private_redis, receiver):
    endpoint, secret = endpoint_make(receiver.url)
    with transaction.atomic():
        message = event_emit(topic="order.paid", payload={"order": "CWB-0003"})
    event_id = message.kwargs["event_id"]

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        wait_until(lambda: WebhookDelivery.objects.filter(status=SUCCEEDED).exists())

    [request] = receiver.requests
    assert json.loads(request["body"])["id"] == event_id
    assert signature_ok(secret, request["headers"], request["body"])
    delivery = WebhookDelivery.objects.get()
    assert str(delivery.event_id) == event_id and delivery.endpoint == endpoint


@pytest.mark.django_db(transaction=True)
def test_an_event_of_a_rolled_back_transaction_is_never_delivered(private_redis, receiver):
    endpoint_make(receiver.url, ["*"])
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        event_emit(topic="order.paid", payload={"order": "CWB-0004"})
        1 / 0  # noqa: B018
    assert not OutboxMessage.objects.exists()
    assert private_redis.client().llen("celery") == 0
    assert webhook_deliveries_retry_task() == 0
    assert not WebhookDelivery.objects.exists() and receiver.requests == []


# --- Endpoints: validation ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_plain_http_is_refused_unless_allowed(settings):
    settings.DEBUG = False
    settings.WEBHOOKS_ALLOW_HTTP = False
    with pytest.raises(ValidationFailed) as refused, transaction.atomic():
        webhook_endpoint_create(actor="test", name="ERP", url="http://erp.example.com/h", topics=["*"])
    assert "https://" in refused.value.extra["fields"]["url"]
    for url in ("ftp://erp.example.com/h", "file:///etc/passwd", "not a url", "https://" + "a" * 500 + ".hk"):
        with pytest.raises(ValidationFailed), transaction.atomic():
            webhook_endpoint_create(actor="test", name="ERP", url=url, topics=["*"])
    assert not WebhookEndpoint.objects.exists()

    endpoint, secret = endpoint_make(" https://erp.example.com/h ")
    assert endpoint.url == "https://erp.example.com/h" and secret.startswith("whsec_")
    assert endpoint.secret == secret and len(secret) > 40

    settings.WEBHOOKS_ALLOW_HTTP = True
    assert endpoint_make("http://127.0.0.1:8000/h")[0].url == "http://127.0.0.1:8000/h"
    settings.WEBHOOKS_ALLOW_HTTP = False
    settings.DEBUG = True
    assert endpoint_make("http://localhost:8000/h")[0].url == "http://localhost:8000/h"


@pytest.mark.django_db
def test_names_and_topics_are_checked_all_at_once():
    with pytest.raises(ValidationFailed) as refused, transaction.atomic():
        webhook_endpoint_create(actor="test", name=" ", url="nope", topics=["order.paid", "order.eaten"])
    assert set(refused.value.extra["fields"]) == {"name", "url", "topics"}
    assert "order.eaten" in refused.value.extra["fields"]["topics"]
    with pytest.raises(ValidationFailed), transaction.atomic():
        webhook_endpoint_create(actor="test", name="ERP", url="https://erp.example.com", topics=[])
    endpoint, _ = endpoint_make("https://erp.example.com", ["stock.low", "order.paid", "order.paid"])
    assert endpoint.topics == ["order.paid", "stock.low"]
    assert endpoint_make("https://erp.example.com", ["order.paid", "*"])[0].topics == ["*"]


# --- API ----------------------------------------------------------------------------------------------------

ENDPOINTS = "/api/v1/webhook-endpoints/"
DELIVERIES = "/api/v1/webhook-deliveries/"


def endpoint_body(**changes: object) -> dict:
    return {"name": "ERP", "url": "https://erp.example.com/hooks", "topics": ["order.paid"], **changes}


def test_only_owners_manage_webhooks(api_as, owner, cwb_manager, cwb_cashier):
    for user in (cwb_cashier, cwb_manager):
        assert api_as(user).get(ENDPOINTS).status_code == 403
        assert api_as(user).post(ENDPOINTS, endpoint_body(), format="json").status_code == 403
        assert api_as(user).get(DELIVERIES).status_code == 403
    assert not WebhookEndpoint.objects.exists()

    created = api_as(owner).post(ENDPOINTS, endpoint_body(), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["is_active"] and body["created_by"] == "owner"
    assert WebhookEndpoint.objects.get().secret == body["secret"]
    listed = api_as(owner).get(ENDPOINTS).json()["results"]
    assert [row["id"] for row in listed] == [body["id"]] and "secret" not in listed[0]
    detail = api_as(owner).get(f"{ENDPOINTS}{body['id']}/").json()
    assert "secret" not in detail and body["secret"] not in json.dumps(detail)
    entry = AuditLog.objects.get(action="webhook_endpoint.create")
    assert entry.actor == owner and body["secret"] not in json.dumps(entry.after)


def test_tokens_need_the_webhooks_scopes(api, owner, db):
    integration = UserFactory(username="erp", role=Role.API_CLIENT)
    _, reader = api_token_create(name="R", user=integration, scopes=["webhooks:read"], actor=owner)
    _, writer = api_token_create(name="W", user=integration, scopes=["webhooks:write"], actor=owner)
    _, other = api_token_create(name="O", user=integration, scopes=["locations:read"], actor=owner)
    api.credentials(HTTP_AUTHORIZATION=f"Token {other}")
    assert api.get(ENDPOINTS).status_code == 403
    api.credentials(HTTP_AUTHORIZATION=f"Token {reader}")
    assert api.get(ENDPOINTS).status_code == 200 and api.get(DELIVERIES).status_code == 200
    assert api.post(ENDPOINTS, endpoint_body(), format="json").status_code == 403
    api.credentials(HTTP_AUTHORIZATION=f"Token {writer}")
    assert api.post(ENDPOINTS, endpoint_body(), format="json").status_code == 201
    assert ApiToken.objects.count() == 3


def test_http_urls_and_unknown_topics_are_400(api_as, owner, settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    response = api_as(owner).post(ENDPOINTS, endpoint_body(url="http://erp.example.com/h"), format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert "https://" in response.json()["extra"]["fields"]["url"]
    response = api_as(owner).post(ENDPOINTS, endpoint_body(topics=["order.eaten"]), format="json")
    assert response.status_code == 400 and "topics" in response.json()["extra"]["fields"]
    settings.WEBHOOKS_ALLOW_HTTP = True
    response = api_as(owner).post(ENDPOINTS, endpoint_body(url="http://127.0.0.1:9/h"), format="json")
    assert response.status_code == 201


def test_update_and_delete_which_switches_off(api_as, owner):
    client = api_as(owner)
    endpoint_id = client.post(ENDPOINTS, endpoint_body(), format="json").json()["id"]
    patched = client.patch(
        f"{ENDPOINTS}{endpoint_id}/", {"topics": ["stock.low", "order.paid"]}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["topics"] == ["order.paid", "stock.low"]
    put = client.put(f"{ENDPOINTS}{endpoint_id}/", endpoint_body(name="ERP 2"), format="json")
    assert put.status_code == 200 and put.json()["name"] == "ERP 2" and put.json()["topics"] == ["order.paid"]
    assert client.put(f"{ENDPOINTS}{endpoint_id}/", {"name": "x"}, format="json").status_code == 400
    assert client.delete(f"{ENDPOINTS}{endpoint_id}/").status_code == 204
    assert not WebhookEndpoint.objects.get().is_active
    assert client.delete(f"{ENDPOINTS}{endpoint_id}/").status_code == 204  # already off: nothing to audit
    assert client.delete(f"{ENDPOINTS}999999/").status_code == 404
    actions = list(AuditLog.objects.order_by("pk").values_list("action", flat=True))
    assert actions == [
        "webhook_endpoint.create",
        "webhook_endpoint.update",
        "webhook_endpoint.update",
        "webhook_endpoint.deactivate",
    ]
    switched_on = client.patch(f"{ENDPOINTS}{endpoint_id}/", {"is_active": True}, format="json")
    assert switched_on.json()["is_active"] is True


def test_delivery_log_filters_and_redelivery(api_as, owner, django_capture_on_commit_callbacks):
    client = api_as(owner)
    erp, _ = endpoint_make("https://erp.example.com/h", ["*"], name="ERP")
    crm, _ = endpoint_make("https://crm.example.com/h", ["*"], name="CRM")
    delivery_make(erp, "order.paid")
    delivery_make(crm, "stock.low")
    failed = delivery_make(erp, "stock.low")
    WebhookDelivery.objects.filter(pk=failed.pk).update(
        status=FAILED, attempts=MAX_ATTEMPTS, next_attempt_at=None
    )

    def ids(**query: object) -> list[int]:
        response = client.get(DELIVERIES, query)
        assert response.status_code == 200
        return sorted(row["id"] for row in response.json()["results"])

    assert len(ids()) == 6  # each event fans out to both endpoints
    assert ids(status="failed") == [failed.pk]
    assert len(ids(topic="stock.low")) == 4 and len(ids(endpoint=crm.pk)) == 3
    assert ids(endpoint=erp.pk, topic="stock.low", status="failed") == [failed.pk]
    row = client.get(f"{DELIVERIES}{failed.pk}/").json()
    assert row["endpoint_name"] == "ERP" and row["payload"] and row["attempts"] == MAX_ATTEMPTS

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(f"{DELIVERIES}{failed.pk}/redeliver/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "pending" and response.json()["attempts"] == 0
    assert len(callbacks) == 1
    entry = AuditLog.objects.get(action="webhook_delivery.redeliver")
    assert entry.before == {"status": "failed", "attempts": MAX_ATTEMPTS} and entry.actor == owner
    assert client.post(f"{DELIVERIES}999999/redeliver/").status_code == 404

    WebhookDelivery.objects.filter(pk=failed.pk).update(locked_until=timezone.now() + timedelta(minutes=1))
    busy = client.post(f"{DELIVERIES}{failed.pk}/redeliver/")
    assert busy.status_code == 409 and busy.json()["code"] == WebhookDeliveryInProgress.code
    with transaction.atomic():
        webhook_endpoint_deactivate(actor="test", endpoint_id=erp.pk)
    off = client.post(f"{DELIVERIES}{failed.pk}/redeliver/")
    assert off.status_code == 409 and off.json()["code"] == "webhook_endpoint_inactive"


# --- Admin --------------------------------------------------------------------------------------------------


def test_back_office_shows_the_secret_once_and_redelivers(client, owner, cwb_manager, receiver):
    owner.is_staff = cwb_manager.is_staff = True
    owner.save()
    cwb_manager.save()
    client.force_login(owner)
    added = client.post(
        "/admin/omo/webhookendpoint/add/",
        {"name": "ERP", "url": receiver.url, "topics": "order.paid,stock.low"},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.topics == ["order.paid", "stock.low"]
    assert endpoint.secret in added.content.decode()
    assert (
        endpoint.secret
        not in client.get(f"/admin/omo/webhookendpoint/{endpoint.pk}/change/").content.decode()
    )
    assert AuditLog.objects.filter(action="webhook_endpoint.create", actor=owner).exists()
    refused = client.post(
        "/admin/omo/webhookendpoint/add/", {"name": "X", "url": "ftp://x.example.com", "topics": "nope"}
    )
    assert refused.status_code == 200 and WebhookEndpoint.objects.count() == 1

    delivery = delivery_make(endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=FAILED, next_attempt_at=None)
    client.post(
        "/admin/omo/webhookdelivery/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert delivery.status == PENDING and delivery.attempts == 0
    assert AuditLog.objects.filter(action="webhook_delivery.redeliver").exists()

    client.force_login(cwb_manager)
    assert client.get("/admin/omo/webhookendpoint/").status_code == 403
    assert client.get("/admin/omo/webhookdelivery/").status_code == 403


@pytest.mark.django_db
def test_redelivery_of_a_succeeded_delivery_sends_it_again(receiver):
    endpoint, _ = endpoint_make(receiver.url)
    delivery = webhook_deliver(delivery_id=delivery_make(endpoint).pk)
    with transaction.atomic():
        webhook_redeliver(delivery_id=delivery.pk, actor="test")
    again = webhook_deliver(delivery_id=delivery.pk)
    assert again.status == SUCCEEDED and again.attempts == 1 and len(receiver.requests) == 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]


@pytest.mark.django_db
def test_the_events_of_one_act_are_one_message_and_one_delivery_each():
    from django.db import transaction

    from omo.models import OutboxMessage
    from omo.services.events import events_emit
    from omo.tasks import events_publish_task

    endpoint, _secret = webhook_endpoint_create(
        actor="test", name="ERP", url="https://erp.example.com/hook", topics=["order.placed", "stock.changed"]
    )
    with transaction.atomic():
        events_emit(
            [("order.placed", {"id": 1}), ("order.paid", {"id": 1}), ("stock.changed", {"lines": []})]
        )
    message = OutboxMessage.objects.get()
    assert [event["topic"] for event in message.kwargs["events"]] == [
        "order.placed",
        "order.paid",
        "stock.changed",
    ]
    assert events_publish_task(**message.kwargs) == 2
    assert events_publish_task(**message.kwargs) == 0  # delivered twice by the broker: nothing new
    assert sorted(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("topic", flat=True)) == [
        "order.placed",
        "stock.changed",
    ]
