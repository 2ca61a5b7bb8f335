"""Moving stock: sell, receive, adjust, write off. Each locks its rows in primary-key order, checks, applies.

A sale costs one query whatever its number of lines: it locks the rows, checks every line and, when all of
them can be had, takes the units off and writes the movements (`stock_take_locked`); the lock is then held
only for that statement and the commit. Only when a line is short do more queries follow (sweeping expired
holds under the same lock, then the take, or the refusal). Shortfalls are gathered across all lines and raised
together as InsufficientStock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from catalog.models import Variant
from catalog.validation import Invalid, money_parse
from inventory.exceptions import InsufficientStock
from inventory.ledger import StockChange, Take, stock_apply, stock_take_locked
from inventory.locks import LockedStock, StockKey, stock_lock
from inventory.models import MovementKind
from inventory.services.access import access_location
from inventory.services.expiry import expired_sweep
from omo.errors import ValidationFailed
from omo.models import Location
from omo.services.audit import audit_record


@dataclass(frozen=True)
class StockLine:
    """`qty` units of `variant` at `location_id`. The caller passes loaded variants (it has them anyway)."""

    variant: Variant
    location_id: int
    qty: int


# A rule says how many units of a locked row a kind of movement may take.
TakeRule = Callable[[LockedStock, Variant], int]


def sellable(stock: LockedStock, variant: Variant) -> int:
    """Available to sell; a backorder SKU may sell what is on the shelf even if it is promised to orders."""
    return stock.on_hand if variant.allow_backorder else stock.available


def physical(stock: LockedStock, variant: Variant) -> int:
    return stock.on_hand


def available(stock: LockedStock, variant: Variant) -> int:
    return stock.available


# Each rule as stock_take_locked checks it in SQL: per SKU, whether held units are out of reach. A rule that
# is not here is checked in Python, after stock_lock (two queries).
NET_OF_RESERVED: dict[TakeRule, Callable[[Variant], bool]] = {
    sellable: lambda variant: not variant.allow_backorder,
    physical: lambda variant: False,
    available: lambda variant: True,
}


def lines_check(lines: Sequence[StockLine]) -> None:
    for line in lines:
        if not isinstance(line.qty, int) or isinstance(line.qty, bool) or line.qty <= 0:
            raise ValidationFailed(
                _("Quantities are whole numbers above zero."), sku=line.variant.sku, qty=str(line.qty)
            )


def lines_by_key(lines: Sequence[StockLine]) -> tuple[dict[StockKey, int], dict[int, Variant]]:
    """Tracked lines summed per (variant, location); SKUs that do not track stock are left out."""
    wanted: dict[StockKey, int] = defaultdict(int)
    variants: dict[int, Variant] = {}
    for line in lines:
        if line.variant.track_inventory:
            wanted[(line.variant.pk, line.location_id)] += line.qty
            variants[line.variant.pk] = line.variant
    return dict(wanted), variants


def shortfalls(
    wanted: dict[StockKey, int],
    rows: dict[StockKey, LockedStock],
    variants: dict[int, Variant],
    rule: TakeRule,
) -> dict[StockKey, int]:
    """(variant, location) -> what can be had, for every key that cannot have what it wants."""
    short = {}
    for key, qty in wanted.items():
        row = rows.get(key)
        can = rule(row, variants[key[0]]) if row is not None else 0
        if can < qty:
            short[key] = max(can, 0)
    return short


def insufficient(
    short: dict[StockKey, int], wanted: dict[StockKey, int], variants: dict[int, Variant]
) -> InsufficientStock:
    codes = dict(Location.objects.filter(pk__in={key[1] for key in short}).values_list("pk", "code"))
    return InsufficientStock(
        [
            {
                "sku": variants[variant_id].sku,
                "variant_id": variant_id,
                "location": codes.get(location_id, str(location_id)),
                "location_id": location_id,
                "requested": wanted[(variant_id, location_id)],
                "available": can,
            }
            for (variant_id, location_id), can in sorted(short.items())
        ]
    )


def stock_take(
    lines: Sequence[StockLine],
    *,
    kind: MovementKind,
    rule: TakeRule,
    actor: Any,
    reason: str = "",
    reference: str = "",
) -> dict[StockKey, LockedStock]:
    """Takes units off locations (on-hand down) under lock, or raises InsufficientStock naming each short.

    One query when every line can be had (lock, check and take in one statement). Holds whose time has run
    out count as free: when a line is short, they are swept first (still under the lock) and the line is
    checked again.
    """
    lines_check(lines)
    wanted, variants = lines_by_key(lines)
    if not wanted:
        return {}
    net_of_reserved = NET_OF_RESERVED.get(rule)
    if net_of_reserved is None:
        rows = stock_lock(wanted)
    else:
        takes = [Take(key, qty, net_of_reserved(variants[key[0]])) for key, qty in wanted.items()]
        rows, taken = stock_take_locked(takes, kind=kind, actor=actor, reason=reason, reference=reference)
        if taken:
            return rows
    short = shortfalls(wanted, rows, variants, rule)
    if short:
        expired_sweep(rows, list(short))
        short = shortfalls(wanted, rows, variants, rule)
        if short:
            raise insufficient(short, wanted, variants)
    stock_apply(
        [StockChange(rows[key], on_hand=-qty) for key, qty in wanted.items()],
        kind=kind,
        actor=actor,
        reason=reason,
        reference=reference,
    )
    return rows


@transaction.atomic
def stock_sell(*, lines: Sequence[StockLine], actor: Any, reference: str = "", reason: str = "") -> None:
    """Takes sold units off the shelf: on-hand down, one `sale` movement per line.

    Locks the stock rows (primary-key order); one query for any number of lines when every line is there
    (lock, check and take in one statement). Raises InsufficientStock (409) naming every short SKU and what is
    available. Call it last in the sale's transaction: the locks are then held only until the commit.
    """
    stock_take(lines, kind=MovementKind.SALE, rule=sellable, actor=actor, reason=reason, reference=reference)


@transaction.atomic
def stock_return(*, lines: Sequence[StockLine], actor: Any, reference: str = "", reason: str = "") -> None:
    """Puts returned units back on the shelf at the chosen location (`return` movements)."""
    lines_check(lines)
    wanted, _variants = lines_by_key(lines)
    rows = stock_lock(wanted, create_missing=True)
    stock_apply(
        [StockChange(rows[key], on_hand=qty) for key, qty in wanted.items()],
        kind=MovementKind.RETURN,
        actor=actor,
        reason=reason,
        reference=reference,
    )


@dataclass(frozen=True)
class ReceiveLine:
    variant: Variant
    qty: int
    unit_cost: Decimal | str | None = None


def average_cost(parts: list[tuple[int, Decimal | None]]) -> Decimal | None:
    """One SKU on several lines of a delivery is one movement: its cost is their weighted average."""
    if any(cost is None for _qty, cost in parts):
        return next((cost for _qty, cost in parts if cost is not None), None)
    total = sum((Decimal(qty) * cost for qty, cost in parts if cost is not None), Decimal(0))
    return (total / sum(qty for qty, _cost in parts)).quantize(Decimal("0.01"))


@transaction.atomic
def stock_receive(
    *, location_id: int, lines: Sequence[ReceiveLine], actor: Any, reference: str, reason: str = ""
) -> None:
    """Books goods in (a delivery from a supplier) with their unit cost and the delivery's reference.

    Staff of the location only. Raises ValidationFailed for a bad quantity or cost, or a SKU that does not
    track stock.
    """
    access_location(actor, location_id)
    if not reference.strip():
        raise ValidationFailed(fields={"reference": _("Give the delivery note or invoice number.")})
    errors: dict[str, str] = {}
    priced: dict[int, list[tuple[int, Decimal | None]]] = defaultdict(list)
    for line in lines:
        try:
            priced[line.variant.pk].append((line.qty, money_parse(line.unit_cost, allow_blank=True)))
        except Invalid as error:
            errors[line.variant.sku] = str(error)
        if not line.variant.track_inventory:
            errors[line.variant.sku] = _("This SKU does not track stock.")
    if errors:
        raise ValidationFailed(fields=errors)
    lines_check([StockLine(line.variant, location_id, line.qty) for line in lines])
    wanted = {(pk, location_id): sum(qty for qty, _cost in parts) for pk, parts in priced.items()}
    costs = {pk: average_cost(parts) for pk, parts in priced.items()}
    rows = stock_lock(wanted, create_missing=True)
    stock_apply(
        [StockChange(rows[key], on_hand=qty, unit_cost=costs[key[0]]) for key, qty in wanted.items()],
        kind=MovementKind.RECEIVE,
        actor=actor,
        reason=reason,
        reference=reference.strip(),
    )


@transaction.atomic
def stock_adjust(
    *,
    variant: Variant,
    location_id: int,
    actor: Any,
    reason: str,
    delta: int | None = None,
    on_hand: int | None = None,
    reference: str = "",
) -> LockedStock:
    """Corrects on-hand by `delta`, or to `on_hand`, with a reason. Managers only; audited.

    Raises ValidationFailed (no reason, both or neither of delta and on_hand, a result below zero),
    PermissionDenied, BranchAccessDenied.
    """
    access_location(actor, location_id, managers_only=True)
    if not reason.strip():
        raise ValidationFailed(fields={"reason": _("Say why the stock is adjusted.")})
    if (delta is None) == (on_hand is None):
        raise ValidationFailed(_("Give either a change or the new on-hand figure."))
    figure = delta if delta is not None else on_hand
    if not isinstance(figure, int) or isinstance(figure, bool):
        raise ValidationFailed(_("Stock is counted in whole units."))
    if not variant.track_inventory:
        raise ValidationFailed(_("This SKU does not track stock."))
    rows = stock_lock([(variant.pk, location_id)], create_missing=True)
    row = rows[(variant.pk, location_id)]
    before = row.on_hand
    change = delta if delta is not None else (on_hand or 0) - row.on_hand
    if row.on_hand + change < 0:
        raise ValidationFailed(
            _("On-hand cannot go below zero (%(on_hand)d on hand).") % {"on_hand": row.on_hand}
        )
    stock_apply(
        [StockChange(row, on_hand=change)],
        kind=MovementKind.COUNT_ADJUSTMENT,
        actor=actor,
        reason=reason.strip(),
        reference=reference,
    )
    audit_record(
        actor=actor,
        action="stock.adjust",
        branch=location_id,
        obj=variant,
        before={"sku": variant.sku, "on_hand": before},
        after={"sku": variant.sku, "on_hand": row.on_hand},
        reason=reason.strip(),
    )
    return row


@transaction.atomic
def stock_write_off(
    *, variant: Variant, location_id: int, qty: int, actor: Any, reason: str, reference: str = ""
) -> LockedStock:
    """Writes off damaged or lost units (`damage` movement). Staff of the location; audited.

    Raises InsufficientStock when fewer are on hand, ValidationFailed without a reason.
    """
    access_location(actor, location_id)
    if not reason.strip():
        raise ValidationFailed(fields={"reason": _("Say what happened to the goods.")})
    if not variant.track_inventory:
        raise ValidationFailed(_("This SKU does not track stock."))
    rows = stock_take(
        [StockLine(variant, location_id, qty)],
        kind=MovementKind.DAMAGE,
        rule=physical,
        actor=actor,
        reason=reason.strip(),
        reference=reference,
    )
    row = rows[(variant.pk, location_id)]
    audit_record(
        actor=actor,
        action="stock.write_off",
        branch=location_id,
        obj=variant,
        before={"sku": variant.sku, "on_hand": row.on_hand + qty},
        after={"sku": variant.sku, "on_hand": row.on_hand},
        reason=reason.strip(),
    )
    return row
