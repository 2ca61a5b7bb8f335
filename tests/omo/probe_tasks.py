"""A task for tests of the queue itself: its effect is one audit row per run."""

from celery import shared_task

from omo.models import AuditLog


@shared_task(name="tests.outbox_probe")
def outbox_probe(location_id: int) -> None:
    AuditLog.objects.create(action="probe.ran", object_type="omo.Location", object_id=str(location_id))
