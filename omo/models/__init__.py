from omo.models.accounts import STAFF_ROLES, ApiToken, Role, User
from omo.models.audit import AuditLog
from omo.models.infra import IdempotencyKey, OutboxMessage
from omo.models.locations import Location, LocationKind
from omo.models.webhooks import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint

__all__ = [
    "STAFF_ROLES",
    "ApiToken",
    "AuditLog",
    "IdempotencyKey",
    "Location",
    "LocationKind",
    "OutboxMessage",
    "Role",
    "User",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
]
