"""Branch scoping: the one helper every app uses in its base querysets.

A row of another branch is simply not in the queryset, so it is 404 even when asked for by its id.
Owners (and superusers) see every branch; managers and cashiers see theirs; an API client sees the branches
its user is given (all when none is given); customers see no branch-scoped rows (their own data has its own
selectors).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from django.db import models

from omo.errors import BranchAccessDenied

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from omo.models import User

ALL_BRANCHES = None


def branch_ids_for(user: User | AnonymousUser | None) -> frozenset[int] | None:
    """The ids of the locations the user may see, or None for all of them."""
    from omo.models import Role

    if user is None or not user.is_authenticated:
        return frozenset()
    if user.is_superuser or user.role == Role.OWNER:
        return ALL_BRANCHES
    cached: frozenset[int] | None = getattr(user, "_branch_ids", False)  # type: ignore[assignment]
    if cached is not False:
        return cached
    ids: frozenset[int] | None
    if user.role in (Role.MANAGER, Role.CASHIER):
        ids = frozenset(user.branches.values_list("pk", flat=True))
    elif user.role == Role.API_CLIENT:
        ids = frozenset(user.branches.values_list("pk", flat=True)) or ALL_BRANCHES
    else:
        ids = frozenset()
    user._branch_ids = ids  # one query per request, not per queryset
    return ids


def branch_scope(
    queryset: models.QuerySet[Any], user: Any, *, field: str | None = None
) -> models.QuerySet[Any]:
    """Filters any queryset to the user's branches. `field` is the path to the Location foreign key."""
    field = field or getattr(queryset.model, "BRANCH_FIELD", "location")
    ids = branch_ids_for(user)
    if ids is ALL_BRANCHES:
        return queryset
    return queryset.filter(**{f"{field}__in": ids})


class BranchScopedQuerySet(models.QuerySet[Any]):
    """Base queryset for branch-owned rows; the model names its Location field in BRANCH_FIELD."""

    def for_user(self, user: Any) -> Self:
        return branch_scope(self, user)  # type: ignore[return-value]


def access_branch(user: Any, location_id: int) -> None:
    """Raises BranchAccessDenied unless the user may act at this location."""
    ids = branch_ids_for(user)
    if ids is not ALL_BRANCHES and location_id not in ids:
        raise BranchAccessDenied(location_id=location_id)
