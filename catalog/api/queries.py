"""Reads of the category tree for the API (catalog.selectors has none yet; they belong there)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language

from catalog.models import Category

SEPARATOR = " > "


def category_tree() -> list[dict[str, Any]]:
    """Every category depth-first (by position, then English name) with its depth and full path; one query.

    A cycle (A under B under A, which only a direct database edit can make) ends a path instead of looping.
    """
    rows: list[dict[str, Any]] = [
        dict(row) for row in Category.objects.values("id", "parent_id", "name_en", "name_zh_hant", "position")
    ]
    by_id = {row["id"]: row for row in rows}
    children: dict[int | None, list[dict[str, Any]]] = {}
    for row in rows:
        parent = row["parent_id"] if row["parent_id"] in by_id else None
        children.setdefault(parent, []).append(row)
    prefer_en = (get_language() or "").startswith("en")
    ordered: list[dict[str, Any]] = []
    seen: set[int] = set()

    def walk(parent: int | None, trail: list[dict[str, Any]]) -> None:
        for row in sorted(children.get(parent, []), key=lambda r: (r["position"], r["name_en"].casefold())):
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            path = [*trail, row]
            path_en = SEPARATOR.join(node["name_en"] for node in path)
            path_zh = SEPARATOR.join(node["name_zh_hant"] or node["name_en"] for node in path)
            ordered.append(
                {
                    "id": row["id"],
                    "parent": row["parent_id"],
                    "name": (row["name_en"] if prefer_en else row["name_zh_hant"]) or row["name_en"],
                    "name_en": row["name_en"],
                    "name_zh_hant": row["name_zh_hant"],
                    "position": row["position"],
                    "depth": len(trail),
                    "path": path_en if prefer_en else path_zh,
                    "path_en": path_en,
                    "path_zh_hant": path_zh,
                }
            )
            walk(row["id"], path)

    walk(None, [])
    return ordered


def category_with_descendants(category_id: int) -> list[int]:
    """The category and every category below it (Clothing finds Dresses too); one query."""
    pairs = list(Category.objects.values_list("id", "parent_id"))
    if category_id not in {pk for pk, _ in pairs}:
        return []
    found, frontier = {category_id}, [category_id]
    while frontier:
        frontier = [pk for pk, parent in pairs if parent in frontier and pk not in found]
        found.update(frontier)
    return sorted(found)
