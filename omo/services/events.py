"""Domain events ("reservation.expiring", "stock.low", ...), stored through the outbox with the act itself.

Each event becomes one `omo.tasks.event_publish_task` run after commit; outbound webhooks subscribe there.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from omo.models import OutboxMessage
from omo.services.outbox import outbox_enqueue

EVENT_TASK = "omo.tasks.event_publish_task"


def event_emit(*, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    """Records an event in the caller's transaction; it is published only if that transaction commits."""
    return outbox_enqueue(
        task=EVENT_TASK,
        kwargs={"topic": topic, "payload": payload, "occurred_at": timezone.now().isoformat()},
    )
