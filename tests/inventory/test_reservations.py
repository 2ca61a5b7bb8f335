"""Holds: default lifetimes, availability by query, consume/release/extend, expiry in batches, warnings."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.exceptions import InsufficientStock, ReservationNotActive
from inventory.models import Reservation, ReservationStatus, StockMovement
from inventory.selectors import availability_for_variant, staff_holds_list, stock_verify, time_left
from inventory.services import (
    StockLine,
    reservation_consume,
    reservation_extend,
    reservation_release,
    reservations_expire,
    reservations_warn_expiring,
    stock_reserve,
)
from omo.errors import BranchAccessDenied, NotFound, ValidationFailed
from omo.models import OutboxMessage, Role
from tests.factories.catalog import VariantFactory
from tests.factories.inventory import level, movements, receive, staff
from tests.factories.omo import UserFactory

pytestmark = pytest.mark.django_db

EVENT_TASK = "omo.tasks.event_publish_task"


def hold(variant, location, qty=1, *, source="staff_hold", actor="test", **kwargs) -> Reservation:
    (reservation,) = stock_reserve(
        lines=[StockLine(variant, location.pk, qty)], source=source, actor=actor, **kwargs
    )
    return reservation


def time_out(*reservations: Reservation, ago: timedelta = timedelta(seconds=1)) -> None:
    """What the clock does: the holds' time runs out (the expiry task has not run yet)."""
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(expires_at=timezone.now() - ago)


def available_at(variant, location) -> int:
    return next(
        row["available"] for row in availability_for_variant(variant.pk) if row["location_id"] == location.pk
    )


def expiring_events() -> list[dict]:
    return [
        message.kwargs["payload"]
        for message in OutboxMessage.objects.filter(task_name=EVENT_TASK).order_by("pk")
        if message.kwargs["topic"] == "reservation.expiring"
    ]


# --- Reserve ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "lifetime"),
    [
        ("web_checkout", timedelta(minutes=15)),
        ("staff_hold", timedelta(hours=24)),
        ("click_collect", timedelta(days=7)),
        ("endless_aisle", timedelta(days=3)),
    ],
)
def test_default_lifetime_per_source(variant, cwb, stocked, source, lifetime):
    stocked(5)
    start = timezone.now()
    reservation = hold(variant, cwb, source=source)
    end = timezone.now()
    assert start + lifetime <= reservation.expires_at <= end + lifetime


def test_lifetimes_come_from_settings_at_the_time_of_the_hold(variant, cwb, stocked, settings):
    stocked(5)
    settings.RESERVATION_LIFETIMES = {"staff_hold": timedelta(hours=2), "web_checkout": timedelta(minutes=5)}
    start = timezone.now()
    staff_hold = hold(variant, cwb)
    assert start + timedelta(hours=2) <= staff_hold.expires_at <= timezone.now() + timedelta(hours=2)
    # A source with no lifetime configured lasts until released.
    assert hold(variant, cwb, source="click_collect").expires_at is None


def test_reserve_holds_units_and_moves_nothing(variant, cwb, stocked, cwb_cashier):
    stocked(5)
    reservation = hold(
        variant,
        cwb,
        2,
        actor=cwb_cashier,
        customer_name=" 陳小姐 ",
        customer_phone="+852 9123 4567",
        note="IG DM, 星期六來試",
        member_id=42,
        reference="IG-0001",
    )
    reservation.refresh_from_db()
    assert (reservation.qty, reservation.status, reservation.source) == (2, "active", "staff_hold")
    assert (reservation.customer_name, reservation.customer_phone) == ("陳小姐", "+852 9123 4567")
    assert (reservation.note, reservation.member_id, reservation.reference) == (
        "IG DM, 星期六來試",
        42,
        "IG-0001",
    )
    assert reservation.created_by == cwb_cashier and reservation.location == cwb
    assert level(variant, cwb) == (5, 2)
    assert movements(variant, cwb) == [("receive", 5, 5)]
    assert available_at(variant, cwb) == 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"source": "instagram"}, "source"),
        ({"expires_at": "past"}, "expires_at"),
        ({"expires_at": "too-far"}, "expires_at"),
    ],
)
def test_reserve_refusals(variant, cwb, stocked, kwargs, field):
    stocked(5)
    when = {"past": timezone.now() - timedelta(minutes=1), "too-far": timezone.now() + timedelta(days=91)}
    if "expires_at" in kwargs:
        kwargs = {"expires_at": when[kwargs["expires_at"]]}
    with pytest.raises(ValidationFailed) as error:
        stock_reserve(
            lines=[StockLine(variant, cwb.pk, 1)], actor="test", **{"source": "staff_hold", **kwargs}
        )
    assert field in error.value.extra["fields"]
    assert not Reservation.objects.exists() and level(variant, cwb) == (5, 0)


def test_reserve_more_than_available_is_refused(variant, cwb, stocked):
    stocked(3)
    hold(variant, cwb, 2)
    with pytest.raises(InsufficientStock) as error:
        hold(variant, cwb, 2)
    assert error.value.extra["items"][0]["available"] == 1
    assert Reservation.objects.count() == 1 and level(variant, cwb) == (3, 2)


# --- Availability by query ----------------------------------------------------------------------------------


def test_an_expired_hold_is_free_at_once_before_any_sweep(variant, cwb, stocked):
    stocked(4)
    first = hold(variant, cwb, 3)
    assert available_at(variant, cwb) == 1
    time_out(first)
    assert available_at(variant, cwb) == 4  # by query: no job has run
    assert level(variant, cwb) == (4, 3)  # still in the row until swept
    second = hold(variant, cwb, 4)  # the seller that needs the units sweeps the timed-out hold
    first.refresh_from_db()
    assert first.status == ReservationStatus.EXPIRED and first.closed_at is not None
    assert second.qty == 4 and level(variant, cwb) == (4, 4)
    assert stock_verify()[1] == []


# --- Consume, release, extend -------------------------------------------------------------------------------


def test_consume_makes_a_sale(variant, cwb, stocked, cwb_cashier):
    stocked(5)
    reservation = hold(variant, cwb, 2)
    reservation_consume(
        reservation_ids=[reservation.pk], actor=cwb_cashier, reference="CWB-000009", reason="collected"
    )
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONSUMED and reservation.closed_by == cwb_cashier
    assert reservation.closed_at is not None
    assert level(variant, cwb) == (3, 0)
    assert movements(variant, cwb)[-1] == ("sale", -2, 3)
    sale = StockMovement.objects.order_by("id").last()
    assert (sale.reference, sale.reason, sale.actor) == ("CWB-000009", "collected", cwb_cashier)
    with pytest.raises(ReservationNotActive) as error:
        reservation_consume(reservation_ids=[reservation.pk], actor=cwb_cashier)
    assert error.value.extra == {"reservation_ids": [reservation.pk]}
    assert level(variant, cwb) == (3, 0)


def test_consume_a_timed_out_hold_not_yet_swept(variant, cwb, stocked):
    stocked(2)
    reservation = hold(variant, cwb, 2)
    time_out(reservation)
    reservation_consume(reservation_ids=[reservation.pk], actor="test")
    assert level(variant, cwb) == (0, 0)


def test_release_gives_units_back_once(variant, cwb, stocked, cwb_cashier):
    stocked(5)
    reservation = hold(variant, cwb, 2, note="IG DM")
    reservation_release(reservation_ids=[reservation.pk], actor=cwb_cashier, reason="customer cancelled")
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RELEASED and reservation.closed_by == cwb_cashier
    assert reservation.note == "IG DM / customer cancelled"
    assert level(variant, cwb) == (5, 0)
    assert movements(variant, cwb) == [("receive", 5, 5)]
    with pytest.raises(ReservationNotActive):
        reservation_release(reservation_ids=[reservation.pk], actor=cwb_cashier)
    assert level(variant, cwb) == (5, 0)


def test_release_of_several_is_all_or_nothing(variant, cwb, stocked):
    stocked(5)
    one, two = hold(variant, cwb, 1), hold(variant, cwb, 2)
    reservation_release(reservation_ids=[one.pk], actor="test")
    with pytest.raises(ReservationNotActive) as error:
        reservation_release(reservation_ids=[one.pk, two.pk], actor="test")
    assert error.value.extra == {"reservation_ids": [one.pk]}
    two.refresh_from_db()
    assert two.status == ReservationStatus.ACTIVE and level(variant, cwb) == (5, 2)
    with pytest.raises(NotFound):
        reservation_release(reservation_ids=[two.pk, 999999], actor="test")


def test_release_by_other_branch_staff_is_refused_but_the_maker_may(variant, cwb, mk, stocked, cwb_cashier):
    stocked(5)
    mk_cashier = staff("mk-cashier", "cashier", mk)
    at_cwb = hold(variant, cwb, 1, actor=cwb_cashier)
    with pytest.raises(BranchAccessDenied):
        reservation_release(reservation_ids=[at_cwb.pk], actor=mk_cashier)
    # An endless-aisle hold made by MK staff at CWB may be released by whoever made it.
    by_mk = hold(variant, cwb, 1, actor=mk_cashier, source="endless_aisle")
    reservation_release(reservation_ids=[by_mk.pk], actor=mk_cashier)
    assert level(variant, cwb) == (5, 1)


def test_extend_by_minutes_and_to_a_time(variant, cwb, stocked, cwb_cashier):
    stocked(5)
    reservation = hold(variant, cwb)
    first_end = reservation.expires_at
    extended = reservation_extend(reservation_id=reservation.pk, actor=cwb_cashier, minutes=90)
    assert extended.expires_at == first_end + timedelta(minutes=90)
    target = timezone.now() + timedelta(days=3)
    reservation_extend(reservation_id=reservation.pk, actor=cwb_cashier, expires_at=target)
    reservation.refresh_from_db()
    assert reservation.expires_at == target


def test_extend_a_hold_without_an_end(variant, cwb, stocked, settings):
    """A hold that lasts until released is not cut short by 'extend by 30 minutes'."""
    stocked(5)
    settings.RESERVATION_LIFETIMES = {}
    reservation = hold(variant, cwb)
    assert reservation.expires_at is None
    with pytest.raises(ValidationFailed) as error:
        reservation_extend(reservation_id=reservation.pk, actor="test", minutes=30)
    assert "minutes" in error.value.extra["fields"]
    reservation.refresh_from_db()
    assert reservation.expires_at is None
    # Giving it an end is still possible.
    target = timezone.now() + timedelta(hours=5)
    assert (
        reservation_extend(reservation_id=reservation.pk, actor="test", expires_at=target).expires_at
        == target
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"minutes": 10, "expires_at": "soon"},
        {"minutes": 0},
        {"minutes": -5},
        {"expires_at": "past"},
        {"minutes": 91 * 24 * 60},
    ],
)
def test_extend_refusals(variant, cwb, stocked, kwargs):
    stocked(5)
    reservation = hold(variant, cwb)
    end = reservation.expires_at
    when = {"soon": timezone.now() + timedelta(hours=1), "past": timezone.now() - timedelta(hours=1)}
    kwargs = {
        key: when.get(value, value) if isinstance(value, str) else value for key, value in kwargs.items()
    }
    with pytest.raises(ValidationFailed):
        reservation_extend(reservation_id=reservation.pk, actor="test", **kwargs)
    reservation.refresh_from_db()
    assert reservation.expires_at == end


def test_extend_a_hold_that_is_over_is_refused(variant, cwb, stocked, mk):
    stocked(5)
    released, timed_out = hold(variant, cwb), hold(variant, cwb)
    reservation_release(reservation_ids=[released.pk], actor="test")
    with pytest.raises(ReservationNotActive):
        reservation_extend(reservation_id=released.pk, actor="test", minutes=30)
    # Past its time the units already count as free (and may have been promised again): it cannot come back.
    time_out(timed_out)
    with pytest.raises(ReservationNotActive):
        reservation_extend(reservation_id=timed_out.pk, actor="test", minutes=30)
    with pytest.raises(NotFound):
        reservation_extend(reservation_id=987654, actor="test", minutes=30)
    mk_cashier = staff("mk-cashier", "cashier", mk)
    live = hold(variant, cwb)
    with pytest.raises(BranchAccessDenied):
        reservation_extend(reservation_id=live.pk, actor=mk_cashier, minutes=30)


# --- Expiry by Celery beat ----------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 2, 5, 500])
def test_expire_is_idempotent_and_batch_size_independent(variant, cwb, mk, stocked, batch_size):
    stocked(10)
    stocked(10, at=mk)
    timed_out = [hold(variant, cwb, 1) for _ in range(3)] + [hold(variant, mk, 2) for _ in range(2)]
    live = hold(variant, cwb, 1)
    time_out(*timed_out)
    assert level(variant, cwb) == (10, 4) and level(variant, mk) == (10, 4)
    assert reservations_expire(batch_size=batch_size) == 5
    assert reservations_expire(batch_size=batch_size) == 0
    statuses = dict(Reservation.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in timed_out] == ["expired"] * 5 and statuses[live.pk] == "active"
    assert level(variant, cwb) == (10, 1) and level(variant, mk) == (10, 0)
    assert not Reservation.objects.filter(status="expired", closed_at__isnull=True).exists()
    assert stock_verify()[1] == []


def test_expire_leaves_sold_released_and_endless_holds_alone(variant, cwb, stocked, settings):
    stocked(10)
    sold, released = hold(variant, cwb), hold(variant, cwb)
    settings.RESERVATION_LIFETIMES = {}
    forever = hold(variant, cwb)
    reservation_consume(reservation_ids=[sold.pk], actor="test")
    reservation_release(reservation_ids=[released.pk], actor="test")
    time_out(sold, released)
    assert reservations_expire(batch_size=2) == 0
    assert dict(Reservation.objects.values_list("pk", "status")) == {
        sold.pk: "consumed",
        released.pk: "released",
        forever.pk: "active",
    }


def test_expire_with_a_given_clock(variant, cwb, stocked):
    stocked(5)
    reservation = hold(variant, cwb, source="web_checkout")  # 15 minutes
    assert reservations_expire(now=timezone.now() + timedelta(minutes=14)) == 0
    assert reservations_expire(now=timezone.now() + timedelta(minutes=16)) == 1
    reservation.refresh_from_db()
    assert reservation.status == "expired" and level(variant, cwb) == (5, 0)


# --- Warnings -----------------------------------------------------------------------------------------------


def test_warn_expiring_emits_one_event_per_hold_once(variant, cwb, mk, stocked, settings):
    stocked(10)
    stocked(10, at=mk)
    soon = hold(variant, cwb, 2, customer_name="陳小姐", reference="IG-7")
    Reservation.objects.filter(pk=soon.pk).update(expires_at=timezone.now() + timedelta(minutes=30))
    also_soon = hold(variant, mk, 1)
    Reservation.objects.filter(pk=also_soon.pk).update(expires_at=timezone.now() + timedelta(minutes=50))
    later = hold(variant, cwb, 1)  # 24 hours
    gone = hold(variant, cwb, 1)
    time_out(gone)
    released = hold(variant, cwb, 1)
    Reservation.objects.filter(pk=released.pk).update(expires_at=timezone.now() + timedelta(minutes=10))
    reservation_release(reservation_ids=[released.pk], actor="test")

    assert reservations_warn_expiring(within=timedelta(minutes=60)) == 2
    events = expiring_events()
    assert [event["reservation_id"] for event in events] == [soon.pk, also_soon.pk]
    soon.refresh_from_db()
    assert events[0] == {
        "reservation_id": soon.pk,
        "source": "staff_hold",
        "sku": "DRS-001-M",
        "location": "CWB",
        "qty": 2,
        "expires_at": soon.expires_at.isoformat(),
        "customer_name": "陳小姐",
        "reference": "IG-7",
    }
    assert soon.expiry_warned_at is not None
    assert reservations_warn_expiring(within=timedelta(minutes=60)) == 0
    assert len(expiring_events()) == 2
    assert later.pk not in [event["reservation_id"] for event in expiring_events()]

    # Extended, it is warned again when its new end comes near.
    reservation_extend(reservation_id=soon.pk, actor="test", minutes=60)
    assert reservations_warn_expiring(within=timedelta(minutes=60)) == 0  # 90 minutes left now
    assert reservations_warn_expiring(within=timedelta(minutes=120)) == 1  # also_soon was warned already
    assert [event["reservation_id"] for event in expiring_events()] == [soon.pk, also_soon.pk, soon.pk]


def test_warn_expiring_in_batches(variant, cwb, stocked):
    stocked(10)
    holds = [hold(variant, cwb) for _ in range(5)]
    Reservation.objects.filter(pk__in=[h.pk for h in holds]).update(
        expires_at=timezone.now() + timedelta(minutes=5)
    )
    assert reservations_warn_expiring(within=timedelta(minutes=60), batch_size=2) == 5
    assert sorted(event["reservation_id"] for event in expiring_events()) == sorted(h.pk for h in holds)
    assert reservations_warn_expiring(within=timedelta(minutes=60), batch_size=2) == 0


# --- The branch's list of holds -----------------------------------------------------------------------------


def test_staff_holds_list_scoped_to_branch_with_time_left(variant, cwb, mk, stocked, cwb_cashier, owner):
    stocked(10)
    stocked(10, at=mk)
    later = hold(variant, cwb, 1, customer_name="陳小姐")
    sooner = hold(variant, cwb, 1, customer_name="李先生")
    Reservation.objects.filter(pk=sooner.pk).update(expires_at=timezone.now() + timedelta(hours=2))
    at_mk = hold(variant, mk, 1)
    web = hold(variant, cwb, 1, source="web_checkout")
    gone = hold(variant, cwb, 1)
    time_out(gone)
    sold = hold(variant, cwb, 1)
    reservation_consume(reservation_ids=[sold.pk], actor="test")

    mine = list(staff_holds_list(cwb_cashier))
    assert [r.pk for r in mine] == [sooner.pk, later.pk]
    assert timedelta(hours=1, minutes=59) < mine[0].time_left <= timedelta(hours=2)
    assert timedelta(hours=23, minutes=59) < mine[1].time_left <= timedelta(hours=24)
    assert timedelta(hours=1, minutes=59) < time_left(mine[0]) <= timedelta(hours=2)
    assert [r.pk for r in staff_holds_list(owner)] == [sooner.pk, later.pk, at_mk.pk]
    assert [r.pk for r in staff_holds_list(owner, location_id=mk.pk)] == [at_mk.pk]
    assert [r.pk for r in staff_holds_list(cwb_cashier, location_id=mk.pk)] == []
    assert [r.pk for r in staff_holds_list(cwb_cashier, source=None)] == [web.pk, sooner.pk, later.pk]


def test_skus_that_track_no_stock_need_no_hold(variant, cwb, stocked):
    untracked = VariantFactory(sku="GIFT-WRAP", option_values={"Size": "-"}, track_inventory=False)
    stocked(2)
    holds = stock_reserve(
        lines=[StockLine(untracked, cwb.pk, 5), StockLine(variant, cwb.pk, 1)],
        source="web_checkout",
        actor="t",
    )
    assert [(h.variant_id, h.qty) for h in holds] == [(variant.pk, 1)]
    assert stock_reserve(lines=[StockLine(untracked, cwb.pk, 5)], source="web_checkout", actor="t") == []
    assert level(untracked, cwb) is None


def test_a_hold_made_for_another_branch_stays_visible_to_its_maker(variant, cwb, mk, stocked, cwb_cashier):
    stocked(3, at=mk)
    [hold] = stock_reserve(
        lines=[StockLine(variant, mk.pk, 1)],
        source="endless_aisle",
        actor=cwb_cashier,
        customer_name="陳小姐",
    )
    assert list(Reservation.objects.for_user(cwb_cashier)) == [hold]
    other = UserFactory(role=Role.CASHIER, branches=[cwb])
    assert list(Reservation.objects.for_user(other)) == []


# --- All or nothing, and the cost of the hot paths ----------------------------------------------------------


def test_consume_sells_all_the_holds_or_none(variant, cwb, mk, stocked):
    stocked(5)
    stocked(5, at=mk)
    first, second = hold(variant, cwb, 2), hold(variant, mk, 1)
    reservation_release(reservation_ids=[second.pk], actor="test")
    with pytest.raises(ReservationNotActive) as error:
        reservation_consume(reservation_ids=[first.pk, second.pk], actor="test")
    assert error.value.extra == {"reservation_ids": [second.pk]}
    first.refresh_from_db()
    assert first.status == ReservationStatus.ACTIVE
    assert level(variant, cwb) == (5, 2)
    with pytest.raises(NotFound):
        reservation_consume(reservation_ids=[first.pk, 10**9], actor="test")
    assert level(variant, cwb) == (5, 2)
    assert stock_verify()[1] == []


def test_consume_of_a_backorder_hold_waits_for_the_goods(cwb, owner):
    backorder = VariantFactory(sku="PRE-002", allow_backorder=True)
    [promise] = stock_reserve(lines=[StockLine(backorder, cwb.pk, 3)], source="web_checkout", actor=owner)
    receive(backorder, cwb, 2)
    with pytest.raises(InsufficientStock) as error:
        reservation_consume(reservation_ids=[promise.pk], actor=owner)
    assert error.value.extra["items"][0] | {"location_id": 0, "variant_id": 0} == {
        "sku": "PRE-002",
        "location": "CWB",
        "requested": 3,
        "available": 2,
        "location_id": 0,
        "variant_id": 0,
    }
    assert level(backorder, cwb) == (2, 3)
    promise.refresh_from_db()
    assert promise.status == ReservationStatus.ACTIVE
    receive(backorder, cwb, 1)
    assert reservation_consume(reservation_ids=[promise.pk], actor=owner) == [promise.pk]
    assert level(backorder, cwb) == (0, 0)
    assert stock_verify()[1] == []


def test_hold_and_sale_of_holds_cost_the_same_queries_for_one_line_or_five(
    cwb, owner, django_assert_num_queries
):
    skus = [VariantFactory() for _ in range(5)]
    for variant in skus:
        receive(variant, cwb, 10)
    # Inside the test's transaction each service adds a savepoint and its release (two queries).
    for count in (1, 5):
        with django_assert_num_queries(3):  # lock, check and hold in one statement
            holds = stock_reserve(
                lines=[StockLine(v, cwb.pk, 1) for v in skus[:count]], source="web_checkout", actor=owner
            )
        assert all(Reservation.objects.get(pk=h.pk).qty == 1 for h in holds)
        with django_assert_num_queries(4):  # lock the stock rows; then lock, check and sell the holds
            reservation_consume(reservation_ids=[h.pk for h in holds], actor=owner)
    assert stock_verify()[1] == []
