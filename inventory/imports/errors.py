"""Errors of imports and import jobs; the API turns each into {"code", "message", "extra"}."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from inventory.exceptions import ImportRefused
from omo.errors import Conflict, DomainError, NotFound

if TYPE_CHECKING:
    from inventory.imports.report import ImportReport


class ImportHasErrors(ImportRefused):
    """A commit refused because the file has errors; carries the report that lists them."""

    def __init__(self, report: ImportReport) -> None:
        count = len(report.errors)
        message = ngettext(
            "The file has %(count)d error; nothing was imported.",
            "The file has %(count)d errors; nothing was imported.",
            count,
        ) % {"count": count}
        super().__init__(message, errors=count)
        self.report = report


class ImportFileTooLarge(DomainError):
    code = "import_file_too_large"
    http_status = 413
    default_message = _("The file is too large to import.")


class ImportNotFound(NotFound):
    code = "import_not_found"
    default_message = _("No such import.")


class ImportNotCommittable(Conflict):
    code = "import_not_committable"
    default_message = _("This import cannot be committed.")
