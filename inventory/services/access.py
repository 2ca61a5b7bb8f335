"""Who may move stock where. System work (tasks, imports, commands) passes a label, not a user: trusted."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from omo.errors import PermissionDenied
from omo.models import Role
from omo.scoping import access_branch

MANAGER_ROLES = frozenset({Role.OWNER, Role.MANAGER, Role.API_CLIENT})


def is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def access_location(actor: Any, location_id: int, *, managers_only: bool = False) -> None:
    """Raises PermissionDenied or BranchAccessDenied unless the actor may act at this location."""
    if not is_user(actor):
        return
    if actor.role == Role.CUSTOMER and not actor.is_superuser:
        raise PermissionDenied()
    if managers_only and not (actor.is_superuser or actor.role in MANAGER_ROLES):
        raise PermissionDenied(_("Only a manager may do this."))
    access_branch(actor, location_id)


def access_any_location(actor: Any, location_ids: list[int], *, managers_only: bool = False) -> None:
    """Passes when the actor may act at one of these locations (a transfer belongs to both of its ends).

    No locations at all is no permission (for a user), not a silent pass.
    """
    if not location_ids and is_user(actor):
        raise PermissionDenied()
    last: Exception | None = None
    for location_id in location_ids:
        try:
            access_location(actor, location_id, managers_only=managers_only)
            return
        except PermissionDenied as error:
            last = error
    if last is not None:
        raise last
