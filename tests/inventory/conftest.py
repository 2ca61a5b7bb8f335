from collections.abc import Callable

import pytest

from catalog.models import Variant
from inventory.services import ReceiveLine, stock_receive
from omo.models import Location
from tests.factories.catalog import VariantFactory


@pytest.fixture
def variant(db: None) -> Variant:
    return VariantFactory(sku="DRS-001-M", option_values={"Size": "M"}, product__name_zh_hant="碎花連身裙")


@pytest.fixture
def stocked(variant: Variant, cwb: Location) -> Callable[..., Variant]:
    """Receives `qty` of a variant (the `variant` fixture by default) at a location (CWB by default)."""

    def receive(qty: int, *, at: Location = cwb, of: Variant = variant) -> Variant:
        stock_receive(location_id=at.pk, lines=[ReceiveLine(of, qty, "50")], actor="test", reference="PO-1")
        return of

    return receive
