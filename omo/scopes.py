"""Scopes an API token can hold. A read scope allows GET; a write scope allows changes."""

from django.utils.translation import gettext_lazy as _

SCOPES = {
    "locations:read": _("Read branches and warehouses"),
    "locations:write": _("Create and change branches and warehouses"),
    "catalog:read": _("Read products and prices"),
    "catalog:write": _("Create and change products and prices"),
    "inventory:read": _("Read stock"),
    "inventory:write": _("Change stock"),
    "orders:read": _("Read orders"),
    "orders:write": _("Create and change orders"),
    "members:read": _("Read members"),
    "members:write": _("Create and change members"),
    "audit:read": _("Read the audit log"),
    "webhooks:read": _("Read webhook endpoints and the delivery log"),
    "webhooks:write": _("Create and change webhook endpoints, send deliveries again"),
}
