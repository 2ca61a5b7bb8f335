"""Concurrent points work against real PostgreSQL: an earn task delivered several times at once books one
entry; tills spending the same points never take the balance below zero; a return racing the maturing batch
never leaves its reversal behind.

Each client is a thread with its own database connection, all released together at a barrier (the pattern of
test_no_oversell); the tests commit for real (`transaction=True`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from members.models import Member, PointsEntry, SpendEntry
from members.selectors_points import points_balance
from members.services import PointsInsufficient, points_earn, points_mature, points_redeem, points_reverse
from members.tasks import points_earn_task
from tests.concurrency.racing import race

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

CLIENTS = 12


@pytest.fixture
def member() -> Member:
    return Member.objects.create(phone="+85291234567", name="陳小姐")


def test_an_earn_task_delivered_many_times_at_once_books_one_entry(member):
    kwargs = {
        "member_id": member.pk,
        "reference": "CWB-000001",
        "lines": [[None, "1000.00"]],
        "channel": "pos",
        "at": timezone.now().isoformat(),
    }
    outcomes = race([lambda: points_earn_task(**kwargs) for _ in range(CLIENTS)])
    assert outcomes == [100] * CLIENTS
    assert PointsEntry.objects.filter(reference="CWB-000001").count() == 1
    assert SpendEntry.objects.filter(reference="CWB-000001").count() == 1


def test_tills_spending_the_same_points_never_go_below_zero(member):
    points_earn(
        member_id=member.pk,
        reference="CWB-000001",
        lines=[(None, Decimal("1000"))],
        channel="pos",
        at=timezone.now() - timedelta(days=20),
    )
    points_mature()

    def till(index: int) -> Callable[[], Any]:
        return lambda: points_redeem(
            member_id=member.pk, points=30, reference=f"T{index}-points", actor="till"
        )

    outcomes = race([till(index) for index in range(CLIENTS)])
    spent = [o for o in outcomes if isinstance(o, PointsEntry)]
    refused = [o for o in outcomes if isinstance(o, PointsInsufficient)]
    assert (len(spent), len(refused)) == (3, CLIENTS - 3), outcomes
    assert points_balance(member.pk)["available"] == 10


def test_a_return_racing_the_maturing_batch_never_leaves_its_reversal_pending(member):
    sold = timezone.now() - timedelta(days=15)
    for number in range(CLIENTS):
        points_earn(
            member_id=member.pk,
            reference=f"CWB-{number:06d}",
            lines=[(None, Decimal("100"))],
            channel="pos",
            at=sold,
        )

    def give_back(number: int) -> Callable[[], Any]:
        return lambda: points_reverse(
            member_id=member.pk,
            order_reference=f"CWB-{number:06d}",
            return_reference=f"CWB-{number:06d}-R1",
            fraction=Decimal("1"),
            actor="till",
        )

    outcomes = race([give_back(number) for number in range(CLIENTS)] + [lambda: points_mature(batch_size=1)])
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    # Whichever came first, no earn entry turned available while its reversal stayed pending (which would
    # let the customer spend points a return already took back).
    status = dict(PointsEntry.objects.values_list("reference", "status"))
    for number in range(CLIENTS):
        if status[f"CWB-{number:06d}"] == "available":
            assert status[f"CWB-{number:06d}-R1"] == "available"
    assert points_balance(member.pk)["available"] >= 0
    points_mature()
    assert points_balance(member.pk) == {"available": 0, "pending": 0}
