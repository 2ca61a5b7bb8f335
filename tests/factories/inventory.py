"""Helpers for stock tests: receive through the service (so the ledger adds up), read rows back."""

from typing import Any

from catalog.models import Variant
from inventory.models import StockLevel, StockMovement
from inventory.services import ReceiveLine, stock_receive
from omo.models import Location, User
from tests.factories.catalog import ProductFactory, VariantFactory
from tests.factories.omo import LocationFactory, UserFactory


def receive(
    variant: Variant,
    location: Location,
    qty: int,
    *,
    cost: str = "50",
    reference: str = "PO-1",
    actor: Any = "test",
) -> None:
    stock_receive(
        location_id=location.pk, lines=[ReceiveLine(variant, qty, cost)], actor=actor, reference=reference
    )


def level(variant: Variant, location: Location) -> tuple[int, int] | None:
    """(on_hand, reserved) of the row, None when there is no row."""
    row = (
        StockLevel.objects.filter(variant=variant, location=location)
        .values_list("on_hand", "reserved")
        .first()
    )
    return None if row is None else (row[0], row[1])


def movements(variant: Variant, location: Location) -> list[tuple[str, int, int]]:
    """(kind, quantity, on_hand_after) of every movement, oldest first."""
    return list(
        StockMovement.objects.filter(variant=variant, location=location)
        .order_by("id")
        .values_list("kind", "quantity", "on_hand_after")
    )


def sized_product(
    sizes: tuple[str, ...] = ("S", "M", "L"), *, prefix: str = "TEE", **product: Any
) -> list[Variant]:
    item = ProductFactory(**product)
    return [
        VariantFactory(product=item, sku=f"{prefix}-{size}", option_values={"Size": size}, position=index)
        for index, size in enumerate(sizes)
    ]


def tst_branch() -> Location:
    return LocationFactory(code="TST", name_en="Tsim Sha Tsui", name_zh_hant="尖沙咀")


def staff(username: str, role: str, *branches: Location) -> User:
    return UserFactory(username=username, role=role, branches=list(branches))
