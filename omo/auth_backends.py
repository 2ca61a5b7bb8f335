"""Permissions follow the role, so that nobody has to keep Django groups in step with it.

Owners may do everything in the back office; managers may look at everything there (rows still scoped to their
branches by the admin querysets); cashiers, customers and API clients have no back-office permissions.
"""

from typing import Any

from django.contrib.auth.backends import ModelBackend

from omo.models import Role

BACK_OFFICE_APPS = frozenset({"omo", "catalog", "inventory", "members", "orders", "pos"})


class RoleBackend(ModelBackend):
    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if not user_obj.is_active:
            return False
        app_label, _, codename = perm.partition(".")
        if user_obj.role == Role.OWNER:
            return True
        if user_obj.role == Role.MANAGER and app_label in BACK_OFFICE_APPS and codename.startswith("view_"):
            return True
        return super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        if not user_obj.is_active:
            return False
        if user_obj.role == Role.OWNER:
            return True
        if user_obj.role == Role.MANAGER and app_label in BACK_OFFICE_APPS:
            return True
        return super().has_module_perms(user_obj, app_label)
