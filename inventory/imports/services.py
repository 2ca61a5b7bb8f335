"""The import use case: read the file, check every row, compare with the database, write or roll back."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from inventory.exceptions import ImportRefused
from inventory.imports.apply import plans_write
from inventory.imports.checks import file_duplicates_check
from inventory.imports.errors import ImportHasErrors
from inventory.imports.formats import format_resolve, records_parse
from inventory.imports.formats.common import (
    ParseContext,
    Progress,
    filename_clean,
    location_code_clean,
    no_progress,
)
from inventory.imports.plan import plans_make
from inventory.imports.reading import table_read
from inventory.imports.report import ImportReport
from inventory.imports.snapshot import snapshot_load
from omo.models import Location, LocationKind
from omo.services.audit import audit_record

SYSTEM_ACTOR = "import"


def catalog_import(
    *,
    data: bytes,
    filename: str,
    actor: Any = SYSTEM_ACTOR,
    file_format: str = "auto",
    location: str = "",
    commit: bool = False,
    skip_invalid: bool = False,
    no_stock: bool = False,
    progress: Progress = no_progress,
    audit_object: Model | None = None,
) -> ImportReport:
    """Imports products, variants and stock from a CSV or XLSX (the OMO template, Shopify, WooCommerce).

    A dry run (the default) does all the work inside a transaction and rolls it back, so its report is what a
    commit would do. A commit is one transaction: all or nothing. With errors it is refused
    (ImportHasErrors, carrying the report) unless skip_invalid, which leaves out the products with errors.
    Stock figures set on-hand (count adjustments in the ledger, reference import:<sha256[:8]>); products
    are locked while compared. Raises ImportRefused for a file that cannot be read or a bad option.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    filename = filename_clean(filename)
    report = ImportReport(
        filename=filename, sha256=sha256, commit=commit, skip_invalid=skip_invalid, no_stock=no_stock
    )
    table = table_read(data, filename)
    report.rows_total = len(table.rows)
    report.file_format = format_resolve(file_format, table.headers)
    for note in table.notes:
        report.warning(None, note, code="encoding")
    context = context_make(report.file_format, location=location, no_stock=no_stock, report=report)
    records = records_parse(report.file_format, table, context=context, report=report, progress=progress)
    file_duplicates_check(records, report, file_format=report.file_format)
    with transaction.atomic():
        snap = snapshot_load(records, lock=commit)
        plans = plans_make(records, snap, report)
        report.products_left_out = sum(1 for record in records if record.failed)
        refused = commit and bool(report.errors) and not skip_invalid
        try:
            with transaction.atomic():
                plans_write(
                    plans,
                    report=report,
                    location_codes={pk: code for code, pk in context.locations_by_code.items()},
                    actor=actor,
                    reason=_("Import of %(file)s") % {"file": filename},
                    reference=f"import:{sha256[:8]}",
                )
        except IntegrityError as error:
            # Another writer took a SKU, barcode or handle between our check and our write.
            report.error(
                None, _("The database refused the import: %(error)s") % {"error": error}, code="conflict"
            )
            refused = commit
        if commit and not refused and report.changed:
            audit_record(
                actor=actor,
                action="catalog.import",
                obj=audit_object,
                after=report.summary(),
                reason=filename,
            )
        report.committed = commit and not refused
        if not report.committed:
            transaction.set_rollback(True)
    progress(report.rows_total, report.rows_total)
    if refused:
        raise ImportHasErrors(report)
    return report


def context_make(file_format: str, *, location: str, no_stock: bool, report: ImportReport) -> ParseContext:
    """Where stock goes: the OMO template names locations in its columns; the others use one location, given
    or, when there is exactly one warehouse, that one."""
    codes = dict(Location.objects.values_list("code", "pk"))
    context = ParseContext(locations_by_code=codes, no_stock=no_stock)
    code = location_code_clean(location) or location.strip()[:20]
    if code and code not in codes:
        raise ImportRefused(_("There is no location with the code %(code)s.") % {"code": code}, location=code)
    if file_format == "omo" or no_stock:
        if code:
            report.warning(None, _("The location option is not used for this file."), code="location_unused")
        return context
    if not code:
        warehouses = list(
            Location.objects.filter(kind=LocationKind.WAREHOUSE, is_active=True).values_list(
                "code", flat=True
            )[:2]
        )
        code = warehouses[0] if len(warehouses) == 1 else ""
    if code:
        context.location_id, context.location_code = codes[code], code
        report.location = code
    return context
