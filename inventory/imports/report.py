"""The import report: what a dry run found or a commit did, as JSON (API, job) and as text (command)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils.translation import gettext as _

# Long files can have thousands of identical problems; the counts stay exact, the lists are cut here.
MAX_LISTED = 1000


@dataclass
class Issue:
    row: int | None
    message: str
    code: str = "invalid"
    column: str = ""
    value: str = ""
    handle: str = ""
    sku: str = ""


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class StockChangeLine:
    sku: str
    location: str
    before: int
    after: int


@dataclass
class Duplicate:
    kind: str  # "sku" or "barcode"
    value: str
    rows: list[int]
    used_by: str = ""  # the product (for a SKU) or SKU (for a barcode) in the database that has it


@dataclass
class ImportReport:
    filename: str = ""
    file_format: str = ""
    sha256: str = ""
    commit: bool = False
    committed: bool = False
    skip_invalid: bool = False
    no_stock: bool = False
    location: str = ""
    rows_total: int = 0
    products: Tally = field(default_factory=Tally)
    variants: Tally = field(default_factory=Tally)
    products_left_out: int = 0  # products with errors, not written
    images_changed: int = 0
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    skipped: list[Issue] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    stock_changes: list[StockChangeLine] = field(default_factory=list)
    reorder_points_changed: int = 0

    # --- collecting -------------------------------------------------------------------------------------

    def error(self, row: int | None, message: str, **details: Any) -> None:
        self.errors.append(Issue(row, message, **details))

    def warning(self, row: int | None, message: str, **details: Any) -> None:
        self.warnings.append(Issue(row, message, **details))

    def skip(self, row: int, message: str, **details: Any) -> None:
        self.skipped.append(Issue(row, message, code="skipped", **details))

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> bool:
        return bool(
            self.products.created
            or self.products.updated
            or self.variants.created
            or self.variants.updated
            or self.stock_changes
            or self.reorder_points_changed
        )

    def summary(self) -> dict[str, Any]:
        """The counts, for the audit log and list screens."""
        return {
            "file": self.filename,
            "format": self.file_format,
            "sha256": self.sha256,
            "rows": self.rows_total,
            "products": asdict(self.products),
            "variants": asdict(self.variants),
            "products_left_out": self.products_left_out,
            "stock_changes": len(self.stock_changes),
            "reorder_points_changed": self.reorder_points_changed,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "skipped": len(self.skipped),
        }

    # --- JSON -------------------------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["counts"] = {key: len(data[key]) for key in ("errors", "warnings", "skipped", "stock_changes")}
        for key in ("errors", "warnings", "skipped", "stock_changes", "duplicates"):
            data[key] = data[key][:MAX_LISTED]
        return data

    # --- text -------------------------------------------------------------------------------------------

    def as_text(self) -> str:
        lines = [self.headline(), ""]
        for label, tally in ((_("Products"), self.products), (_("Variants (SKUs)"), self.variants)):
            lines.append(
                _("%(label)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged")
                % {"label": label, **asdict(tally)}
            )
        lines.append(_("Stock levels changed: %(count)d") % {"count": len(self.stock_changes)})
        if self.products_left_out:
            lines.append(
                _("Products left out because of errors: %(count)d") % {"count": self.products_left_out}
            )
        if self.unknown_columns:
            lines.append(_("Unknown columns: %(names)s") % {"names": ", ".join(self.unknown_columns)})
        if self.ignored_columns:
            lines.append(_("Ignored columns: %(names)s") % {"names": ", ".join(self.ignored_columns)})
        for title, issues in (
            (_("Errors"), self.errors),
            (_("Warnings"), self.warnings),
            (_("Rows skipped"), self.skipped),
        ):
            if issues:
                lines += ["", f"{title} ({len(issues)}):"]
                lines += [issue_text(issue) for issue in issues[:MAX_LISTED]]
        if self.stock_changes:
            lines += ["", _("Stock changes:")]
            lines += [
                f"  {line.sku} @ {line.location}: {line.before} -> {line.after}"
                for line in self.stock_changes[:MAX_LISTED]
            ]
        return "\n".join(lines) + "\n"

    def headline(self) -> str:
        names = {"file": self.filename, "format": self.file_format, "rows": self.rows_total}
        if self.committed:
            return _("Imported %(file)s (%(format)s, %(rows)d rows).") % names
        if self.commit:
            return _("Not imported: %(file)s (%(format)s, %(rows)d rows) has errors.") % names
        return _("Dry run of %(file)s (%(format)s, %(rows)d rows): nothing was written.") % names


def issue_text(issue: Issue) -> str:
    where = _("row %(row)d") % {"row": issue.row} if issue.row else _("file")
    parts = [f"  {where}"]
    if issue.column:
        parts.append(f"[{issue.column}]")
    if issue.value:
        parts.append(f"“{issue.value[:60]}”")
    return " ".join(parts) + f": {issue.message}"


def report_from_dict(data: dict[str, Any]) -> ImportReport:
    """The report a job stored (lists may have been cut to MAX_LISTED)."""
    report = ImportReport(
        **{
            key: data[key]
            for key in (
                "filename",
                "file_format",
                "sha256",
                "commit",
                "committed",
                "skip_invalid",
                "no_stock",
                "location",
                "rows_total",
                "products_left_out",
                "images_changed",
                "unknown_columns",
                "ignored_columns",
                "reorder_points_changed",
            )
            if key in data
        }
    )
    report.products = Tally(**data.get("products", {}))
    report.variants = Tally(**data.get("variants", {}))
    report.errors = [Issue(**issue) for issue in data.get("errors", [])]
    report.warnings = [Issue(**issue) for issue in data.get("warnings", [])]
    report.skipped = [Issue(**issue) for issue in data.get("skipped", [])]
    report.duplicates = [Duplicate(**item) for item in data.get("duplicates", [])]
    report.stock_changes = [StockChangeLine(**item) for item in data.get("stock_changes", [])]
    return report
