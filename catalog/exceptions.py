"""Errors the catalogue services raise; each becomes {"code", "message", "extra"} with its status."""

from django.utils.translation import gettext_lazy as _

from omo.errors import NotFound, ValidationFailed


class DuplicateSku(ValidationFailed):
    code = "duplicate_sku"
    http_status = 409
    default_message = _("This SKU is already in use.")


class DuplicateBarcode(ValidationFailed):
    code = "duplicate_barcode"
    http_status = 409
    default_message = _("This barcode is already in use.")


class DuplicateHandle(ValidationFailed):
    code = "duplicate_handle"
    http_status = 409
    default_message = _("This handle is already in use.")


class ProductNotFound(NotFound):
    code = "product_not_found"
    default_message = _("No such product.")


class VariantNotFound(NotFound):
    code = "variant_not_found"
    default_message = _("No SKU or barcode matches.")
