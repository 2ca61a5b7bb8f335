from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WebhookEndpoint(models.Model):
    """A URL an integration gave us; events of its topics are POSTed there, signed with its secret.

    The secret must be usable to sign, so it is stored as is (unlike API token keys); the API shows it once.
    """

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    topics = ArrayField(
        models.CharField(max_length=40),
        default=list,
        verbose_name=_("topics"),
        help_text=_('Event topics sent here, e.g. order.paid, stock.low; "*" for every topic.'),
    )
    secret = models.CharField(max_length=80, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Failed attempts since the last success, and in all; they tell the owner an integration is down.
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0, editable=False)
    failure_count = models.PositiveIntegerField(_("failures"), default=0, editable=False)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True, editable=False)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.name

    def subscribes_to(self, topic: str) -> bool:
        return "*" in self.topics or topic in self.topics


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed (gave up)")


class WebhookDelivery(models.Model):
    """One event for one endpoint, and how sending it went. At most one per (endpoint, event)."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries", verbose_name=_("endpoint")
    )
    event_id = models.UUIDField(_("event id"))
    topic = models.CharField(_("topic"), max_length=64)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(_("occurred at"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, default=timezone.now)
    # A lease: the worker sending it owns the row until then; its value is also the claim's fencing token.
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_response_excerpt = models.CharField(_("last response"), max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_once_per_endpoint"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status=WebhookDeliveryStatus.PENDING),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.event_id} -> {self.endpoint_id}"
