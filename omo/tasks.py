"""Thin tasks: take ids, call one service, leave retries to Celery."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from omo.models import IdempotencyKey
from omo.services.outbox import outbox_purge, outbox_relay


@shared_task
def outbox_relay_task() -> int:
    return outbox_relay()


@shared_task
def idempotency_keys_purge_task() -> int:
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted + outbox_purge(older_than=settings.IDEMPOTENCY_KEY_TTL)
