from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """The stored first response to a request that carried an Idempotency-Key, per client."""

    scope = models.CharField(max_length=80)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_unique_per_scope")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class OutboxMessage(models.Model):
    """A task stored in the transaction that asked for it, relayed to the broker after commit.

    A broker outage at commit time leaves the row unsent; the relay sends it when the broker is back.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    available_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["available_at"], name="outbox_unsent", condition=models.Q(sent_at__isnull=True)
            ),
            models.Index(
                fields=["sent_at"], name="outbox_unprocessed", condition=models.Q(processed_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.task_name}"

    @property
    def task_id(self) -> str:
        return f"outbox-{self.pk}"
