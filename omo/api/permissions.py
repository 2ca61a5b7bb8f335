"""Who may call what. Session users are judged by role; API tokens by scopes.

A view names its scope area (`scope = "orders"`): tokens need `orders:read` for safe methods and
`orders:write` for the rest. A view may narrow the staff roles (`allowed_roles`, `write_roles`).
"""

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from omo.models import STAFF_ROLES, ApiToken, Role


def token_allows(request: Request, view: Any) -> bool:
    area = getattr(view, "scope", None)
    if area is None:
        return False
    needed = f"{area}:read" if request.method in SAFE_METHODS else f"{area}:write"
    token: ApiToken = request.auth  # type: ignore[assignment]  # checked by the caller
    return needed in token.scopes


class IsStaffOrScopedToken(BasePermission):
    message = "Staff sign-in or an API token with the right scope is required."

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiToken):
            return token_allows(request, view)
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_superuser:
            return True
        roles = getattr(view, "allowed_roles", STAFF_ROLES)
        if request.method not in SAFE_METHODS:
            roles = getattr(view, "write_roles", roles)
        return user.role in roles


class IsOwner(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_superuser or user.role == Role.OWNER))
