"""Getting the goods to the customer: ready for pickup, handed over, shipped, completed; or cancelled.

Who acts: staff (a user) act only on the orders of their branches, and where the act happens (the pickup
branch, the location that ships); system work (a Celery task, a carrier's webhook) passes a label such as
"system" instead of a user and is trusted, like the stock services do.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.exceptions import ReservationNotActive
from inventory.models import Reservation, ReservationStatus
from inventory.services import reservation_consume, reservation_release
from omo.errors import ValidationFailed
from omo.models import User
from omo.scoping import ALL_BRANCHES, access_branch, branch_ids_for
from omo.services.audit import audit_record
from orders.exceptions import IllegalTransition, ManagerApprovalRequired, PickupCodeInvalid
from orders.locks import order_lock
from orders.loyalty import loyalty_order_cancelled
from orders.models import Fulfilment, Order, OrderStatus, Refund, RefundStatus
from orders.services.common import after_commit, is_manager, order_payload, stock_changed
from orders.status import can_move, move
from orders.tenders import TENDER_HOOKS


def pickup_days() -> int:
    return int(getattr(settings, "PICKUP_UNCOLLECTED_DAYS", 7))


def is_user(actor: Any) -> bool:
    """A signed-in user; anything else (a label such as "system") is trusted system work."""
    return actor is not None and bool(getattr(actor, "is_authenticated", False))


def order_for(order_id: int, actor: Any, *, scoped: bool = True) -> Order:
    """Locks the order: a user finds only the orders of their branches (others are not found), system work
    finds any."""
    return order_lock(order_id, user=actor if scoped and is_user(actor) else None)


def branch_check(actor: Any, location_id: int) -> None:
    """Raises BranchAccessDenied unless the user may act at this location (system work may act anywhere)."""
    if is_user(actor):
        access_branch(actor, location_id)


def holds_of(order: Order) -> list[int]:
    return sorted({rid for rid in order.lines.values_list("reservation_id", flat=True) if rid is not None})


def holds_sell(order: Order, *, actor: Any) -> tuple[str, dict[str, Any]]:
    """The order's goods leave `fulfil_from`: its holds become a sale (on-hand and reserved down). Returns
    the `stock.changed` event for the caller to store with its own."""
    ids = holds_of(order)
    if ids:
        reservation_consume(
            reservation_ids=ids, actor=actor, reference=order.number, reason="order fulfilled"
        )
    # Only the lines with a hold moved stock (a SKU that tracks no stock has none).
    lines = list(order.lines.exclude(reservation_id=None).values_list("sku", "qty"))
    return stock_changed(
        [(sku, order.fulfil_from_id, -qty) for sku, qty in lines], kind="sale", reference=order.number
    )


def holds_release(order: Order, *, actor: Any) -> int:
    """Frees the order's holds still active; returns how many. The order is locked, so only the expiry sweep
    can close one of them meanwhile: then what is left is released on a second try."""
    ids = holds_of(order)
    # The order service has decided who may cancel; a manager of the selling branch may not act at the
    # location holding an endless-aisle order's goods, so the release is then booked to the order.
    ids_for = branch_ids_for(actor) if is_user(actor) else ALL_BRANCHES
    stock_actor = actor if ids_for is ALL_BRANCHES or order.fulfil_from_id in ids_for else "orders"
    for _attempt in range(3):
        still = Reservation.objects.filter(pk__in=ids, status=ReservationStatus.ACTIVE)
        active = list(still.values_list("pk", flat=True))
        if not active:
            return 0
        try:
            reservation_release(reservation_ids=active, actor=stock_actor, reason=f"{order.number} cancelled")
        except ReservationNotActive:
            continue
        return len(active)
    raise ReservationNotActive(reservation_ids=ids)


@transaction.atomic
def order_ready(*, order_id: int, actor: Any) -> Order:
    """A branch-pickup order is waiting for the customer at its branch: the collection deadline is set and an
    `order.ready` event stored (the SMS goes from there). Staff of the pickup branch. Locks the order.

    A locker order becomes ready by being shipped (`order_ship`). Raises IllegalTransition (not a pickup
    order, or not paid), BranchAccessDenied, OrderNotFound.
    """
    order = order_for(order_id, actor)
    if order.fulfilment != Fulfilment.PICKUP:
        raise IllegalTransition(
            _("Only an order collected at a branch is made ready; a locker order is ready once shipped."),
            order=order.number,
            current=order.status,
            requested=OrderStatus.READY,
        )
    branch_check(actor, order.pickup_location_id or order.fulfil_from_id)
    fields = move(order, OrderStatus.READY)
    order.pickup_deadline = timezone.now() + timedelta(days=pickup_days())
    fields.append("pickup_deadline")
    order.save(update_fields=fields)
    after_commit(order, ["order.ready"])
    return order


@transaction.atomic
def order_handover(
    *, actor: Any, location_id: int, pickup_code: str = "", order_id: int | None = None
) -> Order:
    """The customer collects a pickup order at the branch, by code (or QR) or by order. Only staff of the
    pickup branch may hand it over, once it is paid; the hold becomes the sale. Locks the order, then the
    stock rows.

    Raises BranchAccessDenied, PickupCodeInvalid, ValidationFailed (two orders waiting with one code),
    IllegalTransition (not collected here, not paid, not ready).
    """
    branch_check(actor, location_id)
    if order_id is None:
        code = pickup_code.strip()
        waiting = Order.objects.filter(
            pickup_code=code, pickup_location_id=location_id, status=OrderStatus.READY
        )
        matches = list(waiting.order_by("pk").values_list("pk", flat=True)[:2]) if code else []
        if not matches:
            raise PickupCodeInvalid(code=code)
        if len(matches) > 1:
            # Codes are random, not unique: never hand over the wrong parcel.
            raise ValidationFailed(
                fields={"pickup_code": _("Several orders wait with this code; find the order by its number.")}
            )
        order_id = matches[0]
    order = order_for(order_id, actor)
    if order.fulfilment != Fulfilment.PICKUP or order.pickup_location_id != location_id:
        raise IllegalTransition(_("This order is not collected at this branch."), order=order.number)
    if order.paid.amount < order.total.amount:
        raise IllegalTransition(_("Take the payment before handing the goods over."), order=order.number)
    fields = move(order, OrderStatus.PICKED_UP)
    stock_event = holds_sell(order, actor=actor)
    order.save(update_fields=fields)
    after_commit(order, ["order.fulfilled"], extra=[stock_event])
    return order


@transaction.atomic
def order_ship(*, order_id: int, actor: Any, tracking_number: str = "") -> Order:
    """The parcel leaves `fulfil_from` (home delivery: `fulfilled`; to a locker: `ready`): the holds become
    the sale there. Staff of `fulfil_from`. Locks the order, then the stock rows.

    Raises IllegalTransition (not a delivery, not paid, shipped already), BranchAccessDenied, OrderNotFound.
    """
    order = order_for(order_id, actor)
    if order.fulfilment not in (Fulfilment.SHIP, Fulfilment.LOCKER):
        raise IllegalTransition(_("Only deliveries are shipped."), order=order.number)
    branch_check(actor, order.fulfil_from_id)
    target = OrderStatus.FULFILLED if order.fulfilment == Fulfilment.SHIP else OrderStatus.READY
    fields = move(order, target)
    order.tracking_number = tracking_number.strip()[:64]
    stock_event = holds_sell(order, actor=actor)
    order.save(update_fields=[*fields, "tracking_number"])
    after_commit(
        order, ["order.fulfilled" if target == OrderStatus.FULFILLED else "order.ready"], extra=[stock_event]
    )
    return order


@transaction.atomic
def order_collected(*, order_id: int, actor: Any) -> Order:
    """A locker parcel was taken out (the carrier says so, as system work, or staff record it).

    Raises IllegalTransition (not a locker order, not shipped yet), OrderNotFound."""
    order = order_for(order_id, actor)
    if order.fulfilment != Fulfilment.LOCKER:
        raise IllegalTransition(_("Only locker orders are collected from a locker."), order=order.number)
    order.save(update_fields=move(order, OrderStatus.PICKED_UP))
    after_commit(order, ["order.fulfilled"])
    return order


@transaction.atomic
def order_complete(*, order_id: int, actor: Any) -> Order:
    """Closes an order whose goods were handed over or delivered. Raises IllegalTransition, OrderNotFound."""
    order = order_for(order_id, actor)
    order.save(update_fields=move(order, OrderStatus.COMPLETED))
    return order


@transaction.atomic
def order_cancel(
    *,
    order_id: int,
    actor: Any,
    reason: str,
    approver: User | None = None,
    user_scope: bool = True,
) -> Order:
    """Cancels an order whose goods have not left: releases its holds and refunds what was paid to the
    tenders it came in (as `pending` payouts for staff to make, since the customer may not be there; points
    and coupons go back at once). Audited.

    A user cancels only orders of their branches, and a paid one only as (or approved by) a manager. System
    work (`actor` a label such as "system": the expiry tasks) may cancel any order. `user_scope=False` lifts
    the branch scope for a user, never the manager rule. Locks the order, then the stock rows and holds.

    Raises ValidationFailed (no reason), IllegalTransition (the goods have left, or cancelled already),
    ManagerApprovalRequired, OrderNotFound.
    """
    if not reason.strip():
        raise ValidationFailed(fields={"reason": _("Say why the order is cancelled.")})
    order = order_for(order_id, actor, scoped=user_scope)
    if not can_move(order, OrderStatus.CANCELLED):
        if order.status == OrderStatus.READY and order.fulfilment == Fulfilment.LOCKER:
            raise IllegalTransition(
                _("The parcel has left; take the goods back as a return when it comes back."),
                order=order.number,
                current=order.status,
                requested=OrderStatus.CANCELLED,
            )
        raise IllegalTransition(order=order.number, current=order.status, requested=OrderStatus.CANCELLED)
    manager: User | None = None
    if is_user(actor):
        if is_manager(actor):
            manager = actor
        elif approver is not None and is_manager(approver):
            manager = approver
        elif order.paid.amount:
            raise ManagerApprovalRequired(_("Cancelling a paid order needs a manager."), order=order.number)
    before = order_payload(order)
    fields = move(order, OrderStatus.CANCELLED)
    order.cancel_reason = reason.strip()[:200]
    released = holds_release(order, actor=actor)
    refunds = payments_return(order, actor=actor, manager=manager)
    if refunds:
        order.refunded = order.paid
        fields.append("refunded")
    order.save(update_fields=[*fields, "cancel_reason"])
    audit_record(
        actor=actor,
        action="order.cancel",
        branch=order.location_id,
        obj=order,
        before=before,
        after={
            **order_payload(order),
            "holds_released": released,
            "refunds": [
                {"tender": r.tender, "amount": str(r.amount.amount), "status": r.status} for r in refunds
            ],
            "approved_by": manager.get_username() if manager else None,
        },
        reason=order.cancel_reason,
    )
    # A cancelled paid order takes back its points and spend (else they would outlive the refund).
    after_commit(
        order,
        ["order.cancelled"] + (["order.refunded"] if refunds else []),
        extra_items=loyalty_order_cancelled(order),
    )
    return order


def payments_return(order: Order, *, actor: Any, manager: User | None) -> list[Refund]:
    """Everything paid and not refunded goes back to its tender: points and coupons at once (through their
    hook), money as a pending payout."""
    refunds = []
    for payment in order.payments.select_for_update().order_by("pk"):
        left = payment.amount.amount - payment.refunded.amount
        if left <= 0:
            continue
        hook = TENDER_HOOKS.get(payment.tender)
        if hook is not None:
            hook.reverse(order=order, amount=left, reference=payment.reference, actor=actor)
        refunds.append(
            Refund(
                order=order,
                payment=payment,
                tender=payment.tender,
                amount=left,
                status=RefundStatus.DONE if hook is not None else RefundStatus.PENDING,
                reference=payment.reference,
                location_id=order.location_id,
                created_by=actor if is_user(actor) else None,
                approved_by=manager,
            )
        )
        payment.refunded = payment.amount
        payment.save(update_fields=["refunded"])
    return Refund.objects.bulk_create(refunds) if refunds else []
