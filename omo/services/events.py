"""Domain events ("reservation.expiring", "stock.low", ...), stored through the outbox with the act itself.

Each event becomes one `omo.tasks.event_publish_task` run after commit; outbound webhooks subscribe there.
Every event carries an `event_id` (a UUID) that stays the same however often the event is relayed, so a
receiver (and our webhook delivery log) can tell a repeat from a new event.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from omo.models import OutboxMessage
from omo.services.outbox import outbox_enqueue, outbox_enqueue_many

EVENT_TASK = "omo.tasks.event_publish_task"
EVENTS_TASK = "omo.tasks.events_publish_task"
# For events stored before they carried an id: the same event always derives the same id.
LEGACY_EVENT_NAMESPACE = uuid.UUID("6f1c2a9e-4b0d-5e3a-9c7f-0a1b2c3d4e5f")


def event_emit(*, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    """Records an event in the caller's transaction; it is published only if that transaction commits."""
    return outbox_enqueue(
        task=EVENT_TASK,
        kwargs={
            "topic": topic,
            "payload": payload,
            "occurred_at": timezone.now().isoformat(),
            "event_id": str(uuid.uuid4()),
        },
    )


def event_id_derive(*, topic: str, payload: dict[str, Any], occurred_at: str) -> str:
    """A stable id for an event stored without one (a uuid5 of its topic, time and payload)."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return str(uuid.uuid5(LEGACY_EVENT_NAMESPACE, f"{topic}|{occurred_at}|{body}"))


def event_item(topic: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An event as an outbox item, for `outbox_enqueue_many` together with other tasks of the same act."""
    kwargs = {
        "topic": topic,
        "payload": payload,
        "occurred_at": timezone.now().isoformat(),
        "event_id": str(uuid.uuid4()),
    }
    return EVENT_TASK, kwargs


def events_item(events: list[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """The events of one act (topic, payload) as one outbox item: one row and one broker message for all of
    them, published in order; each keeps its own event id for webhooks."""
    return EVENTS_TASK, {"events": [event_item(topic, payload)[1] for topic, payload in events]}


def events_emit(events: list[tuple[str, dict[str, Any]]]) -> list[OutboxMessage]:
    """Several events (topic, payload) recorded in one row, in the caller's transaction."""
    return outbox_enqueue_many([events_item(events)]) if events else []
