"""The commission statement: orders credited to a member of staff, returns deducted when they happen."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import include, path
from django.utils import timezone

from catalog.models import Variant
from omo.errors import ValidationFailed
from omo.models import Location, User
from orders.members_link import commission_statement
from orders.models import Order, OrderStatus
from orders.services import ReturnItem, order_place, order_return
from tests.factories.omo import UserFactory
from tests.orders.conftest import lines, pay

D = Decimal

urlpatterns = [
    path("api/v1/", include("orders.api.urls_commission")),
    path("", include("omo.urls")),
]
pytestmark = pytest.mark.urls(__name__)


def sale(cashier: User, branch: Location, variant: Variant, qty: int, **kw) -> Order:
    return order_place(
        actor=cashier,
        channel="pos",
        location_id=branch.pk,
        lines=lines((variant, qty)),
        payments=[pay("card", str(199 * qty), "T-1")],
        **kw,
    )


def give_back(order: Order, actor: User, branch: Location, qty: int = 1) -> None:
    order_return(
        order_id=order.pk,
        actor=actor,
        location_id=branch.pk,
        items=[ReturnItem(line_id=order.lines.get().pk, qty=qty)],
        reason="does not fit",
    )


@pytest.fixture
def book(cwb: Location, cwb_cashier: User, cwb_manager: User, mk_cashier: User, mk: Location, dress) -> dict:
    """Today: two sales by the CWB cashier (one partly returned), a return of an order sold 40 days ago, a
    cancelled order and another cashier's sale."""
    first = sale(cwb_cashier, cwb, dress[0], 2)
    second = sale(cwb_cashier, cwb, dress[1], 2)
    give_back(second, cwb_cashier, cwb)
    earlier = sale(cwb_cashier, cwb, dress[2], 1)
    long_ago = timezone.now() - timedelta(days=40)
    Order.objects.filter(pk=earlier.pk).update(paid_at=long_ago, placed_at=long_ago, fulfilled_at=long_ago)
    give_back(earlier, cwb_manager, cwb)  # past the return window: the manager takes it
    cancelled = sale(cwb_cashier, cwb, dress[0], 1)
    Order.objects.filter(pk=cancelled.pk).update(status=OrderStatus.CANCELLED)
    sale(mk_cashier, mk, dress[0], 1)
    return {"first": first, "second": second, "earlier": earlier, "long_ago": long_ago}


def test_statement_with_returns_deducted(book: dict, cwb_cashier: User) -> None:
    today = timezone.localdate()
    statement = commission_statement(staff_id=cwb_cashier.pk, date_from=today, date_to=today)
    assert statement["staff"]["username"] == "cwb-cashier"
    assert statement["percent"] == D("3")
    assert statement["totals"] == {
        "orders": 2,
        "sales": D("796.00"),
        "returns": D("398.00"),  # 199 of today's sale, 199 of the order sold 40 days ago
        "net": D("398.00"),
        "commission": D("11.94"),
    }
    by_order = {line["order"]: line for line in statement["orders"]}
    assert by_order[book["second"].number]["net"] == D("199.00")
    assert by_order[book["earlier"].number]["sales"] == D("0.00")
    assert by_order[book["earlier"].number]["returns"] == D("199.00")
    assert set(by_order) == {book["first"].number, book["second"].number, book["earlier"].number}


def test_the_earlier_period_keeps_its_sale(book: dict, cwb_cashier: User) -> None:
    day = timezone.localdate(book["long_ago"])
    statement = commission_statement(staff_id=cwb_cashier.pk, date_from=day, date_to=day)
    assert statement["totals"]["sales"] == D("199.00")
    assert statement["totals"]["returns"] == D("0.00")
    assert statement["totals"]["commission"] == D("5.97")


def test_percent_per_staff_member(book: dict, cwb_cashier: User, mk_cashier: User, settings) -> None:
    settings.COMMISSION_PERCENT = "2.5"
    settings.COMMISSION_PERCENT_BY_USERNAME = {"cwb-cashier": "5"}
    today = timezone.localdate()
    assert commission_statement(staff_id=cwb_cashier.pk, date_from=today, date_to=today)["totals"][
        "commission"
    ] == D("19.90")
    other = commission_statement(staff_id=mk_cashier.pk, date_from=today, date_to=today)
    assert (other["percent"], other["totals"]["net"], other["totals"]["commission"]) == (
        D("2.5"),
        D("199.00"),
        D("4.98"),
    )


def test_period_checks(cwb_cashier: User) -> None:
    today = timezone.localdate()
    with pytest.raises(ValidationFailed):
        commission_statement(staff_id=cwb_cashier.pk, date_from=today, date_to=today - timedelta(days=1))
    with pytest.raises(ValidationFailed):
        commission_statement(staff_id=999999, date_from=today, date_to=today)
    empty = commission_statement(staff_id=cwb_cashier.pk, date_from=today, date_to=today)
    assert empty["orders"] == [] and empty["totals"]["commission"] == D("0.00")


def test_api_who_sees_which_statement(
    api_as, book: dict, cwb_cashier: User, cwb_manager: User, mk_manager: User, owner: User, customer: User
) -> None:
    today = timezone.localdate().isoformat()
    period = {"date_from": today, "date_to": today}
    url = "/api/v1/commission/statement/"
    mine = api_as(cwb_cashier).get(url, period)
    assert mine.status_code == 200, mine.json()
    assert mine.json()["totals"]["commission"] == "11.94"
    assert mine.json()["orders"][0]["sales"] in ("398.00", "0.00")
    colleague = UserFactory(username="cwb-colleague", role="cashier", branches=[cwb_manager.branches.get()])
    assert api_as(cwb_cashier).get(url, {**period, "staff": colleague.pk}).status_code == 403
    assert api_as(cwb_manager).get(url, {**period, "staff": cwb_cashier.pk}).status_code == 200
    assert api_as(mk_manager).get(url, {**period, "staff": cwb_cashier.pk}).status_code == 403
    assert api_as(owner).get(url, {**period, "staff": cwb_cashier.pk}).status_code == 200
    assert api_as(customer).get(url, period).status_code == 403
    assert api_as(cwb_cashier).get(url, {"date_from": "x"}).status_code == 400
