"""Thin tasks: take ids, call one service, leave retries to Celery."""

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from omo.errors import NotFound
from omo.models import IdempotencyKey
from omo.services.events import event_id_derive
from omo.services.outbox import outbox_purge, outbox_relay
from omo.services.webhooks import (
    webhook_deliver,
    webhook_deliveries_due,
    webhook_deliveries_enqueue,
    webhooks_fan_out,
)

logger = logging.getLogger(__name__)


@shared_task
def outbox_relay_task() -> int:
    return outbox_relay()


@shared_task
def idempotency_keys_purge_task() -> int:
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted + outbox_purge(older_than=settings.IDEMPOTENCY_KEY_TTL)


# Due deliveries queued per beat run (every 30 s); the rest wait for the next run.
WEBHOOK_RETRY_BATCH = 200


def event_publish(topic: str, payload: dict[str, Any], occurred_at: str, event_id: str | None = None) -> int:
    """Publishes one domain event: logs it, records a webhook delivery per subscribed endpoint and queues them
    after commit. Events stored before they carried an id get a stable one derived from their content."""
    event_id = event_id or event_id_derive(topic=topic, payload=payload, occurred_at=occurred_at)
    logger.info("event %s %s at %s: %s", topic, event_id, occurred_at, payload)
    created = webhooks_fan_out(event_id=event_id, topic=topic, payload=payload, occurred_at=occurred_at)
    webhook_deliveries_enqueue(delivery_ids=webhook_deliveries_due(event_id=event_id))
    return created


@shared_task
def event_publish_task(
    topic: str, payload: dict[str, Any], occurred_at: str, event_id: str | None = None
) -> int:
    return event_publish(topic, payload, occurred_at, event_id)


@shared_task
def events_publish_task(events: list[dict[str, Any]]) -> int:
    """The events of one act (a sale: placed, paid, stock changed), published in order from one message."""
    return sum(event_publish(**event) for event in events)


@shared_task
def webhook_deliver_task(delivery_id: int) -> str:
    try:
        return webhook_deliver(delivery_id=delivery_id).status
    except NotFound:
        logger.warning("webhook delivery %s no longer exists", delivery_id)
        return "missing"


@shared_task
def webhook_deliveries_retry_task() -> int:
    """Queues every due delivery: retries after back-off, redeliveries, and any whose message was lost."""
    delivery_ids = webhook_deliveries_due(limit=WEBHOOK_RETRY_BATCH)
    webhook_deliveries_enqueue(delivery_ids=delivery_ids)
    return len(delivery_ids)
