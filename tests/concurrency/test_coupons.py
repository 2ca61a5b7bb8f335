"""Tills racing for one coupon, a customer claiming twice at once, the birthday run started twice: against
real PostgreSQL, each client a thread with its own connection, released together (see test_no_oversell.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from members.models import Coupon, CouponStatus, CouponTemplate, Member
from members.services.coupons import (
    CouponUnavailable,
    CouponUsed,
    coupon_claim,
    coupon_issue,
    coupon_redeem,
    coupon_template_create,
    coupons_birthday_issue,
)
from omo.models import AuditLog
from tests.concurrency.racing import errors_of, race

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

TILLS = 8


def template(**kw: Any) -> CouponTemplate:
    values: dict[str, Any] = {
        "code": "fifty",
        "name_en": "HK$50 off",
        "name_zh_hant": "減$50",
        "kind": "amount",
        "value": Decimal("50"),
    }
    return coupon_template_create(actor="test", **{**values, **kw})


def till(code: str, member_id: int, number: int) -> Callable[[], str]:
    def client() -> str:
        coupon = coupon_redeem(
            code=code, reference=f"CWB-{number:06d}", member_id=member_id, amount=Decimal(50), actor="pos"
        )
        return coupon.redeemed_reference

    return client


def test_8_tills_redeem_one_coupon_at_once_exactly_one_succeeds():
    member = Member.objects.create(phone="+85291234567")
    coupon = coupon_issue(template_id=template().pk, member_id=member.pk, source="manual", actor="test")
    outcomes = race([till(coupon.code, member.pk, n) for n in range(TILLS)])
    assert errors_of(outcomes, CouponUsed) == []
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(winners) == 1
    assert sum(isinstance(o, CouponUsed) for o in outcomes) == TILLS - 1
    coupon.refresh_from_db()
    assert (coupon.status, coupon.redeemed_reference) == (CouponStatus.REDEEMED, winners[0])
    assert AuditLog.objects.filter(action="coupon.redeem").count() == 1


def test_a_claim_clicked_8_times_at_once_gives_one_coupon():
    member = Member.objects.create(phone="+85291234567")
    template(code="spring", claimable=True, limit_per_member=1)

    def claim() -> str:
        return coupon_claim(template_code="spring", member_id=member.pk).code

    outcomes = race([claim] * TILLS)
    assert errors_of(outcomes, CouponUnavailable) == []
    assert sum(isinstance(o, str) for o in outcomes) == 1
    assert Coupon.objects.filter(member=member).count() == 1


def test_the_birthday_run_started_twice_at_once_gives_one_coupon_each(settings):
    settings.MEMBER_BIRTHDAY_COUPON = "birthday"
    template(code="birthday", valid_days=31)
    members = [Member.objects.create(phone=f"+852910000{i:02d}", birth_month=5) for i in range(30)]
    outcomes = race([lambda: coupons_birthday_issue(today=date(2026, 5, 1), batch_size=7)] * 4)
    assert errors_of(outcomes) == []
    assert sum(outcomes) == len(members)
    assert Coupon.objects.filter(issue_key="birthday-2026").count() == len(members)
