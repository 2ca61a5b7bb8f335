"""Errors the stock services raise. The API maps each to {"code", "message", "extra"} with its HTTP status."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from omo.errors import Conflict, DomainError, NotFound


class InsufficientStock(Conflict):
    """Every short line of a request at once, so the cashier sees all of them, not the first."""

    code = "insufficient_stock"
    default_message = _("Not enough stock.")

    def __init__(self, items: list[dict[str, Any]]) -> None:
        message = (
            _("Not enough stock of %(sku)s at %(location)s: %(available)d available, %(requested)d wanted.")
            % items[0]
        )
        if more := len(items) - 1:
            message += " " + ngettext(
                "(%(count)d more line is short.)", "(%(count)d more lines are short.)", more
            ) % {"count": more}
        super().__init__(message, items=items)


class StockNotFound(NotFound):
    code = "stock_not_found"
    default_message = _("This SKU has no stock record at this location.")


class ReservationNotActive(Conflict):
    code = "reservation_not_active"
    default_message = _("This hold is no longer active (sold, released or expired).")


class TransferStateInvalid(Conflict):
    code = "transfer_state_invalid"
    default_message = _("This transfer cannot do that in its current state.")


class StockCountClosed(Conflict):
    code = "stock_count_closed"
    default_message = _("This stock count is already posted or cancelled.")


class ImportRefused(DomainError):
    code = "import_refused"
    default_message = _("The file cannot be imported; see the report for every problem.")
