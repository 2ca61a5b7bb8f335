"""What /healthz checks: the database, Redis, and that at least one Celery worker answers."""

from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection


def database_check() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def redis_check() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def worker_check() -> str:
    from omo.celery import app

    replies = app.control.ping(timeout=2.0, limit=1)  # returns at the first answer
    if not replies:
        raise RuntimeError("no Celery worker answered")
    return "ok"


CHECKS: dict[str, Callable[[], str]] = {
    "database": database_check,
    "redis": redis_check,
    "worker": worker_check,
}


def health_report() -> tuple[bool, dict[str, str]]:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        if name == "worker" and results.get("redis") != "ok":
            results[name] = "error: cannot reach workers without Redis"  # and the ping would only wait
            continue
        try:
            results[name] = check()
        except Exception as error:  # a health check reports every failure, whatever it is
            results[name] = f"error: {error}"[:200]
    return all(value == "ok" for value in results.values()), results
