from typing import Any

from django.db import connection
from django.db.models import Model

from omo.models import AuditLog, Location


def audit_record(
    *,
    actor: Any,
    action: str,
    branch: Location | int | None = None,
    obj: Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    ip_address: str | None = None,
) -> AuditLog:
    """Writes an audit row. Must run inside the transaction of the act, so both commit or neither does.

    Raises RuntimeError when called outside a transaction: an audit row that can outlive a rolled-back act,
    or an act that can commit without its row, is a bug.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record() must be called inside the transaction of the audited act")
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditLog.objects.create(
        actor=actor if is_user else None,
        actor_label=(actor.get_username() if is_user else str(actor or "system"))[:150],
        action=action,
        branch_id=branch.pk if isinstance(branch, Location) else branch,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        before=before,
        after=after,
        reason=reason,
        ip_address=ip_address,
    )
