"""Columns are found by name, never by position: exports of every vintage move and add columns.

Names compare case-, space- and underscore-insensitively ("Variant SKU", "variant_sku", " variant  sku").
Each format lists the names it reads, the names it knows but does not use (reported as ignored), and patterns
for families of columns (Google Shopping / ..., Meta: ...); anything else is reported as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from inventory.imports.report import ImportReport


def header_key(header: str) -> str:
    text = header.replace("\ufeff", "").replace("_", " ").strip().lower()
    text = " ".join(text.split())
    return re.sub(r"\s*:\s*", ":", text)


@dataclass
class Columns:
    index: dict[str, int] = field(default_factory=dict)  # field name -> column
    names: dict[str, str] = field(default_factory=dict)  # field name -> the header as the file spells it
    dynamic: list[tuple[re.Match[str], int, str]] = field(default_factory=list)  # pattern match, column, name

    def has(self, name: str) -> bool:
        return name in self.index

    def header(self, name: str) -> str:
        return self.names.get(name, name)


def columns_map(
    headers: list[str],
    report: ImportReport,
    *,
    fields: Mapping[str, Iterable[str]],
    dynamic: Iterable[str] = (),
    ignored: Iterable[str] = (),
    ignored_patterns: Iterable[str] = (),
) -> Columns:
    """Maps the file's headers to the format's fields; fills the report's unknown and ignored columns.

    `fields` maps each field to the header names it may have (already in header_key form), first found wins;
    `dynamic` are regular expressions for column families the format reads itself (stock:CWB).
    """
    aliases = {alias: name for name, names in fields.items() for alias in names}
    dynamic_patterns = [re.compile(pattern) for pattern in dynamic]
    ignored_names = set(ignored)
    ignored_regexes = [re.compile(pattern) for pattern in ignored_patterns]
    columns = Columns()
    seen: set[str] = set()
    for position, header in enumerate(headers):
        key = header_key(header)
        if not key:
            continue
        if key in seen:
            report.warning(1, _("The column appears twice; only the first is read."), column=header)
            continue
        seen.add(key)
        name = aliases.get(key)
        if name is not None:
            if name not in columns.index:
                columns.index[name] = position
                columns.names[name] = header
            continue
        match = next((m for m in (p.fullmatch(key) for p in dynamic_patterns) if m), None)
        if match is not None:
            columns.dynamic.append((match, position, header))
        elif key in ignored_names or any(regex.fullmatch(key) for regex in ignored_regexes):
            report.ignored_columns.append(header)
        else:
            report.unknown_columns.append(header)
    return columns
