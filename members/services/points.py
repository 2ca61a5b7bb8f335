"""The points ledger: earn, redeem, expire, reverse, adjust. A member's balance is the sum of their available
entries and never goes below zero.

- Earning: 1 point per MEMBER_POINTS_EARN_HKD (default HK$10) of eligible net spend, times the tier's
  multiplier, nothing for MEMBER_POINTS_EXCLUDED_CATEGORY_IDS. An earn entry is `pending` for the return
  window (RETURN_WINDOW_DAYS), then `available` (points_mature); what is left of it expires at the end of the
  month it was earned in, MEMBER_POINTS_EXPIRY_MONTHS later (points_expire).
- Spending: a points tender of HK$x spends x / MEMBER_POINT_VALUE_HKD points (HK$0.10 a point by default).
- Redemptions, reversals and expiries use up the oldest earned points first (FIFO), which is what decides how
  much of a month's points is left to expire.
- One entry per (reference, kind), by a unique constraint: a task or retry that runs twice finds its entry.

Every write that can take points away locks the member row first (select_for_update), so two tills spending
the same points run one after the other and the second sees the first's entry.
"""

from __future__ import annotations

import calendar
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.exceptions import MemberNotFound
from members.models import Member, PointsEntry, PointsKind, PointsStatus, SpendEntry
from members.selectors import member_get
from members.selectors_points import balance_of
from members.services.tiers import spend_record, tier_benefits, tier_upgrade_check
from omo.errors import Conflict, PermissionDenied, ValidationFailed
from omo.models import Role
from omo.services.audit import audit_record

logger = logging.getLogger(__name__)

HONG_KONG = ZoneInfo("Asia/Hong_Kong")
# Taken shared by a reversal of pending points and exclusively by each maturing batch: a batch never turns
# an earn entry available while a reversal of it is still being written (which it would then leave pending).
MATURE_LOCK = 0x6F6D6F50  # "omoP"
# Entries that are lots (points that can expire), as opposed to entries that use lots up.
LOT = Q(kind__in=[PointsKind.EARN, PointsKind.ADJUST], points__gt=0)

Lines = Sequence[tuple[int | None, Decimal]]


class PointsInsufficient(Conflict):
    code = "points_insufficient"
    default_message = _("Not enough points.")


class PointsReferenceUsed(Conflict):
    code = "points_reference_used"
    default_message = _("These points were already booked under this reference with another amount.")


class PurchaseNotRecorded(Conflict):
    """A return arrived before its order's earn task ran; the return task tries again later."""

    code = "purchase_not_recorded"
    default_message = _("The order's points are not recorded yet.")


# --- settings -----------------------------------------------------------------------------------------------


def earn_per_hkd() -> Decimal:
    return Decimal(str(getattr(settings, "MEMBER_POINTS_EARN_HKD", 10)))


def excluded_categories() -> frozenset[int]:
    return frozenset(int(pk) for pk in getattr(settings, "MEMBER_POINTS_EXCLUDED_CATEGORY_IDS", []))


def point_value() -> Decimal:
    """HK$ one point is worth when spent."""
    return Decimal(str(getattr(settings, "MEMBER_POINT_VALUE_HKD", "0.10")))


def shortfall_policy() -> str:
    """ "record" (a return after the points were spent takes what is left and records the rest) or "deduct"
    (the rest is taken off the refund)."""
    return str(getattr(settings, "MEMBER_POINTS_SHORTFALL", "record"))


def return_window() -> timedelta:
    return timedelta(days=int(getattr(settings, "RETURN_WINDOW_DAYS", 14)))


# --- pure calculations --------------------------------------------------------------------------------------


def points_calculate(*, lines: Lines, tier: str) -> int:
    """Points an order earns: floor(eligible net spend / MEMBER_POINTS_EARN_HKD) × the tier's multiplier
    (rounded down). `lines` are (category id, net amount); lines of excluded categories earn nothing.

    No queries: the receipt shows what an order will earn with the same function the earn task uses.
    """
    excluded = excluded_categories()
    eligible = sum((Decimal(amount) for category, amount in lines if category not in excluded), Decimal(0))
    if eligible <= 0:
        return 0
    base = (eligible / earn_per_hkd()).to_integral_value(rounding=ROUND_DOWN)
    multiplier, _percent = tier_benefits(tier)
    return int((base * multiplier).to_integral_value(rounding=ROUND_DOWN))


def points_expiry(at: datetime) -> datetime:
    """The end (Hong Kong time) of the month `at` is in, MEMBER_POINTS_EXPIRY_MONTHS later: points earned on
    5 March 2026 expire at the end of 31 March 2027."""
    local = timezone.localtime(at, HONG_KONG)
    index = local.year * 12 + local.month - 1 + int(getattr(settings, "MEMBER_POINTS_EXPIRY_MONTHS", 12))
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return datetime(year, month + 1, last, 23, 59, 59, 999999, tzinfo=HONG_KONG)


def points_for_amount(amount: Decimal, *, field: str = "amount") -> int:
    """The points a tender of HK$`amount` spends; it must be a whole number of points."""
    points = Decimal(amount) / point_value()
    if points <= 0 or points != points.to_integral_value():
        raise ValidationFailed(
            fields={field: _("Points are spent in whole points of HK$%(value)s.") % {"value": point_value()}},
            amount=str(amount),
        )
    return int(points)


def points_value(points: int) -> Decimal:
    """What `points` are worth in HK$ when spent."""
    return (point_value() * points).quantize(Decimal("0.01"))


# --- helpers ------------------------------------------------------------------------------------------------


def _actor_label(actor: Any) -> str:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return str(actor.get_username())[:150]
    return str(actor or "system")[:150]


def _member_lock(member_id: int) -> Member:
    """The member (or the one it was merged into), locked. Raises MemberNotFound."""
    member = member_get(member_id)
    return Member.objects.select_for_update().get(pk=member.pk)


def _insert(entry: PointsEntry) -> PointsEntry:
    """Inserts the entry unless one with its (reference, kind) exists (ON CONFLICT DO NOTHING, so a
    concurrent twin waits for the first and then does nothing); returns the stored one."""
    PointsEntry.objects.bulk_create([entry], ignore_conflicts=True)
    return PointsEntry.objects.get(reference=entry.reference, kind=entry.kind)


def _existing(reference: str, kind: str) -> PointsEntry | None:
    return PointsEntry.objects.filter(reference=reference, kind=kind).first()


# --- earning ------------------------------------------------------------------------------------------------


@transaction.atomic
def points_earn(
    *,
    member_id: int,
    reference: str,
    lines: Lines,
    channel: str,
    at: datetime,
    actor: Any = "system",
) -> PointsEntry | None:
    """Books the points an order earns, pending until the return window has passed.

    Idempotent: the entry is keyed by (reference, earn); a second run, also a concurrent one, returns the
    first entry and changes nothing. Returns None when the order earns no points or the member was erased.
    Locks nothing (an earn only adds pending points).
    """
    existing = _existing(reference, PointsKind.EARN)
    if existing is not None:
        return existing
    try:
        member = member_get(member_id)
    except MemberNotFound:
        logger.warning("points not earned on %s: member %s is gone", reference, member_id)
        return None
    points = points_calculate(lines=lines, tier=member.tier)
    if points <= 0:
        return None
    return _insert(
        PointsEntry(
            member=member,
            kind=PointsKind.EARN,
            status=PointsStatus.PENDING,
            points=points,
            reference=reference,
            order_reference=reference,
            available_at=at + return_window(),
            expires_at=points_expiry(at),
            note=channel[:200],
            actor_label=_actor_label(actor),
        )
    )


def points_mature(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Beat: pending entries whose return window has passed become available (an earn, and any pending
    reversal of it, which shares its `available_at`, so both turn at once). Batches of one UPDATE each;
    a second run finds nothing. Returns how many entries turned."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MATURE_LOCK])
            pending = PointsEntry.objects.filter(status=PointsStatus.PENDING, available_at__lte=now)
            due = list(
                pending.order_by("available_at", "id").values_list("id", "order_reference")[:batch_size]
            )
            # An earn entry and the pending reversals of its order turn in the same batch, never apart.
            orders = {reference for _pk, reference in due if reference}
            total += pending.filter(Q(pk__in=[pk for pk, _r in due]) | Q(order_reference__in=orders)).update(
                status=PointsStatus.AVAILABLE
            )
        if len(due) < batch_size:
            return total


# --- expiry -------------------------------------------------------------------------------------------------


def _expiring_by_month(member_id: int, now: datetime) -> dict[str, int]:
    """Points of each expired month of the member still unused, FIFO: what the member has used (the lots'
    total less the balance) comes off the earliest-expiring lots first."""
    available = PointsEntry.objects.filter(member_id=member_id, status=PointsStatus.AVAILABLE)
    totals = available.aggregate(lots=Sum("points", filter=LOT), balance=Sum("points"))
    used = max((totals["lots"] or 0) - (totals["balance"] or 0), 0)
    expired = (
        available.filter(LOT, expires_at__lte=now)
        .order_by("expires_at", "created_at", "id")
        .values_list("expires_at", "points")
    )
    left: dict[str, int] = defaultdict(int)
    for expires_at, points in expired:
        take = min(points, used)
        used -= take
        if points > take:
            left[timezone.localtime(expires_at, HONG_KONG).strftime("%Y-%m")] += points - take
    return dict(sorted(left.items()))


def points_expire(*, now: datetime | None = None) -> int:
    """Beat: what is left of points past their expiry expires, FIFO, as one `expire` entry per (member,
    month) with reference `expire-<member>-<YYYY-MM>`: a second run (or a concurrent one) finds nothing left
    and changes nothing. Each member is its own short transaction that locks the member row. Returns how
    many entries were written."""
    now = now or timezone.now()
    candidates = (
        PointsEntry.objects.filter(status=PointsStatus.AVAILABLE)
        .values("member_id")
        .annotate(
            balance=Sum("points"),
            lots=Sum("points", filter=LOT),
            expired=Sum("points", filter=LOT & Q(expires_at__lte=now)),
        )
        .filter(balance__gt=0, expired__gt=0)
        .order_by("member_id")
    )
    written = 0
    for row in candidates.iterator(chunk_size=2000):
        # Nothing expires unless the expired lots are more than everything used so far.
        if row["expired"] - max(row["lots"] - row["balance"], 0) <= 0:
            continue
        with transaction.atomic():
            Member.objects.select_for_update().filter(pk=row["member_id"]).first()
            for month, points in _expiring_by_month(row["member_id"], now).items():
                reference = f"expire-{row['member_id']}-{month}"
                # Under the member's lock: a run that got here first has committed its entry, which is
                # seen here (and counted as used above), so nothing is written twice.
                if _existing(reference, PointsKind.EXPIRE) is not None:
                    continue
                PointsEntry.objects.create(
                    member_id=row["member_id"],
                    kind=PointsKind.EXPIRE,
                    status=PointsStatus.AVAILABLE,
                    points=-points,
                    reference=reference,
                    note=month,
                    actor_label="system",
                )
                written += 1
    return written


# --- spending -----------------------------------------------------------------------------------------------


@transaction.atomic
def points_redeem(
    *, member_id: int, points: int, reference: str, actor: Any, order_reference: str = ""
) -> PointsEntry:
    """Spends available points (a points tender). One entry per reference: the same call again returns it.

    Locks the member row, then checks the balance. Raises PointsInsufficient (409, with `available` and
    `requested`), PointsReferenceUsed (409) when the reference was used for another number of points,
    ValidationFailed, MemberNotFound.
    """
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise ValidationFailed(fields={"points": _("Points are a whole number above zero.")})
    member = _member_lock(member_id)
    existing = _existing(reference, PointsKind.REDEEM)
    if existing is not None:
        if existing.points != -points or existing.member_id != member.pk:
            raise PointsReferenceUsed(reference=reference)
        return existing
    available = balance_of(member.pk)["available"]
    if available < points:
        raise PointsInsufficient(
            _("Not enough points: %(available)s available, %(requested)s needed.")
            % {"available": available, "requested": points},
            available=available,
            requested=points,
        )
    return PointsEntry.objects.create(
        member=member,
        kind=PointsKind.REDEEM,
        status=PointsStatus.AVAILABLE,
        points=-points,
        reference=reference,
        order_reference=order_reference,
        actor_label=_actor_label(actor),
    )


@transaction.atomic
def points_redeem_reverse(
    *, member_id: int, reference: str, points: int, actor: Any, order_reference: str = ""
) -> PointsEntry | None:
    """Gives spent points back (a points tender refunded), as a positive `reverse` entry with reference
    `<reference>-back`; the same call again returns it. With `order_reference`, never more than the order's
    redemptions less what was given back already (None when nothing is left to give back).

    Locks the member row. Raises ValidationFailed, MemberNotFound.
    """
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise ValidationFailed(fields={"points": _("Points are a whole number above zero.")})
    member = _member_lock(member_id)
    back = f"{reference}-back"
    existing = _existing(back, PointsKind.REVERSE)
    if existing is not None:
        return existing
    if order_reference:
        booked = PointsEntry.objects.filter(order_reference=order_reference).aggregate(
            redeemed=Sum("points", filter=Q(kind=PointsKind.REDEEM)),
            returned=Sum("points", filter=Q(kind=PointsKind.REVERSE, points__gt=0)),
        )
        room = -(booked["redeemed"] or 0) - (booked["returned"] or 0)
        points = min(points, room)
        if points <= 0:
            return None
    return PointsEntry.objects.create(
        member=member,
        kind=PointsKind.REVERSE,
        status=PointsStatus.AVAILABLE,
        points=points,
        reference=back,
        order_reference=order_reference,
        note=str(_("Points payment refunded")),
        actor_label=_actor_label(actor),
    )


# --- returns ------------------------------------------------------------------------------------------------


def _round_half_up(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


@transaction.atomic
def points_reverse(
    *,
    member_id: int,
    order_reference: str,
    return_reference: str,
    fraction: Decimal,
    actor: Any,
) -> PointsEntry | None:
    """Takes back the points an order earned on goods that came back: `fraction` of the earn entry (round
    half up; all returns of an order together never take more than it earned). One entry per return.

    Earn entry still pending: the reversal is pending too, with the same `available_at`, so both turn
    available together and the balance never counts the points. Earn entry available: takes what the
    balance has; what was already spent is the `shortfall` (policy "record": only noted; "deduct": the
    caller takes its value off the refund, see `points_value`). The balance never goes below zero.

    Locks the member row (and shares the maturing lock, see MATURE_LOCK). Returns None when the order
    earned nothing or nothing is left to take back. Raises MemberNotFound.
    """
    existing = _existing(return_reference, PointsKind.REVERSE)
    if existing is not None:
        return existing
    member = _member_lock(member_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [MATURE_LOCK])
    earn = PointsEntry.objects.filter(reference=order_reference, kind=PointsKind.EARN).first()
    if earn is None:
        return None
    taken = PointsEntry.objects.filter(
        order_reference=order_reference, kind=PointsKind.REVERSE, points__lte=0
    ).aggregate(points=Sum("points"), shortfall=Sum("shortfall"))
    already = -(taken["points"] or 0) + (taken["shortfall"] or 0)
    fraction = min(max(Decimal(fraction), Decimal(0)), Decimal(1))
    want = min(_round_half_up(earn.points * fraction), earn.points - already)
    if want <= 0:
        return None
    entry = PointsEntry(
        member=member,
        kind=PointsKind.REVERSE,
        points=-want,
        reference=return_reference,
        order_reference=order_reference,
        actor_label=_actor_label(actor),
    )
    if earn.status == PointsStatus.PENDING:
        entry.status, entry.available_at = PointsStatus.PENDING, earn.available_at
    else:
        available = balance_of(member.pk)["available"]
        take = min(want, max(available, 0))
        entry.status, entry.points, entry.shortfall = PointsStatus.AVAILABLE, -take, want - take
        entry.note = shortfall_policy() if entry.shortfall else ""
    return _insert(entry)


# --- adjustments --------------------------------------------------------------------------------------------


@transaction.atomic
def points_adjust(*, member_id: int, points: int, reason: str, actor: Any) -> PointsEntry:
    """A manager adds or takes away points, with a reason; audited (`points.adjust`). Added points expire
    like points earned now. Locks the member row.

    Raises PermissionDenied (a user who is not a manager or owner), ValidationFailed, PointsInsufficient
    (taking more than the balance), MemberNotFound.
    """
    if getattr(actor, "is_authenticated", False) and not (
        actor.is_superuser or actor.role in (Role.OWNER, Role.MANAGER)
    ):
        raise PermissionDenied(_("Only a manager can adjust points."))
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise ValidationFailed(fields={"points": _("Give a whole number of points, other than zero.")})
    if not reason.strip():
        raise ValidationFailed(fields={"reason": _("Say why the points change.")})
    member = _member_lock(member_id)
    available = balance_of(member.pk)["available"]
    if available + points < 0:
        raise PointsInsufficient(available=available, requested=-points)
    now = timezone.now()
    entry = PointsEntry.objects.create(
        member=member,
        kind=PointsKind.ADJUST,
        status=PointsStatus.AVAILABLE,
        points=points,
        reference=f"adjust-{uuid.uuid4().hex[:16]}",
        expires_at=points_expiry(now) if points > 0 else None,
        note=reason.strip()[:200],
        actor_label=_actor_label(actor),
        created_at=now,
    )
    audit_record(
        actor=actor,
        action="points.adjust",
        obj=entry,
        before={"available": available},
        after={"member": member.pk, "points": points, "available": available + points},
        reason=reason.strip(),
    )
    return entry


# --- an order's points and spend, as the tasks record them --------------------------------------------------


@transaction.atomic
def purchase_record(
    *,
    member_id: int,
    reference: str,
    lines: Lines,
    channel: str,
    at: datetime,
    location_id: int | None = None,
) -> PointsEntry | None:
    """A member's paid order: records its net spend (the sum of `lines`), earns its points (with the tier the
    member had when they bought), then moves the member up a tier if the spend crossed a threshold.
    Idempotent (each part is keyed by the order number). Raises nothing for a member who is gone."""
    try:
        member = member_get(member_id)
    except MemberNotFound:
        logger.warning("purchase %s not recorded: member %s is gone", reference, member_id)
        return None
    amount = sum((Decimal(amount) for _category, amount in lines), Decimal(0))
    spend_record(
        member_id=member.pk,
        reference=reference,
        order_reference=reference,
        channel=channel,
        amount=amount,
        location_id=location_id,
        at=at,
    )
    entry = points_earn(member_id=member.pk, reference=reference, lines=lines, channel=channel, at=at)
    tier_upgrade_check(member_id=member.pk)
    return entry


@transaction.atomic
def purchase_return_record(
    *,
    member_id: int,
    order_reference: str,
    return_reference: str,
    fraction: Decimal,
    amount: Decimal,
    channel: str,
    at: datetime,
    location_id: int | None = None,
    actor: Any = "system",
    require_purchase: bool = True,
) -> PointsEntry | None:
    """Goods of a member's order came back: the spend goes down by `amount` (a negative spend entry keyed by
    the return number) and the order's points go down by `fraction` (points_reverse). Idempotent.

    Raises PurchaseNotRecorded when `require_purchase` and the order's own spend is not recorded yet (its
    earn task has not run): the caller tries again later rather than leave the points with the customer.
    """
    try:
        member = member_get(member_id)
    except MemberNotFound:
        return None
    if require_purchase and not SpendEntry.objects.filter(reference=order_reference).exists():
        raise PurchaseNotRecorded(order=order_reference)
    if amount:
        spend_record(
            member_id=member.pk,
            reference=return_reference,
            order_reference=order_reference,
            channel=channel,
            amount=-abs(Decimal(amount)),
            location_id=location_id,
            at=at,
        )
    return points_reverse(
        member_id=member.pk,
        order_reference=order_reference,
        return_reference=return_reference,
        fraction=fraction,
        actor=actor,
    )
