"""`manage.py catalog_import FILE`: checks (dry run) or imports a catalogue file and prints the report.

Exit status: 0 for a clean dry run or a done commit, 1 when the file has errors, 2 for bad arguments.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.exceptions import ImportRefused
from inventory.imports.errors import ImportHasErrors
from inventory.imports.formats import FORMAT_CHOICES
from inventory.imports.report import ImportReport
from inventory.imports.services import catalog_import
from omo.models import Location

ERRORS, BAD_ARGUMENTS = 1, 2


class Command(BaseCommand):
    help = (
        "Imports products, variants and stock from a CSV or XLSX file (the OMO template, a Shopify or a "
        "WooCommerce product export). Checks only (dry run) unless --commit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV or XLSX file")
        parser.add_argument(
            "--format", choices=FORMAT_CHOICES, default="auto", help="default: told by the headers"
        )
        parser.add_argument(
            "--location",
            default="",
            help="Shopify/WooCommerce: the location code the stock quantities are for",
        )
        parser.add_argument("--commit", action="store_true", help="write the import (default: dry run only)")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="commit the products without errors, leave out the rest",
        )
        parser.add_argument("--no-stock", action="store_true", help="import the catalogue only, not stock")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--progress-every", type=int, default=500, help="print progress every N rows")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}", returncode=BAD_ARGUMENTS)
        location = options["location"].strip().upper()
        if location and not Location.objects.filter(code=location).exists():
            raise CommandError(f"No location with the code {location}.", returncode=BAD_ARGUMENTS)
        every = max(1, options["progress_every"])
        printed = {"done": -1}

        def progress(done: int, total: int) -> None:
            if (done % every == 0 or done == total) and done != printed["done"]:
                printed["done"] = done
                self.stderr.write(f"{done}/{total} rows")

        try:
            report = catalog_import(
                data=path.read_bytes(),
                filename=path.name,
                actor="catalog_import command",
                file_format=options["format"],
                location=location,
                commit=options["commit"],
                skip_invalid=options["skip_invalid"],
                no_stock=options["no_stock"],
                progress=progress,
            )
        except ImportHasErrors as refused:
            self.report_print(refused.report, as_json=options["json"])
            raise CommandError(str(refused.message), returncode=ERRORS) from None
        except ImportRefused as refused:
            raise CommandError(str(refused.message), returncode=ERRORS) from None
        self.report_print(report, as_json=options["json"])
        if not report.committed and not report.ok:
            raise CommandError(f"{len(report.errors)} error(s); nothing was imported.", returncode=ERRORS)

    def report_print(self, report: ImportReport, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
        else:
            self.stdout.write(report.as_text(), ending="")
        sys.stdout.flush()
