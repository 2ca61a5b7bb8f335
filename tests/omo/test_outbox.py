"""The outbox: a Redis outage at commit time loses nothing, and a task delivered twice acts once."""

import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction
from django.utils import timezone

from omo.celery import app as celery_app
from omo.models import AuditLog, OutboxMessage
from omo.services.locations import location_create
from omo.services.outbox import MAX_DELIVERIES, REDELIVER_AFTER, outbox_enqueue, outbox_relay
from tests.omo import probe_tasks  # noqa: F401  (registers tests.outbox_probe)
from tests.redis_server import PrivateRedis


def broker_switch(url: str) -> None:
    """Points the Celery app at another broker, dropping pooled connections to the old one."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.conf.broker_url = url


@pytest.fixture
def private_redis():
    with tempfile.TemporaryDirectory(prefix="omo-r") as directory:
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
def test_redis_outage_at_commit_loses_nothing_and_the_task_acts_once(private_redis, owner):
    private_redis.stop()

    started = time.monotonic()
    with transaction.atomic():
        location = location_create(actor=owner, code="ST", name_en="Sha Tin", name_zh_hant="沙田")
        message = outbox_enqueue(task="tests.outbox_probe", kwargs={"location_id": location.pk})
    assert time.monotonic() - started < 2, "a broker outage must not hold up the request"

    message.refresh_from_db()
    assert message.sent_at is None and message.attempts == 1 and message.last_error
    assert outbox_relay() == 0  # still down: nothing sent, nothing lost

    private_redis.start()
    assert outbox_relay() == 1
    assert outbox_relay() == 0
    message.refresh_from_db()
    assert message.sent_at is not None and message.processed_at is None

    # A relay that crashed after publishing, before marking, publishes the same message again.
    celery_app.send_task(message.task_name, kwargs=message.kwargs, task_id=message.task_id)
    queue = private_redis.client()
    assert queue.llen("celery") == 2

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        wait_until(lambda: queue.llen("celery") == 0 and not queue.hlen("unacked"))

    assert AuditLog.objects.filter(action="probe.ran", object_id=str(location.pk)).count() == 1
    message.refresh_from_db()
    assert message.processed_at is not None


@pytest.mark.django_db(transaction=True)
def test_work_of_a_rolled_back_transaction_is_never_sent(private_redis):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        outbox_enqueue(task="tests.outbox_probe", kwargs={"location_id": 1})
        1 / 0  # noqa: B018
    assert not OutboxMessage.objects.exists()
    assert private_redis.client().llen("celery") == 0


@pytest.mark.django_db(transaction=True)
def test_sent_at_commit_when_the_broker_is_up(private_redis):
    with transaction.atomic():
        message = outbox_enqueue(task="tests.outbox_probe", kwargs={"location_id": 1})
    message.refresh_from_db()
    assert message.sent_at is not None
    assert private_redis.client().llen("celery") == 1


@pytest.mark.django_db(transaction=True)
def test_sent_but_never_processed_is_sent_again_up_to_a_limit(private_redis):
    stale = timezone.now() - REDELIVER_AFTER - timedelta(minutes=1)
    lost = OutboxMessage.objects.create(
        task_name="tests.outbox_probe", kwargs={"location_id": 1}, sent_at=stale, attempts=1
    )
    hopeless = OutboxMessage.objects.create(
        task_name="tests.outbox_probe", sent_at=stale, attempts=MAX_DELIVERIES
    )
    assert outbox_relay() == 1
    lost.refresh_from_db()
    hopeless.refresh_from_db()
    assert lost.attempts == 2 and lost.sent_at > stale
    assert hopeless.attempts == MAX_DELIVERIES and hopeless.sent_at == stale
