"""Celery tasks of the members app: thin, they take ids and call one service."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)

# --- points and tiers ---------------------------------------------------------------------------------------
# The orders app enqueues the earn and reverse tasks through the outbox with the sale or return itself; each
# service is keyed by the order (or return) number, so a redelivered message changes nothing. Beat runs
# points_mature_task (hourly), points_expire_task and tiers_recompute_task (nightly).

# A return whose order's earn task has not run yet waits for it: this many tries, RETURN_RETRY_SECONDS apart
# (then growing), before the return's points are booked anyway without waiting.
RETURN_RETRIES = 6
RETURN_RETRY_SECONDS = 30


def _lines(lines: list[list[Any]]) -> list[tuple[int | None, Decimal]]:
    return [(None if category is None else int(category), Decimal(str(amount))) for category, amount in lines]


@shared_task
def points_earn_task(
    member_id: int,
    reference: str,
    lines: list[list[Any]],
    channel: str,
    at: str,
    location_id: int | None = None,
) -> int:
    """A member's order was paid: spend, points (pending) and a tier upgrade. `lines` are
    [[category id, "net amount"], ...], `at` an ISO time."""
    from members.services.points import purchase_record

    entry = purchase_record(
        member_id=member_id,
        reference=reference,
        lines=_lines(lines),
        channel=channel,
        at=datetime.fromisoformat(at),
        location_id=location_id,
    )
    return entry.points if entry is not None else 0


@shared_task(bind=True, max_retries=RETURN_RETRIES)
def points_reverse_task(
    self: Any,
    member_id: int,
    order_reference: str,
    return_reference: str,
    fraction: str,
    amount: str,
    channel: str,
    at: str,
    location_id: int | None = None,
) -> int:
    """Goods of a member's order came back: negative spend, and its points taken back by `fraction`."""
    from members.services.points import PurchaseNotRecorded, purchase_return_record

    last_try = self.request.retries >= RETURN_RETRIES
    try:
        entry = purchase_return_record(
            member_id=member_id,
            order_reference=order_reference,
            return_reference=return_reference,
            fraction=Decimal(fraction),
            amount=Decimal(amount),
            channel=channel,
            at=datetime.fromisoformat(at),
            location_id=location_id,
            require_purchase=not last_try,
        )
    except PurchaseNotRecorded as error:
        raise self.retry(exc=error, countdown=RETURN_RETRY_SECONDS * 2**self.request.retries) from error
    if last_try and entry is None:
        logger.warning(
            "return %s: no points of %s were found to take back", return_reference, order_reference
        )
    return entry.points if entry is not None else 0


@shared_task
def points_mature_task() -> int:
    from members.services.points import points_mature

    return points_mature()


@shared_task
def points_expire_task() -> int:
    from members.services.points import points_expire

    return points_expire()


@shared_task
def tiers_recompute_task() -> int:
    from members.services.tiers import tiers_recompute

    return tiers_recompute()


# --- coupons ------------------------------------------------------------------------------------------------
# Every issue is keyed (welcome, birthday-<year>, campaign-<key>) and locks the member rows it writes, so a
# redelivered message or a beat run twice issues nothing more. Beat runs coupons_birthday_issue_task daily.


@shared_task
def coupons_birthday_issue_task() -> int:
    from members.services.coupons import coupons_birthday_issue

    return coupons_birthday_issue()


@shared_task
def coupons_welcome_issue_task(member_id: int) -> str:
    """The welcome coupon of a new member (enqueued with the member's creation); returns its code or ""."""
    from members.services.coupons import coupons_welcome_issue

    coupon = coupons_welcome_issue(member_id)
    return coupon.code if coupon is not None else ""


@shared_task
def coupon_campaign_issue_task(template_id: int, member_ids: list[int], campaign_key: str, actor: str) -> int:
    """A campaign to a segment's members; `actor` is the label of who started it (audited)."""
    from members.services.coupons import coupon_campaign_issue

    return coupon_campaign_issue(
        template_id=template_id, member_ids=member_ids, campaign_key=campaign_key, actor=actor
    )


# --- sign-in codes ---


@shared_task
def otp_codes_purge_task() -> int:
    from members.services.otp import otp_codes_purge

    return otp_codes_purge()
