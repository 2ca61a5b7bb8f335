"""Outbound webhooks: domain events POSTed to integrations, signed, retried with back-off, logged.

`event_publish_task` (run through the outbox once the event's transaction commits) calls `webhooks_fan_out`,
which writes one `WebhookDelivery` per active endpoint subscribed to the topic: at most one per endpoint and
event, however often the event is published. `webhook_deliver` sends one delivery; a failed attempt is tried
again after about 30 s, 2 min, 10 min, 1 h, 6 h, 12 h and 24 h (each ±10 %, picked up by the beat task
`webhook_deliveries_retry_task`), and after the 8th failed attempt the delivery is marked failed. The owner
can send any delivery again (`webhook_redeliver`, admin or API).

What the receiver gets::

    POST <endpoint URL>
    Content-Type: application/json
    X-OMO-Event: order.paid
    X-OMO-Delivery: 1234                 (the delivery's id; the same on every retry)
    X-OMO-Timestamp: 1767225600          (Unix seconds when this attempt was signed)
    X-OMO-Signature: sha256=<hex>

    {"id": "<event UUID>", "topic": "order.paid", "occurred_at": "2026-01-01T04:00:00+00:00", "data": {...}}

Header names are case-insensitive (they arrive as X-Omo-Signature): look them up that way. Any 2xx answer
within 5 s (settings.WEBHOOKS_TIMEOUT) is success. Anything else is a failed attempt: another status, a
redirect (never followed), a timeout, a refused connection. An event may arrive more than once (a retry after
a lost answer, a manual redelivery) and out of order: deduplicate on `id`.

Verifying a request: HMAC-SHA256 keyed with the endpoint's secret (shown once, when the endpoint is created)
over the timestamp header, a dot, and the raw body bytes exactly as received (before any JSON parsing)::

    import hashlib, hmac, time

    def omo_signature_ok(secret: str, headers, body: bytes, tolerance: int = 300) -> bool:
        timestamp = headers["X-OMO-Timestamp"]
        if abs(time.time() - int(timestamp)) > tolerance:  # refuse replays of old requests
            return False
        digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers["X-OMO-Signature"], f"sha256={digest}")

Each retry is signed again, with a new timestamp; the body stays byte-for-byte the same.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from omo.celery import app as celery_app
from omo.errors import Conflict, NotFound, ValidationFailed
from omo.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from omo.services.audit import audit_record

logger = logging.getLogger(__name__)

WEBHOOK_TOPICS: Final = (
    "order.placed",
    "order.paid",
    "order.refunded",
    "order.cancelled",
    "order.ready",
    "order.fulfilled",
    "stock.changed",
    "stock.low",
    "reservation.expiring",
)
ALL_TOPICS: Final = "*"
# The wait after the 1st, 2nd, ... failed attempt; after the last of these the next failure gives up.
RETRY_DELAYS: Final = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)
MAX_ATTEMPTS: Final = len(RETRY_DELAYS) + 1
JITTER: Final = 0.1  # ±10 %, so endpoints that failed together are not all retried in the same second
DEFAULT_TIMEOUT_SECONDS: Final = 5.0
# The lease outlives the request's timeout, so only a lost worker lets it run out.
LEASE_MARGIN: Final = timedelta(seconds=60)
DELIVER_TASK: Final = "omo.tasks.webhook_deliver_task"
USER_AGENT: Final = "OMO-Webhooks/1.0"
SECRET_PREFIX: Final = "whsec_"  # noqa: S105  (a prefix that tells the secret apart, not a secret)
RESPONSE_READ_BYTES: Final = 2048
EDITABLE: Final = ("name", "url", "topics", "is_active")
URL_MAX_LENGTH: Final = 500  # WebhookEndpoint.url


class WebhookEndpointInactive(Conflict):
    code = "webhook_endpoint_inactive"
    default_message = _("This webhook endpoint is switched off. Switch it on first.")


class WebhookDeliveryInProgress(Conflict):
    code = "webhook_delivery_in_progress"
    default_message = _("This delivery is being sent right now. Try again in a minute.")


# --- Endpoints ----------------------------------------------------------------------------------------------


def webhook_http_allowed() -> bool:
    """Plain http:// endpoints only for local development (DEBUG) or when WEBHOOKS_ALLOW_HTTP says so."""
    return bool(settings.DEBUG or getattr(settings, "WEBHOOKS_ALLOW_HTTP", False))


def webhook_url_clean(url: str) -> str:
    """The URL, stripped. Raises ValidationFailed unless it is https:// (or http:// where allowed)."""
    url = (url or "").strip()
    http_allowed = webhook_http_allowed()
    try:
        if len(url) > URL_MAX_LENGTH:
            raise DjangoValidationError("too long")
        URLValidator(schemes=["https", "http"] if http_allowed else ["https"])(url)
    except DjangoValidationError:
        if not http_allowed and url.lower().startswith("http://"):
            message = _("Webhook URLs must start with https://.")
        else:
            message = _("Enter a valid URL of at most 500 characters, e.g. https://example.com/hooks/omo.")
        raise ValidationFailed(fields={"url": str(message)}) from None
    return url


def webhook_topics_clean(topics: list[str]) -> list[str]:
    """Known topics, sorted and without repeats; ["*"] when "*" is among them. Raises ValidationFailed."""
    chosen = {str(topic).strip() for topic in topics or []}
    unknown = sorted(chosen - {*WEBHOOK_TOPICS, ALL_TOPICS})
    if unknown:
        unknown_message = _("Unknown topics: %(topics)s") % {"topics": ", ".join(unknown)}
        raise ValidationFailed(fields={"topics": str(unknown_message)})
    if not chosen:
        none_message = _('Choose at least one topic, or "*" for every topic.')
        raise ValidationFailed(fields={"topics": str(none_message)})
    return [ALL_TOPICS] if ALL_TOPICS in chosen else sorted(chosen)


def webhook_name_clean(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(fields={"name": str(_("Give the endpoint a name of at most 100 characters."))})
    return name


def webhook_endpoint_validate(**values: Any) -> dict[str, Any]:
    """Cleans the given name, url and topics together, so that one error names every bad field."""
    cleaners: dict[str, Callable[[Any], Any]] = {
        "name": webhook_name_clean,
        "url": webhook_url_clean,
        "topics": webhook_topics_clean,
    }
    clean: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for field, value in values.items():
        try:
            clean[field] = cleaners[field](value) if field in cleaners else value
        except ValidationFailed as error:
            errors.update(error.extra["fields"])
    if errors:
        raise ValidationFailed(fields=errors)
    return clean


def webhook_endpoint_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log keeps of an endpoint (never the secret)."""
    return {field: getattr(endpoint, field) for field in EDITABLE}


@transaction.atomic
def webhook_endpoint_create(
    *, actor: Any, name: str, url: str, topics: list[str]
) -> tuple[WebhookEndpoint, str]:
    """Creates an active endpoint with a new signing secret; returns it with the secret, to show once.

    Raises ValidationFailed (blank name, invalid URL, http:// in production, unknown or no topics). Audited.
    """
    clean = webhook_endpoint_validate(name=name, url=url, topics=topics)
    secret = f"{SECRET_PREFIX}{secrets.token_urlsafe(32)}"
    endpoint = WebhookEndpoint.objects.create(
        **clean,
        secret=secret,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action="webhook_endpoint.create",
        obj=endpoint,
        after=webhook_endpoint_snapshot(endpoint),
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    actor: Any,
    endpoint_id: int,
    name: str | None = None,
    url: str | None = None,
    topics: list[str] | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Changes an endpoint's name, URL, topics or active flag (None leaves a field as it is).

    Switching an endpoint back on resumes its pending deliveries. Locks the endpoint row. Raises NotFound,
    ValidationFailed. Audited.
    """
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound()
    changes = {"name": name, "url": url, "topics": topics, "is_active": is_active}
    clean = webhook_endpoint_validate(**{key: value for key, value in changes.items() if value is not None})
    before = webhook_endpoint_snapshot(endpoint)
    for field, value in clean.items():
        setattr(endpoint, field, value)
    endpoint.save(update_fields=[*clean, "updated_at"])
    audit_record(
        actor=actor,
        action="webhook_endpoint.update",
        obj=endpoint,
        before=before,
        after=webhook_endpoint_snapshot(endpoint),
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_deactivate(*, actor: Any, endpoint_id: int) -> WebhookEndpoint:
    """Switches an endpoint off: it gets no new deliveries, and its pending ones wait until it is switched on.

    Endpoints are never deleted, so their delivery log stays. Locks the endpoint row. Raises NotFound. Audited
    when it changes anything.
    """
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound()
    if endpoint.is_active:
        endpoint.is_active = False
        endpoint.save(update_fields=["is_active", "updated_at"])
        audit_record(
            actor=actor,
            action="webhook_endpoint.deactivate",
            obj=endpoint,
            before={"is_active": True},
            after={"is_active": False},
        )
    return endpoint


# --- Deliveries ---------------------------------------------------------------------------------------------


def occurred_at_parse(value: str | datetime) -> datetime:
    when = parse_datetime(value) if isinstance(value, str) else value
    if when is None:
        raise ValueError(f"not an ISO 8601 date and time: {value!r}")
    return when if timezone.is_aware(when) else timezone.make_aware(when)


@transaction.atomic
def webhooks_fan_out(
    *, event_id: str | uuid.UUID, topic: str, payload: dict[str, Any], occurred_at: str | datetime
) -> int:
    """Writes a pending delivery of the event for each active endpoint subscribed to its topic (or to "*");
    returns how many were new.

    Running it again for the same event adds nothing: the unique (endpoint, event_id) constraint with ON
    CONFLICT DO NOTHING drops a repeat, even one made concurrently. Locks nothing.
    """
    endpoint_ids = list(
        WebhookEndpoint.objects.filter(is_active=True, topics__overlap=[topic, ALL_TOPICS]).values_list(
            "pk", flat=True
        )
    )
    if not endpoint_ids:
        return 0
    event_uuid = uuid.UUID(str(event_id))
    done = set(
        WebhookDelivery.objects.filter(event_id=event_uuid, endpoint_id__in=endpoint_ids).values_list(
            "endpoint_id", flat=True
        )
    )
    when, now = occurred_at_parse(occurred_at), timezone.now()
    rows = [
        WebhookDelivery(
            endpoint_id=endpoint_id,
            event_id=event_uuid,
            topic=topic,
            payload=payload,
            occurred_at=when,
            next_attempt_at=now,
        )
        for endpoint_id in endpoint_ids
        if endpoint_id not in done
    ]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def webhook_deliveries_due(*, limit: int = 100, event_id: str | uuid.UUID | None = None) -> list[int]:
    """Ids of pending deliveries whose next attempt is due, not leased by a worker, to active endpoints;
    the longest waiting first. Locks nothing."""
    now = timezone.now()
    due = WebhookDelivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now),
        status=WebhookDeliveryStatus.PENDING,
        next_attempt_at__lte=now,
        endpoint__is_active=True,
    )
    if event_id is not None:
        due = due.filter(event_id=uuid.UUID(str(event_id)))
    return list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])


def webhook_deliveries_enqueue(*, delivery_ids: list[int]) -> None:
    """Queues `webhook_deliver_task` for each delivery once the current transaction commits (at once outside
    one). A message lost to a broker outage only costs time: the retry beat task sends whatever is due."""
    if not delivery_ids:
        return
    ids = list(delivery_ids)

    def send() -> None:
        for delivery_id in ids:
            celery_app.send_task(DELIVER_TASK, args=[delivery_id], retry=False)

    transaction.on_commit(send, robust=True)


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """The X-OMO-Signature value: "sha256=" and the hex HMAC-SHA256 of b"<timestamp>.<body>"."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The request body; the same bytes on every attempt."""
    envelope = {
        "id": str(delivery.event_id),
        "topic": delivery.topic,
        "occurred_at": delivery.occurred_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_retry_delay(attempts: int) -> timedelta:
    """The wait after `attempts` failed attempts, with jitter."""
    base = RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311  (spreads retries; not a secret)


@transaction.atomic
def webhook_redeliver(*, delivery_id: int, actor: Any) -> WebhookDelivery:
    """Sends a delivery again, whatever its status: it becomes pending with a fresh set of attempts, due now,
    and is queued after commit.

    Locks the delivery row (waiting for a worker that is recording a result). Raises NotFound,
    WebhookEndpointInactive, WebhookDeliveryInProgress (a worker is sending it right now). Audited.
    """
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise NotFound()
    if not delivery.endpoint.is_active:
        raise WebhookEndpointInactive(endpoint_id=delivery.endpoint_id)
    now = timezone.now()
    if delivery.locked_until is not None and delivery.locked_until > now:
        raise WebhookDeliveryInProgress(delivery_id=delivery.pk)
    before = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status = WebhookDeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.locked_until = None
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "locked_until"])
    audit_record(
        actor=actor,
        action="webhook_delivery.redeliver",
        obj=delivery,
        before=before,
        after={"status": delivery.status, "attempts": 0},
    )
    webhook_deliveries_enqueue(delivery_ids=[delivery.pk])
    return delivery


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str = ""
    excerpt: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery:
    """Sends one delivery if it is due and records the answer; returns the delivery as it now stands.

    No lock is held during the HTTP call. Step 1, a short transaction: lock the row with SKIP LOCKED (a
    worker that finds it locked leaves it alone), count the attempt and take a lease on it. Step 2: POST,
    outside any transaction (call this service outside one). Step 3, a short transaction: lock the row again
    and record the answer, unless the lease was lost meanwhile (a redelivery, or a worker that took over
    after the lease ran out; then that one's answer counts). A delivery that succeeded or gave up, is not due
    yet, is leased by another worker, or whose endpoint is switched off is returned unchanged, so running
    this twice sends once. Never raises for the receiver's failures (error status, timeout, refused
    connection, TLS errors); raises NotFound for an unknown id.
    """
    delivery, claimed = webhook_delivery_claim(delivery_id=delivery_id)
    if not claimed:
        return delivery
    lease = delivery.locked_until
    assert lease is not None  # set by the claim
    result = webhook_post(delivery=delivery, timeout=webhook_timeout())
    return webhook_delivery_record(delivery_id=delivery_id, lease=lease, result=result) or delivery


def webhook_timeout() -> float:
    return float(getattr(settings, "WEBHOOKS_TIMEOUT", DEFAULT_TIMEOUT_SECONDS))


@transaction.atomic
def webhook_delivery_claim(*, delivery_id: int) -> tuple[WebhookDelivery, bool]:
    """Step 1 of webhook_deliver: (delivery, True) when this caller now owns the next attempt."""
    rows = WebhookDelivery.objects.select_related("endpoint")
    delivery = rows.select_for_update(skip_locked=True, of=("self",)).filter(pk=delivery_id).first()
    if delivery is None:
        delivery = rows.filter(pk=delivery_id).first()  # locked by another worker, or no such delivery
        if delivery is None:
            raise NotFound()
        return delivery, False
    now = timezone.now()
    if (
        delivery.status != WebhookDeliveryStatus.PENDING
        or not delivery.endpoint.is_active
        or (delivery.locked_until is not None and delivery.locked_until > now)
        or (delivery.next_attempt_at is not None and delivery.next_attempt_at > now)
    ):
        return delivery, False
    if delivery.attempts >= MAX_ATTEMPTS:  # the worker of the last attempt was lost before recording it
        delivery.status = WebhookDeliveryStatus.FAILED
        delivery.next_attempt_at = delivery.locked_until = None
        delivery.last_error = delivery.last_error or "No answer was recorded for the last attempt."
        delivery.save(update_fields=["status", "next_attempt_at", "locked_until", "last_error"])
        return delivery, False
    delivery.attempts += 1
    delivery.locked_until = now + timedelta(seconds=webhook_timeout()) + LEASE_MARGIN
    delivery.save(update_fields=["attempts", "locked_until"])
    return delivery, True


def webhook_post(*, delivery: WebhookDelivery, timeout: float) -> AttemptResult:
    """Step 2 of webhook_deliver: one signed POST. Never raises."""
    url = delivery.endpoint.url
    if urlsplit(url).scheme not in ("http", "https"):
        return AttemptResult(None, "Only http and https URLs are called.")
    body = webhook_body(delivery)
    timestamp = str(int(timezone.now().timestamp()))
    request = urllib.request.Request(  # noqa: S310  (the scheme is checked above)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-OMO-Event": delivery.topic,
            "X-OMO-Delivery": str(delivery.pk),
            "X-OMO-Timestamp": timestamp,
            "X-OMO-Signature": webhook_signature(
                secret=delivery.endpoint.secret, timestamp=timestamp, body=body
            ),
        },
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return AttemptResult(response.status, "", response_excerpt(response))
    except urllib.error.HTTPError as error:  # a non-2xx answer (a redirect too: it is not followed)
        try:
            return AttemptResult(error.code, f"HTTP {error.code} {error.reason}", response_excerpt(error))
        finally:
            error.close()
    except Exception as error:  # timeout, refused connection, DNS, TLS, a broken answer: a failed attempt
        return AttemptResult(None, f"{type(error).__name__}: {error}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is the receiver's misconfiguration; following it would also turn the POST into a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def response_excerpt(response: Any) -> str:
    try:
        return str(response.read(RESPONSE_READ_BYTES).decode("utf-8", "replace"))
    except Exception:  # the answer broke off: the status is what counts
        return ""


def clip(text: str, length: int) -> str:
    return text.replace("\x00", "")[:length]  # PostgreSQL text cannot hold NUL


@transaction.atomic
def webhook_delivery_record(
    *, delivery_id: int, lease: datetime, result: AttemptResult
) -> WebhookDelivery | None:
    """Step 3 of webhook_deliver: the answer, the next attempt or the end, and the endpoint's counters.

    Returns the delivery as it stands: unchanged when the lease was lost (the row is no longer this
    attempt's to record), None when the row is gone.
    """
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status != WebhookDeliveryStatus.PENDING or delivery.locked_until != lease:
        logger.info("webhook delivery %s: lease lost, answer of this attempt dropped", delivery_id)
        return delivery
    now = timezone.now()
    delivery.last_status_code = result.status_code
    delivery.last_error = clip(result.error, 500)
    delivery.last_response_excerpt = clip(result.excerpt, 1000)
    delivery.locked_until = None
    endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    if result.ok:
        delivery.status = WebhookDeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoints.update(consecutive_failures=0, last_success_at=now)
    else:
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookDeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + webhook_retry_delay(delivery.attempts)
        endpoints.update(
            consecutive_failures=F("consecutive_failures") + 1,
            failure_count=F("failure_count") + 1,
            last_failure_at=now,
        )
        logger.warning(
            "webhook delivery %s to endpoint %s failed (attempt %s of %s): %s",
            delivery.pk,
            delivery.endpoint_id,
            delivery.attempts,
            MAX_ATTEMPTS,
            delivery.last_error,
        )
    delivery.save(
        update_fields=[
            "status",
            "last_status_code",
            "last_error",
            "last_response_excerpt",
            "locked_until",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    return delivery
