"""Thin tasks: take ids, call one service, leave retries to Celery."""

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from omo.models import IdempotencyKey
from omo.services.outbox import outbox_purge, outbox_relay

logger = logging.getLogger(__name__)


@shared_task
def outbox_relay_task() -> int:
    return outbox_relay()


@shared_task
def idempotency_keys_purge_task() -> int:
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted + outbox_purge(older_than=settings.IDEMPOTENCY_KEY_TTL)


@shared_task
def event_publish_task(topic: str, payload: dict[str, Any], occurred_at: str) -> None:
    """Publishes one domain event. For now it is logged; outbound webhooks will subscribe here."""
    logger.info("event %s at %s: %s", topic, occurred_at, payload)
