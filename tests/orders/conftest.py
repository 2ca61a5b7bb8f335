"""A small shop for order tests: two branches and a warehouse, a dress in three sizes with stock, a member."""

from decimal import Decimal
from typing import Any

import pytest

from catalog.models import Variant
from members.models import Member
from omo.models import Location, User
from orders.services import LineInput
from orders.tenders import PaymentInput
from tests.factories.inventory import receive, sized_product


@pytest.fixture
def shop(cwb: Location, mk: Location, warehouse: Location) -> dict[str, Location]:
    Location.objects.filter(pk__in=[cwb.pk, mk.pk]).update(is_pickup_point=True)
    Location.objects.filter(pk=warehouse.pk).update(ships_orders=True)
    for location in (cwb, mk, warehouse):
        location.refresh_from_db()
    return {"cwb": cwb, "mk": mk, "kc": warehouse}


@pytest.fixture
def dress(shop: dict[str, Location]) -> list[Variant]:
    """DRESS-S/M/L at HK$199.00: 5 of each at CWB, 5 at MK, 20 at the warehouse."""
    sizes = sized_product(("S", "M", "L"), prefix="DRESS", name_zh_hant="碎花連身裙", name_en="Floral dress")
    for variant in sizes:
        receive(variant, shop["cwb"], 5)
        receive(variant, shop["mk"], 5)
        receive(variant, shop["kc"], 20)
    return sizes


@pytest.fixture
def member(db: None) -> Member:
    return Member.objects.create(phone="+85291234567", name="陳小姐")


@pytest.fixture
def mk_cashier(mk: Location) -> User:
    from tests.factories.omo import UserFactory

    return UserFactory(username="mk-cashier", role="cashier", branches=[mk])


def lines(*pairs: tuple[Variant, int], **extra: Any) -> list[LineInput]:
    return [LineInput(variant_id=variant.pk, qty=qty, **extra) for variant, qty in pairs]


def cash(amount: str) -> PaymentInput:
    return PaymentInput(tender="cash", tendered=Decimal(amount))


def pay(tender: str, amount: str, reference: str = "") -> PaymentInput:
    return PaymentInput(tender=tender, amount=Decimal(amount), reference=reference)
