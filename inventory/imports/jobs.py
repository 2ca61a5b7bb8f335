"""Import jobs: an uploaded file is stored, checked in the background (a dry run), then committed on request.

The worker runs the import inside one transaction (and, relayed from the outbox, inside the task's own), so
progress is written on a second database connection that commits each update at once: the upload screen
polling the job sees rows_done move while the import's transaction is still open.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.exceptions import ImportRefused
from inventory.imports.errors import ImportFileTooLarge, ImportHasErrors, ImportNotCommittable, ImportNotFound
from inventory.imports.formats import format_resolve
from inventory.imports.formats.common import filename_clean, location_code_clean
from inventory.imports.reading import table_read
from inventory.imports.services import SYSTEM_ACTOR, catalog_import
from inventory.models import ImportJob, ImportStatus
from omo.models import Location, User
from omo.services.outbox import outbox_enqueue

logger = logging.getLogger(__name__)
IMPORT_TASK = "inventory.tasks.catalog_import_task"


def import_size_check(size: int) -> None:
    """Raises ImportFileTooLarge (413) above settings.IMPORT_MAX_BYTES; call it before reading an upload."""
    if size > settings.IMPORT_MAX_BYTES:
        raise ImportFileTooLarge(
            _("The file is too large to import (at most %(limit)d MB).")
            % {"limit": settings.IMPORT_MAX_BYTES // (1024 * 1024)},
            max_bytes=settings.IMPORT_MAX_BYTES,
        )


def is_user(actor: Any) -> bool:
    return isinstance(actor, User) and actor.is_authenticated


@transaction.atomic
def import_job_create(
    *,
    actor: Any,
    filename: str,
    data: bytes,
    file_format: str = "auto",
    location: str = "",
    skip_invalid: bool = False,
    no_stock: bool = False,
) -> ImportJob:
    """Stores an upload and queues its dry run (through the outbox, so it runs once the job is committed).

    Reads only the header now, to refuse at once a file of no known format. Raises ImportFileTooLarge,
    ImportRefused (unreadable file, unknown format, unknown location).
    """
    import_size_check(len(data))
    file_format = format_resolve(file_format, table_read(data, filename, headers_only=True).headers)
    location = location_code_clean(location) or location.strip()[:20]
    if location and not (location_code_clean(location) and Location.objects.filter(code=location).exists()):
        raise ImportRefused(
            _("There is no location with the code %(code)s.") % {"code": location}, location=location
        )
    job = ImportJob.objects.create(
        created_by=actor if is_user(actor) else None,
        filename=filename_clean(filename),
        file_format=file_format,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        options={"location": location, "skip_invalid": skip_invalid, "no_stock": no_stock},
    )
    outbox_enqueue(task=IMPORT_TASK, kwargs={"job_id": job.pk})
    return job


@transaction.atomic
def import_job_commit(*, actor: Any, job_id: int) -> ImportJob:
    """Queues the commit of a checked file (the stored bytes, checked again as they are written).

    Locks the job. Raises ImportNotFound, ImportNotCommittable (409: still checking, already committed, or the
    check found errors and the upload did not ask to skip invalid products).
    """
    job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        raise ImportNotFound()
    if job.commit:
        raise ImportNotCommittable(
            _("This file is already committed (or its commit is queued)."), status=job.status
        )
    if job.status == ImportStatus.FAILED:
        raise ImportNotCommittable(
            _("The check of this file failed: %(error)s") % {"error": job.error}, status=job.status
        )
    if job.status != ImportStatus.DONE:
        raise ImportNotCommittable(_("The check of this file has not finished."), status=job.status)
    errors = len((job.report or {}).get("errors") or [])
    if errors and not job.options.get("skip_invalid"):
        raise ImportNotCommittable(
            _(
                "The check found errors: correct the file and upload it again, or upload it with "
                "“skip invalid” "
                "to leave out the products that have errors."
            ),
            errors=errors,
        )
    job.options = {
        **job.options,
        "dry_run": (job.report or {}).get("products"),
        "committed_by": actor_label(actor),
    }
    if is_user(actor):
        job.options["committed_by_id"] = actor.pk
    job.commit, job.status, job.rows_done, job.error, job.finished_at = True, ImportStatus.QUEUED, 0, "", None
    job.save(update_fields=["options", "commit", "status", "rows_done", "error", "finished_at"])
    outbox_enqueue(task=IMPORT_TASK, kwargs={"job_id": job.pk})
    return job


def actor_label(actor: Any) -> str:
    return actor.get_username() if is_user(actor) else str(actor or SYSTEM_ACTOR)


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Runs a queued job (dry run or commit) and stores its report; a finished job is left alone.

    A refused commit or an unreadable file ends the job as failed with the reason; it does not raise, so the
    task is not retried for a problem in the file.
    """
    job = ImportJob.objects.defer("data").filter(pk=job_id).select_related("created_by").first()
    # "running" is run again: a worker lost mid-import rolled its work back, but the progress connection had
    # already marked the job running. The outbox runs each delivery at most once to the end.
    if job is None or job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return job
    data = bytes(ImportJob.objects.values_list("data", flat=True).get(pk=job.pk))
    options = job.options
    actor: Any = job.created_by or SYSTEM_ACTOR
    if job.commit and options.get("committed_by_id"):
        actor = User.objects.filter(pk=options["committed_by_id"]).first() or actor
    progress = JobProgress(job.pk)
    status, error, report = ImportStatus.DONE, "", None
    try:
        result = catalog_import(
            data=data,
            filename=job.filename,
            actor=actor,
            file_format=job.file_format,
            location=options.get("location", ""),
            commit=job.commit,
            skip_invalid=bool(options.get("skip_invalid")),
            no_stock=bool(options.get("no_stock")),
            progress=progress,
            audit_object=job,
        )
        report = result.as_dict()
    except ImportHasErrors as refused:
        status, error, report = ImportStatus.FAILED, str(refused.message), refused.report.as_dict()
    except ImportRefused as refused:
        status, error = ImportStatus.FAILED, str(refused.message)
    except Exception:
        # A bug, not the file: recorded on the job for the screen, logged in full for us; never retried.
        logger.exception("import job %s failed", job.pk)
        status, error = ImportStatus.FAILED, _("The import stopped on an internal error.")
    finally:
        progress.close()
    total = report["rows_total"] if report else job.rows_total
    ImportJob.objects.filter(pk=job.pk).update(
        status=status,
        report=report,
        error=error,
        rows_total=total,
        rows_done=total if status == ImportStatus.DONE else progress.done,
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


class JobProgress:
    """Writes a job's progress on a connection of its own (autocommit), at most twice a second.

    Progress is a convenience: if the row is locked or the database refuses, the update is skipped, never
    the import.
    """

    INTERVAL = 0.5
    SQL = (
        "UPDATE inventory_importjob SET rows_done = %s, rows_total = %s, status = %s "
        "WHERE id = %s AND status IN ('queued', 'running')"
    )

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.done = 0
        self.last = 0.0
        self.connection: Any = None

    def __call__(self, done: int, total: int) -> None:
        self.done = done
        now = time.monotonic()
        if done < total and now - self.last < self.INTERVAL:
            return
        self.last = now
        try:
            if self.connection is None:
                self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
                with self.connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '200ms'")
            with self.connection.cursor() as cursor:
                cursor.execute(self.SQL, [done, total, ImportStatus.RUNNING, self.job_id])
        except DatabaseError as problem:
            logger.warning("import job %s: progress not saved: %s", self.job_id, problem)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
