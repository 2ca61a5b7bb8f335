import pytest
from celery.contrib.testing.worker import start_worker

from omo.celery import app as celery_app
from tests.omo.test_outbox import private_redis  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthy_when_database_redis_and_a_worker_answer(client, private_redis, settings):  # noqa: F811
    settings.REDIS_URL = private_redis.url
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "worker": "ok"}}


def test_unhealthy_without_a_worker(client, private_redis, settings):  # noqa: F811
    settings.REDIS_URL = private_redis.url
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"] == "ok"
    assert body["checks"]["worker"].startswith("error")


def test_unhealthy_when_redis_is_down(client, private_redis, settings):  # noqa: F811
    settings.REDIS_URL = private_redis.url
    private_redis.stop()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")
