"""Tiers from net spend over a rolling 12 months in every channel: upgrade at once, nightly recomputation."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from members.models import Member, SpendEntry
from members.services import (
    spend_12m,
    spend_record,
    tier_benefits,
    tier_for_spend,
    tier_upgrade_check,
    tiers_recompute,
)
from members.tasks import points_earn_task, points_reverse_task, tiers_recompute_task
from omo.models import AuditLog

D = Decimal


@pytest.fixture
def member(db: None) -> Member:
    return Member.objects.create(phone="+85291234567", name="陳小姐")


def spend(member: Member, reference: str, amount: str, days_ago: int = 0, channel: str = "pos") -> SpendEntry:
    return spend_record(
        member_id=member.pk,
        reference=reference,
        order_reference=reference,
        channel=channel,
        amount=D(amount),
        location_id=None,
        at=timezone.now() - timedelta(days=days_ago),
    )


def test_benefits_and_thresholds_come_from_the_setting(settings):
    assert tier_benefits("silver") == (D("1"), D("0"))
    assert tier_benefits("gold") == (D("1.25"), D("5"))
    assert tier_benefits("platinum") == (D("1.5"), D("10"))
    assert [tier_for_spend(D(x)) for x in ("0", "4999.99", "5000", "20000")] == [
        "silver",
        "silver",
        "gold",
        "platinum",
    ]
    settings.MEMBER_TIERS = [
        {"tier": "silver", "min_spend": "0", "multiplier": "1", "discount_percent": "0"},
        {"tier": "gold", "min_spend": "1000", "multiplier": "2", "discount_percent": "3"},
    ]
    assert tier_for_spend(D("25000")) == "gold"
    assert tier_benefits("gold") == (D("2"), D("3"))


def test_spend_is_recorded_once_per_reference_and_counts_12_months(member):
    spend(member, "CWB-000001", "3000")
    spend(member, "CWB-000001", "3000")
    spend(member, "WEB-000002", "1000", days_ago=100, channel="web")
    spend(member, "CWB-000001-R1", "-500")
    spend(member, "OLD-1", "9000", days_ago=400)
    assert SpendEntry.objects.filter(member=member).count() == 4
    assert spend_12m(member.pk) == D("3500.00")


def test_upgrade_at_once_and_never_down(member):
    spend(member, "CWB-000001", "4999")
    assert tier_upgrade_check(member_id=member.pk) is None
    spend(member, "WEB-000001", "1", channel="web")
    assert tier_upgrade_check(member_id=member.pk) == "gold"
    member.refresh_from_db()
    assert member.tier == "gold" and member.tier_since is not None
    spend(member, "WEB-000001-R1", "-3000", channel="web")
    assert tier_upgrade_check(member_id=member.pk) is None
    member.refresh_from_db()
    assert member.tier == "gold"
    assert AuditLog.objects.filter(action="member.tier_upgrade").count() == 1


def test_mixed_channel_spend_upgrades_when_the_earn_task_runs(member):
    now = timezone.now()
    points_earn_task(member.pk, "CWB-000001", [[None, "3000.00"]], "pos", now.isoformat())
    member.refresh_from_db()
    assert member.tier == "silver"
    # The order that crosses the threshold earns at the tier the member had; the next one at Gold.
    assert points_earn_task(member.pk, "WEB-000001", [[None, "2000.00"]], "web", now.isoformat()) == 200
    member.refresh_from_db()
    assert member.tier == "gold"
    assert points_earn_task(member.pk, "WEB-000002", [[None, "100.00"]], "web", now.isoformat()) == 12


def test_a_return_lowers_spend_and_points_through_its_task(member):
    now = timezone.now().isoformat()
    points_earn_task(member.pk, "CWB-000001", [[None, "1000.00"]], "pos", now)
    kwargs = {
        "member_id": member.pk,
        "order_reference": "CWB-000001",
        "return_reference": "CWB-000001-R1",
        "fraction": "0.5",
        "amount": "500.00",
        "channel": "pos",
        "at": now,
    }
    assert points_reverse_task(**kwargs) == -50
    assert points_reverse_task(**kwargs) == -50
    assert spend_12m(member.pk) == D("500.00")


def test_nightly_recompute_downgrades_when_spend_ages_out(member):
    other = Member.objects.create(phone="+85261234567", name="Amy")
    spend(member, "CWB-000001", "6000", days_ago=300)
    spend(other, "CWB-000002", "25000", days_ago=10)
    tier_upgrade_check(member_id=member.pk)
    member.refresh_from_db()
    assert member.tier == "gold"

    assert tiers_recompute() == 1  # `other` goes up to platinum; `member` stays gold
    assert tiers_recompute_task() == 0
    other.refresh_from_db()
    assert other.tier == "platinum"

    later = timezone.now() + timedelta(days=70)
    assert tiers_recompute(now=later) == 1
    member.refresh_from_db()
    assert member.tier == "silver"
    assert AuditLog.objects.filter(action="member.tier_change", object_id=str(member.pk)).count() == 1
    assert tiers_recompute(now=later) == 0
