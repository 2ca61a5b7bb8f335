"""Thin Celery tasks: each calls one service. Scheduled in settings.CELERY_BEAT_SCHEDULE."""

from celery import shared_task
from django.conf import settings

from inventory.services import low_stock_check, reservations_expire, reservations_warn_expiring


@shared_task
def reservations_expire_task() -> int:
    return reservations_expire(batch_size=settings.RESERVATION_EXPIRY_BATCH)


@shared_task
def reservations_warn_expiring_task() -> int:
    return reservations_warn_expiring(within=settings.RESERVATION_EXPIRY_WARNING)


@shared_task
def low_stock_check_task() -> tuple[int, int]:
    return low_stock_check()


@shared_task
def catalog_import_task(job_id: int) -> None:
    # Imported when run: the frequent stock tasks above need none of the importer's modules.
    from inventory.imports.jobs import import_job_run

    import_job_run(job_id=job_id)
