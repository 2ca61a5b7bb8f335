"""Transfers between locations: request, approve, ship (in transit), receive (partly), cancel. All audited.

Goods leave the source when shipped (`transfer_out`) and arrive when received (`transfer_in`); in between they
are in transit, on the transfer's lines. Lock order: stock rows, then the transfer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Variant
from inventory.exceptions import TransferStateInvalid
from inventory.ledger import StockChange, stock_apply
from inventory.locks import stock_lock
from inventory.models import MovementKind, Transfer, TransferLine, TransferStatus
from inventory.services.access import access_any_location, access_location, is_user
from inventory.services.stock import StockLine, available, stock_take
from omo.errors import NotFound, ValidationFailed
from omo.models import Location
from omo.services.audit import audit_record


@dataclass(frozen=True)
class TransferItem:
    variant: Variant
    qty: int


def whole(qty: Any) -> bool:
    """A count of units: an int, and not a bool (True is an int to Python, not to a warehouse)."""
    return isinstance(qty, int) and not isinstance(qty, bool)


def transfer_snapshot(transfer: Transfer) -> dict[str, Any]:
    return {
        "number": transfer.number,
        "status": transfer.status,
        "source": transfer.source_id,
        "destination": transfer.destination_id,
        "lines": [
            {
                "variant_id": line.variant_id,
                "requested": line.qty_requested,
                "shipped": line.qty_shipped,
                "received": line.qty_received,
                "discrepancy": line.discrepancy_note,
            }
            for line in transfer.lines.all()
        ],
    }


def transfer_audit(
    transfer: Transfer, *, actor: Any, action: str, before: Any = None, reason: str = ""
) -> None:
    for branch in (transfer.source_id, transfer.destination_id):
        audit_record(
            actor=actor,
            action=f"transfer.{action}",
            branch=branch,
            obj=transfer,
            before=before,
            after=transfer_snapshot(transfer),
            reason=reason,
        )


def transfer_lock(transfer_id: int) -> Transfer:
    transfer = Transfer.objects.select_for_update(of=("self",)).filter(pk=transfer_id).first()
    if transfer is None:
        raise NotFound(_("No such transfer."))
    return transfer


def state_require(transfer: Transfer, *allowed: str) -> None:
    if transfer.status not in allowed:
        raise TransferStateInvalid(
            _("Transfer %(number)s is %(status)s.")
            % {"number": transfer.number, "status": transfer.get_status_display()},
            status=transfer.status,
        )


@transaction.atomic
def transfer_request(
    *, source_id: int, destination_id: int, items: Sequence[TransferItem], actor: Any, note: str = ""
) -> Transfer:
    """Asks for stock to move from source to destination. Staff of either end. Audited.

    Raises ValidationFailed (same place twice, no lines, a bad quantity, a SKU that tracks no stock).
    """
    access_any_location(actor, [destination_id, source_id])
    errors: dict[str, str] = {}
    if source_id == destination_id:
        errors["destination"] = _("Choose two different locations.")
    locations = Location.objects.filter(pk__in=[source_id, destination_id], is_active=True).count()
    if source_id != destination_id and locations != 2:
        errors["source"] = _("Both locations must exist and be active.")
    if not items:
        errors["lines"] = _("Add at least one SKU.")
    merged: dict[int, int] = {}
    for item in items:
        if not whole(item.qty) or item.qty <= 0:
            errors[item.variant.sku] = _("Quantities are whole numbers above zero.")
        elif not item.variant.track_inventory:
            errors[item.variant.sku] = _("This SKU does not track stock.")
        else:
            merged[item.variant.pk] = merged.get(item.variant.pk, 0) + item.qty
    if errors:
        raise ValidationFailed(fields=errors)
    transfer = Transfer.objects.create(
        source_id=source_id,
        destination_id=destination_id,
        note=note.strip()[:255],
        requested_by=actor if is_user(actor) else None,
    )
    TransferLine.objects.bulk_create(
        [TransferLine(transfer=transfer, variant_id=pk, qty_requested=qty) for pk, qty in merged.items()]
    )
    transfer_audit(transfer, actor=actor, action="request")
    return transfer


@transaction.atomic
def transfer_approve(*, transfer_id: int, actor: Any) -> Transfer:
    """A manager of the source agrees to send the goods. Raises TransferStateInvalid unless requested."""
    transfer = transfer_lock(transfer_id)
    access_location(actor, transfer.source_id, managers_only=True)
    state_require(transfer, TransferStatus.REQUESTED)
    before = transfer_snapshot(transfer)
    transfer.status = TransferStatus.APPROVED
    transfer.approved_by = actor if is_user(actor) else None
    transfer.approved_at = timezone.now()
    transfer.save(update_fields=["status", "approved_by", "approved_at"])
    transfer_audit(transfer, actor=actor, action="approve", before=before)
    return transfer


def transfer_peek(transfer_id: int) -> Transfer:
    """The transfer as it is now, unlocked: to check access and state before any lock is taken (a refused
    caller blocks no sale). The checks are made again under the lock."""
    transfer = Transfer.objects.select_related("source", "destination").filter(pk=transfer_id).first()
    if transfer is None:
        raise NotFound(_("No such transfer."))
    return transfer


@transaction.atomic
def transfer_ship(*, transfer_id: int, actor: Any, quantities: dict[int, int] | None = None) -> Transfer:
    """Sends the goods: they leave the source (`transfer_out`) and are in transit. Staff of the source.

    `quantities` (variant id -> units) may ship less than requested; by default everything requested.
    Locks the source's stock rows, then the transfer. Raises TransferStateInvalid unless approved,
    ValidationFailed (a SKU not on the transfer, below zero or above what was requested, nothing at all),
    InsufficientStock naming every short SKU.
    """
    peek = transfer_peek(transfer_id)
    access_location(actor, peek.source_id)
    state_require(peek, TransferStatus.APPROVED)
    lines = list(TransferLine.objects.select_related("variant").filter(transfer_id=transfer_id))
    shipping = {line.variant_id: line.qty_requested for line in lines}
    if quantities is not None:
        unknown = set(quantities) - set(shipping)
        too_many = [
            pk
            for pk, qty in quantities.items()
            if pk in shipping and (not whole(qty) or qty < 0 or qty > shipping[pk])
        ]
        if unknown or too_many:
            raise ValidationFailed(
                _("Ship whole numbers of the SKUs on the transfer, up to what was requested."),
                unknown=sorted(unknown),
                variant_ids=sorted(too_many),
            )
        shipping = {pk: quantities.get(pk, 0) for pk in shipping}
    if not any(shipping.values()):
        raise ValidationFailed(_("Ship at least one unit."))
    stock_lines = [
        StockLine(line.variant, peek.source_id, shipping[line.variant_id])
        for line in lines
        if shipping[line.variant_id]
    ]
    # Stock rows first, then the transfer (the app's lock order); a failed state check rolls the take back.
    stock_take(
        stock_lines,
        kind=MovementKind.TRANSFER_OUT,
        rule=available,
        actor=actor,
        reason=_("Transfer to %(code)s") % {"code": peek.destination.code},
        reference=peek.number,
    )
    transfer = transfer_lock(transfer_id)
    state_require(transfer, TransferStatus.APPROVED)
    before = transfer_snapshot(transfer)
    for line in lines:
        line.qty_shipped = shipping[line.variant_id]
    TransferLine.objects.bulk_update(lines, ["qty_shipped"])
    transfer.status = TransferStatus.IN_TRANSIT
    transfer.shipped_by = actor if is_user(actor) else None
    transfer.shipped_at = timezone.now()
    transfer.save(update_fields=["status", "shipped_by", "shipped_at"])
    transfer_audit(transfer, actor=actor, action="ship", before=before)
    return transfer


@transaction.atomic
def transfer_receive(
    *,
    transfer_id: int,
    actor: Any,
    quantities: dict[int, int] | None = None,
    notes: dict[int, str] | None = None,
    close: bool = True,
) -> Transfer:
    """Books the goods in at the destination (`transfer_in`). Staff of the destination.

    `quantities` (variant id -> units arrived now) defaults to everything still in transit. With `close`, what
    has not arrived is recorded as a discrepancy and the transfer is received; without it, the transfer stays
    in transit for the rest. Locks the destination's stock rows, then the transfer, and only then reads what
    is still in transit (two people booking in one box at once cannot receive it twice). Raises
    TransferStateInvalid unless in transit, ValidationFailed for more than is still in transit.
    """
    peek = transfer_peek(transfer_id)
    access_location(actor, peek.destination_id)
    state_require(peek, TransferStatus.IN_TRANSIT)
    # Once in transit, what was shipped is fixed: these are the rows that can receive anything.
    shipped = list(
        TransferLine.objects.filter(transfer_id=transfer_id, qty_shipped__gt=0).values_list(
            "variant_id", flat=True
        )
    )
    rows = stock_lock([(pk, peek.destination_id) for pk in shipped], create_missing=True)
    transfer = transfer_lock(transfer_id)
    state_require(transfer, TransferStatus.IN_TRANSIT)
    lines = list(TransferLine.objects.select_related("variant").filter(transfer_id=transfer_id))
    pending = {line.variant_id: line.qty_shipped - line.qty_received for line in lines}
    if quantities is not None and set(quantities) - set(pending):
        raise ValidationFailed(_("Receive only SKUs on the transfer."))
    arriving = dict(pending) if quantities is None else {pk: quantities.get(pk, 0) for pk in pending}
    too_many = [pk for pk, qty in arriving.items() if not whole(qty) or qty < 0 or qty > pending[pk]]
    if too_many:
        raise ValidationFailed(
            _("Received quantities are between zero and what is still in transit."), variant_ids=too_many
        )
    before = transfer_snapshot(transfer)
    stock_apply(
        [StockChange(rows[(pk, peek.destination_id)], on_hand=qty) for pk, qty in arriving.items() if qty],
        kind=MovementKind.TRANSFER_IN,
        actor=actor,
        reason=_("Transfer from %(code)s") % {"code": peek.source.code},
        reference=transfer.number,
    )
    notes = notes or {}
    for line in lines:
        line.qty_received += arriving[line.variant_id]
        if close and line.qty_missing:
            given = notes.get(line.variant_id, "").strip()
            line.discrepancy_note = (given or _("%(count)d not received") % {"count": line.qty_missing})[:255]
        elif notes.get(line.variant_id):
            line.discrepancy_note = notes[line.variant_id].strip()[:255]
    TransferLine.objects.bulk_update(lines, ["qty_received", "discrepancy_note"])
    if close:
        transfer.status = TransferStatus.RECEIVED
        transfer.received_by = actor if is_user(actor) else None
        transfer.received_at = timezone.now()
        transfer.save(update_fields=["status", "received_by", "received_at"])
    transfer_audit(transfer, actor=actor, action="receive" if close else "receive_part", before=before)
    return transfer


def cancel_access(actor: Any, transfer: Transfer) -> None:
    """Before shipping: its requester, or a manager of either end. In transit: a manager of the source."""
    if transfer.status == TransferStatus.IN_TRANSIT:
        access_location(actor, transfer.source_id, managers_only=True)
    elif not (is_user(actor) and transfer.requested_by_id == actor.pk):
        access_any_location(actor, [transfer.source_id, transfer.destination_id], managers_only=True)


@transaction.atomic
def transfer_cancel(*, transfer_id: int, actor: Any, reason: str) -> Transfer:
    """Calls a transfer off. Before shipping: its requester or a manager of either end. In transit: a manager
    of the source, and what has not arrived goes back to the source (`transfer_in` there). Audited.

    Access is checked before anything is locked, and again under the lock (a concurrent ship changes who may
    cancel). Locks the source's stock rows, then the transfer, then reads what is still on the road. Raises
    PermissionDenied / BranchAccessDenied, TransferStateInvalid (received or cancelled), ValidationFailed (no
    reason), NotFound.
    """
    peek = transfer_peek(transfer_id)
    cancel_access(actor, peek)
    if not reason.strip():
        raise ValidationFailed(fields={"reason": _("Say why the transfer is cancelled.")})
    open_states = (TransferStatus.REQUESTED, TransferStatus.APPROVED, TransferStatus.IN_TRANSIT)
    state_require(peek, *open_states)
    # Every line's row at the source, whatever the state now: a ship that commits while we wait for these
    # locks took its units from exactly these rows, so they are the ones that can take units back.
    variant_ids = list(
        TransferLine.objects.filter(transfer_id=transfer_id).values_list("variant_id", flat=True)
    )
    rows = stock_lock([(pk, peek.source_id) for pk in variant_ids])
    transfer = transfer_lock(transfer_id)
    state_require(transfer, *open_states)
    cancel_access(actor, transfer)
    before = transfer_snapshot(transfer)
    if transfer.status == TransferStatus.IN_TRANSIT:
        returning = {line.variant_id: line.qty_missing for line in transfer.lines.all() if line.qty_missing}
        stock_apply(
            [StockChange(rows[(pk, transfer.source_id)], on_hand=qty) for pk, qty in returning.items()],
            kind=MovementKind.TRANSFER_IN,
            actor=actor,
            reason=_("Transfer cancelled, goods back from transit"),
            reference=transfer.number,
        )
    transfer.status = TransferStatus.CANCELLED
    transfer.cancelled_by = actor if is_user(actor) else None
    transfer.cancelled_at = timezone.now()
    transfer.cancel_reason = reason.strip()[:255]
    transfer.save(update_fields=["status", "cancelled_by", "cancelled_at", "cancel_reason"])
    transfer_audit(transfer, actor=actor, action="cancel", before=before, reason=reason.strip())
    return transfer
