"""The Celery app. Settings come from Django's settings (CELERY_*), the beat schedule included."""

import os
from typing import Any

from celery import Celery, Task
from django.db import transaction
from django.utils import timezone

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omo.settings")

OUTBOX_TASK_ID_PREFIX = "outbox-"


class OnceTask(Task):
    """Runs a task relayed from the outbox at most once, even when the broker delivers it twice.

    The outbox row is locked and marked processed in the same transaction as the task's own writes, so a
    duplicate delivery (a relay that crashed after publishing, a worker lost before ack) finds it done.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task_id = self.request.id or ""
        if not task_id.startswith(OUTBOX_TASK_ID_PREFIX):
            return super().__call__(*args, **kwargs)
        from omo.models import OutboxMessage

        outbox_id = int(task_id.removeprefix(OUTBOX_TASK_ID_PREFIX))
        with transaction.atomic():
            message = OutboxMessage.objects.select_for_update().filter(pk=outbox_id).first()
            if message is None or message.processed_at is not None:
                return None
            result = super().__call__(*args, **kwargs)
            message.processed_at = timezone.now()
            message.save(update_fields=["processed_at"])
            return result


app = Celery("omo", task_cls=OnceTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
