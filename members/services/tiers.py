"""Spend and tiers: a member's net spend over a rolling 12 months, in every channel, decides their tier.

Spend is recorded per order (and taken back per return) as SpendEntry rows keyed by a unique reference, so a
task that runs twice records it once. A member moves up as soon as an order crosses a threshold
(`tier_upgrade_check`, run by the points earn task); the nightly `tiers_recompute` also moves members down
when old spend leaves the 12-month window. Tiers and their benefits come from the MEMBER_TIERS setting.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from members.models import Member, SpendEntry, Tier
from omo.services.audit import audit_record

ZERO = Decimal("0.00")
DEFAULT_TIERS: list[dict[str, str]] = [
    {"tier": "silver", "min_spend": "0", "multiplier": "1", "discount_percent": "0"},
    {"tier": "gold", "min_spend": "5000", "multiplier": "1.25", "discount_percent": "5"},
    {"tier": "platinum", "min_spend": "20000", "multiplier": "1.5", "discount_percent": "10"},
]


@dataclass(frozen=True)
class TierRule:
    tier: str
    min_spend: Decimal
    multiplier: Decimal
    discount_percent: Decimal


def tier_rules() -> list[TierRule]:
    """MEMBER_TIERS (numbers may be given as strings), lowest threshold first."""
    rows: list[dict[str, Any]] = getattr(settings, "MEMBER_TIERS", DEFAULT_TIERS)
    rules = [
        TierRule(
            tier=str(row["tier"]),
            min_spend=Decimal(str(row.get("min_spend", "0"))),
            multiplier=Decimal(str(row.get("multiplier", "1"))),
            discount_percent=Decimal(str(row.get("discount_percent", "0"))),
        )
        for row in rows
    ]
    return sorted(rules, key=lambda rule: rule.min_spend)


def tier_benefits(tier: str) -> tuple[Decimal, Decimal]:
    """(points multiplier, member price discount in percent) of a tier; an unknown tier gets none."""
    for rule in tier_rules():
        if rule.tier == tier:
            return rule.multiplier, rule.discount_percent
    return Decimal("1"), Decimal("0")


def tier_rank(tier: str) -> int:
    names = [rule.tier for rule in tier_rules()]
    return names.index(tier) if tier in names else -1


def tier_for_spend(amount: Decimal) -> str:
    """The highest tier whose threshold the spend reaches (the lowest tier for no spend)."""
    rules = tier_rules()
    reached = [rule for rule in rules if amount >= rule.min_spend]
    return (reached[-1] if reached else rules[0]).tier if rules else str(Tier.SILVER)


def months_back(moment: datetime, months: int) -> datetime:
    """The same moment `months` earlier (the 31st becomes the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def spend_window_start(at: datetime) -> datetime:
    return months_back(at, int(getattr(settings, "MEMBER_TIER_WINDOW_MONTHS", 12)))


def spend_12m(member_id: int, at: datetime | None = None) -> Decimal:
    """Net spend (orders less returns, every channel) in the 12 months up to `at` (default now)."""
    at = at or timezone.now()
    total = SpendEntry.objects.filter(
        member_id=member_id, at__gt=spend_window_start(at), at__lte=at
    ).aggregate(total=Sum("amount"))["total"]
    return total if total is not None else ZERO


@transaction.atomic
def spend_record(
    *,
    member_id: int,
    reference: str,
    order_reference: str,
    channel: str,
    amount: Decimal,
    location_id: int | None,
    at: datetime,
) -> SpendEntry:
    """Records the net spend of an order (a return: a negative amount, with its own reference).

    Idempotent: the reference is unique, and a second call (also a concurrent one: ON CONFLICT DO NOTHING)
    returns the first row and changes nothing. Locks nothing.
    """
    SpendEntry.objects.bulk_create(
        [
            SpendEntry(
                member_id=member_id,
                reference=reference,
                order_reference=order_reference,
                channel=channel,
                amount=amount,
                location_id=location_id,
                at=at,
            )
        ],
        ignore_conflicts=True,
    )
    return SpendEntry.objects.get(reference=reference)


def _tier_set(member: Member, tier: str, *, now: datetime, action: str, spend: Decimal) -> None:
    before = member.tier
    member.tier, member.tier_since = tier, now
    member.save(update_fields=["tier", "tier_since"])
    audit_record(
        actor="system",
        action=action,
        obj=member,
        before={"tier": before},
        after={"tier": tier, "spend_12m": str(spend)},
    )


@transaction.atomic
def tier_upgrade_check(*, member_id: int, now: datetime | None = None) -> str | None:
    """Moves the member up at once when their rolling 12-month spend reaches a higher tier; never down
    (that is the nightly recomputation's job). Returns the new tier, or None when it stays.

    Locks the member row. Audited (`member.tier_upgrade`).
    """
    now = now or timezone.now()
    member = Member.objects.select_for_update().filter(pk=member_id).first()
    if member is None:
        return None
    spend = spend_12m(member_id, now)
    target = tier_for_spend(spend)
    if tier_rank(target) <= tier_rank(member.tier):
        return None
    _tier_set(member, target, now=now, action="member.tier_upgrade", spend=spend)
    return target


def tiers_recompute(*, now: datetime | None = None) -> int:
    """Nightly: every active member's tier from their rolling 12-month spend, down as well as up. Returns how
    many members changed tier.

    One aggregate query finds the members whose tier differs; each change is its own short transaction
    that locks the member, checks again and writes an audit row (`member.tier_change`), so a run that
    overlaps a sale (or a second run) does no harm.
    """
    now = now or timezone.now()
    since = spend_window_start(now)
    window = Q(spend_entries__at__gt=since, spend_entries__at__lte=now)
    rows = (
        Member.objects.active()
        .annotate(spend=Coalesce(Sum("spend_entries__amount", filter=window), ZERO))
        .values_list("pk", "tier", "spend")
        .order_by("pk")
    )
    changed = 0
    for member_id, tier, spend in rows.iterator(chunk_size=2000):
        if tier_for_spend(spend) == tier:
            continue
        with transaction.atomic():
            member = Member.objects.select_for_update().filter(pk=member_id).first()
            if member is None:
                continue
            spend = spend_12m(member_id, now)
            target = tier_for_spend(spend)
            if target != member.tier:
                _tier_set(member, target, now=now, action="member.tier_change", spend=spend)
                changed += 1
    return changed
