import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from catalog.models import Product
from inventory.imports.jobs import JobProgress, import_job_run
from inventory.models import ImportJob, ImportStatus
from inventory.selectors import stock_verify
from omo.models import AuditLog, OutboxMessage
from tests.inventory.import_helpers import csv_bytes, sample

pytestmark = pytest.mark.django_db
WOO = "woocommerce_sample_products.csv"
BAD = csv_bytes([["handle", "name_en", "sku", "price"], ["tee", "Tee", "TEE-1", "12,3x"]])


def upload(client, data: bytes, name: str = "products.csv", **fields):
    return client.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile(name, data), **fields}, format="multipart"
    )


def test_upload_check_progress_report_and_commit(api_as, owner, warehouse):
    client = api_as(owner)

    response = upload(client, sample(WOO), WOO)

    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["commit"], body["file_format"], body["percent"]) == (
        "queued",
        False,
        "woocommerce",
        0,
    )
    job_id = body["id"]
    task = OutboxMessage.objects.get(task_name="inventory.tasks.catalog_import_task")
    assert task.kwargs == {"job_id": job_id}

    import_job_run(job_id=job_id)  # what the worker does

    body = client.get(f"/api/v1/imports/{job_id}/").json()
    assert (body["status"], body["rows_done"], body["rows_total"], body["percent"]) == ("done", 24, 24, 100)
    assert body["report"]["ok"] is True
    assert body["report"]["products"] == {"created": 13, "updated": 0, "unchanged": 0}
    assert body["report"]["committed"] is False
    assert not Product.objects.exists()
    assert [job["id"] for job in client.get("/api/v1/imports/").json()["results"]] == [job_id]

    response = client.post(f"/api/v1/imports/{job_id}/commit/")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["commit"]) == ("queued", True)
    import_job_run(job_id=job_id)

    body = client.get(f"/api/v1/imports/{job_id}/").json()
    assert (body["status"], body["report"]["committed"], body["percent"]) == ("done", True, 100)
    assert Product.objects.count() == 13
    audit = AuditLog.objects.get(action="catalog.import")
    assert (audit.actor, audit.object_id) == (owner, str(job_id))
    assert stock_verify()[1] == []

    again = client.post(f"/api/v1/imports/{job_id}/commit/")
    assert again.status_code == 409
    assert again.json()["code"] == "import_not_committable"


def test_commit_refused_when_the_check_found_errors(api_as, cwb_manager, cwb):
    client = api_as(cwb_manager)
    job_id = upload(client, BAD).json()["id"]
    import_job_run(job_id=job_id)
    report = client.get(f"/api/v1/imports/{job_id}/").json()["report"]
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(2, "invalid_price")]

    response = client.post(f"/api/v1/imports/{job_id}/commit/")

    assert response.status_code == 409
    assert response.json()["extra"] == {"errors": 1}
    assert ImportJob.objects.get(pk=job_id).commit is False


def test_commit_before_the_check_has_run_is_refused(api_as, owner, warehouse):
    client = api_as(owner)
    job_id = upload(client, sample(WOO), WOO).json()["id"]

    response = client.post(f"/api/v1/imports/{job_id}/commit/")

    assert response.status_code == 409
    assert client.post("/api/v1/imports/999999/commit/").status_code == 404


def test_skip_invalid_upload_may_commit_with_errors(api_as, owner, cwb):
    client = api_as(owner)
    data = csv_bytes(
        [
            ["handle", "name_en", "sku", "price"],
            ["tee", "Tee", "TEE-1", "12,3x"],
            ["cap", "Cap", "CAP-1", "80"],
        ]
    )
    job_id = upload(client, data, skip_invalid="true").json()["id"]
    import_job_run(job_id=job_id)

    assert client.post(f"/api/v1/imports/{job_id}/commit/").status_code == 202
    import_job_run(job_id=job_id)

    assert list(Product.objects.values_list("handle", flat=True)) == ["cap"]


def test_bad_uploads(api_as, owner, cwb, settings):
    client = api_as(owner)
    assert upload(client, b"foo,bar\n1,2\n").json()["code"] == "import_refused"
    response = upload(client, sample(WOO), WOO, location="NOPE")
    assert (response.status_code, response.json()["code"]) == (400, "import_refused")
    settings.IMPORT_MAX_BYTES = 100
    response = upload(client, sample(WOO), WOO)
    assert (response.status_code, response.json()["code"]) == (413, "import_file_too_large")
    assert not ImportJob.objects.exists()


def test_cashiers_may_neither_import_nor_export(api_as, cwb_cashier):
    client = api_as(cwb_cashier)
    assert upload(client, BAD).status_code == 403
    assert client.get("/api/v1/imports/").status_code == 403
    assert client.get("/api/v1/exports/catalog.csv").status_code == 403
    assert client.get("/api/v1/exports/catalog.xlsx").status_code == 403


def test_exports(api_as, owner, cwb, mk):
    client = api_as(owner)
    data = csv_bytes(
        [["handle", "name_zh_hant", "sku", "price", "stock:CWB"], ["tee", "T恤", "TEE-1", "80", "4"]]
    )
    job_id = upload(client, data).json()["id"]
    import_job_run(job_id=job_id)
    client.post(f"/api/v1/imports/{job_id}/commit/")
    import_job_run(job_id=job_id)

    response = client.get("/api/v1/exports/catalog.csv", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert 'filename="catalog.csv"' in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0].endswith("stock:CWB,stock:MK,reorder_point:CWB,reorder_point:MK")
    assert "tee,,T恤," in text

    response = client.get("/api/v1/exports/catalog.xlsx?location=CWB")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-2:] == ("stock:CWB", "reorder_point:CWB")
    assert (rows[1][0], rows[1][-2]) == ("tee", 4)

    response = client.get("/api/v1/exports/catalog.csv?location=NOPE")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_while_the_import_transaction_is_open():
    from django.db import transaction

    job = ImportJob.objects.create(filename="x.csv", file_format="omo", data=b"", sha256="0" * 64)
    progress = JobProgress(job.pk)
    try:
        with transaction.atomic():
            ImportJob.objects.filter(pk=job.pk).exists()  # the import's own transaction is open
            progress(250, 1000)
            seen = read_on_another_connection(job.pk)  # as the screen polling the job would
    finally:
        progress.close()
    assert seen == (250, 1000, ImportStatus.RUNNING)


def read_on_another_connection(job_id: int) -> tuple:
    from django.db import DEFAULT_DB_ALIAS, connections

    connection = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rows_done, rows_total, status FROM inventory_importjob WHERE id = %s", [job_id]
            )
            return cursor.fetchone()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_job_runs_inside_the_task_transaction_without_blocking_itself(owner):
    from django.db import transaction

    from tests.factories.omo import LocationFactory

    LocationFactory(code="KC", kind="warehouse")
    job = ImportJob.objects.create(
        filename=WOO, file_format="woocommerce", data=sample(WOO), sha256="0" * 64, created_by=owner
    )
    with transaction.atomic():  # as omo.celery.OnceTask runs a task relayed from the outbox
        import_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_total) == (ImportStatus.DONE, 24, 24)
    assert job.report["products"]["created"] == 13
