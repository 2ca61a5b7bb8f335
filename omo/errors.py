"""One base for every error the domain raises. The API turns it into {"code", "message", "extra"}.

Services raise these (never DRF exceptions), because admin, management commands and Celery call them too.
Messages are lazy translations, so the POS shows them in Chinese.
"""

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code: str = "error"
    http_status: int = 400
    default_message: str | Promise = _("The request could not be completed.")

    def __init__(self, message: str | Promise | None = None, **extra: Any) -> None:
        self.message = message if message is not None else self.default_message
        self.extra = extra
        super().__init__(str(self.message))


class ValidationFailed(DomainError):
    code = "invalid"
    default_message = _("Please correct the highlighted fields.")


class NotFound(DomainError):
    code = "not_found"
    http_status = 404
    default_message = _("Not found.")


class PermissionDenied(DomainError):
    code = "permission_denied"
    http_status = 403
    default_message = _("You do not have permission to do this.")


class BranchAccessDenied(PermissionDenied):
    code = "branch_access_denied"
    default_message = _("You can only act at your own branch.")


class Conflict(DomainError):
    code = "conflict"
    http_status = 409
    default_message = _("This conflicts with the current state.")
