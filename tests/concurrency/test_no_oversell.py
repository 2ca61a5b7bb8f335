"""Concurrent sellers against real PostgreSQL: no oversell, no deadlock, no hold released twice.

Every client is a thread with its own database connection (Django gives each thread one), opened before a
barrier so that they all start together, and closed when the thread ends. The tests commit for real
(`transaction=True`): the locks, the conflicts and the waits are PostgreSQL's own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from catalog.models import Variant
from inventory.exceptions import InsufficientStock, ReservationNotActive
from inventory.models import Reservation, ReservationStatus, StockLevel, StockMovement
from inventory.selectors import stock_verify
from inventory.services import (
    ReceiveLine,
    StockLine,
    reservation_consume,
    reservation_release,
    reservations_expire,
    stock_receive,
    stock_reserve,
    stock_sell,
)
from omo.models import Location
from tests.concurrency.racing import errors_of, race
from tests.factories.catalog import VariantFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

CLIENTS = 64
LAST_UNITS = 10


def receive(variant: Variant, location: Location, qty: int) -> None:
    stock_receive(
        location_id=location.pk, lines=[ReceiveLine(variant, qty, "50")], actor="test", reference="PO"
    )


def row(variant: Variant, location: Location) -> StockLevel:
    return StockLevel.objects.get(variant=variant, location=location)


def assert_ledger_verifies() -> None:
    checked, problems = stock_verify()
    assert checked > 0
    assert problems == []


def assert_refused_as_sold_out(error: BaseException, variant: Variant, location: Location) -> None:
    """A loser is told, with a 409, which SKU ran out where, and that none is left."""
    assert isinstance(error, InsufficientStock)
    assert error.http_status == 409
    (item,) = error.extra["items"]
    assert item["sku"] == variant.sku
    assert item["location"] == location.code
    assert item["requested"] == 1
    assert item["available"] == 0


def pos_sale(variant: Variant, location: Location, qty: int = 1) -> Callable[[], str]:
    def client() -> str:
        stock_sell(lines=[StockLine(variant, location.pk, qty)], actor="pos", reference="POS")
        return "sold"

    return client


def web_hold(variant: Variant, location: Location, qty: int = 1) -> Callable[[], str]:
    def client() -> str:
        stock_reserve(lines=[StockLine(variant, location.pk, qty)], source="web_checkout", actor="web")
        return "reserved"

    return client


# --- The last units -----------------------------------------------------------------------------------------


def test_64_clients_for_the_last_10_units_exactly_10_win_and_the_rest_are_told(cwb):
    variant = VariantFactory()
    receive(variant, cwb, LAST_UNITS)
    clients = [(pos_sale if index % 2 else web_hold)(variant, cwb) for index in range(CLIENTS)]

    outcomes = race(clients)

    assert errors_of(outcomes, InsufficientStock) == []
    won = Counter(o for o in outcomes if isinstance(o, str))
    assert won["sold"] + won["reserved"] == LAST_UNITS
    for loser in (o for o in outcomes if isinstance(o, BaseException)):
        assert_refused_as_sold_out(loser, variant, cwb)
    level = row(variant, cwb)
    assert level.on_hand == LAST_UNITS - won["sold"] >= 0
    assert level.reserved == won["reserved"]
    assert level.on_hand - level.reserved == 0
    assert (
        Reservation.objects.filter(variant=variant, status=ReservationStatus.ACTIVE).count()
        == won["reserved"]
    )
    assert min(StockMovement.objects.filter(variant=variant).values_list("on_hand_after", flat=True)) >= 0
    assert_ledger_verifies()


def test_holds_being_sold_while_others_buy_the_rest(cwb):
    """Consumers of holds always get their units; sellers share only what is not held, and no more."""
    variant = VariantFactory()
    receive(variant, cwb, 30)
    holds = [
        stock_reserve(lines=[StockLine(variant, cwb.pk, 1)], source="web_checkout", actor="web")[0]
        for _ in range(10)
    ]

    def consume(hold: Reservation) -> Callable[[], str]:
        def client() -> str:
            reservation_consume(reservation_ids=[hold.pk], actor="web", reference="WEB")
            return "consumed"

        return client

    clients = [consume(hold) for hold in holds] + [pos_sale(variant, cwb) for _ in range(30)]
    clients += [web_hold(variant, cwb) for _ in range(10)]

    outcomes = race(clients)

    assert errors_of(outcomes, InsufficientStock) == []
    assert outcomes[:10] == ["consumed"] * 10
    won = Counter(o for o in outcomes[10:] if isinstance(o, str))
    assert won["sold"] + won["reserved"] == 20
    for loser in (o for o in outcomes if isinstance(o, BaseException)):
        assert_refused_as_sold_out(loser, variant, cwb)
    level = row(variant, cwb)
    assert (level.on_hand, level.reserved) == (20 - won["sold"], won["reserved"])
    assert level.on_hand - level.reserved == 0
    assert_ledger_verifies()


# --- Deadlocks ----------------------------------------------------------------------------------------------


def test_multi_line_sales_in_opposite_orders_never_deadlock(cwb, mk):
    """32 clients sell and hold the same 5 SKUs at two branches, half listing the lines forwards, half
    backwards: locks in primary-key order mean nobody waits for somebody who waits for them."""
    variants = [VariantFactory() for _ in range(5)]
    for variant in variants:
        receive(variant, cwb, 150)
        receive(variant, mk, 150)
    lines = [StockLine(variant, location.pk, 1) for variant in variants for location in (cwb, mk)]
    rounds = 4

    def client(index: int) -> Callable[[], Counter[str]]:
        ordered = lines if index % 2 else list(reversed(lines))

        def run() -> Counter[str]:
            done: Counter[str] = Counter()
            for number in range(rounds):
                try:
                    if (index + number) % 3:
                        stock_sell(lines=ordered, actor="pos", reference=f"POS-{index}-{number}")
                        done["sold"] += 1
                    else:
                        stock_reserve(lines=ordered, source="web_checkout", actor="web")
                        done["reserved"] += 1
                except InsufficientStock:
                    done["short"] += 1
            return done

        return run

    outcomes = race([client(index) for index in range(32)])

    assert errors_of(outcomes) == []
    done = sum(outcomes, Counter())
    assert done["sold"] + done["reserved"] + done["short"] == 32 * rounds
    assert done["short"] == 0  # 150 of each is enough for 32 x 4 baskets of one
    for variant in variants:
        for location in (cwb, mk):
            level = row(variant, location)
            assert (level.on_hand, level.reserved) == (150 - done["sold"], done["reserved"])
    assert_ledger_verifies()


# --- Holds: expiry and release exactly once -----------------------------------------------------------------


def test_expiry_run_from_several_workers_at_once_releases_each_hold_once(cwb, mk):
    variants = [VariantFactory() for _ in range(3)]
    expired: list[Reservation] = []
    live: list[Reservation] = []
    for number, (variant, location) in enumerate((v, loc) for v in variants for loc in (cwb, mk)):
        receive(variant, location, 50)
        for qty in (1, 2, 3, 1, 2, 3):
            expired += stock_reserve(
                lines=[StockLine(variant, location.pk, qty)], source="web_checkout", actor="web"
            )
        live += stock_reserve(
            lines=[StockLine(variant, location.pk, 1 + number % 3)], source="staff_hold", actor="x"
        )
    Reservation.objects.filter(pk__in=[hold.pk for hold in expired]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    outcomes = race([lambda: reservations_expire(batch_size=5) for _ in range(8)])

    assert errors_of(outcomes) == []
    assert sum(outcomes) == len(expired)  # each hold released by exactly one of the workers
    statuses = dict(Reservation.objects.values_list("pk", "status"))
    assert {statuses[hold.pk] for hold in expired} == {ReservationStatus.EXPIRED}
    assert {statuses[hold.pk] for hold in live} == {ReservationStatus.ACTIVE}
    for level in StockLevel.objects.all():
        held = Reservation.objects.filter(
            variant_id=level.variant_id, location_id=level.location_id, status=ReservationStatus.ACTIVE
        ).aggregate(total=Sum("qty"))["total"]
        assert (level.on_hand, level.reserved) == (50, held)
    assert_ledger_verifies()


def test_two_releases_of_one_hold_racing_one_wins_the_other_is_told(cwb):
    variant = VariantFactory()
    receive(variant, cwb, 20)
    holds = [
        stock_reserve(lines=[StockLine(variant, cwb.pk, 2)], source="staff_hold", actor="x")[0]
        for _ in range(10)
    ]

    def release(hold: Reservation) -> Callable[[], str]:
        def client() -> str:
            reservation_release(reservation_ids=[hold.pk], actor="x", reason="changed her mind")
            return "released"

        return client

    outcomes = race([release(hold) for hold in holds for _ in range(2)])

    assert errors_of(outcomes, ReservationNotActive) == []
    for hold, pair in zip(holds, zip(outcomes[::2], outcomes[1::2], strict=True), strict=True):
        refused = [o for o in pair if isinstance(o, ReservationNotActive)]
        assert sorted(pair, key=str).count("released") == 1, pair
        assert len(refused) == 1
        assert refused[0].http_status == 409
        assert refused[0].extra["reservation_ids"] == [hold.pk]
    assert (row(variant, cwb).on_hand, row(variant, cwb).reserved) == (20, 0)
    assert set(Reservation.objects.values_list("status", flat=True)) == {ReservationStatus.RELEASED}
    assert_ledger_verifies()
