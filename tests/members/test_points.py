"""The points ledger: earning, maturing, spending, returns after spending, expiry (FIFO), adjustments."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from members.models import Member, PointsEntry, PointsKind, PointsStatus
from members.selectors_points import points_balance, points_history
from members.services import (
    PointsInsufficient,
    points_adjust,
    points_calculate,
    points_earn,
    points_expire,
    points_expiry,
    points_for_amount,
    points_mature,
    points_redeem,
    points_redeem_reverse,
    points_reverse,
)
from members.tasks import points_earn_task
from omo.errors import PermissionDenied, ValidationFailed
from omo.models import AuditLog

HKT = ZoneInfo("Asia/Hong_Kong")
D = Decimal


@pytest.fixture
def member(db: None) -> Member:
    return Member.objects.create(phone="+85291234567", name="陳小姐")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=HKT)  # type: ignore[misc]


def earn(
    member: Member, reference: str, amount: str, when: datetime, category: int | None = None
) -> PointsEntry:
    entry = points_earn(
        member_id=member.pk, reference=reference, lines=[(category, D(amount))], channel="pos", at=when
    )
    assert entry is not None
    return entry


def available_now(member: Member, *, now: datetime | None = None) -> int:
    points_mature(now=now or timezone.now() + timedelta(days=30))
    return points_balance(member.pk)["available"]


# --- earning ------------------------------------------------------------------------------------------------


def test_one_point_per_ten_dollars_times_the_tier_with_excluded_categories(settings):
    settings.MEMBER_POINTS_EXCLUDED_CATEGORY_IDS = [7]
    lines = [(1, D("199.00")), (None, D("45.50")), (7, D("1000"))]
    assert points_calculate(lines=lines, tier="silver") == 24  # 244.50 / 10, rounded down
    assert points_calculate(lines=lines, tier="gold") == 30  # 24 × 1.25
    assert points_calculate(lines=lines, tier="platinum") == 36
    assert points_calculate(lines=[(7, D("500"))], tier="gold") == 0
    settings.MEMBER_POINTS_EARN_HKD = 5
    assert points_calculate(lines=[(1, D("10"))], tier="silver") == 2


def test_earned_points_are_pending_until_the_return_window_passes(member):
    sold = at(2026, 3, 5, 15, 0)
    entry = earn(member, "CWB-000001", "1234.56", sold)
    assert (entry.kind, entry.status, entry.points) == (PointsKind.EARN, PointsStatus.PENDING, 123)
    assert entry.available_at == sold + timedelta(days=14)
    assert entry.expires_at == datetime(2027, 3, 31, 23, 59, 59, 999999, tzinfo=HKT)
    assert points_balance(member.pk) == {"available": 0, "pending": 123}

    assert points_mature(now=sold + timedelta(days=13)) == 0
    assert points_mature(now=sold + timedelta(days=14, seconds=1)) == 1
    assert points_mature(now=sold + timedelta(days=15)) == 0  # a second run finds nothing
    assert points_balance(member.pk) == {"available": 123, "pending": 0}


def test_expiry_is_the_end_of_the_month_a_year_later_in_hong_kong_time():
    assert points_expiry(at(2026, 1, 31, 23, 30)) == datetime(2027, 1, 31, 23, 59, 59, 999999, tzinfo=HKT)
    # 16:30 UTC on 31 Dec is already 1 January in Hong Kong.
    utc = datetime(2025, 12, 31, 16, 30, tzinfo=ZoneInfo("UTC"))
    assert points_expiry(utc) == datetime(2027, 1, 31, 23, 59, 59, 999999, tzinfo=HKT)
    assert points_expiry(at(2027, 2, 10)) == datetime(2028, 2, 29, 23, 59, 59, 999999, tzinfo=HKT)


def test_the_earn_task_run_twice_books_one_entry(member):
    kwargs = {
        "member_id": member.pk,
        "reference": "WEB-000007",
        "lines": [[3, "500.00"], [None, "99.90"]],
        "channel": "web",
        "at": "2026-03-05T12:00:00+08:00",
    }
    assert points_earn_task(**kwargs) == 59
    assert points_earn_task(**kwargs) == 59
    assert PointsEntry.objects.filter(reference="WEB-000007").count() == 1
    assert member.spend_entries.count() == 1


def test_nothing_is_booked_for_an_order_that_earns_nothing(member):
    assert (
        points_earn(
            member_id=member.pk, reference="X-1", lines=[(1, D("9.99"))], channel="pos", at=at(2026, 1, 1)
        )
        is None
    )
    assert not PointsEntry.objects.exists()


# --- spending -----------------------------------------------------------------------------------------------


def test_redeem_spends_available_points_only_and_never_below_zero(member):
    earn(member, "CWB-000001", "1000", timezone.now() - timedelta(days=20))
    earn(member, "CWB-000002", "500", timezone.now())  # still pending
    points_mature()
    assert points_balance(member.pk) == {"available": 100, "pending": 50}

    with pytest.raises(PointsInsufficient) as error:
        points_redeem(member_id=member.pk, points=101, reference="CWB-000003-points", actor="test")
    assert error.value.http_status == 409
    assert error.value.extra == {"available": 100, "requested": 101}

    entry = points_redeem(member_id=member.pk, points=60, reference="CWB-000003-points", actor="test")
    again = points_redeem(member_id=member.pk, points=60, reference="CWB-000003-points", actor="test")
    assert entry.pk == again.pk and entry.points == -60
    assert points_balance(member.pk)["available"] == 40


def test_points_tender_amounts_must_be_whole_points(settings):
    assert points_for_amount(D("10.00")) == 100
    with pytest.raises(ValidationFailed):
        points_for_amount(D("10.05"))
    settings.MEMBER_POINT_VALUE_HKD = "0.50"
    assert points_for_amount(D("10.00")) == 20


def test_a_refunded_points_payment_gives_the_points_back_once(member):
    earn(member, "CWB-000001", "1000", timezone.now() - timedelta(days=20))
    points_mature()
    points_redeem(
        member_id=member.pk, points=80, reference="CWB-000002-points", actor="t", order_reference="CWB-000002"
    )
    back = points_redeem_reverse(
        member_id=member.pk, reference="CWB-000002-points", points=80, actor="t", order_reference="CWB-000002"
    )
    assert back is not None and (back.kind, back.points, back.reference) == (
        "reverse",
        80,
        "CWB-000002-points-back",
    )
    points_redeem_reverse(member_id=member.pk, reference="CWB-000002-points", points=80, actor="t")
    # Never more back than the order spent.
    assert (
        points_redeem_reverse(
            member_id=member.pk,
            reference="CWB-000002-points-2",
            points=5,
            actor="t",
            order_reference="CWB-000002",
        )
        is None
    )
    assert points_balance(member.pk)["available"] == 100


# --- returns ------------------------------------------------------------------------------------------------


def test_a_return_before_the_points_mature_reverses_them_pending(member):
    entry = earn(member, "CWB-000001", "1000", timezone.now())
    reversal = points_reverse(
        member_id=member.pk,
        order_reference="CWB-000001",
        return_reference="CWB-000001-R1",
        fraction=D("0.25"),
        actor="t",
    )
    assert reversal is not None
    assert (reversal.status, reversal.points, reversal.available_at) == ("pending", -25, entry.available_at)
    assert points_balance(member.pk) == {"available": 0, "pending": 75}
    assert available_now(member) == 75


def test_a_return_after_the_points_were_spent_takes_what_is_left_and_records_the_rest(member):
    earn(member, "CWB-000001", "1000", timezone.now() - timedelta(days=20))
    points_mature()
    points_redeem(member_id=member.pk, points=70, reference="CWB-000002-points", actor="t")

    reversal = points_reverse(
        member_id=member.pk,
        order_reference="CWB-000001",
        return_reference="CWB-000001-R1",
        fraction=D("0.5"),
        actor="t",
    )
    assert reversal is not None and (reversal.points, reversal.shortfall) == (-30, 20)
    assert points_balance(member.pk)["available"] == 0
    # The rest of the goods come back: nothing is left to take, and the balance stays at zero.
    last = points_reverse(
        member_id=member.pk,
        order_reference="CWB-000001",
        return_reference="CWB-000001-R2",
        fraction=D("0.5"),
        actor="t",
    )
    assert last is not None and (last.points, last.shortfall) == (0, 50)
    assert points_balance(member.pk)["available"] == 0
    # Running it again changes nothing.
    points_reverse(
        member_id=member.pk,
        order_reference="CWB-000001",
        return_reference="CWB-000001-R2",
        fraction=D("0.5"),
        actor="t",
    )
    assert PointsEntry.objects.filter(kind="reverse").count() == 2


def test_returns_together_never_take_back_more_than_was_earned(member):
    earn(member, "CWB-000001", "150", timezone.now())  # 15 points
    for number in (1, 2, 3):
        points_reverse(
            member_id=member.pk,
            order_reference="CWB-000001",
            return_reference=f"CWB-000001-R{number}",
            fraction=D("0.5"),
            actor="t",
        )
    assert [e.points for e in PointsEntry.objects.filter(kind="reverse").order_by("pk")] == [-8, -7]
    assert available_now(member) == 0


def test_deduct_policy_gives_the_shortfall_for_the_refund(member, settings):
    settings.MEMBER_POINTS_SHORTFALL = "deduct"
    earn(member, "CWB-000001", "1000", timezone.now() - timedelta(days=20))
    points_mature()
    points_redeem(member_id=member.pk, points=100, reference="CWB-000002-points", actor="t")
    reversal = points_reverse(
        member_id=member.pk,
        order_reference="CWB-000001",
        return_reference="CWB-000001-R1",
        fraction=D("1"),
        actor="t",
    )
    assert reversal is not None and (reversal.points, reversal.shortfall, reversal.note) == (0, 100, "deduct")


# --- expiry -------------------------------------------------------------------------------------------------


def test_expiry_uses_the_oldest_points_first_and_runs_twice_safely(member):
    jan = earn(member, "CWB-000001", "1000", at(2026, 1, 10))  # 100, expire end of Jan 2027
    earn(member, "CWB-000002", "500", at(2026, 1, 20))  # 50, also Jan 2027
    earn(member, "CWB-000003", "800", at(2026, 2, 3))  # 80, Feb 2027
    points_mature(now=at(2026, 3, 1))
    # Spent 120 and a return took 10 back: FIFO uses up January's 150 first, leaving 20 of it.
    PointsEntry.objects.create(
        member=member,
        kind="redeem",
        status="available",
        points=-120,
        reference="CWB-000004-points",
        created_at=at(2026, 6, 1),
    )
    PointsEntry.objects.create(
        member=member,
        kind="reverse",
        status="available",
        points=-10,
        reference="CWB-000002-R1",
        created_at=at(2026, 7, 1),
    )
    assert points_balance(member.pk)["available"] == 100

    assert points_expire(now=at(2027, 1, 31, 23, 0)) == 0  # not yet
    assert points_expire(now=at(2027, 2, 1, 0, 1)) == 1
    expired = PointsEntry.objects.get(kind="expire")
    assert (expired.points, expired.reference) == (-20, f"expire-{member.pk}-2027-01")
    assert points_expire(now=at(2027, 2, 2)) == 0
    assert points_balance(member.pk)["available"] == 80

    assert points_expire(now=at(2027, 3, 1)) == 1
    assert points_expire(now=at(2027, 3, 2)) == 0
    assert points_balance(member.pk)["available"] == 0
    assert [e.points for e in PointsEntry.objects.filter(kind="expire").order_by("pk")] == [-20, -80]
    assert jan.expires_at is not None


def test_nothing_expires_when_everything_was_spent(member):
    earn(member, "CWB-000001", "1000", at(2026, 1, 10))
    points_mature(now=at(2026, 3, 1))
    points_redeem(member_id=member.pk, points=100, reference="CWB-000004-points", actor="t")
    assert points_expire(now=at(2027, 6, 1)) == 0


# --- adjustments --------------------------------------------------------------------------------------------


def test_managers_adjust_points_with_an_audit_row(member, cwb_manager, cwb_cashier):
    entry = points_adjust(member_id=member.pk, points=50, reason="goodwill", actor=cwb_manager)
    assert (entry.kind, entry.status, entry.points) == ("adjust", "available", 50)
    assert entry.expires_at is not None
    assert AuditLog.objects.filter(action="points.adjust", actor=cwb_manager).count() == 1
    with pytest.raises(PermissionDenied):
        points_adjust(member_id=member.pk, points=10, reason="friend", actor=cwb_cashier)
    with pytest.raises(PointsInsufficient):
        points_adjust(member_id=member.pk, points=-51, reason="fix", actor=cwb_manager)
    with pytest.raises(ValidationFailed):
        points_adjust(member_id=member.pk, points=5, reason=" ", actor=cwb_manager)
    points_adjust(member_id=member.pk, points=-50, reason="typo", actor=cwb_manager)
    assert points_balance(member.pk)["available"] == 0
    assert [e.points for e in points_history(member.pk)] == [-50, 50]


def test_a_return_that_comes_before_its_orders_earn_task_waits_for_it(member):
    from members.services import PurchaseNotRecorded
    from members.tasks import points_reverse_task

    kwargs = {
        "member_id": member.pk,
        "order_reference": "CWB-000001",
        "return_reference": "CWB-000001-R1",
        "fraction": "1",
        "amount": "100.00",
        "channel": "pos",
        "at": timezone.now().isoformat(),
    }
    with pytest.raises(PurchaseNotRecorded):
        points_reverse_task(**kwargs)
    assert not member.spend_entries.exists()
    points_earn_task(member.pk, "CWB-000001", [[None, "100.00"]], "pos", timezone.now().isoformat())
    assert points_reverse_task(**kwargs) == -10
    assert points_balance(member.pk) == {"available": 0, "pending": 0}
