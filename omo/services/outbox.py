"""The transactional outbox: work a transaction asks for is stored with it, relayed to Celery after commit."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from datetime import timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from omo.models import OutboxMessage

logger = logging.getLogger(__name__)

# A message sent but not processed after this long is sent again (Redis lost it, or no worker took it);
# OnceTask makes the second delivery harmless.
REDELIVER_AFTER = timedelta(minutes=15)
# A task that keeps failing is not sent for ever: after this many deliveries it waits for a person (admin).
MAX_DELIVERIES = 10


def outbox_enqueue(
    *, task: str, args: list[Any] | None = None, kwargs: dict[str, Any] | None = None, countdown: float = 0
) -> OutboxMessage:
    """Stores a task in the caller's transaction and tries to send it as soon as that commits.

    If the broker is down then, the row stays unsent and the relay (beat, every few seconds) sends it later.
    """
    message = OutboxMessage.objects.create(
        task_name=task,
        args=args or [],
        kwargs=kwargs or {},
        available_at=timezone.now() + timedelta(seconds=countdown),
    )
    if not countdown:
        transaction.on_commit(lambda: outbox_relay(message_ids=[message.pk]), robust=True)
    return message


def outbox_enqueue_many(items: list[tuple[str, dict[str, Any]]]) -> list[OutboxMessage]:
    """Stores several tasks (name, kwargs) in one INSERT; sent together as soon as the caller commits.

    A sale stores its events and its receipt rendering this way, in one query however many there are.
    """
    if not items:
        return []
    now = timezone.now()
    messages = OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(task_name=task, kwargs=kwargs, created_at=now, available_at=now)
            for task, kwargs in items
        ]
    )
    ids = [message.pk for message in messages]
    transaction.on_commit(lambda: outbox_relay(message_ids=ids), robust=True)
    return messages


# Claims due rows in one statement: marks them sent (and counts the try) and returns what to publish. Rows
# another relay holds are skipped, so two relays never publish the same row at once.
CLAIM_SQL = """
UPDATE omo_outboxmessage AS m SET sent_at = %(now)s, attempts = m.attempts + 1
WHERE m.id IN (
    SELECT id FROM omo_outboxmessage
    WHERE ((sent_at IS NULL AND available_at <= %(now)s)
           OR (processed_at IS NULL AND sent_at < %(stale)s AND attempts < %(max)s))
      AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING m.id, m.task_name, m.args, m.kwargs
"""
# Gives back rows a broker error kept from being published: the first one carries the error and its try.
UNCLAIM_SQL = """
UPDATE omo_outboxmessage
SET sent_at = NULL,
    attempts = CASE WHEN id = %(failed)s THEN attempts ELSE attempts - 1 END,
    last_error = CASE WHEN id = %(failed)s THEN %(error)s ELSE last_error END
WHERE id = ANY(%(ids)s::bigint[])
"""


class Claimed(NamedTuple):
    id: int
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]


def outbox_relay(*, message_ids: list[int] | None = None, limit: int | None = None) -> int:
    """Sends due, unsent messages (and stale unprocessed ones) to the broker; returns how many were sent.

    One statement claims the rows (marks them sent, SKIP LOCKED so concurrent relays never share a row);
    then they are published on this process's broker connection, kept open between sales. A broker error
    gives the unpublished rows back for the next run. A relay that dies between the claim and the publish
    leaves rows marked sent but unprocessed: they are sent again after REDELIVER_AFTER, and OnceTask makes
    a duplicate harmless.
    """
    now = timezone.now()
    params = {
        "now": now,
        "stale": now - REDELIVER_AFTER,
        "max": MAX_DELIVERIES,
        "ids": message_ids,
        "limit": limit or settings.OUTBOX_RELAY_BATCH,
    }
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, params)
        # Django leaves jsonb to its JSONField, so raw rows carry the JSON text.
        batch = sorted(
            (Claimed(pk, task, json.loads(args), json.loads(kwargs)) for pk, task, args, kwargs in cursor),
            key=lambda row: row.id,
        )
    if not batch:
        return 0
    sent = 0
    try:
        producer = broker_producer()
        for message in batch:
            broker_publish(producer, message)
            sent += 1
    except Exception as error:  # the broker is down or refused: give the rest back for the next run
        broker_producer_drop()
        logger.warning(
            "outbox relay: broker unavailable after %s of %s messages: %s", sent, len(batch), error
        )
        unsent = batch[sent:]
        with connection.cursor() as cursor:
            cursor.execute(
                UNCLAIM_SQL,
                {"failed": unsent[0].id, "error": str(error)[:1000], "ids": [row.id for row in unsent]},
            )
    return sent


_broker = threading.local()


def broker_producer() -> Any:
    """This process's (and thread's) producer on the broker, connected once and kept: a new connection per
    sale costs more than the sale's own SQL. One quick try to connect, so a Redis outage never holds up a
    sale; a different broker URL (tests switch it) makes a new one."""
    from omo.celery import app

    url = app.conf.broker_url
    cached = getattr(_broker, "producer", None)
    if cached is not None and _broker.url == url:
        return cached
    broker_producer_drop()
    conn = app.connection_for_write()
    conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    _broker.producer, _broker.url = app.amqp.Producer(conn), url
    return _broker.producer


def broker_producer_drop() -> None:
    producer = getattr(_broker, "producer", None)
    _broker.producer = None
    if producer is not None:
        with contextlib.suppress(Exception):
            producer.connection.release()


def broker_publish(producer: Any, message: Claimed) -> None:
    from omo.celery import OUTBOX_TASK_ID_PREFIX, app

    app.send_task(
        message.task_name,
        args=message.args,
        kwargs=message.kwargs,
        task_id=f"{OUTBOX_TASK_ID_PREFIX}{message.id}",
        producer=producer,
        retry=False,
        # Celery would otherwise render the arguments for monitoring on each message; the row keeps them.
        argsrepr="",
        kwargsrepr="",
    )


def outbox_purge(*, older_than: timedelta) -> int:
    """Deletes processed messages older than `older_than`."""
    cutoff = timezone.now() - older_than
    deleted, _ = OutboxMessage.objects.filter(processed_at__lt=cutoff).delete()
    return deleted
