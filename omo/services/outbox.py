"""The transactional outbox: work a transaction asks for is stored with it, relayed to Celery after commit."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
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


def outbox_relay(*, message_ids: list[int] | None = None, limit: int | None = None) -> int:
    """Sends due, unsent messages (and stale unprocessed ones) to the broker; returns how many were sent.

    Rows are locked with SKIP LOCKED, so concurrent relays never send the same row at once. Stops at the
    first broker error and leaves the rest for the next run.
    """
    from omo.celery import app

    now = timezone.now()
    limit = limit or settings.OUTBOX_RELAY_BATCH
    due = Q(sent_at__isnull=True, available_at__lte=now) | Q(
        processed_at__isnull=True, sent_at__lt=now - REDELIVER_AFTER, attempts__lt=MAX_DELIVERIES
    )
    sent = 0
    with transaction.atomic():
        rows = OutboxMessage.objects.select_for_update(skip_locked=True).filter(due).order_by("pk")
        if message_ids is not None:
            rows = rows.filter(pk__in=message_ids)
        batch = list(rows[:limit])
        if not batch:
            return 0
        try:
            with app.connection_for_write() as connection:
                # One try, no back-off: during a Redis outage a sale must not wait; the relay tries again.
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
                for message in batch:
                    app.send_task(
                        message.task_name,
                        args=message.args,
                        kwargs=message.kwargs,
                        task_id=message.task_id,
                        connection=connection,
                        retry=False,
                    )
                    message.sent_at = timezone.now()
                    message.attempts += 1
                    sent += 1
        except Exception as error:  # the broker is down or refused: keep the rest for the next run
            logger.warning(
                "outbox relay: broker unavailable after %s of %s messages: %s", sent, len(batch), error
            )
            if sent < len(batch):
                failed = batch[sent]
                failed.attempts += 1
                failed.last_error = str(error)[:1000]
        OutboxMessage.objects.bulk_update(batch, ["sent_at", "attempts", "last_error"])
    return sent


def outbox_purge(*, older_than: timedelta) -> int:
    """Deletes processed messages older than `older_than`."""
    cutoff = timezone.now() - older_than
    deleted, _ = OutboxMessage.objects.filter(processed_at__lt=cutoff).delete()
    return deleted
