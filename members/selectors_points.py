"""Reads of the points ledger: a member's balance and history, an order's points."""

from __future__ import annotations

from django.db.models import Q, QuerySet, Sum

from members.models import PointsEntry, PointsKind, PointsStatus


def balance_of(member_id: int) -> dict[str, int]:
    """{"available": points that can be spent, "pending": points waiting for the return window}: one query."""
    totals = PointsEntry.objects.filter(member_id=member_id).aggregate(
        available=Sum("points", filter=Q(status=PointsStatus.AVAILABLE)),
        pending=Sum("points", filter=Q(status=PointsStatus.PENDING)),
    )
    return {"available": totals["available"] or 0, "pending": totals["pending"] or 0}


def points_balance(member_id: int) -> dict[str, int]:
    """The member's points: {"available": ..., "pending": ...}."""
    return balance_of(member_id)


def points_history(member_id: int) -> QuerySet[PointsEntry]:
    """Every entry of the member's ledger, newest first."""
    return PointsEntry.objects.filter(member_id=member_id).order_by("-created_at", "-id")


def points_earned(order_reference: str) -> int | None:
    """The points an order earned (pending or available), or None when none are booked (yet)."""
    entry = PointsEntry.objects.filter(reference=order_reference, kind=PointsKind.EARN).first()
    return entry.points if entry is not None else None


def points_redemptions_count(order_reference: str) -> int:
    """How many points payments were booked on an order (each gets its own reference)."""
    return PointsEntry.objects.filter(order_reference=order_reference, kind=PointsKind.REDEEM).count()


def points_returns_count(order_reference: str) -> int:
    """How many refunds of an order's points payments gave points back."""
    return PointsEntry.objects.filter(
        order_reference=order_reference, kind=PointsKind.REVERSE, points__gt=0
    ).count()
