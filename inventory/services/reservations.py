"""Holds on stock: made by a web checkout, a staff member, click-and-collect or endless aisle.

Lock order everywhere: stock rows (primary-key order), then the reservation rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Variant
from inventory.exceptions import ReservationNotActive
from inventory.ledger import StockChange, holds_consume, stock_apply, stock_hold_locked
from inventory.locks import LockedStock, StockKey, stock_lock
from inventory.models import MovementKind, Reservation, ReservationSource, ReservationStatus
from inventory.services.access import access_location, is_user
from inventory.services.expiry import expired_sweep
from inventory.services.stock import StockLine, insufficient, lines_by_key, lines_check, shortfalls
from omo.errors import NotFound, ValidationFailed

MAX_HOLD = timedelta(days=90)


def reservation_lifetime(source: str) -> timedelta | None:
    """How long a hold of this source lasts (settings.RESERVATION_LIFETIMES); None: until released."""
    return settings.RESERVATION_LIFETIMES.get(source)


def reservable(stock: LockedStock, variant: Any) -> int:
    """A backorder SKU may be promised beyond what is on hand; others only what is available."""
    return 10**9 if variant.allow_backorder else stock.available


@transaction.atomic
def stock_reserve(
    *,
    lines: Sequence[StockLine],
    source: str,
    actor: Any,
    expires_at: datetime | None = None,
    member_id: int | None = None,
    customer_name: str = "",
    customer_phone: str = "",
    note: str = "",
    reference: str = "",
    lasting: bool = False,
) -> list[Reservation]:
    """Holds units for a customer: reserved up, one Reservation per line (SKUs that track no stock need none).

    Locks the stock rows (primary-key order), checks and holds in one query for any number of lines (more
    only when a line is short or a SKU allows backorder). Raises InsufficientStock (409) naming every short
    SKU, ValidationFailed for a bad source, quantity or expiry.
    """
    if source not in ReservationSource.values:
        raise ValidationFailed(fields={"source": _("Unknown source of the hold.")})
    lines_check(lines)
    now = timezone.now()
    if lasting:
        # A paid order's goods: held until it is fulfilled or cancelled, never swept by expiry.
        expires_at = None
    elif expires_at is None:
        lifetime = reservation_lifetime(source)
        expires_at = now + lifetime if lifetime else None
    elif expires_at <= now or expires_at > now + MAX_HOLD:
        raise ValidationFailed(fields={"expires_at": _("A hold ends in the future, within 90 days.")})
    wanted, variants = lines_by_key(lines)
    if not wanted:
        return []
    created_by = actor if is_user(actor) else None
    hold: dict[str, Any] = {
        "source": source,
        "expires_at": expires_at,
        "member_id": member_id,
        "customer_name": customer_name.strip()[:100],
        "customer_phone": customer_phone.strip()[:32],
        "note": note.strip()[:255],
        "reference": reference[:64],
        "created_by": created_by.pk if created_by else None,
        "now": now,
    }
    backorder = any(variant.allow_backorder for variant in variants.values())
    if not backorder:
        # The usual case in one statement: lock, check, hold. The lock is then held only until the commit.
        rows, held = stock_hold_locked(wanted, hold=hold)
        if held:
            return [reservation_made(pk, key, wanted[key], hold) for key, pk in held.items()]
    else:
        rows = stock_lock(wanted, create_missing=True)
    short = shortfalls(wanted, rows, variants, reservable)
    if short:
        expired_sweep(rows, list(short))
        short = shortfalls(wanted, rows, variants, reservable)
        if short:
            raise insufficient(short, wanted, variants)
    stock_apply(
        [StockChange(rows[key], reserved=qty) for key, qty in wanted.items()],
        kind=MovementKind.SALE,  # no movement: on-hand does not change
        actor=actor,
    )
    return Reservation.objects.bulk_create(
        [
            Reservation(
                variant_id=variant_id,
                location_id=location_id,
                qty=qty,
                source=source,
                expires_at=expires_at,
                member_id=member_id,
                customer_name=hold["customer_name"],
                customer_phone=hold["customer_phone"],
                note=hold["note"],
                reference=hold["reference"],
                created_by=created_by,
                created_at=now,
            )
            for (variant_id, location_id), qty in wanted.items()
        ]
    )


def reservation_made(pk: int, key: StockKey, qty: int, hold: dict[str, Any]) -> Reservation:
    """The Reservation a one-statement hold inserted, as a saved instance (no query to read it back)."""
    reservation = Reservation(
        pk=pk,
        variant_id=key[0],
        location_id=key[1],
        qty=qty,
        source=hold["source"],
        expires_at=hold["expires_at"],
        member_id=hold["member_id"],
        customer_name=hold["customer_name"],
        customer_phone=hold["customer_phone"],
        note=hold["note"],
        reference=hold["reference"],
        created_by_id=hold["created_by"],
        created_at=hold["now"],
    )
    reservation._state.adding = False
    reservation._state.db = "default"
    return reservation


def reservations_lock(
    reservation_ids: Sequence[int],
) -> tuple[dict[StockKey, LockedStock], list[Reservation]]:
    """Locks the stock rows of these holds, then the holds themselves: the one lock order of this app."""
    ids = sorted(set(reservation_ids))
    keys = Reservation.objects.filter(pk__in=ids).values_list("variant_id", "location_id")
    rows = stock_lock(keys)
    reservations = list(
        Reservation.objects.select_for_update(of=("self",))
        .select_related("variant", "location")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    if len(reservations) != len(ids):
        raise NotFound(_("No such hold."), missing=sorted(set(ids) - {r.pk for r in reservations}))
    not_active = [r.pk for r in reservations if r.status != ReservationStatus.ACTIVE]
    if not_active:
        raise ReservationNotActive(reservation_ids=not_active)
    return rows, reservations


def reservation_access(actor: Any, reservation: Reservation) -> None:
    """Staff of the hold's location, or whoever made it (an endless-aisle hold made at another branch)."""
    if is_user(actor) and reservation.created_by_id == actor.pk:
        return
    access_location(actor, reservation.location_id)


@transaction.atomic
def reservation_release(*, reservation_ids: Sequence[int], actor: Any, reason: str = "") -> list[Reservation]:
    """Gives held units back (the customer changed their mind). Raises ReservationNotActive when any of them
    was already sold, released or expired, so nothing is released twice."""
    rows, reservations = reservations_lock(reservation_ids)
    for reservation in reservations:
        reservation_access(actor, reservation)
    freed: dict[StockKey, int] = defaultdict(int)
    for reservation in reservations:
        freed[(reservation.variant_id, reservation.location_id)] += reservation.qty
    stock_apply(
        [StockChange(rows[key], reserved=-qty) for key, qty in freed.items()],
        kind=MovementKind.SALE,  # no movement: on-hand does not change
        actor=actor,
    )
    reservations_close(reservations, ReservationStatus.RELEASED, actor, note=reason)
    return reservations


@transaction.atomic
def reservation_consume(
    *, reservation_ids: Sequence[int], actor: Any, reference: str = "", reason: str = ""
) -> list[int]:
    """Turns holds into a sale: on-hand and reserved both down, one `sale` movement per stock row; returns the
    ids sold. Locks the stock rows (primary-key order), then the holds; two queries for any number of holds.

    A hold past its time but not yet swept still has its units, so it can still be sold. Raises NotFound,
    ReservationNotActive (sold, released or expired already), InsufficientStock (a backorder hold whose goods
    have not arrived yet); then nothing is sold.
    """
    ids = sorted(set(reservation_ids))
    result = holds_consume(ids, actor=actor, reason=reason, reference=reference)
    if result.done:
        return ids
    # Nothing was sold; say why (a query more, on this path only).
    if len(result.active_ids) != len(ids):
        known = set(Reservation.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if len(known) != len(ids):
            raise NotFound(_("No such hold."), missing=sorted(set(ids) - known))
        raise ReservationNotActive(reservation_ids=sorted(set(ids) - set(result.active_ids)))
    taken = {(variant_id, location_id): qty for variant_id, location_id, _on_hand, qty in result.rows}
    short = {(v, loc): on_hand for v, loc, on_hand, qty in result.rows if on_hand < qty}
    variants = {v.pk: v for v in Variant.objects.filter(pk__in={key[0] for key in short})}
    raise insufficient(short, taken, variants)


def reservations_close(reservations: list[Reservation], status: str, actor: Any, note: str = "") -> None:
    now = timezone.now()
    for reservation in reservations:
        reservation.status = status
        reservation.closed_at = now
        reservation.closed_by = actor if is_user(actor) else None
        if note:
            reservation.note = f"{reservation.note} / {note}".strip(" /")[:255]
    Reservation.objects.bulk_update(reservations, ["status", "closed_at", "closed_by", "note"])


@transaction.atomic
def reservation_extend(
    *, reservation_id: int, actor: Any, expires_at: datetime | None = None, minutes: int | None = None
) -> Reservation:
    """Moves a live hold's end (the customer will come later): by `minutes` from its current end, or to
    `expires_at`. A hold without an end can be given one with `expires_at`; `minutes` would cut it short.

    Locks the hold only. Raises ReservationNotActive (sold, released, or past its time: availability already
    counts those units as free, so the hold cannot come back), ValidationFailed, NotFound.
    """
    reservation = Reservation.objects.select_for_update().filter(pk=reservation_id).first()
    if reservation is None:
        raise NotFound(_("No such hold."))
    reservation_access(actor, reservation)
    if not reservation.is_live:
        raise ReservationNotActive(reservation_ids=[reservation.pk])
    now = timezone.now()
    if (expires_at is None) == (minutes is None):
        raise ValidationFailed(_("Give either a new end time or a number of minutes."))
    if minutes is not None:
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
            raise ValidationFailed(fields={"minutes": _("Extend by at least one minute.")})
        if reservation.expires_at is None:
            raise ValidationFailed(
                fields={"minutes": _("This hold lasts until it is released; give an end time instead.")}
            )
        expires_at = reservation.expires_at + timedelta(minutes=minutes)
    assert expires_at is not None
    if expires_at <= now or expires_at > now + MAX_HOLD:
        raise ValidationFailed(fields={"expires_at": _("A hold ends in the future, within 90 days.")})
    reservation.expires_at = expires_at
    reservation.expiry_warned_at = None
    reservation.save(update_fields=["expires_at", "expiry_warned_at"])
    return reservation


@transaction.atomic
def reservations_keep(*, reservation_ids: Sequence[int], reference: str = "", source: str = "") -> int:
    """Makes live holds last until they are sold or released (a web checkout has been paid): one UPDATE.
    With `source`, they also become holds of that kind (a paid pickup is click-and-collect, no longer a
    checkout in progress or a staff hold, so the staff-holds list stops showing it).

    Returns how many holds were kept; the caller compares with what it asked for, because a hold whose time
    ran out before the payment arrived may already be free for others (then the order must not go ahead).
    """
    if source and source not in ReservationSource.values:
        raise ValidationFailed(fields={"source": _("Unknown source of the hold.")})
    changes: dict[str, Any] = {"expires_at": None}
    if reference:
        changes["reference"] = reference[:64]
    if source:
        changes["source"] = source
    now = timezone.now()
    return (
        Reservation.objects.filter(pk__in=list(reservation_ids), status=ReservationStatus.ACTIVE)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .update(**changes)
    )
