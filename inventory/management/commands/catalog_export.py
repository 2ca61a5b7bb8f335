"""`manage.py catalog_export --output FILE.csv|FILE.xlsx`: the catalogue and stock as the OMO template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.imports.export import EXPORT_TYPES, catalog_export
from omo.errors import DomainError


class Command(BaseCommand):
    help = (
        "Writes the catalogue and on-hand per location as the import template "
        "(importing it again changes nothing)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, help="the file to write: .csv or .xlsx")
        parser.add_argument(
            "--location",
            nargs="+",
            action="extend",
            default=[],
            help="location codes (default: every active one)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output = Path(options["output"])
        file_type = output.suffix.lower().lstrip(".")
        if file_type not in EXPORT_TYPES:
            raise CommandError("The output file must end in .csv or .xlsx.", returncode=2)
        codes = [code for value in options["location"] for code in value.split(",") if code.strip()]
        try:
            data = catalog_export(file_type=file_type, location_codes=codes or None)
        except DomainError as error:
            raise CommandError(str(error.message), returncode=2) from None
        output.write_bytes(data)
        self.stdout.write(f"Wrote {output} ({len(data)} bytes).")
