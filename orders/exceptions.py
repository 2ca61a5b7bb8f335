"""Errors of the order book; each maps to one JSON error with a code and an HTTP status."""

from django.utils.translation import gettext_lazy as _

from omo.errors import Conflict, DomainError, NotFound, PermissionDenied


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = _("No such order.")


class IllegalTransition(Conflict):
    code = "illegal_transition"
    default_message = _("The order cannot move to that status from where it is.")


class PaymentMismatch(DomainError):
    code = "payment_mismatch"
    http_status = 400
    default_message = _("The payments do not match the amount due.")


class TenderUnavailable(DomainError):
    code = "tender_unavailable"
    http_status = 400
    default_message = _("This tender cannot be used here yet.")


class RefundExceedsPaid(Conflict):
    code = "refund_exceeds_paid"
    default_message = _("A refund can never be more than what was paid and not yet refunded.")


class ReturnNotAllowed(Conflict):
    code = "return_not_allowed"
    default_message = _("These goods cannot be returned.")


class ManagerApprovalRequired(PermissionDenied):
    code = "manager_approval_required"
    default_message = _("A manager must approve this.")


class CheckoutExpired(Conflict):
    code = "checkout_expired"
    default_message = _(
        "The goods were held for a limited time and that time has passed. Please order again."
    )


class PickupCodeInvalid(NotFound):
    code = "pickup_code_invalid"
    default_message = _("No order waiting for pickup has this code.")
