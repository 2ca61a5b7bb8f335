"""Reads of stock used by the POS, the web shop, reports and the API.

Availability leaves out live holds and counts holds whose time has run out as free at once, by query: a hold
past its `expires_at` is free the moment it expires, whether or not the expiry task has swept it yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.models import Variant
from inventory.models import (
    LowStockAlert,
    Reservation,
    ReservationSource,
    ReservationStatus,
    StockCount,
    StockLevel,
    StockMovement,
    Transfer,
    TransferLine,
    TransferStatus,
)
from omo.models import Location, LocationKind


@dataclass(frozen=True)
class Availability:
    variant_id: int
    location_id: int
    on_hand: int
    reserved: int  # live holds only
    available: int


def expired_held(now: Any) -> Subquery:
    """Units still counted in `reserved` by holds whose time ran out (not swept yet), per stock row."""
    return Subquery(
        Reservation.objects.filter(
            variant=OuterRef("variant"),
            location=OuterRef("location"),
            status=ReservationStatus.ACTIVE,
            expires_at__lte=now,
        )
        .order_by()
        .values("variant")
        .annotate(total=Sum("qty"))
        .values("total"),
        output_field=IntegerField(),
    )


# The rows of availability_rows. Raw SQL, for two reasons measured on a product list's 500 SKUs (`python -m
# bench availability`): the ORM sends `variant_id IN (...)` as one bound parameter per SKU, which Django
# compiles and psycopg quotes one by one (more time than the query itself), where one array costs nothing;
# and the timed-out holds are summed once, grouped, and joined, where the ORM's correlated subquery runs once
# per stock row and is costed so high that PostgreSQL may JIT-compile it (milliseconds more per call).
AVAILABILITY_SQL = """
SELECT s.variant_id, s.location_id, s.on_hand,
       s.reserved - COALESCE(x.expired, 0), s.on_hand - s.reserved + COALESCE(x.expired, 0)
FROM inventory_stocklevel s
LEFT JOIN (
    SELECT r.variant_id, r.location_id, SUM(r.qty) AS expired
    FROM inventory_reservation r
    WHERE r.status = 'active' AND r.expires_at <= %(now)s AND r.variant_id = ANY(%(variants)s::bigint[])
    GROUP BY r.variant_id, r.location_id
) x ON x.variant_id = s.variant_id AND x.location_id = s.location_id
WHERE s.variant_id = ANY(%(variants)s::bigint[])
  AND (%(locations)s::bigint[] IS NULL OR s.location_id = ANY(%(locations)s::bigint[]))
ORDER BY s.variant_id, s.location_id
"""

AvailabilityRow = tuple[int, int, int, int, int]  # variant_id, location_id, on_hand, reserved, available


def availability_fetch(
    variant_ids: Iterable[int], location_ids: Iterable[int] | None = None
) -> list[AvailabilityRow]:
    """The rows of availability_rows as plain tuples (a batch of hundreds of SKUs need not build objects)."""
    with connection.cursor() as cursor:
        cursor.execute(
            AVAILABILITY_SQL,
            {
                "now": timezone.now(),
                "variants": list(variant_ids),
                "locations": None if location_ids is None else list(location_ids),
            },
        )
        return cursor.fetchall()


def availability_rows(
    variant_ids: Iterable[int], *, location_ids: Iterable[int] | None = None
) -> list[Availability]:
    """Stock of these SKUs at every location that has a row for them; one query, whatever their number."""
    return [Availability(*row) for row in availability_fetch(variant_ids, location_ids)]


def locations_active() -> list[Location]:
    return list(Location.objects.filter(is_active=True).order_by("kind", "code"))


def availability_batch(variant_ids: Iterable[int]) -> dict[int, dict[str, dict[str, int]]]:
    """variant id -> location code -> {on_hand, reserved, available}, every active location listed (zero
    where nothing is stocked). Two queries for any number of SKUs."""
    ids = list(dict.fromkeys(variant_ids))
    places = [(location.pk, location.code) for location in locations_active()]
    found = {(row[0], row[1]): row[2:] for row in availability_fetch(ids)}
    nothing = (0, 0, 0)
    result: dict[int, dict[str, dict[str, int]]] = {}
    for variant_id in ids:
        per_location = {}
        for location_id, code in places:
            on_hand, reserved, available = found.get((variant_id, location_id), nothing)
            per_location[code] = {"on_hand": on_hand, "reserved": reserved, "available": available}
        result[variant_id] = per_location
    return result


def availability_for_variant(variant_id: int) -> list[dict[str, Any]]:
    """One SKU at every active location: on hand, reserved, available, and whether the place is a branch."""
    locations = locations_active()
    found = {row.location_id: row for row in availability_rows([variant_id])}
    return [
        {
            "location_id": location.pk,
            "location": location.code,
            "location_name": location.name,
            "kind": location.kind,
            "is_pickup_point": location.is_pickup_point,
            "on_hand": found[location.pk].on_hand if location.pk in found else 0,
            "reserved": found[location.pk].reserved if location.pk in found else 0,
            "available": found[location.pk].available if location.pk in found else 0,
        }
        for location in locations
    ]


def where_available(*, product_id: int, options: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Which locations have this product (in size M, say) available: one entry per location and variant with
    units available, branches first. Options match case-insensitively on the value."""
    variants = Variant.objects.filter(product_id=product_id, is_active=True)
    chosen = {
        variant.pk: variant
        for variant in variants
        if all(
            str(variant.option_values.get(name, "")).casefold() == str(value).casefold()
            for name, value in (options or {}).items()
        )
    }
    locations = {location.pk: location for location in locations_active()}
    found = [row for row in availability_rows(chosen) if row.available > 0 and row.location_id in locations]
    found.sort(
        key=lambda row: (
            locations[row.location_id].kind != LocationKind.BRANCH,
            locations[row.location_id].code,
        )
    )
    return [
        {
            "location": locations[row.location_id].code,
            "location_name": locations[row.location_id].name,
            "kind": locations[row.location_id].kind,
            "sku": chosen[row.variant_id].sku,
            "variant_id": row.variant_id,
            "option_values": chosen[row.variant_id].option_values,
            "available": row.available,
        }
        for row in found
    ]


# --- Lists (scoped to the user's branches where the rows are branch-owned) ---------------------------------


def movements_list(user: Any) -> QuerySet[StockMovement]:
    return StockMovement.objects.for_user(user).select_related("variant", "location")


def stock_levels_list(user: Any) -> QuerySet[StockLevel]:
    """Stock rows for lists; every staff member may see every location's figures (to find stock)."""
    return StockLevel.objects.select_related("variant__product", "location").annotate(
        expired=Coalesce(expired_held(timezone.now()), 0)
    )


def staff_holds_list(
    user: Any, *, location_id: int | None = None, source: str | None = ReservationSource.STAFF_HOLD
) -> QuerySet[Reservation]:
    """Live holds at the user's branches (staff holds unless `source` says otherwise, None: every source),
    soonest to run out first, each with `time_left` (None for a hold without an end).

    Holds past their time are left out although the expiry task may not have swept them yet: availability
    already counts their units as free, so showing them as held would mislead the counter.
    """
    now = timezone.now()
    holds = (
        Reservation.objects.for_user(user)
        .live()
        .select_related("variant__product", "location", "created_by")
        .annotate(
            time_left=ExpressionWrapper(
                F("expires_at") - Value(now, output_field=DateTimeField()), output_field=DurationField()
            )
        )
        .order_by("expires_at", "pk")
    )
    if source is not None:
        holds = holds.filter(source=source)
    if location_id is not None:
        holds = holds.filter(location_id=location_id)
    return holds


def reservations_list(user: Any) -> QuerySet[Reservation]:
    return Reservation.objects.for_user(user).select_related("variant__product", "location", "created_by")


def transfers_list(user: Any) -> QuerySet[Transfer]:
    return (
        Transfer.objects.for_user(user)
        .select_related("source", "destination", "requested_by")
        .prefetch_related("lines__variant__product")
    )


def stock_counts_list(user: Any) -> QuerySet[StockCount]:
    return StockCount.objects.for_user(user).select_related("location", "created_by", "posted_by")


def low_stock_alerts_list(user: Any) -> QuerySet[LowStockAlert]:
    return LowStockAlert.objects.for_user(user).select_related("stock__variant__product", "stock__location")


def time_left(reservation: Reservation) -> timedelta | None:
    return None if reservation.expires_at is None else reservation.expires_at - timezone.now()


# --- Stock counts -------------------------------------------------------------------------------------------


def stock_count_variance(count: StockCount) -> list[dict[str, Any]]:
    """Each counted SKU (and, for a full count, each SKU with stock here) with counted, expected and variance.

    Before posting, expected is on-hand now; after, it is what the ledger said at posting.
    """
    lines = {line.variant_id: line for line in count.lines.select_related("variant__product")}
    levels = dict(
        StockLevel.objects.filter(location_id=count.location_id).values_list("variant_id", "on_hand")
    )
    rows = []
    for variant_id, line in lines.items():
        expected = line.expected if line.expected is not None else levels.get(variant_id, 0)
        rows.append((line.variant, line.counted, expected))
    if count.full and count.status == "open":
        missing = [pk for pk, on_hand in levels.items() if on_hand and pk not in lines]
        for variant in Variant.objects.select_related("product").filter(pk__in=missing, track_inventory=True):
            rows.append((variant, 0, levels[variant.pk]))
    return [
        {
            "variant_id": variant.pk,
            "sku": variant.sku,
            "name": variant.label,
            "counted": counted,
            "expected": expected,
            "variance": counted - expected,
        }
        for variant, counted, expected in sorted(rows, key=lambda row: row[0].sku)
    ]


# --- Replenishment ------------------------------------------------------------------------------------------


def incoming_by_stock(variant_ids: Iterable[int], location_ids: Iterable[int]) -> dict[tuple[int, int], int]:
    """(variant, destination) -> units on their way there: asked for and not yet shipped, or on the road."""
    lines = TransferLine.objects.filter(
        variant_id__in=list(variant_ids),
        transfer__destination_id__in=list(location_ids),
        transfer__status__in=[TransferStatus.REQUESTED, TransferStatus.APPROVED, TransferStatus.IN_TRANSIT],
    ).values_list(
        "variant_id",
        "transfer__destination_id",
        "transfer__status",
        "qty_requested",
        "qty_shipped",
        "qty_received",
    )
    incoming: dict[tuple[int, int], int] = defaultdict(int)
    for variant_id, location_id, status, requested, shipped, received in lines:
        incoming[(variant_id, location_id)] += (
            shipped - received if status == TransferStatus.IN_TRANSIT else requested
        )
    return dict(incoming)


def replenishment_list(*, location_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Every row at or below its reorder point, with a suggestion: a transfer from the warehouse that has the
    most available, a purchase, or both. Four queries.

    What is already on its way (`incoming`: transfers requested, approved or in transit to the row's location)
    is taken off the suggestion, and a warehouse's spare units are promised once: two low branches are not
    both offered the same units.
    """
    low = (
        StockLevel.objects.filter(reorder_point__isnull=False, variant__track_inventory=True)
        .annotate(expired=Coalesce(expired_held(timezone.now()), 0))
        .select_related("variant__product", "location")
    )
    if location_ids is not None:
        low = low.filter(location_id__in=list(location_ids))
    rows = [level for level in low if level.on_hand - level.reserved + level.expired <= level.reorder_point]
    warehouses = {loc.pk: loc for loc in Location.objects.filter(kind=LocationKind.WAREHOUSE, is_active=True)}
    spare: dict[tuple[int, int], int] = {}
    for row in availability_rows({level.variant_id for level in rows}, location_ids=list(warehouses)):
        if row.available > 0:
            spare[(row.variant_id, row.location_id)] = row.available
    incoming = incoming_by_stock({level.variant_id for level in rows}, {level.location_id for level in rows})
    suggestions = []
    for level in sorted(rows, key=lambda level: (level.location.code, level.variant.sku)):
        available = level.on_hand - level.reserved + level.expired
        assert level.reorder_point is not None
        on_the_way = incoming.get((level.variant_id, level.location_id), 0)
        need = max((level.reorder_qty or max(level.reorder_point - available + 1, 1)) - on_the_way, 0)
        offers = sorted(
            (
                (units, warehouse_id)
                for (variant_id, warehouse_id), units in spare.items()
                if variant_id == level.variant_id and warehouse_id != level.location_id and units > 0
            ),
            key=lambda offer: (-offer[0], offer[1]),
        )
        transfer_qty, source = 0, None
        if offers and need:
            transfer_qty, source = min(need, offers[0][0]), warehouses[offers[0][1]]
            spare[(level.variant_id, source.pk)] -= transfer_qty
        suggestions.append(
            {
                "sku": level.variant.sku,
                "variant_id": level.variant_id,
                "name": level.variant.label,
                "location": level.location.code,
                "location_id": level.location_id,
                "available": available,
                "reorder_point": level.reorder_point,
                "reorder_qty": level.reorder_qty,
                "incoming": on_the_way,
                "suggested_qty": need,
                "transfer_from": source.code if source else None,
                "transfer_qty": transfer_qty,
                "purchase_qty": need - transfer_qty,
            }
        )
    return suggestions


# --- The ledger check ---------------------------------------------------------------------------------------

VERIFY_SQL = """
WITH ledger AS (
    SELECT variant_id, location_id, SUM(quantity) AS total
    FROM inventory_stockmovement GROUP BY variant_id, location_id
), holds AS (
    SELECT variant_id, location_id, SUM(qty) AS total
    FROM inventory_reservation WHERE status = 'active' GROUP BY variant_id, location_id
), chain AS (
    SELECT id, variant_id, location_id, on_hand_after,
           SUM(quantity) OVER (PARTITION BY variant_id, location_id ORDER BY id) AS running
    FROM inventory_stockmovement
)
SELECT 'on_hand' AS problem, s.variant_id, s.location_id,
       s.on_hand AS recorded, COALESCE(l.total, 0) AS computed
FROM inventory_stocklevel s LEFT JOIN ledger l USING (variant_id, location_id)
WHERE s.on_hand <> COALESCE(l.total, 0)
UNION ALL
SELECT 'no_stock_row', l.variant_id, l.location_id, 0, l.total
FROM ledger l LEFT JOIN inventory_stocklevel s USING (variant_id, location_id)
WHERE s.id IS NULL AND l.total <> 0
UNION ALL
SELECT 'reserved', s.variant_id, s.location_id, s.reserved, COALESCE(h.total, 0)
FROM inventory_stocklevel s LEFT JOIN holds h USING (variant_id, location_id)
WHERE s.reserved <> COALESCE(h.total, 0)
UNION ALL
SELECT 'movement_chain', c.variant_id, c.location_id, c.on_hand_after, c.running
FROM chain c WHERE c.on_hand_after <> c.running
ORDER BY 2, 3
"""


@dataclass(frozen=True)
class LedgerProblem:
    problem: str
    variant_id: int
    location_id: int
    recorded: int
    computed: int


def stock_verify() -> tuple[int, list[LedgerProblem]]:
    """Proves the ledger: for every (SKU, location), movements sum to on-hand, each movement's on-hand-after
    is the running sum, and `reserved` is the sum of active holds. Returns (rows checked, problems)."""
    with connection.cursor() as cursor:
        cursor.execute(VERIFY_SQL)
        problems = [LedgerProblem(*row) for row in cursor.fetchall()]
        cursor.execute("SELECT count(*) FROM inventory_stocklevel")
        checked = cursor.fetchone()[0]
    return checked, problems


def holds_by_source(user: Any, location_id: int) -> dict[str, int]:
    """How many live holds of each source a branch has (the POS badge)."""
    counts = (
        Reservation.objects.for_user(user)
        .live()
        .filter(location_id=location_id)
        .values("source")
        .annotate(n=Sum("qty"))
    )
    return {row["source"]: row["n"] for row in counts if row["source"] in ReservationSource.values}
