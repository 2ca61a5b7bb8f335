"""`manage.py pickup_points_import FILE`: imports the carrier's list of pickup points and prints the report.

Exit status: 0 when imported (or a clean dry run), 1 when the file has errors, 2 for a file that is not there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omo.errors import ValidationFailed
from orders.services.pickup_points import PickupImportReport, pickup_points_import

ERRORS, BAD_ARGUMENTS = 1, 2


class Command(BaseCommand):
    help = (
        "Imports SF lockers, SF stores and partner shops from a CSV file (UTF-8 or Big5), matched by code. "
        "Writes nothing if any row has an error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV file")
        parser.add_argument("--dry-run", action="store_true", help="check the file and count, write nothing")
        parser.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="deactivate the active points whose code is not in the file",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}", returncode=BAD_ARGUMENTS)
        try:
            report = pickup_points_import(
                file=path,
                actor="pickup_points_import command",
                deactivate_missing=options["deactivate_missing"],
                dry_run=options["dry_run"],
            )
        except ValidationFailed as failed:
            report = PickupImportReport(filename=path.name, errors=failed.extra.get("errors", []))
            self.stdout.write(report.as_text(), ending="")
            raise CommandError(str(failed.message), returncode=ERRORS) from None
        self.stdout.write(report.as_text(), ending="")
        if not report.ok:  # a dry run returns its errors instead of raising them
            raise CommandError(f"{len(report.errors)} error(s); nothing was imported.", returncode=ERRORS)
